"""Continue a primer file: keep its opening, let the model write the rest.

The primer goes through the same steps as the training data (SATB selection for the
chorale codec, transposition to C major / A minor, quantization), is cut after its
first frames, bars or notes, and encoded without its ``END``. The samples are
transposed back into the primer's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.codecs.base import Codec, Vocab
from cadenza.codecs.chorale import FIRST_NOTE, FRAME
from cadenza.corpus.preprocess import PreprocessConfig, preprocess, select_satb
from cadenza.errors import CadenzaError, SkipPiece
from cadenza.generate.decode import MAX_TOKENS, Grammar, sample
from cadenza.generate.processors import LogitsProcessor
from cadenza.score import Score


@dataclass
class Primer:
    """A primer ready to prompt a model."""

    ids: list[int]  # START and the kept frames, no END
    frames: int  # frames kept
    shift: int  # semitones the primer was transposed by (undo with -shift)
    score: Score  # the primer after preprocessing
    steps_per_quarter: int = 4
    notice: str = ""  # what was cut to fit the token budget, if anything

    @property
    def end_tick(self) -> int:
        """Where the kept frames end."""
        return self.frames * (self.score.tpq // self.steps_per_quarter)


def frames_per_bar(score: Score, steps_per_quarter: int = 4) -> int:
    """Grid frames in one bar of the score's first meter (16 in 4/4 at 16ths)."""
    ts = score.time_signatures[0] if score.time_signatures else None
    numerator, denominator = (ts.numerator, ts.denominator) if ts else (4, 4)
    return max(1, numerator * steps_per_quarter * 4 // denominator)


def load_primer(path: str | Path, codec: Codec, vocab: Vocab, *, frames: int | None = None,
                bars: int | None = None, notes: int | None = None,
                config: PreprocessConfig | None = None, score: Score | None = None,
                max_tokens: int = MAX_TOKENS) -> Primer:
    """Read, preprocess and encode the opening of ``path``. Give at most one of
    ``frames``, ``bars`` (whole bars of the first meter) or ``notes`` (keep every frame
    up to the one where the ``notes``-th note starts); none keeps the whole primer.
    The primer keeps at most three quarters of ``max_tokens`` (whole frames), leaving
    the rest to the continuation; ``Primer.notice`` says what was cut.
    Raises a one-line :class:`CadenzaError` for a file that cannot serve as a primer.
    ``score`` stands in for the file's first piece where the caller has prepared it
    (a melody harmonized first).
    """
    from cadenza.io import read

    if sum(x is not None for x in (frames, bars, notes)) > 1:
        raise CadenzaError("give only one of --frames, --bars or --notes")
    for name, value in (("frames", frames), ("bars", bars), ("notes", notes)):
        if value is not None and value < 1:
            raise CadenzaError(f"--{name} must be at least 1, got {value}")
    path = Path(path)
    scores = [score] if score is not None else read(path)
    if not scores:
        raise CadenzaError(f"{path}: holds no piece to continue")
    budget = max(1, max_tokens * 3 // 4)
    steps = getattr(codec, "steps_per_quarter", 4)
    # every frame takes at least one token, so no more than ``budget`` frames can fit:
    # cut the score there before encoding (a 1M-note file never becomes 5M tokens)
    head = _head(scores[0], budget * (scores[0].tpq // steps))
    score, shift = _prepare(head, codec, config, path)
    ids = vocab.encode(codec.encode(score), where=str(path)).tolist()
    ends = [i for i, t in enumerate(ids) if t == vocab.id("|||")]
    if not ends:
        raise CadenzaError(f"{path}: no notes left to continue after preprocessing")
    if bars is not None:
        frames = bars * frames_per_bar(score, getattr(codec, "steps_per_quarter", 4))
    if notes is not None:
        frames = _frames_for_notes(ids, vocab, notes)
    keep = len(ends) if frames is None else min(frames, len(ends))
    notice = ""
    fitting = sum(end + 1 <= budget for end in ends)
    if keep > fitting:
        if not fitting:
            raise CadenzaError(f"{path}: its first frame alone is longer than --max-tokens "
                               f"{max_tokens} allows")
        cut_notes = len(scores[0].notes) - len(head.notes)
        notice = (f"primer cut to its first {fitting} frames ({ends[fitting - 1] + 1} tokens, "
                  f"3/4 of --max-tokens {max_tokens}); {keep - fitting} more frames"
                  + (f" and {cut_notes} later notes" if cut_notes else "") + " left out")
        keep = fitting
    return Primer(ids[:ends[keep - 1] + 1], keep, shift, score,
                  getattr(codec, "steps_per_quarter", 4), notice)


def _head(score: Score, ticks: int) -> Score:
    """The notes that start before ``ticks``, cut off there."""
    if score.end <= ticks:
        return score
    notes = score.notes[score.notes["onset"] < ticks].copy()
    notes["duration"] = np.minimum(notes["onset"] + notes["duration"], ticks) - notes["onset"]
    return score.replace(notes=notes)


def _prepare(score: Score, codec: Codec, config: PreprocessConfig | None,
             path: Path) -> tuple[Score, int]:
    steps = getattr(codec, "steps_per_quarter", 4)
    config = config or PreprocessConfig(meter=None, quantize=steps)
    chorale = codec.name == "chorale"
    if chorale:
        score = _voices(score, codec, path)
    try:
        score, facts = preprocess(score, PreprocessConfig(
            meter=config.meter, satb=False, normalize_key=config.normalize_key,
            quantize=config.quantize or steps))
    except SkipPiece as err:
        raise CadenzaError(f"{path}: cannot be a primer: {err}") from None
    return score, int(facts.get("shift", 0))


def _voices(score: Score, codec: Codec, path: Path) -> Score:
    """SATB parts by name; otherwise up to four parts, highest first."""
    try:
        return select_satb(score)
    except SkipPiece as err:
        voices = getattr(codec, "voices", 4)
        if not 1 <= len(score.parts) <= voices:
            raise CadenzaError(f"{path}: cannot be a primer: {err}") from None
    means = [score.part_notes(i)["pitch"].mean() if len(score.part_notes(i)) else -1.0
             for i in range(len(score.parts))]
    order = [int(i) for i in np.argsort(means)[::-1]]
    names = ["Soprano", "Alto", "Tenor", "Bass"][: len(order)]
    return score.select_parts(order, names=names)


def _frames_for_notes(ids: list[int], vocab: Vocab, notes: int) -> int:
    """Frames up to and including the one where the ``notes``-th note starts."""
    seen, frame = 0, 0
    for token in ids:
        code = int(vocab.codes[token])
        if code == FRAME:
            frame += 1
        elif code >= FIRST_NOTE and (code - FIRST_NOTE) % 2 == 0:  # a note that starts
            seen += 1
            if seen == notes:
                return frame + 1
    return frame


def continue_primer(model: Any, vocab: Vocab, codec: Codec, primer: Primer, n: int = 1,
                    processors: Sequence[LogitsProcessor] = (), max_tokens: int = MAX_TOKENS,
                    seed: int | None = None, grammar: Grammar = "auto") -> list[Score]:
    """``n`` continuations of ``primer``, decoded and moved back to the primer's key."""
    if len(primer.ids) + 2 >= max_tokens:
        max_tokens = len(primer.ids) + 2 + max(64, max_tokens)
    rows = sample(model, vocab, n=n, processors=processors, max_tokens=max_tokens,
                  seed=seed, prompt_ids=primer.ids, grammar=grammar)
    scores = []
    for ids in rows:
        score = codec.decode(vocab.decode(ids))
        scores.append(_transpose_back(score, primer))
    return scores


def _transpose_back(score: Score, primer: Primer) -> Score:
    key = primer.score.key.transpose(-primer.shift) if primer.score.key else None
    meta = {"time_signatures": primer.score.time_signatures, "tempos": primer.score.tempos}
    try:
        return score.transpose(-primer.shift).replace(key=key, **meta)
    except ValueError as err:
        raise CadenzaError(f"cannot move the continuation back to the primer's key: {err}") \
            from None
