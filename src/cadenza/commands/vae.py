"""``cadenza sample``, ``reconstruct`` and ``interpolate``: use a trained VAE run.

A piano-roll VAE writes MIDI, WAV and a piano-roll PNG per piece (an interpolation also
a strip of its steps in one PNG); a mel VAE writes WAV (Griffin-Lim) and a PNG of the
spectrograms side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cadenza.commands import add_command
from cadenza.errors import CadenzaError
from cadenza.limits import MAX_PIECES
from cadenza.validate import SEED, float_option, int_option

ROLL_FORMATS = ("mid", "wav", "png")


def register(commands) -> None:
    sample = add_command(commands, "sample", "decode segments drawn from a VAE's prior",
                         run_sample)
    sample.add_argument("run", type=Path, help="a VAE run directory")
    sample.add_argument("--n", type=int_option(1, MAX_PIECES), default=8)
    sample.add_argument("--seed", type=SEED, default=0, help="same seed, same samples")
    sample.add_argument("--temperature", type=float_option(0, 10, low_open=True), default=1.0,
                        help="scale of z ~ N(0, T^2 I) (default 1)")
    sample.add_argument("--out", type=Path, required=True, help="folder for the output files")
    rebuild = add_command(commands, "reconstruct", "encode a piece or clip and decode it",
                          run_reconstruct)
    rebuild.add_argument("run", type=Path, help="a VAE run directory")
    rebuild.add_argument("path", type=Path, help="a MIDI file (roll VAE) or WAV/FLAC/OGG (mel)")
    rebuild.add_argument("--seed", type=SEED, default=0, help="seed of the sample shown beside")
    rebuild.add_argument("--out", type=Path, required=True)
    between = add_command(commands, "interpolate",
                          "decode the path between two pieces' latent codes", run_interpolate)
    between.add_argument("run", type=Path, help="a piano-roll VAE run directory")
    between.add_argument("a", type=Path, help="the first piece (MIDI): its first segment")
    between.add_argument("b", type=Path, help="the second piece: its first segment")
    between.add_argument("--steps", type=int_option(2, 64), default=8)
    between.add_argument("--out", type=Path, required=True)


def load_vae(path: Path) -> Any:
    from cadenza.train.checkpoint import load_run

    run = load_run(path)
    if not hasattr(run.model, "latent") or not hasattr(run.model, "decode"):
        raise CadenzaError(f"{path} is not a VAE run (its model is {run.config.model.name})")
    return run


def run_sample(args: argparse.Namespace) -> int:
    from cadenza.generate import latent

    run = load_vae(args.run)
    values = latent.sample(run.model, args.n, args.seed, args.temperature)
    if run.codec.name == "mel":
        from cadenza.generate import mel

        mel.write_samples(run, values, args.out)
        return 0
    rolls = latent.notes(values, latent.sampling_threshold(args.run))
    for index, roll in enumerate(rolls, start=1):
        _write_roll(run, roll, args.out, f"sample-{index:03d}")
    return 0


def run_reconstruct(args: argparse.Namespace) -> int:
    from cadenza.evaluate.latent import note_f1
    from cadenza.generate import latent

    run = load_vae(args.run)
    if run.codec.name == "mel":
        from cadenza.generate import mel

        mel.reconstruct_file(run, args.path, args.out, args.seed)
        return 0
    roll = _read_roll(run, args.path)
    rebuilt = latent.notes(latent.reconstruct(run.model, roll))
    print(f"{args.path.name}: note F1 of the reconstruction {note_f1(rebuilt, roll > 0):.3f} "
          f"over {len(roll)} steps")
    _write_roll(run, rebuilt, args.out, f"{args.path.stem}-reconstructed")
    return 0


def run_interpolate(args: argparse.Namespace) -> int:
    import numpy as np

    from cadenza.evaluate.latent import monotonic_fraction
    from cadenza.generate import latent
    from cadenza.io.atomic import staged
    from cadenza.io.plot_latent import roll_strip

    run = load_vae(args.run)
    if run.codec.name != "pianoroll":
        raise CadenzaError("interpolate needs a piano-roll VAE run")
    steps = run.model.steps
    a, b = (_first_segment(_read_roll(run, p), steps, p) for p in (args.a, args.b))
    path = latent.notes(latent.interpolate(run.model, a, b, args.steps))
    stem = f"{args.a.stem}-to-{args.b.stem}"
    _write_roll(run, np.concatenate(list(path)), args.out, stem)
    with staged(args.out) as stage:
        strip = roll_strip([a, *path, b], stage / f"{stem}-strip.png",
                           ["A", *[f"{i + 1}" for i in range(len(path))], "B"],
                           run.codec.lowest, f"{args.a.stem} -> {args.b.stem}")
    print(f"{stem}: {args.steps} steps, {monotonic_fraction(path):.0%} moving away from the "
          f"first (Hamming) -> {args.out / strip.name}")
    return 0


def _read_roll(run: Any, path: Path) -> Any:
    from cadenza.io.read import read

    scores = read(path)
    if not scores or not len(scores[0].notes):
        raise CadenzaError(f"{path}: no notes")
    try:
        roll = run.codec.roll(scores[0])
    except ValueError as err:
        raise CadenzaError(f"{path}: {err}") from None
    return (roll > 0).astype("float32")


def _first_segment(roll: Any, steps: int, path: Path) -> Any:
    if len(roll) < steps:
        raise CadenzaError(f"{path}: {len(roll)} steps on the run's grid, shorter than one "
                           f"segment ({steps} steps)")
    return roll[:steps]


def _write_roll(run: Any, roll: Any, out: Path, stem: str) -> None:
    from cadenza.generate.outputs import write_outputs

    score = run.codec.roll_to_score(roll)
    written = write_outputs(score, out, stem, ROLL_FORMATS)
    files = ", ".join(str(p) for p in written.values()) or "nothing"
    print(f"{stem}: {len(score)} notes, {len(roll)} steps -> {files}")
