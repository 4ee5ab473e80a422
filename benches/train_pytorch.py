#!/usr/bin/env python3
"""Train baler-arrow's autoencoder with PyTorch (CPU, float32) and report training throughput.

    python3 benches/train_pytorch.py JETS.parquet [--epochs 3] [--threads 2] [--json]

Same model, loss, optimiser and batching as src/model/train.rs, so the Candle and PyTorch
numbers can be compared from one run on one machine:
  * inputs: every numeric column but `event`, constant columns dropped, min-max normalised
    per column to [0, 1] in float64, then float32, held as one tensor;
  * encoder n -> 200 -> 100 -> 50 -> ceil(n/3), decoder the mirror image, leaky ReLU (0.01)
    after every layer but the last of each half, Kaiming-normal weights, uniform biases;
  * loss (1 - beta) * MSE + beta * mean |w| over all weight matrices (biases excluded), beta 1e-4;
  * Adam (lr 1e-3, no weight decay), batches of 512 gathered with a fresh seeded permutation
    each epoch.
Installs the CPU build of PyTorch if it is missing.
"""
import argparse
import json
import math
import subprocess
import sys
import time

try:
    import torch
except ImportError:
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "torch"]
    if subprocess.call(pip + ["--retries", "1", "--index-url", "https://download.pytorch.org/whl/cpu"]) != 0:
        subprocess.check_call(pip)
    import torch

import numpy as np
import pyarrow.parquet as pq
import pyarrow.types as pat

HIDDEN = (200, 100, 50)
SLOPE = 0.01
BETA = 1e-4
LEARNING_RATE = 1e-3
BATCH_SIZE = 512
SEED = 42


def load(path):
    """Numeric columns but `event`, constants dropped, min-max normalised: one float32 tensor."""
    table = pq.read_table(path)
    columns = []
    for field in table.schema:
        if field.name == "event" or not (pat.is_integer(field.type) or pat.is_floating(field.type)):
            continue
        col = table.column(field.name).to_numpy().astype(np.float64)
        lo, hi = col.min(), col.max()
        if hi > lo:
            columns.append((col - lo) / (hi - lo))
    return torch.from_numpy(np.stack(columns, axis=1).astype(np.float32))


def dense(widths):
    """Linear layers widths[0] -> widths[1] -> ..., leaky ReLU after every layer but the last."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        linear = torch.nn.Linear(fan_in, fan_out)
        torch.nn.init.normal_(linear.weight, 0.0, math.sqrt(2.0 / fan_in))
        bound = 1.0 / math.sqrt(fan_in)
        torch.nn.init.uniform_(linear.bias, -bound, bound)
        layers.append(linear)
        if i < len(widths) - 2:
            layers.append(torch.nn.LeakyReLU(SLOPE))
    return torch.nn.Sequential(*layers)


def autoencoder(n):
    widths = [n, *HIDDEN, math.ceil(n / 3)]
    return torch.nn.Sequential(dense(widths), dense(widths[::-1]))


def train(x, epochs):
    """Trains for `epochs` epochs; returns [(seconds, mean loss)] per epoch."""
    torch.manual_seed(SEED)
    model = autoencoder(x.shape[1])
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    n_weights = sum(w.numel() for w in weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    rows = x.shape[0]
    results = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(rows, generator=generator)
        loss_sum = 0.0
        for start in range(0, rows, BATCH_SIZE):
            batch = x.index_select(0, order[start:start + BATCH_SIZE])
            mse = torch.nn.functional.mse_loss(model(batch), batch)
            l1 = sum(w.abs().sum() for w in weights) / n_weights
            loss = (1.0 - BETA) * mse + BETA * l1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * batch.shape[0]
        results.append((time.perf_counter() - t0, loss_sum / rows))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    x = load(args.parquet)
    rows = x.shape[0]
    results = train(x, args.epochs)
    best = min(seconds for seconds, _ in results)
    if args.json:
        print(json.dumps({"rows": rows, "epochs": args.epochs, "best_epoch_seconds": best,
                          "rows_per_second": rows / best, "torch_version": torch.__version__,
                          "threads": args.threads}))
        return
    print(f"torch {torch.__version__}, {args.threads} threads, {rows} rows x {x.shape[1]} columns")
    for epoch, (seconds, loss) in enumerate(results, 1):
        print(f"epoch {epoch}: {seconds:.3f} s, {rows / seconds:,.0f} rows/s, loss {loss:.6f}")
    print(f"pytorch: {rows} rows, best epoch {best:.3f} s, {rows / best:.0f} rows/s")


if __name__ == "__main__":
    main()
