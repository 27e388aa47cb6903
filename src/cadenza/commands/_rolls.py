"""``generate`` and ``continue`` for piano-roll runs (either layout).

Called by :mod:`cadenza.commands.generate` when a run's codec writes piano rolls; the
sampling itself lives in :mod:`cadenza.generate.pianoroll`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import CadenzaError

DEFAULT_BARS = 8


def is_pianoroll(run: Any) -> bool:
    return run.codec.name == "pianoroll"


def frames_per_bar(codec: Any, meter: str = "4/4") -> int:
    """Frames in one bar of ``meter`` on the codec's grid (4/4 where it is unknown)."""
    numerator, denominator = (int(x) for x in meter.split("/"))
    quarters = numerator * 4 / denominator
    if codec.steps_per_second:
        return max(1, round(quarters * 0.5 * codec.steps_per_second))  # at 120 bpm
    return max(1, round(quarters * codec.steps_per_quarter))


def generate_rolls(args: argparse.Namespace, run: Any, formats: tuple[str, ...]) -> int:
    from cadenza.generate.pianoroll import extend

    frames = (args.length or DEFAULT_BARS) * frames_per_bar(run.codec)
    empty = np.zeros((0, run.codec.pitches), np.uint8)
    rolls = extend(run, empty, frames, n=args.n, temperature=_temperature(args),
                   seed=args.seed)
    for index, roll in enumerate(rolls, start=1):
        _write(run.codec.roll_to_score(roll), args.out, f"pianoroll-{index:03d}", formats)
    return 0


def continue_rolls(args: argparse.Namespace, run: Any, path: Path,
                   formats: tuple[str, ...]) -> int:
    """Extend the piece at ``path`` after its first ``--bars`` (or ``--frames``) by
    ``--length`` bars; where the piece goes on, an overlay shows the true continuation."""
    from cadenza.generate.pianoroll import extend
    from cadenza.io.plot import roll_overlay
    from cadenza.io.read import read

    if args.notes is not None:
        raise CadenzaError("--notes is for chorale runs; give --bars or --frames")
    scores = read(path)
    if not scores or not len(scores[0].notes):
        raise CadenzaError(f"{path}: no notes to continue")
    roll = run.codec.roll(scores[0])
    bar = frames_per_bar(run.codec, scores[0].meter)
    keep = args.frames if args.frames is not None else (args.bars or 4) * bar
    if keep < 1 or keep > len(roll):
        raise CadenzaError(f"{path}: the piece has {len(roll)} frames; a primer of {keep} "
                           "frames does not fit (choose fewer --bars or --frames)")
    frames = (args.length or 4) * bar
    primer, truth = roll[:keep], roll[keep:keep + frames]
    print(f"primer {path}: kept {keep} frames ({keep / bar:g} bars), adding {frames}")
    rolls = extend(run, primer, frames, n=args.n, temperature=_temperature(args),
                   seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for index, new in enumerate(rolls, start=1):
        stem = f"{path.stem}-continued-{index:03d}"
        _write(run.codec.roll_to_score(np.concatenate([primer, new])), args.out, stem,
               formats)
        if len(truth):
            overlay = roll_overlay(primer, truth, new, args.out / f"{stem}-overlay.png",
                                   run.codec.lowest, f"{path.stem}: true (blue) vs model (red)")
            print(f"{stem}: overlay with the true continuation -> {overlay}")
    return 0


def _temperature(args: argparse.Namespace) -> float:
    return 1.0 if args.temperature is None else float(args.temperature)


def _write(score: Any, out: Path, stem: str, formats: tuple[str, ...]) -> None:
    from cadenza.generate.outputs import write_outputs

    written = write_outputs(score, out, stem, formats)
    files = ", ".join(str(p) for p in written.values()) or "nothing"
    print(f"{stem}: {len(score)} notes, {score.end / score.tpq:g} quarters -> {files}")
