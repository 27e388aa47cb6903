"""``generate`` and ``continue`` for note-feature runs (the ``notes`` codec).

Called by :mod:`cadenza.commands.generate` when a run's codec writes note features; the
sampling itself lives in :mod:`cadenza.generate.notes`. ``--length`` counts notes here.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError

DEFAULT_NOTES = 200


def is_notes(run: Any) -> bool:
    return run.codec.name == "notes"


def note_sampling(args: argparse.Namespace) -> Any:
    """The sampling settings the command line asks for."""
    from cadenza.generate.notes import NoteSampling, parse_head_temperature
    from cadenza.generate.processors import Scale, parse_scale

    scale = Scale(parse_scale(args.scale), range(128)) if args.scale else None
    return NoteSampling(temperature=1.0 if args.temperature is None else args.temperature,
                        head_temperature=parse_head_temperature(args.head_temperature),
                        polyphony=args.polyphony or "count", scale=scale)


def generate_notes_command(args: argparse.Namespace, run: Any, formats: tuple[str, ...]) -> int:
    from cadenza.generate.notes import generate_notes

    settings = note_sampling(args)
    rows = generate_notes(run.model, run.codec, args.length or DEFAULT_NOTES, settings,
                          n=args.n, seed=args.seed)
    for index, codes in enumerate(rows, start=1):
        _write(run.codec.decode(codes), args.out, f"notes-{index:03d}", formats)
    return 0


def continue_notes(args: argparse.Namespace, run: Any, path: Path,
                   formats: tuple[str, ...]) -> int:
    """Continue the first ``--notes`` notes (default 25) of the piece at ``path`` by
    ``--length`` notes (default 200)."""
    from cadenza.generate.notes import generate_notes
    from cadenza.io.read import read

    if args.frames is not None or args.bars is not None:
        raise CadenzaError("note-feature runs keep a seed of --notes N notes, not bars or frames")
    scores = read(path)
    if not scores or not len(scores[0].notes):
        raise CadenzaError(f"{path}: no notes to continue")
    codes = run.codec.encode(scores[0])
    keep = args.notes if args.notes is not None else 25
    if keep > len(codes):
        raise CadenzaError(f"{path}: the piece has {len(codes)} notes; a seed of {keep} notes "
                           "does not fit (choose fewer --notes)")
    length = args.length or DEFAULT_NOTES
    print(f"seed {path}: kept {keep} notes, adding {length}")
    rows = generate_notes(run.model, run.codec, length, note_sampling(args),
                          seed_codes=codes[:keep], n=args.n, seed=args.seed)
    for index, row in enumerate(rows, start=1):
        _write(run.codec.decode(row), args.out, f"{path.stem}-continued-{index:03d}", formats)
    return 0


def _write(score: Any, out: Path, stem: str, formats: tuple[str, ...]) -> None:
    from cadenza.generate.outputs import write_outputs

    written = write_outputs(score, out, stem, formats)
    files = ", ".join(str(p) for p in written.values()) or "nothing"
    print(f"{stem}: {len(score)} notes, {score.end / score.tpq:g} quarters -> {files}")
