"""The piano-roll VAE table of issue 15 (BENCHMARKS.md §6): for each run, on held-out
segments of the dataset it was trained on, note F1 of reconstructions, active units,
KL, the F1 drop under the z-shuffle test, the mean overlapping area of prior samples'
features against held-out segments, and monotonic interpolation steps.

    python benchmarks/bench_vae.py runs/pianoroll-vae runs/pianoroll-vae-report \
        [--data data/nottingham] [--choose-threshold] [--json out.json]

``--choose-threshold`` picks each run's note threshold for prior samples on the
validation split (the best mean overlap) and writes it to the run's ``sampling.json``;
the table is always measured on ``--split`` (default test).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.data.segments import heldout_segments
from cadenza.evaluate.vae import choose_threshold, roll_measures
from cadenza.generate.latent import SAMPLING, sampling_threshold
from cadenza.train.checkpoint import load_run
from table import print_grid

TARGETS = {"f1": ">= 0.90", "active_units": ">= 16", "kl_nats": ">= 20",
           "shuffle_drop": ">= 0.3", "prior_overlap": ">= 0.7",
           "interpolation_monotonic": ">= 0.90"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=None, help="default: each run's own")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=1024, help="held-out segments at most")
    parser.add_argument("--pairs", type=int, default=64, help="interpolation pairs")
    parser.add_argument("--choose-threshold", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for path in args.runs:
        run = load_run(path)
        dataset = PreparedDataset(args.data or run.config.data)
        steps = run.model.steps
        if args.choose_threshold:
            validation = heldout_segments(dataset, "validation", steps, args.limit)
            best, scores = choose_threshold(run.model, validation)
            (path / SAMPLING).write_text(json.dumps({"threshold": best, "chosen_on": {
                "split": "validation", "mean_overlap": {str(k): round(v, 4)
                                                        for k, v in scores.items()}}},
                                                    indent=1) + "\n")
            print(f"{path}: threshold {best} (validation mean overlap {scores[best]:.3f})",
                  file=sys.stderr)
        held = heldout_segments(dataset, args.split, steps, args.limit)
        torch.manual_seed(0)
        results[str(path)] = roll_measures(run.model, held, sampling_threshold(path),
                                           pairs=args.pairs)
    header = ["measure", "target", *(Path(p).name for p in results)]
    rows = [[name, goal, *(f"{r[name]:.3f}" if isinstance(r[name], float) else str(r[name])
                           for r in results.values())] for name, goal in TARGETS.items()]
    rows.append(["note F1 (pitch, onset)", "", *(f"{r['onset_f1']:.3f}"
                                                  for r in results.values())])
    rows.append(["threshold of samples", "", *(f"{r['threshold']:g}" for r in results.values())])
    rows.append(["held-out segments", "", *(str(r["segments"]) for r in results.values())])
    print_grid(header, rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
