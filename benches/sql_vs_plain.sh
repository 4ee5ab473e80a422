#!/usr/bin/env bash
# `SELECT avg(pt) FROM jets WHERE eta > 2` over compressed jets against plain Parquet, one run.
#   benches/sql_vs_plain.sh [JETS]      (default 600000)
set -euo pipefail
cd "$(dirname "$0")/.."
jets=${1:-600000}
BALER_BENCH_JETS=$jets cargo bench --bench sql
python3 - "$jets" <<'PY'
import glob, json, sys
jets = int(sys.argv[1])
def seconds(name):
    path = glob.glob(f"target/criterion/sql/avg_pt_eta_gt_2_{name}_{jets}/new/estimates.json")[0]
    return json.load(open(path))["median"]["point_estimate"] / 1e9
plain, compressed = seconds("plain"), seconds("compressed")
print(f"avg(pt) WHERE eta > 2, {jets} jets: plain {plain * 1e3:.1f} ms, compressed {compressed * 1e3:.1f} ms "
      f"({jets / compressed:,.0f} rows/s): {compressed / plain:.1f}x the plain time")
PY
