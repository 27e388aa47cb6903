"""The polyphonic benchmark (BENCHMARKS.md §5): test NLL in nats per frame, frame
accuracy, and the repeat / silence baselines, for trained piano-roll runs.

Each run is scored on the test split of the dataset it was trained on (or ``--data``):
the exact NLL by its objective, the teacher-forced next-frame accuracy and F1 (the model
sees the true past and names the next frame), and its training wall time from its log.

    python benchmarks/bench_polyphonic.py runs/jsb runs/nottingham ... [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.rolls import baseline_scores, frames_of, next_frame_guesses
from cadenza.train.checkpoint import load_run
from cadenza.train.loop import objective_for
from table import print_grid


def training_minutes(run: Path) -> float:
    """Wall time of the run's training from its log (the last 'seconds' entry), summed
    over stage logs (log-stage*.csv) where a run was trained in stages."""
    total = 0.0
    for log in sorted(run.glob("log*.csv")):
        seconds = [float(r["seconds"]) for r in csv.DictReader(log.open()) if r.get("seconds")]
        total += seconds[-1] if seconds else 0.0
    return total / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=0,
                        help="token models: name each next frame by the majority of this "
                             "many drawn frames (default 0: greedy)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for path in args.runs:
        run = load_run(path)
        dataset = PreparedDataset(run.config.data)
        started = time.perf_counter()
        result = objective_for(run.config, dataset).evaluate(run.model, args.split,
                                                             augmented=False)
        torch.manual_seed(0)
        guesses = next_frame_guesses(run, dataset, args.split, args.samples)
        base = baseline_scores(frames_of(dataset, "train"), frames_of(dataset, args.split))
        corpus = dataset.config["data"]["corpus"].rstrip("/").split("/")[-1]
        rows.append([corpus, path.name, f"{result['loss']:.3f}",
                     f"{guesses['frame_accuracy']:.3f}", f"{guesses['f1']:.3f}",
                     f"{base['repeat']['nats_per_frame']:.2f} / "
                     f"{base['repeat']['frame_accuracy']:.3f} / {base['repeat']['f1']:.3f}",
                     f"{base['silence']['nats_per_frame']:.2f} / "
                     f"{base['silence']['frame_accuracy']:.3f}",
                     f"{training_minutes(path):.1f}", str(result["count"]),
                     f"{time.perf_counter() - started:.0f}"])
    print_grid(["corpus", "run", f"{args.split} nats/frame", "frame acc", "next-frame F1",
                 "repeat NLL / acc / F1", "silence NLL / acc", "train min", "frames",
                 "eval s"], rows)


if __name__ == "__main__":
    main()
