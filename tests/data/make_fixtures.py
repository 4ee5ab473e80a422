#!/usr/bin/env python3
"""Regenerate the small synthetic ROOT fixtures used by the baler-arrow tests.

Usage (from anywhere):

    python3 tests/data/make_fixtures.py

Writes next to this script. Needs uproot 5, awkward and numpy. The content is
deterministic (fixed numpy seed); the file bytes are made reproducible too by
pinning the ROOT file/directory UUID and the TDatime stamps uproot writes, so
rerunning with the same uproot/zlib/zstd/lz4 versions gives identical files.

Every tree is written as a TTree with WritableDirectory.mktree (uproot >= 5.7 writes an
RNTuple for plain `f[name] = data` assignment).

Fixtures (see README.md in this directory for what each one is meant to test):

    multibasket_jets.root   Events: nJet + Jet_{pt,eta,phi,nConst,btag,flav}, event, MET_pt;
                            ZLIB, 300 events written in 3 chunks -> 3 baskets per branch
    zstd_jets.root          same structure, 50 events, ZSTD(5), 1 basket
    lz4_jets.root           same structure, 50 events, LZ4(4), 1 basket
    mismatched_jets.root    explicit flat nJet (uint32) that disagrees with the jagged
                            Jet_pt's own counter (uproot names it nJet_pt)
    two_trees.root          TTrees a and b, each a flat float64 branch x (10 entries)
    two_collections.root    Events: nMuon + Muon_{pt,eta}, nElectron + Electron_pt; no Jet
    no_numeric.root         tree t with only a string branch (skipped if uproot cannot write it)
    truncated.root          the first 60% of the bytes of cms_nanoaod_small_dy.root
    not_root.root           a text file
"""

from __future__ import annotations

import datetime as _datetime
import os
import sys
import types
import uuid

import awkward as ak
import numpy as np
import uproot

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240611

# ---------------------------------------------------------------------------
# Reproducible bytes: fixed UUID and fixed "now" for the TDatime fields.
# ---------------------------------------------------------------------------
_FIXED_UUID = uuid.UUID("00000000-0000-1000-8000-000000000000")


class _FixedDateTime(_datetime.datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D401 - mimic datetime.now
        return cls(2024, 1, 1, 0, 0, 0)


_dt_shim = types.ModuleType("datetime")
_dt_shim.__dict__.update(_datetime.__dict__)
_dt_shim.datetime = _FixedDateTime

import uproot.writing._cascade  # noqa: E402
import uproot.writing._cascadetree  # noqa: E402
import uproot.writing.writable  # noqa: E402

for _mod in (uproot.writing._cascade, uproot.writing._cascadetree, uproot.writing.writable):
    if hasattr(_mod, "datetime"):
        _mod.datetime = _dt_shim
try:
    import uproot.writing._cascadentuple  # noqa: E402

    uproot.writing._cascadentuple.datetime = _dt_shim
except ImportError:  # pragma: no cover
    pass


def recreate(name, compression):
    return uproot.recreate(
        os.path.join(HERE, name),
        compression=compression,
        uuid_function=lambda: _FIXED_UUID,
    )


# ---------------------------------------------------------------------------
# Data generators
# ---------------------------------------------------------------------------
def jets_chunk(rng, n_events, first_entry):
    """One chunk of events with the standard jet structure."""
    counts = rng.integers(0, 7, size=n_events)  # 0..6 jets per event
    counts[::17] = 0  # make sure there are several empty events
    n = int(counts.sum())
    # falling spectrum: 15 GeV threshold + exponential tail, sorted descending per event
    pt = (15.0 + rng.exponential(35.0, size=n)).astype(np.float32)
    eta = rng.uniform(-4.7, 4.7, size=n).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, size=n).astype(np.float32)
    nconst = rng.integers(1, 80, size=n).astype(np.int32)
    btag = rng.random(size=n) < 0.2
    flav = rng.choice(np.array([0, 4, 5], dtype=np.uint8), size=n, p=[0.7, 0.1, 0.2]).astype(np.uint8)

    pt_j = ak.unflatten(pt, counts)
    order = ak.argsort(pt_j, axis=1, ascending=False)

    def j(x):
        return ak.unflatten(x, counts)[order]

    jet = ak.zip(
        {
            "pt": pt_j[order],
            "eta": j(eta),
            "phi": j(phi),
            "nConst": j(nconst),
            "btag": j(btag),
            "flav": j(flav),
        }
    )
    entries = np.arange(first_entry, first_entry + n_events, dtype=np.uint64)
    return {
        "event": (np.uint64(1000) + entries * np.uint64(3)).astype(np.uint64),
        "MET_pt": rng.exponential(25.0, size=n_events).astype(np.float32),
        "Jet": jet,
    }


def write_jets(name, compression, chunk_sizes, rng):
    with recreate(name, compression) as f:
        first = 0
        tree = None
        for size in chunk_sizes:
            chunk = jets_chunk(rng, size, first)
            if tree is None:
                # mktree with data writes the first basket of every branch
                tree = f.mktree("Events", chunk)
            else:
                tree.extend(chunk)  # one more basket per branch
            first += size


def main():
    rng = np.random.default_rng(SEED)

    write_jets("multibasket_jets.root", uproot.ZLIB(4), [100, 100, 100], rng)
    write_jets("zstd_jets.root", uproot.ZSTD(5), [50], rng)
    write_jets("lz4_jets.root", uproot.LZ4(4), [50], rng)

    # --- mismatched_jets.root -------------------------------------------------
    n_events = 40
    counts = rng.integers(0, 5, size=n_events)
    pt = (15.0 + rng.exponential(35.0, size=int(counts.sum()))).astype(np.float32)
    njet = counts.astype(np.uint32).copy()
    # disagree for some entries: too many, too few, zero vs non-zero
    for i in (3, 7, 11, 20, 33):
        njet[i] = njet[i] + 1
    for i in (5, 14, 27):
        if njet[i] > 0:
            njet[i] -= 1
        else:
            njet[i] = 2
    with recreate("mismatched_jets.root", uproot.ZLIB(4)) as f:
        f.mktree("Events", {
            "event": np.arange(n_events, dtype=np.uint64),
            "nJet": njet,
            "Jet_pt": ak.unflatten(pt, counts),
        })

    # --- two_trees.root -------------------------------------------------------
    with recreate("two_trees.root", uproot.ZLIB(4)) as f:
        f.mktree("a", {"x": np.arange(10, dtype=np.float64) * 0.5})
        f.mktree("b", {"x": np.arange(10, dtype=np.float64) * -1.5 + 100.0})

    # --- two_collections.root -------------------------------------------------
    n_events = 20
    mu_counts = rng.integers(0, 4, size=n_events)
    el_counts = rng.integers(0, 3, size=n_events)
    nmu, nel = int(mu_counts.sum()), int(el_counts.sum())
    with recreate("two_collections.root", uproot.ZLIB(4)) as f:
        f.mktree("Events", {
            "event": np.arange(n_events, dtype=np.uint64),
            "Muon": ak.zip(
                {
                    "pt": ak.unflatten((5.0 + rng.exponential(20.0, nmu)).astype(np.float32), mu_counts),
                    "eta": ak.unflatten(rng.uniform(-2.4, 2.4, nmu).astype(np.float32), mu_counts),
                }
            ),
            "Electron": ak.zip(
                {"pt": ak.unflatten((7.0 + rng.exponential(20.0, nel)).astype(np.float32), el_counts)}
            ),
        })

    # --- no_numeric.root ------------------------------------------------------
    path = os.path.join(HERE, "no_numeric.root")
    try:
        with recreate("no_numeric.root", uproot.ZLIB(4)) as f:
            f.mktree("t", {"name": np.array(["alpha", "beta", "gamma", "delta", "epsilon"])})
    except Exception as err:  # uproot cannot write string branches
        if os.path.exists(path):
            os.remove(path)
        print(f"no_numeric.root skipped: uproot cannot write a string branch ({type(err).__name__}: {err})",
              file=sys.stderr)

    # --- truncated.root -------------------------------------------------------
    with open(os.path.join(HERE, "cms_nanoaod_small_dy.root"), "rb") as src:
        data = src.read()
    with open(os.path.join(HERE, "truncated.root"), "wb") as dst:
        dst.write(data[: int(len(data) * 0.6)])

    # --- baskets_out_of_order.root --------------------------------------------
    # A flat tree `t` (x: float64, y: int32, both 0..299) in three equal baskets per branch,
    # uncompressed; the first and last baskets of `x` then trade places in the file and in
    # its fBasketSeek array, so that file order is no longer entry order (uproot, which
    # follows fBasketSeek, still reads 0..299).
    n = 100
    name = "baskets_out_of_order.root"
    with recreate(name, None) as f:
        f.mktree("t", {"x": "float64", "y": "int32"})
        for k in range(3):
            f["t"].extend({
                "x": np.arange(k * n, (k + 1) * n, dtype=np.float64),
                "y": np.arange(k * n, (k + 1) * n, dtype=np.int32),
            })
    path = os.path.join(HERE, name)
    seeks = [int(s) for s in uproot.open(path)["t"]["x"].member("fBasketSeek")[:3]]
    data = bytearray(open(path, "rb").read())
    size = int.from_bytes(data[seeks[0]:seeks[0] + 4], "big")
    assert all(int.from_bytes(data[s:s + 4], "big") == size for s in seeks)
    first, last = bytes(data[seeks[0]:seeks[0] + size]), bytes(data[seeks[2]:seeks[2] + size])
    data[seeks[0]:seeks[0] + size], data[seeks[2]:seeks[2] + size] = last, first
    run = b"".join(s.to_bytes(8, "big") for s in seeks)
    swapped = b"".join(s.to_bytes(8, "big") for s in (seeks[2], seeks[1], seeks[0]))
    assert bytes(data).count(run) >= 1
    data = bytearray(bytes(data).replace(run, swapped))
    with open(path, "wb") as dst:
        dst.write(data)

    # --- not_root.root --------------------------------------------------------
    with open(os.path.join(HERE, "not_root.root"), "w") as dst:
        dst.write("this is not a ROOT file\n")


def summary():
    """Read every fixture back with uproot, check the intended properties, print a summary."""
    for name in sorted(os.listdir(HERE)):
        if not name.endswith(".root") or name.startswith("cms_"):
            continue
        path = os.path.join(HERE, name)
        size = os.path.getsize(path)
        assert size < 100_000, (name, size)
        try:
            f = uproot.open(path)
            trees = {k: f[k] for k, c in f.classnames().items() if c == "TTree"}
        except Exception as err:
            print(f"{name} ({size} B): unreadable by uproot ({type(err).__name__})")
            continue
        print(f"{name} ({size} B, {f.file.compression}):")
        for key, tree in trees.items():
            print(f"  tree {key}: {tree.num_entries} entries")
            for b in tree.branches:
                print(f"    {b.name:12s} {b.typename:10s} {b.interpretation!s:28s} baskets={b.num_baskets}")
            if "nJet" in tree.keys() and "Jet_pt" in tree.keys():
                njet = tree["nJet"].array(library="np")
                lens = ak.num(tree["Jet_pt"].array(), axis=1).to_numpy()
                print(f"    sum(nJet)={int(njet.sum())} sum(len(Jet_pt))={int(lens.sum())} "
                      f"events with 0 jets={int((njet == 0).sum())} mismatched entries={int((njet != lens).sum())}")
        if name == "multibasket_jets.root":
            assert all(b.num_baskets == 3 for b in trees["Events;1"].branches)


if __name__ == "__main__":
    main()
    summary()
