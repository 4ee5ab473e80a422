#!/usr/bin/env bash
# Training throughput of the paper's model: baler-arrow (candle) against PyTorch, same generated
# jets, same machine, one run. Also prints encode and decode rows/s.
#   benches/train_vs_pytorch.sh [JETS]      (default 600000; installs PyTorch if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
jets=${1:-600000}
mkdir -p bench-data
cargo run --release --example generate_jets -- --jets "$jets" -o bench-data/jets.parquet --force
BALER_BENCH_JETS=$jets cargo bench --bench codec
torch=$(python3 benches/train_pytorch.py bench-data/jets.parquet --epochs 3 --json | tail -1)
python3 - "$jets" "$torch" <<'PY'
import glob, json, sys
jets, torch = int(sys.argv[1]), json.loads(sys.argv[2])
def rate(name):
    path = glob.glob(f"target/criterion/codec/{name}_{jets}/new/estimates.json")[0]
    return jets / (json.load(open(path))["median"]["point_estimate"] / 1e9)
ours = rate("train_epoch")
print(f"training, {jets} jets: baler-arrow {ours:,.0f} rows/s, PyTorch {torch['rows_per_second']:,.0f} rows/s "
      f"(torch {torch['torch_version']}, {torch['threads']} threads): ratio {ours / torch['rows_per_second']:.2f}")
print(f"encode {rate('encode'):,.0f} rows/s, decode {rate('decode'):,.0f} rows/s")
PY
