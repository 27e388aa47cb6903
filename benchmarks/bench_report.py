"""Evaluation speed (issue 5): the report of 64 pieces, and the copy check of 1,000.

Prints a table:
- ``cadenza report`` of the shipped model, 64 pieces, audio excluded (median of runs),
  and the mean overlapping area of its pieces with held-out Bach (one seed a run; the
  shipped model's own sampling settings, as ``cadenza report`` uses them);
- the copy check of 1,000 generated pieces against the training chorales: indexing
  the training set plus checking every piece (generation itself is timed apart and
  not counted);
- the copy-check result itself (flagged pieces, longest copied run).

Usage: python benchmarks/bench_report.py [--repeats 3] [--copies 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from table import print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from cadenza.data.recipe import run_dataset
    from cadenza.evaluate.copying import CopyDetector
    from cadenza.evaluate.report import decode_pieces, generate_scores, write_report
    from cadenza.generate import default_run
    from cadenza.generate.settings import load_sampling
    from cadenza.train.checkpoint import load_run

    rows = []
    walls, overlaps = [], []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            numbers = write_report(default_run(), tmp, n=64, seed=repeat, audio=False)
            walls.append(time.perf_counter() - started)
        overlaps.append(numbers["set_comparison"]["mean_overlap_generated"])
    rows.append(("report, 64 pieces, no audio", f"{statistics.median(walls):.1f} s", "<= 60 s",
                 "runs: " + ", ".join(f"{w:.1f}" for w in walls)))
    bach = numbers["set_comparison"]["mean_overlap_bach"]
    rows.append(("mean overlapping area vs held-out", f"{statistics.mean(overlaps):.3f}", ">= 0.8",
                 "seeds: " + ", ".join(f"{o:.3f}" for o in overlaps)
                 + f"; Bach held-out vs train {bach:.3f}"))

    run = load_run(default_run())
    sampling = load_sampling(run.path)  # the shipped model's own settings, as the report
    dataset = run_dataset(run)
    started = time.perf_counter()
    generated = []
    while len(generated) < args.copies:
        generated += generate_scores(run, min(128, args.copies - len(generated)), sampling,
                                     seed=len(generated))
    generation = time.perf_counter() - started
    training = decode_pieces(dataset, "train")
    started = time.perf_counter()
    detector = CopyDetector(training)
    indexed = time.perf_counter() - started
    reports = [detector.check(score) for score in generated]
    wall = time.perf_counter() - started
    rows.append((f"copy check, {len(generated)} pieces", f"{wall:.1f} s", "<= 30 s",
                 f"index {indexed:.1f} s of it; generating them took {generation:.0f} s"))
    longest = max(r.longest_run_bars for r in reports)
    rows.append(("copies over 4 bars", f"{sum(r.flagged for r in reports)} pieces", "0",
                 f"longest copied run {longest:.2f} bars"))

    print(f"machine: {os.cpu_count()} cores, {args.threads} torch threads")
    print_table(rows)


if __name__ == "__main__":
    main()
