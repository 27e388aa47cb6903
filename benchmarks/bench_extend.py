"""Extending a piece (the report's task): sampled continuations of held-out pieces
against their true continuations, beside the repeat-last-frame and silence baselines.

For every test piece long enough, the first ``--primer`` frames are given and
``--frames`` new frames are sampled (``--samples`` per piece, seeded). Scores per
horizon h (the first h frames of the continuation): mean absolute error over frames x
pitches and note F1. The sampled continuations are then set beside the true ones on
polyphony, pitch range, pitch-class entropy and note density: mean overlapping area of
the two sets' distributions (cadenza.evaluate.distances).

    python benchmarks/bench_extend.py runs/piano-midi [--primer 16 --frames 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.distances import compare_sets, mean_overlap
from cadenza.evaluate.metrics import note_density, pitch_class_entropy, pitch_range, polyphony
from cadenza.evaluate.rolls import frames_of
from cadenza.generate.pianoroll import extend, frame_scores, repeat_last, silence
from cadenza.train.checkpoint import load_run
from table import print_grid

HORIZONS = (1, 4, 16, 64)
FEATURES = {"polyphony": polyphony, "pitch_range": pitch_range,
            "pitch_class_entropy": pitch_class_entropy, "note_density": note_density}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--primer", type=int, default=16)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run = load_run(args.run)
    dataset = PreparedDataset(run.config.data)
    pieces = [r.astype(np.uint8) for r in frames_of(dataset, args.split)
              if len(r) >= args.primer + args.frames]
    scores = {name: {h: [] for h in HORIZONS} for name in ("model", "repeat", "silence")}
    generated, real = [], []
    for index, roll in enumerate(pieces):
        primer, truth = roll[:args.primer], roll[args.primer:args.primer + args.frames]
        samples = extend(run, primer, args.frames, n=args.samples,
                         temperature=args.temperature, seed=args.seed + index)
        guesses = {"repeat": [repeat_last(primer, args.frames)],
                   "silence": [silence(primer, args.frames)], "model": samples}
        for name, rolls in guesses.items():
            for h in HORIZONS:
                scores[name][h] += [frame_scores(g[:h], truth[:h]) for g in rolls]
        generated += [_features(run.codec.roll_to_score(s)) for s in samples]
        real.append(_features(run.codec.roll_to_score(truth)))
    rows = []
    for name, by_horizon in scores.items():
        rows.append([name] + [f"{np.mean([s['mae'] for s in by_horizon[h]]):.4f} / "
                              f"{np.mean([s['f1'] for s in by_horizon[h]]):.3f}"
                              for h in HORIZONS])
    print(f"{len(pieces)} {args.split} pieces, primer {args.primer} frames, "
          f"{args.samples} samples of {args.frames} frames each (temperature "
          f"{args.temperature})")
    print_grid(["predictor"] + [f"h={h}: MAE / F1" for h in HORIZONS], rows)
    table = compare_sets(generated, real)
    print_grid(["feature", "sampled mean", "true mean", "overlapping area"],
               [[f, f"{t['generated_mean']:.3f}", f"{t['real_mean']:.3f}",
                 f"{t['overlapping_area']:.3f}"] for f, t in table.items()])
    print(f"mean overlapping area: {mean_overlap(table):.3f}")


def _features(score) -> dict[str, float]:
    return {name: fn(score) for name, fn in FEATURES.items()}


if __name__ == "__main__":
    main()
