#!/usr/bin/env python3
"""Fields: baler-arrow against SZ3 (Lorenzo, interpolation) and ZFP at absolute bounds.

For each bundled CFD sample and each bound (a fraction of the field's value range), compresses
the field with `baler-arrow compress`, SZ3 in three configurations and ZFP fixed-accuracy,
decodes every result and checks every value against the bound in this run (baler-arrow's
`|x - y| <= eps + half an ulp of x`, docs/format.md; the others `|x - y| <= eps`, a
configuration that breaks it is retried 1% tighter). Prints a Markdown table of bytes and each
one's size against SZ3's best.

    python3 benches/field_benchmark.py target/release/baler-arrow [--data tests/data]

Needs numpy, pysz and zfpy (`pip install pysz zfpy`).
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import pysz
import zfpy

FRACTIONS = [1e-2, 1e-3, 1e-4]
SZ3 = ["LORENZO_REG", "INTERP", "INTERP_LORENZO"]


def half_ulp(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return (np.nextafter(a, np.inf) - a) / 2


def sz3(a: np.ndarray, eps: float, algorithm: str) -> int:
    bound = eps
    for _ in range(20):
        c = pysz.szConfig()
        c.errorBoundMode = pysz.szErrorBoundMode.ABS
        c.absErrorBound = bound
        c.cmprAlgo = getattr(pysz.szAlgorithm, algorithm)
        c.setDims(a.shape)
        packed, _ = pysz.sz.compress(a, c)
        decoded, _ = pysz.sz.decompress(packed, a.dtype, a.shape)
        if np.all(np.abs(decoded - a) <= eps):
            return len(packed)
        bound *= 0.99
    raise SystemExit(f"SZ3 {algorithm} does not meet {eps}")


def zfp(a: np.ndarray, eps: float) -> int:
    packed = zfpy.compress_numpy(a, tolerance=eps)
    decoded = zfpy.decompress_numpy(packed)
    if not np.all(np.abs(decoded - a) <= eps):
        raise SystemExit(f"ZFP does not meet {eps}")
    return len(packed)


def baler(binary: str, path: pathlib.Path, a: np.ndarray, eps: float, tmp: pathlib.Path) -> int:
    out = tmp / "f.baler.parquet"
    restored = tmp / "f.npz"
    for p in (out, restored):
        p.unlink(missing_ok=True)
    subprocess.run([binary, "compress", str(path), "-o", str(out), "--error-bound",
                    f"all={eps!r}abs"], check=True, capture_output=True)
    subprocess.run([binary, "decompress", str(out), "-o", str(restored)], check=True,
                   capture_output=True)
    with np.load(restored) as z:
        decoded = z[z.files[0]]
    assert decoded.shape == a.shape and decoded.dtype == a.dtype
    broken = int(np.sum(np.abs(decoded - a) > eps + half_ulp(a)))
    if broken:
        raise SystemExit(f"baler-arrow breaks {eps} at {broken} values")
    return out.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--data", default="tests/data")
    args = parser.parse_args()
    print("| field | bound (of range) | raw | baler-arrow | SZ3 Lorenzo | SZ3 interp | SZ3 interp+Lorenzo | ZFP | baler / best SZ3 |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name in ["cfd_still.npz", "cfd_animation.npz"]:
            path = pathlib.Path(args.data) / name
            with np.load(path) as z:
                a = z["data"]
            for fraction in FRACTIONS:
                eps = fraction * float(np.ptp(a))
                ours = baler(args.binary, path, a, eps, tmp)
                # SZ3 and ZFP see the array as it is (2D for one frame).
                field = a[0] if a.shape[0] == 1 else a
                sz = [sz3(np.ascontiguousarray(field), eps, alg) for alg in SZ3]
                z = zfp(np.ascontiguousarray(field), eps)
                print(f"| {name} {list(a.shape)} | {fraction:g} | {a.nbytes:,} | {ours:,} | "
                      + " | ".join(f"{s:,}" for s in sz)
                      + f" | {z:,} | {ours / min(sz):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
