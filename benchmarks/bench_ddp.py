"""DDP training throughput: N ranks against 1, the same per-rank batch.

    python benchmarks/bench_ddp.py --data data/chorales [--nproc 2] [--batch 16]
        [--steps 40] [--repeats 3] [--device cpu|cuda]

Each run is ``cadenza train --preset bachbot`` (3 x 256 LSTM, TBPTT windows of 128)
for ``--steps`` steps with no validation: one process on one thread with
``train.batch_size=B``, then ``torchrun --nproc_per_node=N -m cadenza train`` with the
global batch N x B (B rows a rank, one thread each). Throughput is the training tokens a
second of all ranks together, read from the run's log (the loop all-reduces the token
counts), the median over the log intervals after the first (warm-up). The runs
alternate (1, N, 1, N, ...) and each setting's median over ``--repeats`` is reported
with the ratio and the load average of the machine (shared machines skew it). On a GPU
machine, ``--device cuda`` uses one GPU a rank (``--nproc`` defaults to them all).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


def run_once(data: str, nproc: int, batch: int, steps: int, device: str, folder: Path) -> float:
    """Tokens a second of one training run (all ranks)."""
    out = folder / f"run-{nproc}-{len(list(folder.iterdir()))}"
    args = ["train", "--preset", "bachbot", "--data", data, "--out", str(out), "--quiet"]
    for item in (f"train.batch_size={batch * nproc}", f"train.max_steps={steps}",
                 "train.eval_every=1000000", "train.log_every=5", f"train.device={device}",
                 "train.threads=1", "train.epochs=1000"):
        args += ["--set", item]
    launcher = [sys.executable, "-m", "cadenza"] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", "-m", "cadenza"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*launcher, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench_ddp: training failed: {done.stderr[-2000:]}")
    with (out / "log.csv").open() as file:
        rows = [r for r in csv.DictReader(file) if r["tokens_per_s"]]
    return statistics.median(float(r["tokens_per_s"]) for r in rows[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared chorale dataset")
    parser.add_argument("--nproc", type=int, default=0,
                        help="ranks (default: 2 on CPU, every GPU with --device cuda)")
    parser.add_argument("--batch", type=int, default=16, help="rows a rank")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    nproc = args.nproc or (torch.cuda.device_count() if args.device == "cuda" else 2)
    speeds: dict[int, list[float]] = {1: [], nproc: []}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for n in (1, nproc):
                loads.append(os.getloadavg()[0])
                speeds[n].append(run_once(args.data, n, args.batch, args.steps, args.device,
                                          Path(tmp)))
                print(f"{n} rank(s): {speeds[n][-1]:.0f} tokens/s (load {loads[-1]:.2f})",
                      flush=True)
    one, many = statistics.median(speeds[1]), statistics.median(speeds[nproc])
    result = {"device": args.device, "nproc": nproc, "batch_per_rank": args.batch,
              "steps": args.steps, "repeats": args.repeats,
              "tokens_per_s_1": round(one), f"tokens_per_s_{nproc}": round(many),
              "speedup": round(many / one, 3), "cpus": os.cpu_count(),
              "load_avg_median": round(statistics.median(loads), 2),
              "load_avg_range": [round(min(loads), 2), round(max(loads), 2)]}
    print(json.dumps(result))
    print(f"{nproc} ranks vs 1: {many / one:.2f}x ({many:.0f} vs {one:.0f} tokens/s, "
          f"{args.batch} rows a rank; load average {result['load_avg_median']})")


if __name__ == "__main__":
    main()
