#!/usr/bin/env python3
"""SZ3 on log values: the classic error-bounded baseline for a relative bound on every float.

For a table (Parquet, as `baler-arrow convert` writes it) and a relative bound eps, each float
column is split into its signs and zeros (coded losslessly by pcodec, as one int8 stream of
-1/0/1) and log|x| of its non-zero values, which SZ3 codes with the absolute bound
log1p(eps) (|log y - log x| <= log1p(eps) gives |y - x| <= eps*|x|). Integer and boolean
columns are coded losslessly by pcodec. Every value is decoded and checked against the bound
in the same run: a column whose decoded values break it (by float rounding) is coded again
with a bound 1% tighter, until none does.

Prints JSON: total bytes, bytes per column, the algorithm used, the number of values that
break the bound (always 0 when it returns), and the seconds SZ3 spent compressing and
decompressing the float columns (the last attempt of each column; logs, signs and checks not
counted), for speed comparisons.

    python3 benches/sz3_baseline.py jets.parquet --bound 2e-2 [--algorithm interp_lorenzo]
"""

import argparse
import json
import sys
import time

import numpy as np
import pcodec
import pyarrow.parquet as pq
import pysz


def pcodec_bytes(values: np.ndarray) -> int:
    if values.size == 0:
        return 0
    if values.dtype == np.bool_:
        values = values.astype(np.uint16)
    if values.dtype.itemsize == 1:
        values = values.astype(np.int16 if values.dtype.kind == "i" else np.uint16)
    return len(pcodec.standalone.simple_compress(values, pcodec.ChunkConfig()))


SECONDS = {"compress": 0.0, "decompress": 0.0}


def sz3(values: np.ndarray, bound: float, algorithm) -> tuple:
    config = pysz.szConfig()
    config.errorBoundMode = pysz.szErrorBoundMode.ABS
    config.absErrorBound = bound
    config.cmprAlgo = algorithm
    config.setDims(values.shape)
    start = time.perf_counter()
    packed, _ = pysz.sz.compress(values, config)
    middle = time.perf_counter()
    decoded, _ = pysz.sz.decompress(packed, values.dtype, values.shape)
    end = time.perf_counter()
    sz3.last = (middle - start, end - middle)
    return len(packed), decoded


def float_column(x: np.ndarray, eps: float, algorithm) -> tuple:
    """Bytes of one float column, and the number of values that break the bound."""
    signs = np.sign(x).astype(np.int8)
    nonzero = x != 0
    logs = np.log(np.abs(x[nonzero]).astype(np.float64))
    bound = np.log1p(eps)
    for _ in range(20):
        size, decoded = sz3(logs, bound, algorithm) if logs.size else (0, logs)
        y = np.zeros_like(x)
        y[nonzero] = (np.sign(x[nonzero]) * np.exp(decoded)).astype(x.dtype)
        broken = int(np.sum(np.abs(y.astype(np.float64) - x.astype(np.float64))
                            > eps * np.abs(x.astype(np.float64))))
        if broken == 0:
            break
        bound *= 0.99
    if logs.size:
        SECONDS["compress"] += sz3.last[0]
        SECONDS["decompress"] += sz3.last[1]
    if broken == 0:
        return size + pcodec_bytes(signs), 0
    return size + pcodec_bytes(signs), broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("--bound", type=float, required=True)
    parser.add_argument("--algorithm", default="interp_lorenzo",
                        choices=["interp_lorenzo", "interp", "lorenzo_reg"])
    args = parser.parse_args()
    algorithm = getattr(pysz.szAlgorithm, args.algorithm.upper())
    table = pq.read_table(args.input)
    columns = {}
    broken = 0
    for name in table.column_names:
        x = table.column(name).to_numpy()
        if x.dtype.kind == "f":
            size, bad = float_column(x, args.bound, algorithm)
            broken += bad
        else:
            size = pcodec_bytes(x)
        columns[name] = size
    print(json.dumps({
        "bytes": sum(columns.values()),
        "columns": columns,
        "algorithm": args.algorithm,
        "broken": broken,
        "compress_seconds": SECONDS["compress"],
        "decompress_seconds": SECONDS["decompress"],
    }))
    return 0 if broken == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
