"""Reading the given part(s) of a harmonization task into a grid, and back.

The melody is transposed to C major / A minor (the models' key), moved by
octaves into the voices' ranges if needed (with a notice), and laid out as grid
rows; the voices to fill are MASK. Nothing of the melody is dropped: a chord in
a given part, or a melody that cannot fit, is a clear error instead, and
:func:`check_kept` checks the finished output against the melody note for note.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cadenza.codecs.grid import MASK, VOICE_NAMES, grid_to_score, score_to_grid
from cadenza.corpus.preprocess import analyze_key, key_shift, quantize_whole, select_satb
from cadenza.errors import CadenzaError, SkipPiece
from cadenza.harmonize.grid import VOICE_LETTERS
from cadenza.harmonize.infill import VOICE_RANGES
from cadenza.io.read import read
from cadenza.limits import MAX_MELODY_FRAMES
from cadenza.score import Score


@dataclass
class Melody:
    """A harmonization task: given rows filled in, free rows MASK (model key)."""

    cells: np.ndarray  # [4, F]
    fermata: np.ndarray  # [F]
    given: list[int]
    shift: int  # semitones from the input to the model's key
    original: Score  # the given part(s) as read, quantized, in the input key
    notices: list[str] = field(default_factory=list)

    def to_score(self, filled: np.ndarray) -> Score:
        """The filled grid as a four-part score in the input's key."""
        score = grid_to_score(filled, self.fermata).transpose(-self.shift)
        return score.replace(key=self.original.key, title=self.original.title,
                             tempos=self.original.tempos)


def load_melody(path: str | Path, given: list[int]) -> Melody:
    """Read ``path`` and lay its given voices out for filling."""
    scores = read(path)
    notices = []
    if len(scores) > 1:
        notices.append(f"{path} holds {len(scores)} pieces; harmonizing the first")
    score = scores[0]
    if not len(score.notes):
        raise CadenzaError(f"{path}: holds no notes to harmonize")
    if score.meter != "4/4":
        raise CadenzaError(f"{path}: meter {score.meter}; the harmonizers model 4/4 chorales only")
    melody = _given_parts(score, given, notices)
    _check_single_line(melody, path)
    try:
        quantized = quantize_whole(melody, 4)
    except SkipPiece as err:
        raise CadenzaError(f"{path}: {err}") from None
    moved = int((quantized.notes["onset"] != melody.notes["onset"]).sum()
                + (quantized.notes["duration"] != melody.notes["duration"]).sum())
    if moved:
        notices.append(f"quantized the melody to 16th notes ({moved} onsets/lengths moved)")
    frames = quantized.end // (quantized.tpq // 4)
    if frames > MAX_MELODY_FRAMES:
        raise CadenzaError(f"{path}: {frames // 16} bars long; cadenza harmonizes at most "
                           f"{MAX_MELODY_FRAMES // 16} bars at once (split the melody)")
    found = analyze_key(quantized)
    key = score.key or found
    shift = key_shift(found) + _octave_move(quantized, given, path, notices, key_shift(found))
    normalized = quantized.transpose(shift)
    cells, fermata = score_to_grid(_as_voices(normalized, given))
    cells[[v for v in range(4) if v not in given]] = MASK
    original = quantized.replace(key=key)
    return Melody(cells, fermata, given, shift, original, notices)


def check_kept(given: Score, output: Score, parts: list[int] | None = None,
               end: int | None = None) -> int:
    """Check that ``output`` plays ``given``'s notes note for note and return their number.

    ``parts[i]`` is the output part that must play given part ``i``; ``None`` compares
    all notes whatever their part. Ties are merged on both sides (a note split at a bar
    line is one note); with ``end``, only what sounds before that tick is compared. A
    difference raises a one-line :class:`CadenzaError` naming the first note changed.
    """
    given, output = given.merge_ties(), output.merge_ties()
    pairs = [(None, None)] if parts is None else list(enumerate(parts))
    total = 0
    for source, target in pairs:
        want = Counter(_sounding(given, source, end))
        have = Counter(_sounding(output, target, end))
        lost = sorted((want - have).elements())
        extra = sorted((have - want).elements())
        if lost or extra:
            onset, length, pitch = (lost or extra)[0]
            what = "would be lost" if lost else "would be added"
            raise CadenzaError(
                f"cannot keep the given notes note for note: {len(lost) or len(extra)} of "
                f"{sum(want.values())}"
                f" would change (first: MIDI {pitch} at quarter {onset / given.tpq:g}, "
                f"{length / given.tpq:g} quarters, {what}); nothing written")
        total += sum(want.values())
    return total


def _sounding(score: Score, part: int | None, end: int | None) -> list[tuple[int, int, int]]:
    """(onset, length, pitch) of a part's notes, cut at ``end``."""
    notes = score.notes if part is None else score.part_notes(part)
    rows = []
    for onset, length, pitch in zip(notes["onset"].tolist(), notes["duration"].tolist(),
                                    notes["pitch"].tolist()):
        if end is not None and onset >= end:
            continue
        stop = onset + length if end is None else min(onset + length, end)
        rows.append((onset, stop - onset, pitch))
    return rows


def _given_parts(score: Score, given: list[int], notices: list[str]) -> Score:
    """The parts that play the given voices, in voice order."""
    try:
        satb = select_satb(score)
    except SkipPiece:
        satb = None
    if satb is not None:
        return satb.select_parts(given, [VOICE_NAMES[v] for v in given])
    if len(score.parts) == len(given):
        return score.replace(parts=[VOICE_NAMES[v] for v in given])
    if len(given) == 1:
        means = [score.part_notes(p)["pitch"].mean() if len(score.part_notes(p)) else -1
                 for p in range(len(score.parts))]
        top = int(np.argmax(means))
        notices.append(f"the input has {len(score.parts)} parts; using the top one, "
                       f"{score.parts[top]!r}, as the {VOICE_NAMES[given[0]]}")
        return score.select_parts([top], [VOICE_NAMES[given[0]]])
    letters = "".join(VOICE_LETTERS[v] for v in given)
    raise CadenzaError(f"--given {letters} needs {len(given)} parts (or parts named "
                       f"Soprano/Alto/Tenor/Bass); the input has {len(score.parts)}")


def _check_single_line(melody: Score, path: str | Path) -> None:
    for part, name in enumerate(melody.parts):
        notes = melody.part_notes(part)
        ends = notes["onset"][:-1] + notes["duration"][:-1]
        overlap = np.nonzero(ends > notes["onset"][1:])[0]
        if len(overlap):
            beat = notes["onset"][overlap[0] + 1] / melody.tpq
            raise CadenzaError(f"{path}: the {name} part has overlapping notes (a chord) at "
                               f"quarter {beat:g}; give it as a single line")


def _octave_move(score: Score, given: list[int], path, notices: list[str], shift: int) -> int:
    """Octaves (in semitones) that bring every given voice into its range."""
    for move in (0, -12, 12, -24, 24):
        if all(_fits(score.part_notes(i)["pitch"] + shift + move, VOICE_RANGES[v])
               for i, v in enumerate(given)):
            if move:
                notices.append(f"moved the melody {abs(move) // 12} octave(s) "
                               f"{'up' if move > 0 else 'down'} into the voice's range; "
                               "the result is moved back")
            return move
    low, high = int(score.notes["pitch"].min()), int(score.notes["pitch"].max())
    raise CadenzaError(f"{path}: the given part spans MIDI {low}-{high}, wider than the "
                       "voice's range the model knows even after octave moves")


def _fits(pitches: np.ndarray, bounds: tuple[int, int]) -> bool:
    return not len(pitches) or (pitches.min() >= bounds[0] and pitches.max() <= bounds[1])


def _as_voices(score: Score, given: list[int]) -> Score:
    """Renumber the given parts as voice rows of a four-part score."""
    notes = score.notes.copy()
    notes["part"] = np.asarray(given)[notes["part"]]
    return Score(notes=notes, parts=list(VOICE_NAMES), tpq=score.tpq)
