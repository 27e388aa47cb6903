"""Search with pruning against search without: wall time, and the best validation loss
against BachBot's setting.

    python benchmarks/bench_search.py --data data/chorales [--trials 20] [--steps 30]
        [--eval-every 10] [--batch 16] [--out runs/bench-search]

Two studies of ``--trials`` short trials each over the shipped ``chorale-lm`` space
(``cadenza search --preset bachbot``), every trial ``--steps`` steps of ``--batch``
rows on one thread, validated every ``--eval-every`` steps: one with the median pruner
(from the 6th trial on), one with none. Both start with BachBot's setting (trial 0,
the same run in both). Reported: each study's wall time, its best validation loss
(nats/token, by-piece validation split) and BachBot's setting's.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from cadenza.search import SearchSettings, load_space, run_search


def study(args: argparse.Namespace, pruner: str) -> dict:
    settings = SearchSettings(
        preset="bachbot", data=args.data, space=load_space("chorale-lm"),
        out=Path(args.out) / pruner, trials=args.trials, study=f"bench-{pruner}",
        seed=args.seed, pruner=pruner,
        overrides=[f"train.max_steps={args.steps}", f"train.eval_every={args.eval_every}",
                   f"train.batch_size={args.batch}", "train.threads=1", "train.device=cpu",
                   "train.epochs=1000", "train.patience=0"])
    load = os.getloadavg()[0]
    started = time.monotonic()
    best = run_search(settings)
    seconds = time.monotonic() - started
    bachbot = _value_of(Path(args.out) / pruner / "results.csv", 0)
    return {"pruner": pruner, "seconds": round(seconds, 1), "best": round(best["value"], 4),
            "best_trial": best["number"], "bachbot_setting": bachbot,
            "states": {k: v for k, v in best["states"].items() if v},
            "load_avg_start": round(load, 2), "load_avg_end": round(os.getloadavg()[0], 2)}


def _value_of(results: Path, number: int) -> float | None:
    import csv

    with results.open() as file:
        for row in csv.DictReader(file):
            if int(row["number"]) == number and row["value"]:
                return round(float(row["value"]), 4)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-search")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = [study(args, "median"), study(args, "none")]
    for r in results:
        print(json.dumps(r), flush=True)
    pruned, full = results
    print(f"pruned {pruned['seconds']:.0f} s vs unpruned {full['seconds']:.0f} s "
          f"({full['seconds'] / pruned['seconds']:.2f}x); best validation {pruned['best']:.3f} "
          f"(pruned) / {full['best']:.3f} (unpruned) vs BachBot's setting "
          f"{pruned['bachbot_setting']:.3f} nats/token")


if __name__ == "__main__":
    main()
