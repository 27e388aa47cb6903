"""The six-head note model against the source's variant and a unigram baseline.

On one prepared ``notes`` dataset (its test split, untransposed pieces, each scored from
its first note):

1. **per-feature NLL** in nats per note: a unigram baseline (each feature's code
   frequencies on the training split, add-one smoothed), then each run as its
   ``multihead`` objective scores it (categorical heads by cross-entropy, regression
   heads by the discretised Gaussian of ``objectives/multihead.py``);
2. **overlapping area** (Yang & Lerch; ``cadenza.evaluate.distances``) of the step,
   duration (beats or seconds), pitch and interval (semitones) distributions of notes
   each run *generates* (``--pieces`` pieces of ``--notes`` notes, temperature 1,
   polyphony ``count``, no seed) against the held-out notes.

    python benchmarks/bench_notes.py --data data/piano-notes \\
        --run notes=src/cadenza/runs/notes-default --run tutorial=runs/notes-tutorial
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cadenza.codecs.notes import DURATION, FEATURES, INTERVAL, INTERVAL_ZERO, PITCH, STEP
from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.distances import overlapping_area
from cadenza.generate.notes import NoteSampling, generate_notes
from cadenza.objectives import build_objective
from cadenza.train.checkpoint import load_run

OA_FEATURES = {"step": STEP, "duration": DURATION, "pitch": PITCH, "interval": INTERVAL}


def split_codes(dataset: PreparedDataset, split: str, augmented: bool) -> np.ndarray:
    pieces = [np.asarray(dataset.tokens(i), dtype=np.int64)
              for i in dataset.indices(split, augmented)]
    return np.concatenate(pieces) if pieces else np.zeros((0, len(FEATURES)), np.int64)


def unigram_nll(dataset: PreparedDataset) -> dict[str, float]:
    """Nats per note of each feature under its add-one smoothed training frequencies."""
    train, test = split_codes(dataset, "train", True), split_codes(dataset, "test", False)
    out = {}
    for f, (name, classes) in enumerate(zip(FEATURES, dataset.codec.classes)):
        counts = np.bincount(train[:, f], minlength=classes) + 1.0
        out[name] = float(-np.log(counts[test[:, f]] / counts.sum()).mean())
    return out


def values(codes: np.ndarray, per_unit: float) -> dict[str, np.ndarray]:
    """Step and duration in beats (or seconds), pitch, interval in semitones."""
    codes = codes.astype(np.float64)
    return {"step": codes[:, STEP] / per_unit, "duration": codes[:, DURATION] / per_unit,
            "pitch": codes[:, PITCH], "interval": codes[:, INTERVAL] - INTERVAL_ZERO}


def subsample(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.random.default_rng(seed).choice(len(x), n, replace=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a dataset prepared with --codec notes")
    parser.add_argument("--run", action="append", default=[], metavar="NAME=RUN",
                        help="a run to compare (repeatable)")
    parser.add_argument("--pieces", type=int, default=10)
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--max-points", type=int, default=5000,
                        help="notes per set for the overlapping area (a random subsample)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = PreparedDataset(args.data)
    codec = dataset.codec
    runs = dict(item.split("=", 1) for item in args.run)
    nll = {"unigram": unigram_nll(dataset)}
    generated = {}
    for name, path in runs.items():
        run = load_run(path)
        objective = build_objective("multihead", dataset, **run.config.objective.options)
        result = objective.evaluate(run.model, "test", augmented=False)
        nll[name] = {f: result[f] for f in FEATURES}
        start = time.perf_counter()
        rows = generate_notes(run.model, codec, args.notes, NoteSampling(), n=args.pieces,
                              seed=args.seed)
        generated[name] = np.concatenate(rows).astype(np.int64)
        print(f"{name}: {path}; generated {len(generated[name])} notes in "
              f"{time.perf_counter() - start:.1f} s")
    test = split_codes(dataset, "test", False)
    print(f"\ntest split: {len(test)} notes in {len(dataset.indices('test', False))} pieces; "
          f"codec {codec.config()}")
    names = list(nll)
    print("\nper-feature NLL, nats/note (lower is better)")
    print(f"{'feature':<12}" + "".join(f"{n:>12}" for n in names))
    for f in FEATURES:
        print(f"{f:<12}" + "".join(f"{nll[n][f]:>12.3f}" for n in names))
    print(f"{'sum':<12}" + "".join(f"{sum(nll[n].values()):>12.3f}" for n in names))
    if not generated:
        return
    real = values(test, codec.steps_per_unit)
    print(f"\noverlapping area, generated vs held-out notes ({args.pieces} pieces x "
          f"{args.notes} notes a run; at most {args.max_points} notes a set)")
    print(f"{'feature':<12}" + "".join(f"{n:>12}" for n in generated))
    table = {n: {} for n in generated}
    for feature in OA_FEATURES:
        for n, codes in generated.items():
            gen = values(codes, codec.steps_per_unit)[feature]
            table[n][feature] = overlapping_area(subsample(gen, args.max_points, 1),
                                                 subsample(real[feature], args.max_points, 2))
        print(f"{feature:<12}" + "".join(f"{table[n][feature]:>12.3f}" for n in generated))
    print(f"{'mean':<12}" + "".join(f"{np.mean(list(table[n].values())):>12.3f}"
                                    for n in generated))


if __name__ == "__main__":
    main()
