#!/usr/bin/env python3
"""Reference ROOT -> Parquet converter (uproot + awkward + pyarrow).

The Rust integration tests compare baler-arrow's output against this script's.

    python3 tests/uproot_reference.py IN.root OUT.parquet --tree TREE --collection NAME
    python3 tests/uproot_reference.py IN.root OUT.parquet --tree TREE --flat

--collection NAME
    One row per object of the collection (e.g. per jet). The counter branch is
    `n{NAME}` or `N{NAME}` (whichever exists). Every branch whose name starts with
    `{NAME}_` and whose interpretation is AsJagged(AsDtype) with a numeric or bool
    element type becomes a column named without the `{NAME}_` prefix, flattened with
    ak.flatten, dtype kept exactly (converted to native byte order). The first column
    is `event`: the tree's flat `event` branch repeated per object if there is one
    (dtype kept), else the entry number as uint64 repeated per object. Columns follow
    the tree's branch order. Other `{NAME}_` branches are skipped with a note on
    stderr. Every jagged column must have, entry by entry, exactly as many elements as
    the counter says; otherwise the script fails (exit status 2).

--flat
    One row per entry: every flat (scalar) branch with a numeric or bool dtype, in tree
    order, names and dtypes unchanged (native byte order). Everything else (strings,
    jagged, fixed-size arrays, objects) is skipped with a note on stderr. No `event`
    column is added.

The Parquet file is written with pyarrow.parquet.write_table, uncompressed.
"""

from __future__ import annotations

import argparse
import sys

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import uproot

NUMERIC_KINDS = "biuf"  # bool, signed int, unsigned int, float


def note(msg):
    print(f"uproot_reference: {msg}", file=sys.stderr)


def fail(msg):
    print(f"uproot_reference: error: {msg}", file=sys.stderr)
    sys.exit(2)


def scalar_dtype(interp):
    """numpy dtype if `interp` is a plain scalar AsDtype with numeric/bool type, else None."""
    if not isinstance(interp, uproot.interpretation.numerical.AsDtype):
        return None
    dt = interp.to_dtype
    if dt.subdtype is not None or dt.shape != () or dt.kind not in NUMERIC_KINDS:
        return None
    return dt.newbyteorder("=")


def jagged_element_dtype(interp):
    """Element dtype if `interp` is AsJagged(AsDtype(numeric/bool)), else None."""
    if not isinstance(interp, uproot.interpretation.jagged.AsJagged):
        return None
    return scalar_dtype(interp.content)


def native(arr, dtype):
    arr = np.asarray(arr)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return np.ascontiguousarray(arr)


def branch_interp(tree, name):
    try:
        return tree[name].interpretation
    except Exception as err:  # uproot cannot interpret it at all
        return err


def collection_table(tree, name):
    counter = None
    for cand in (f"n{name}", f"N{name}"):
        if cand in tree.keys(recursive=False):
            counter = cand
            break
    if counter is None:
        fail(f"no counter branch n{name} or N{name} in tree {tree.name!r}")
    cdt = scalar_dtype(branch_interp(tree, counter))
    if cdt is None or cdt.kind not in "iu":
        fail(f"counter branch {counter!r} is not a scalar integer branch")
    counts = tree[counter].array(library="np").astype(np.int64)
    if np.any(counts < 0):
        fail(f"counter branch {counter!r} has negative values")
    n_rows = int(counts.sum())

    prefix = f"{name}_"
    columns = []  # (column name, numpy array)
    for branch in tree.branches:
        bname = branch.name
        if not bname.startswith(prefix):
            continue
        interp = branch_interp(tree, bname)
        edt = jagged_element_dtype(interp)
        if edt is None:
            note(f"skipping {bname!r} (typename {branch.typename!r}, interpretation {interp!r}): "
                 "not a jagged numeric/bool branch")
            continue
        jag = branch.array(library="ak")
        lengths = ak.to_numpy(ak.num(jag, axis=1)).astype(np.int64)
        if lengths.shape != counts.shape or not np.array_equal(lengths, counts):
            bad = np.nonzero(lengths != counts)[0] if lengths.shape == counts.shape else []
            fail(f"branch {bname!r} lengths disagree with counter {counter!r} "
                 f"(first bad entries: {list(map(int, bad[:10]))})")
        flat = native(ak.to_numpy(ak.flatten(jag, axis=1)), edt)
        columns.append((bname[len(prefix):], flat))

    if "event" in tree.keys(recursive=False) and scalar_dtype(branch_interp(tree, "event")) is not None:
        edt = scalar_dtype(branch_interp(tree, "event"))
        per_entry = native(tree["event"].array(library="np"), edt)
    else:
        per_entry = np.arange(tree.num_entries, dtype=np.uint64)
    event = np.repeat(per_entry, counts)
    assert len(event) == n_rows

    names = ["event"] + [c for c, _ in columns]
    if len(set(names)) != len(names):
        fail(f"duplicate column names: {names}")
    arrays = [pa.array(event)] + [pa.array(a) for _, a in columns]
    return pa.Table.from_arrays(arrays, names=names)


def flat_table(tree):
    names, arrays = [], []
    for branch in tree.branches:
        bname = branch.name
        interp = branch_interp(tree, bname)
        dt = scalar_dtype(interp)
        if dt is None:
            note(f"skipping {bname!r} (typename {branch.typename!r}, interpretation {interp!r}): "
                 "not a flat numeric/bool branch")
            continue
        names.append(bname)
        arrays.append(pa.array(native(branch.array(library="np"), dt)))
    if not names:
        fail(f"tree {tree.name!r} has no flat numeric branch")
    return pa.Table.from_arrays(arrays, names=names)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--tree", required=True)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--collection", metavar="NAME")
    mode.add_argument("--flat", action="store_true")
    args = p.parse_args(argv)

    with uproot.open(args.input) as f:
        try:
            tree = f[args.tree]
        except KeyError:
            fail(f"no tree {args.tree!r} in {args.input} (keys: {f.keys()})")
        if args.flat:
            table = flat_table(tree)
        else:
            table = collection_table(tree, args.collection)

    pq.write_table(table, args.output, compression="none")
    print(f"{args.output}: {table.num_rows} rows, {table.num_columns} columns")


if __name__ == "__main__":
    main()
