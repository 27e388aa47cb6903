"""``generate`` and ``continue`` for runs over MidiTok event tokens (codec ``miditok``).

Called by :mod:`cadenza.commands.generate` when a run's codec is ``miditok``; the
length limit, the primer and the sampling live in :mod:`cadenza.generate.event_tokens`.
Decoding uses the model's key/value cache (``generate/decode.py``), so a token costs
one step.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError

DEFAULT_BARS = 8  # generate
DEFAULT_MORE_BARS = 4  # continue


def is_event_tokens(run: Any) -> bool:
    return run.codec.name == "miditok"


def generate_tokens(args: argparse.Namespace, run: Any, formats: tuple[str, ...]) -> int:
    """``--n`` pieces of ``--length`` bars (default 8) from ``BOS``."""
    from cadenza.commands.generate import _scale, _write, sampling_settings
    from cadenza.generate.event_tokens import generate_events

    processors = sampling_settings(args, run.path).processors(run.vocab) + _scale(args, run)
    scores = generate_events(run, args.n, processors, args.length or DEFAULT_BARS,
                             max_tokens=args.max_tokens, seed=args.seed)
    _write(scores, args, formats, f"miditok-{run.codec.tokenization.lower()}")
    return 0


def continue_tokens(args: argparse.Namespace, run: Any, path: Path,
                    formats: tuple[str, ...]) -> int:
    """Continue the opening of ``path`` (``--bars`` or ``--notes``; default all of it)
    by ``--length`` bars (default 4). The primer goes through the run's own
    preparation (its data.json), and its tokens open every continuation unchanged."""
    from cadenza.commands.generate import _scale, _write, sampling_settings
    from cadenza.generate.event_tokens import event_primer, generate_events, prompt_budget

    if args.frames is not None:
        raise CadenzaError("--frames is for grid runs; give --bars or --notes")
    score, shift = _prepared_primer(run, path)
    primer = event_primer(score, run.codec, run.vocab, args.bars, args.notes,
                          prompt_budget(args.max_tokens), str(path))
    print(f"primer {path}: kept {primer.notes} notes ({len(primer.ids)} tokens)"
          + (f", transposed by {shift:+d} and back" if shift else ""))
    processors = sampling_settings(args, run.path).processors(run.vocab) + _scale(args, run)
    scores = generate_events(run, args.n, processors, args.length or DEFAULT_MORE_BARS,
                             prompt=primer.ids, max_tokens=args.max_tokens, seed=args.seed)
    if shift:
        scores = [s.transpose(-shift) for s in scores]
    _write(scores, args, formats, f"{path.stem}-continued")
    return 0


def _prepared_primer(run: Any, path: Path) -> tuple[Any, int]:
    """The primer's first piece read and prepared as the run's dataset was (drums if
    its codec keeps them; its data.json's key normalisation and quantization), with no
    filter; and the transposition applied."""
    from dataclasses import fields

    from cadenza.corpus.preprocess import PreprocessConfig, preprocess
    from cadenza.errors import SkipPiece
    from cadenza.io.read import read

    recipe_path = Path(run.path) / "data.json"
    recipe = json.loads(recipe_path.read_text()) if recipe_path.exists() else {}
    settings = dict(recipe.get("preprocess") or type(run.codec).preprocess_defaults)
    known = {f.name for f in fields(PreprocessConfig)}
    settings = {k: v for k, v in settings.items() if k in known}
    config = PreprocessConfig(**{**settings, "meter": None, "satb": False, "augment": []})
    scores = read(path, drums=getattr(run.codec, "keeps_drums", False))
    if not scores or not len(scores[0].notes):
        raise CadenzaError(f"{path}: no notes to continue")
    try:
        score, facts = preprocess(scores[0], config)
    except SkipPiece as err:
        raise CadenzaError(f"{path}: cannot be a primer: {err}") from None
    return score, int(facts.get("shift", 0))
