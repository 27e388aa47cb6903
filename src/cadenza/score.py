"""The one in-memory music type that every reader produces and every writer takes.

Times are integer ticks at ``tpq`` ticks per quarter note (default 480, which holds
16ths, triplets and quintuplets exactly), so quantized scores compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

DEFAULT_TPQ = 480

NOTE_DTYPE = np.dtype(
    [
        ("onset", np.int64),  # ticks from the start of the piece
        ("duration", np.int64),  # ticks, > 0
        ("pitch", np.int16),  # MIDI pitch 0..127
        ("velocity", np.uint8),  # MIDI velocity 1..127
        ("part", np.int16),  # index into Score.parts
        ("tied", np.bool_),  # tied from the previous note of the same pitch in this part
        ("fermata", np.bool_),  # carries a fermata (a phrase end in chorales)
    ]
)

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Key:
    """A key as tonic pitch class (0 = C) and mode ("major" or "minor")."""

    tonic: int
    mode: str

    def __str__(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    def transpose(self, semitones: int) -> Key:
        return Key((self.tonic + semitones) % 12, self.mode)


@dataclass(frozen=True)
class TimeSignature:
    """A meter change at ``tick``."""

    tick: int
    numerator: int
    denominator: int

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


def empty_notes(n: int = 0) -> np.ndarray:
    """A zeroed note array of length ``n``."""
    return np.zeros(n, dtype=NOTE_DTYPE)


def make_notes(**columns: object) -> np.ndarray:
    """Build a note array from equal-length columns; missing columns take defaults.

    Defaults: velocity 80, part 0, tied and fermata False.
    """
    n = len(np.asarray(columns["pitch"]))
    notes = empty_notes(n)
    notes["velocity"] = 80
    for name, values in columns.items():
        notes[name] = values
    return notes


@dataclass
class Score:
    """Notes plus the few global facts generation and analysis need.

    ``notes`` is a structured array of :data:`NOTE_DTYPE`, kept sorted by
    (onset, part, pitch descending). ``parts`` names each part index.
    """

    notes: np.ndarray
    parts: list[str]
    tpq: int = DEFAULT_TPQ
    key: Key | None = None
    time_signatures: list[TimeSignature] = field(
        default_factory=lambda: [TimeSignature(0, 4, 4)]
    )
    tempos: list[tuple[int, float]] = field(default_factory=lambda: [(0, 120.0)])
    title: str = ""
    # sustain pedal: [k, 2] int64 (down tick, up tick), sorted; None where not known
    pedals: np.ndarray | None = None
    # per part: General MIDI program 0..127 and whether it is a drum kit (MIDI channel
    # 10); lists shorter than ``parts`` (scores read from notation) mean 0 and False
    programs: list[int] = field(default_factory=list)
    drums: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.notes = sort_notes(np.asarray(self.notes, dtype=NOTE_DTYPE))

    # -- facts ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.notes)

    @property
    def end(self) -> int:
        """Tick at which the last note stops sounding (0 for an empty score)."""
        if not len(self.notes):
            return 0
        return int((self.notes["onset"] + self.notes["duration"]).max())

    @property
    def meter(self) -> str:
        """The first time signature as text, e.g. ``"4/4"``."""
        return str(self.time_signatures[0]) if self.time_signatures else "4/4"

    def part_notes(self, part: int) -> np.ndarray:
        return self.notes[self.notes["part"] == part]

    def program(self, part: int) -> int:
        """The General MIDI program of ``part`` (0, a piano, where none is known)."""
        return self.programs[part] if part < len(self.programs) else 0

    def is_drum(self, part: int) -> bool:
        """Whether ``part`` is a drum kit, whose pitches name instruments."""
        return part < len(self.drums) and bool(self.drums[part])

    def drum_notes(self) -> np.ndarray:
        """bool per note: whether it belongs to a drum part."""
        drums = np.array([self.is_drum(p) for p in range(len(self.parts))] or [False])
        return drums[np.clip(self.notes["part"], 0, len(drums) - 1)]

    def without_drums(self) -> Score:
        """The score with its drum parts left out (for what reads pitches as pitches)."""
        keep = [p for p in range(len(self.parts)) if not self.is_drum(p)]
        return self if len(keep) == len(self.parts) else self.select_parts(keep)

    # -- transformations (each returns a new Score) ---------------------------
    def replace(self, **changes: object) -> Score:
        return replace(self, **changes)

    def transpose(self, semitones: int) -> Score:
        """Shift every pitch but the drums' (their pitches name instruments); the key
        follows. Raises ValueError if a pitch leaves 0..127."""
        notes = self.notes.copy()
        pitched = ~self.drum_notes() if self.drums else np.ones(len(notes), dtype=bool)
        shifted = notes["pitch"].astype(np.int32) + semitones * pitched
        if len(shifted) and (shifted.min() < 0 or shifted.max() > 127):
            raise ValueError(f"transposing by {semitones} leaves the MIDI pitch range")
        notes["pitch"] = shifted
        key = self.key.transpose(semitones) if self.key else None
        return self.replace(notes=notes, key=key)

    def quantize(self, steps_per_quarter: int = 4) -> Score:
        """Round onsets and ends to a grid of ``steps_per_quarter`` per quarter note.

        A note that would vanish keeps one grid step, so no note is lost.
        """
        if self.tpq % steps_per_quarter:
            raise ValueError(f"tpq {self.tpq} is not divisible by {steps_per_quarter}")
        grid = self.tpq // steps_per_quarter
        notes = self.notes.copy()
        onset = _round_to(notes["onset"], grid)
        end = _round_to(notes["onset"] + notes["duration"], grid)
        notes["onset"] = onset
        notes["duration"] = np.maximum(end - onset, grid)
        signatures = [
            TimeSignature(int(_round_to(np.int64(ts.tick), grid)), ts.numerator, ts.denominator)
            for ts in self.time_signatures
        ]
        return self.replace(notes=notes, time_signatures=signatures)

    def select_parts(self, indices: list[int], names: list[str] | None = None) -> Score:
        """Keep the given parts, renumbered in the given order."""
        remap = np.full(max(len(self.parts), 1), -1, dtype=np.int16)
        remap[indices] = np.arange(len(indices))
        keep = np.isin(self.notes["part"], indices)
        notes = self.notes[keep].copy()
        notes["part"] = remap[notes["part"]]
        return self.replace(notes=notes, parts=names or [self.parts[i] for i in indices],
                            programs=[self.program(i) for i in indices] if self.programs else [],
                            drums=[self.is_drum(i) for i in indices] if self.drums else [])

    def merge_ties(self) -> Score:
        """Join each tied note to the note it continues (same part and pitch, touching).

        Writers that split notes at barlines add ties; comparing merged scores
        compares the music. A tie with nothing to continue stays flagged.
        """
        if not self.notes["tied"].any():  # MIDI and most performances: nothing to join
            return self
        notes = self.notes.copy()
        order = np.lexsort((notes["onset"], notes["pitch"], notes["part"]))
        keep = np.ones(len(notes), dtype=bool)
        last: dict[tuple[int, int], int] = {}
        for i in order:
            k = (int(notes["part"][i]), int(notes["pitch"][i]))
            j = last.get(k)
            end_j = None if j is None else notes["onset"][j] + notes["duration"][j]
            if notes["tied"][i] and j is not None and end_j == notes["onset"][i]:
                notes["duration"][j] += notes["duration"][i]
                notes["fermata"][j] |= notes["fermata"][i]
                keep[i] = False
            else:
                last[k] = i
        return self.replace(notes=notes[keep])


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Sort by onset, then part, then pitch from high to low."""
    if len(notes) < 2:
        return notes
    # One int64 key (onset, part, 127 - pitch) instead of a three-key lexsort; most
    # transformations keep the order, so the sort is skipped when it is already right.
    key = notes["onset"].astype(np.int64) << 24
    key |= (notes["part"].astype(np.int64) & 0xFFFF) << 8
    key |= 127 - notes["pitch"].astype(np.int64)
    if (key[1:] >= key[:-1]).all():
        return notes
    return notes[np.argsort(key, kind="stable")]


def _round_to(values: np.ndarray, grid: int) -> np.ndarray:
    # Round half up, as music21's quantize does for onsets.
    return ((values + grid // 2) // grid) * grid
