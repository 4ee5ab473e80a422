#!/usr/bin/env bash
# ROOT -> Arrow throughput of baler-arrow against uproot, on the same generated file, in one run
# (medians: criterion's for baler-arrow, of 5 reads for uproot).
#   benches/ingest_vs_uproot.sh [JETS]      (default 600000; needs: pip install uproot awkward pyarrow)
set -euo pipefail
cd "$(dirname "$0")/.."
jets=${1:-600000}
mkdir -p bench-data
cargo run --release --example generate_jets -- --jets "$jets" -o bench-data/jets.parquet --force
python3 benches/uproot_ingest.py write bench-data/jets.parquet bench-data/jets.root
uproot=$(python3 benches/uproot_ingest.py read bench-data/jets.root | tee /dev/stderr | sed 's/.*, \([0-9]*\) jets\/s/\1/')
BALER_BENCH_ROOT=bench-data/jets.root cargo bench --bench ingest -- ingest/root_generated
ours=$(python3 - <<PY
import json, glob
est = glob.glob("target/criterion/ingest/root_generated_*/new/estimates.json")[0]
ns = json.load(open(est))["median"]["point_estimate"]
print(int($jets / (ns / 1e9)))
PY
)
python3 -c "print(f'baler-arrow: $ours jets/s, uproot: $uproot jets/s, ratio {$ours / $uproot:.2f}')"
