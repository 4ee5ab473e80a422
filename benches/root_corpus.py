#!/usr/bin/env python3
"""Reads a folder of real ROOT files with baler-arrow and with uproot, tree by tree.

    python3 benches/root_corpus.py BINARY DIR [--json OUT]

For every TTree of every `*.root` file in DIR that has at least one branch of numbers as uproot
reads it (scalars, fixed-size arrays, counted arrays, std::vector of numbers), runs
`BINARY convert FILE --tree TREE --layout events` (every collection and the event-level
branches, one row per event) and checks the result with `tests/events_reference.py` bit for bit.
Each tree ends as one of:

- `match`: every value baler-arrow wrote equals uproot's, and it wrote every numeric branch;
- `partial`: every value written equals uproot's, but some numeric branches were not written
  (listed: baler-arrow names them and says why);
- `refused`: baler-arrow stopped with an error (its first line is kept);
- `unchecked`: baler-arrow wrote the tree, but uproot itself cannot read a branch of it, so
  there is nothing to compare with;
- `wrong`: a value, a length or a type differs from uproot's (this is a bug).

The scikit-hep-testdata repository (`src/skhep_testdata/data`) is the corpus this was written for.
Prints a summary table and every tree's outcome; exits 1 if any tree is `wrong`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

import uproot

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "tests", "events_reference.py")


def numeric_branches(tree):
    """The branches uproot reads as numbers: AsDtype (or Double32_t / Float16_t), or AsJagged
    of those."""
    names = []
    numbers = (uproot.AsDtype, uproot.interpretation.numerical.TruncatedNumerical)
    for b in tree.branches:
        interp = b.interpretation
        if isinstance(interp, uproot.AsJagged):
            interp = interp.content
        if isinstance(interp, numbers) and interp.to_dtype.fields is None:
            if interp.to_dtype.kind in "biuf":
                names.append(b.name)
    return names


def trees_of(path):
    try:
        f = uproot.open(path)
        names = {}
        for key, cls in f.classnames().items():
            if cls == "TTree":
                names.setdefault(key.rsplit(";", 1)[0], key)
        out = []
        for name, key in names.items():
            try:
                numeric = numeric_branches(f[key])
            except Exception:  # uproot cannot describe it either
                continue
            if numeric:
                out.append((name, numeric))
        return out
    except Exception:
        return []


def check(binary, path, tree, numeric, tmp):
    out = os.path.join(tmp, "events.parquet")
    if os.path.exists(out):
        os.remove(out)
    run = subprocess.run(
        [binary, "convert", path, "--tree", tree, "--layout", "events", "-o", out],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0:
        lines = [l.strip() for l in run.stderr.splitlines() if l.strip()]
        causes = [l for l in lines if l.startswith("caused by:")]
        reason = (causes or lines or [f"exit {run.returncode}"])[-1]
        return "refused", reason.removeprefix("caused by: ")[:300]
    ref = subprocess.run(
        [sys.executable, REFERENCE, path, out, "--tree", tree],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if ref.returncode == 2:
        return "unchecked", ref.stderr.strip()[:300]
    if ref.returncode != 0:
        return "wrong", ref.stderr.strip()[:300]
    summary = json.loads(ref.stdout)
    missing = [m for m in summary["missing"] if m in numeric]
    if missing:
        return "partial", f"{len(missing)} of {len(numeric)} numeric branches not written: {', '.join(missing[:6])}"
    return "match", f"{summary['branches']} columns, {summary['values']} values"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("dir")
    p.add_argument("--json")
    args = p.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(args.dir)):
            if not name.endswith(".root"):
                continue
            path = os.path.join(args.dir, name)
            for tree, numeric in trees_of(path):
                try:
                    outcome, detail = check(args.binary, path, tree, numeric, tmp)
                except subprocess.TimeoutExpired:
                    outcome, detail = "refused", "timed out"
                results.append({"file": name, "tree": tree, "outcome": outcome, "detail": detail})
                print(f"{outcome:8} {name} {tree}: {detail}", flush=True)

    counts = collections.Counter(r["outcome"] for r in results)
    files = len({r["file"] for r in results})
    print()
    print(f"| trees (files) | match | partial | refused | unchecked | wrong |")
    print(f"|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(results)} ({files}) | {counts['match']} | {counts['partial']} | "
        f"{counts['refused']} | {counts['unchecked']} | {counts['wrong']} |"
    )
    reasons = collections.Counter(
        r["detail"].split(" in `")[0][:110] for r in results if r["outcome"] == "refused"
    )
    if reasons:
        print("\nrefusals by reason:")
        for reason, n in reasons.most_common():
            print(f"  {n:3}  {reason}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    sys.exit(1 if counts["wrong"] else 0)


if __name__ == "__main__":
    main()
