#!/usr/bin/env python3
"""Checks a per-event (NanoAOD layout) Parquet file against the ROOT file it came from.

    python3 tests/events_reference.py IN.root EVENTS.parquet [--tree TREE] [--rel EPS]

Every column of the Parquet file must be a branch of the tree of the same name, or: `X_field` for
ATLAS's `X.field` (the event layout names lists as NanoAOD does); `x[i]`, element `i` of a
fixed-size array branch `x`; or the counter `nX` of a collection of std::vector branches, which
must equal the lengths in the tree of the list columns that follow it. uproot reads
the branch (awkward arrays), awkward reads the Parquet file (`ak.from_parquet`, as HEP tools
do), and they are compared entry by entry: the jagged structure (`ak.num`) exactly; integer
and boolean values exactly; float values within EPS relative (|rec - x| <= EPS * |x|, in
float64, NaN where the original is NaN; EPS 0 means bit for bit). The dtype of every column
must be the branch's.

Prints a JSON summary on stdout: the branches compared, the values compared, and the numeric
branches of the tree that the file lacks. Exits with status 1 on the first disagreement, and
with status 2 when uproot itself cannot read a branch the file has (nothing to compare with).
"""

from __future__ import annotations

import argparse
import json
import sys

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import uproot


def fail(msg):
    print(f"events_reference: {msg}", file=sys.stderr)
    sys.exit(1)


def read(tree, name, library):
    """uproot's array of branch `name`; exits with status 2 (nothing to compare against, not a
    disagreement) when uproot itself cannot read it."""
    try:
        return tree[name].array(library=library)
    except Exception as e:  # uproot's own limits (e.g. baskets without entry offsets)
        print(f"events_reference: uproot cannot read `{name}`: {e}".splitlines()[0], file=sys.stderr)
        sys.exit(2)


def reference(tree, events, name):
    """What column `name` must hold: the branch of that name (or `X.field`, for `X_field`);
    element `i` of fixed-size array branch `x` for `x[i]`; or for a counter `nX` that the tree
    lacks (a collection of std::vector branches `X_*` or `X.*`), the length of the list columns
    that follow it in the file, which must agree with each other (each of them is checked
    against its branch too)."""
    if name in tree:
        return read(tree, name, "ak")
    # ATLAS's `Jets.pt` is `Jets_pt` in the event layout (NanoAOD's naming).
    for i, c in enumerate(name):
        dotted = name[:i] + "." + name[i + 1 :]
        if c == "_" and dotted in tree:
            return read(tree, dotted, "ak")
    if name.endswith("]") and "[" in name:
        branch, index = name[:-1].split("[", 1)
        if branch in tree and index.isdigit():
            array = read(tree, branch, "np")
            if array.ndim == 2 and int(index) < array.shape[1]:
                return ak.Array(np.ascontiguousarray(array[:, int(index)]))
    if name.startswith("n"):
        # The event layout puts a collection's list columns right after its counter.
        collection = name[1:]
        after = events.fields[events.fields.index(name) + 1 :]
        lists = []
        for f in after:
            if events[f].ndim == 1:
                break
            lists.append(f)
        if lists and all(f == collection or f.startswith(collection + "_") for f in lists):
            counts = [ak.num(reference(tree, events, f)) for f in lists]
            if any(not ak.all(c == counts[0]) for c in counts):
                fail(f"`{name}`: the branches {lists} disagree on their lengths")
            return ak.values_astype(counts[0], np.uint32)
    fail(f"column `{name}` is not a branch of the tree")


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
    if pq.ParquetFile(args.parquet).metadata.num_rows == 0:
        # awkward 2.x cannot open a Parquet file without rows (IndexError); pyarrow can.
        events = ak.from_arrow(pq.read_table(args.parquet))
    else:
        events = ak.from_parquet(args.parquet)
    if len(events) != tree.num_entries:
        fail(f"{len(events)} events, the tree has {tree.num_entries}")

    compared = 0
    values = 0
    for name in events.fields:
        original = reference(tree, events, name)
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
        numbers = (uproot.AsDtype, uproot.AsJagged, uproot.interpretation.numerical.TruncatedNumerical)
        if isinstance(interp, numbers) and dtype is not None:
            numeric.append(b.name)
    fields = set(events.fields)
    missing = [n for n in numeric if n not in fields and n.replace(".", "_", 1) not in fields]
    print(json.dumps({"branches": compared, "values": values, "missing": missing}))


if __name__ == "__main__":
    main()
