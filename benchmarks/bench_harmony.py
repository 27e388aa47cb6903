"""Harmonization quality and speed (issue 4; protocol in shared/BENCHMARKS.md §2).

For each method: BachBot's masked-part test on the held-out chorales (token and
frame error for S, A, T, B, AT, ATB; conditional NLL; voice leading next to Bach's),
then the time to harmonize a 16-bar melody on CPU.

Usage:
  python benchmarks/bench_harmony.py --lm RUN --infill RUN [--data DATASET]
         [--split test] [--limit N] [--width 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from cadenza.codecs.grid import MASK, score_to_grid
from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.harmony import evaluate_harmony, format_harmony
from cadenza.harmonize import load_harmonizer

BACHBOT = {"S": (0.532, 0.532), "A": (0.442, 0.442), "T": (0.235, 0.235),
           "B": (0.241, 0.241), "AT": (0.686, 0.787), "ATB": (0.718, 0.878)}


def sixteen_bars(dataset: PreparedDataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The first 16 bars (256 frames) of the longest held-out chorale, soprano given."""
    index = max(dataset.indices(split, augmented=False), key=lambda i: len(dataset.tokens(i)))
    score = dataset.codec.decode(dataset.vocab.decode(dataset.tokens(index)))
    cells, fermata = score_to_grid(score)
    cells, fermata = cells[:, :256].copy(), fermata[:256]
    cells[1:] = MASK
    return cells, fermata


def time_fill(harmonizer, cells, fermata, method: str, width: int, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        harmonizer.fill(cells, fermata, method, width=width)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", type=Path, required=True, help="chorale language-model run")
    parser.add_argument("--infill", type=Path, required=True, help="infilling harmonizer run")
    parser.add_argument("--data", type=Path, required=True, help="prepared chorale dataset")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = PreparedDataset(args.data)
    lm, infill = load_harmonizer(args.lm), load_harmonizer(args.infill)
    results = {}
    for name, harmonizer, method in (("greedy", lm, "greedy"), ("beam", lm, "beam"),
                                     ("infill", infill, "infill")):
        result = evaluate_harmony(harmonizer, dataset, args.split, method, limit=args.limit,
                                  width=args.width)
        results[name] = result
        print(format_harmony(result))
        print()
    print("token / frame error, BachBot (greedy LSTM) vs cadenza:")
    print(f"{'task':5} {'BachBot':>13} " + " ".join(f"{m:>13}" for m in results))
    for task, (token, frame) in BACHBOT.items():
        cells = [f"{r['tasks'][task]['token_error']:.3f}/{r['tasks'][task]['frame_error']:.3f}"
                 for r in results.values()]
        print(f"{task:5} {token:.3f}/{frame:.3f} " + " ".join(f"{c:>13}" for c in cells))
    cells, fermata = sixteen_bars(dataset, args.split)
    print(f"\n16-bar melody, CPU, {args.threads} threads (median of 3):")
    for name, harmonizer, method, target in (("greedy", lm, "greedy", 2.0),
                                             (f"beam {args.width}", lm, "beam", 10.0),
                                             ("infill", infill, "infill", None)):
        seconds = time_fill(harmonizer, cells, fermata, method, args.width)
        goal = f"(target <= {target:g} s)" if target else ""
        print(f"  {name:8} {seconds:6.2f} s {goal}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
