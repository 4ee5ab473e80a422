#!/usr/bin/env python3
"""Checks a per-event (NanoAOD layout) Parquet file against the ROOT file it came from.

    python3 tests/events_reference.py IN.root EVENTS.parquet [--tree TREE] [--rel EPS]

Every column of the Parquet file must be a branch of the tree of the same name. uproot reads
the branch (awkward arrays), awkward reads the Parquet file (`ak.from_parquet`, as HEP tools
do), and they are compared entry by entry: the jagged structure (`ak.num`) exactly; integer
and boolean values exactly; float values within EPS relative (|rec - x| <= EPS * |x|, in
float64, NaN where the original is NaN; EPS 0 means bit for bit). The dtype of every column
must be the branch's.

Prints a JSON summary on stdout: the branches compared, the values compared, and the numeric
branches of the tree that the file lacks. Exits with status 1 on the first disagreement.
"""

from __future__ import annotations

import argparse
import json
import sys

import awkward as ak
import numpy as np
import uproot


def fail(msg):
    print(f"events_reference: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("parquet")
    p.add_argument("--tree", help="default: the file's only TTree")
    p.add_argument("--rel", type=float, default=0.0)
    args = p.parse_args()

    file = uproot.open(args.root)
    trees = [k for k, c in file.classnames().items() if c == "TTree"]
    if args.tree is None and len(trees) != 1:
        fail(f"choose one of the trees {trees} with --tree")
    tree = file[args.tree or trees[0]]
    events = ak.from_parquet(args.parquet)
    if len(events) != tree.num_entries:
        fail(f"{len(events)} events, the tree has {tree.num_entries}")

    compared = 0
    values = 0
    for name in events.fields:
        if name not in tree:
            fail(f"column `{name}` is not a branch of the tree")
        original = tree[name].array(library="ak")
        decoded = events[name]
        jagged = original.ndim > 1
        if jagged != (decoded.ndim > 1):
            fail(f"`{name}`: jagged in one file and not in the other")
        if jagged:
            if not ak.all(ak.num(original) == ak.num(decoded)):
                fail(f"`{name}`: element counts differ from the ROOT file's")
            original = ak.flatten(original)
            decoded = ak.flatten(decoded)
        x = ak.to_numpy(original)
        y = ak.to_numpy(decoded)
        if x.dtype.newbyteorder("=") != y.dtype:
            fail(f"`{name}`: dtype {y.dtype}, the branch is {x.dtype}")
        if x.dtype.kind == "f":
            x64 = x.astype(np.float64)
            y64 = y.astype(np.float64)
            nan = np.isnan(x64)
            if not np.array_equal(nan, np.isnan(y64)):
                fail(f"`{name}`: NaN where the original is not, or the other way round")
            if args.rel == 0.0:
                ok = x.view(f"u{x.itemsize}") == y.view(f"u{y.itemsize}")
            else:
                ok = nan | (np.abs(x64 - y64) <= args.rel * np.abs(x64))
            if not ok.all():
                i = int(np.argmin(ok))
                fail(f"`{name}`: value {i} is {y[i]!r}, the original {x[i]!r} (rel {args.rel})")
        elif not np.array_equal(x, y):
            i = int(np.argmin(x == y))
            fail(f"`{name}`: value {i} is {y[i]!r}, the original {x[i]!r}")
        compared += 1
        values += len(x)

    numeric = []
    for b in tree.branches:
        interp = b.interpretation
        dtype = getattr(getattr(interp, "content", interp), "to_dtype", None)
        if isinstance(interp, (uproot.AsDtype, uproot.AsJagged)) and dtype is not None:
            numeric.append(b.name)
    missing = [n for n in numeric if n not in events.fields]
    print(json.dumps({"branches": compared, "values": values, "missing": missing}))


if __name__ == "__main__":
    main()
