#!/usr/bin/env python3
"""The uproot side of benches/ingest_vs_uproot.sh.

    uproot_ingest.py write IN.parquet OUT.root   # generated jets -> NanoAOD-style nJet + Jet_* tree
    uproot_ingest.py read IN.root                # time uproot reading every Jet_* branch, flattened
"""
import sys
import time

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import uproot


def write(src, dst):
    table = pq.read_table(src)
    event = table.column("event").to_numpy()
    starts = np.flatnonzero(np.r_[True, event[1:] != event[:-1]])
    counts = np.diff(np.r_[starts, len(event)])
    jets = {name: ak.unflatten(table.column(name).to_numpy(), counts)
            for name in table.column_names if name != "event"}
    with uproot.recreate(dst, compression=uproot.ZLIB(1)) as f:
        tree = f.mktree("Events", {"event": np.uint64, "Jet": ak.zip(jets).type.content})
        step = 20_000
        for i in range(0, len(counts), step):
            tree.extend({"event": event[starts[i:i + step]],
                         "Jet": ak.zip({k: v[i:i + step] for k, v in jets.items()})})
    print(f"wrote {len(event)} jets in {len(counts)} events to {dst}")


def read(path, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tree = uproot.open(path)["Events"]
        arrays = tree.arrays(filter_name=["Jet_*", "nJet", "event"])
        jets = {k: ak.to_numpy(ak.flatten(arrays[k])) for k in arrays.fields if k.startswith("Jet_")}
        event = np.repeat(arrays["event"].to_numpy(), arrays["nJet"].to_numpy())
        times.append(time.perf_counter() - t0)
    n = len(event)
    median = sorted(times)[len(times) // 2]
    print(f"uproot: {n} jets, median of {repeats}: {median:.3f} s, {n / median:.0f} jets/s")
    return n / median


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](*sys.argv[2:])
