"""Note features: six integer codes per note, as the source's six-head LSTM reads them.

Source ``000_…`` (after TensorFlow's music-generation tutorial) describes each note by
pitch, step (time since the previous note's onset), duration, interval (semitones to the
previous note), velocity and polyphony (how many notes start together). Here each
feature is an integer *code* so that every head can be a proper distribution:

==========  =====================================================  ==================
feature     code                                                   classes
==========  =====================================================  ==================
pitch       MIDI pitch                                             128
step        onset minus the previous onset, in grid steps, capped  ``time_classes``
duration    length in grid steps, at least 1, capped               ``time_classes``
interval    pitch minus the previous pitch, + 127 (first note: 0)  255
velocity    MIDI velocity (1..127)                                 128
polyphony   notes starting at this onset, minus one, capped at 12  13
==========  =====================================================  ==================

The grid is ``steps_per_beat`` per quarter note (``time="beats"``, default 12: 16ths and
triplets) or ``steps_per_second`` per second (``time="seconds"``, default 100, under the
score's tempo map; decoded at 120 bpm). Notes are ordered by onset, then pitch from low
to high, then duration. A step or duration past the cap is written as the cap, so
encode -> decode -> encode is the identity (decode -> encode of codes is exact).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from cadenza.codecs.base import register_codec
from cadenza.codecs.pianoroll import seconds
from cadenza.codecs.spec import CodecSpec, FieldSpec
from cadenza.errors import CadenzaError
from cadenza.score import DEFAULT_TPQ, Score, make_notes

FEATURES = ("pitch", "step", "duration", "interval", "velocity", "polyphony")
PITCH, STEP, DURATION, INTERVAL, VELOCITY, POLYPHONY = range(6)
INTERVAL_ZERO = 127  # the code of "same pitch as the previous note"
MAX_POLYPHONY = 12  # 13 classes: alone, 2 together, ..., 13 or more together
TIMES = ("beats", "seconds")


@register_codec("notes")
class NoteCodec:
    """Scores <-> ``[notes, 6]`` uint16 feature codes."""

    name: ClassVar[str] = "notes"
    produces: ClassVar[str] = "frames"

    def __init__(self, time: str = "beats", steps_per_beat: int = 12,
                 steps_per_second: int = 100, time_classes: int = 120):
        if time not in TIMES:
            raise ValueError(f"time must be one of {TIMES}, got {time!r}")
        if steps_per_beat < 1 or DEFAULT_TPQ % steps_per_beat:
            raise ValueError(f"steps_per_beat must divide {DEFAULT_TPQ}")
        if not 1 <= steps_per_second <= 1000:
            raise ValueError("steps_per_second must be in 1..1000")
        if not 2 <= time_classes <= 4096:
            raise ValueError("time_classes must be in 2..4096")
        self.time, self.steps_per_beat = time, steps_per_beat
        self.steps_per_second, self.time_classes = steps_per_second, time_classes
        self.code_space = 0
        self.specials: tuple[str, ...] = ()

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "time": self.time, "steps_per_beat": self.steps_per_beat,
                "steps_per_second": self.steps_per_second, "time_classes": self.time_classes}

    @property
    def spec(self) -> CodecSpec:
        return CodecSpec((FieldSpec("notes", "frames", "uint16", (len(FEATURES),)),))

    @property
    def classes(self) -> tuple[int, ...]:
        """How many codes each feature has, in :data:`FEATURES` order."""
        t = self.time_classes
        return (128, t, t, 2 * INTERVAL_ZERO + 1, 128, MAX_POLYPHONY + 1)

    @property
    def steps_per_unit(self) -> float:
        """Grid steps per beat or per second: the unit step and duration are read in."""
        return float(self.steps_per_beat if self.time == "beats" else self.steps_per_second)

    def token_name(self, code: int) -> str:
        raise CadenzaError("the notes codec writes feature codes, not tokens")

    def code_of(self, name: str) -> int:
        raise CadenzaError("the notes codec writes feature codes, not tokens")

    def pitch_of_code(self, code: int) -> int:
        """The pitch of a pitch-feature code (the code itself)."""
        return int(code)

    # -- encode ----------------------------------------------------------------------
    def _grid(self, score: Score, ticks: np.ndarray) -> np.ndarray:
        ticks = np.asarray(ticks, dtype=np.int64)
        if self.time == "beats":
            return np.floor(ticks * self.steps_per_beat / score.tpq + 0.5).astype(np.int64)
        return np.floor(seconds(score, ticks) * self.steps_per_second + 0.5).astype(np.int64)

    def encode(self, score: Score) -> np.ndarray:
        """``[notes, 6]`` uint16 codes of every note of ``score`` (all parts merged)."""
        notes = score.notes
        onset = self._grid(score, notes["onset"])
        end = self._grid(score, notes["onset"] + notes["duration"])
        pitch = notes["pitch"].astype(np.int64)
        order = np.lexsort((end - onset, pitch, onset))
        onset, pitch, length = onset[order], pitch[order], (end - onset)[order]
        cap = self.time_classes - 1
        codes = np.empty((len(order), len(FEATURES)), dtype=np.uint16)
        codes[:, PITCH] = pitch
        codes[:, STEP] = np.clip(np.diff(onset, prepend=0), 0, cap)
        codes[:, DURATION] = np.clip(length, 1, cap)
        codes[:, INTERVAL] = np.diff(pitch, prepend=pitch[:1]) + INTERVAL_ZERO
        codes[:, VELOCITY] = np.clip(notes["velocity"][order], 1, 127)
        codes[:, POLYPHONY] = polyphony_codes(codes[:, STEP])
        return codes

    # -- decode ----------------------------------------------------------------------
    def decode(self, codes: Iterable[Any]) -> Score:
        """The Score of ``[notes, 6]`` codes: one piano part at 120 bpm; the interval and
        polyphony columns follow from the others and are not read."""
        codes = np.asarray(codes, dtype=np.int64).reshape(-1, len(FEATURES))
        tick = self._tick_per_step()
        onset = np.cumsum(codes[:, STEP])
        notes = make_notes(onset=np.rint(onset * tick).astype(np.int64),
                           duration=np.maximum(np.rint(codes[:, DURATION] * tick), 1),
                           pitch=np.clip(codes[:, PITCH], 0, 127),
                           velocity=np.clip(codes[:, VELOCITY], 1, 127))
        return Score(notes=notes, parts=["Piano"], tempos=[(0, 120.0)])

    def _tick_per_step(self) -> float:
        if self.time == "beats":
            return DEFAULT_TPQ / self.steps_per_beat
        return DEFAULT_TPQ * 2 / self.steps_per_second  # 120 bpm: a second is 2 quarters


def polyphony_codes(steps: np.ndarray) -> np.ndarray:
    """Per note, how many notes share its onset, minus one, capped (a chord's notes
    follow each other with step 0; the first note of a piece starts a group)."""
    steps = np.asarray(steps)
    starts = np.flatnonzero((steps > 0) | (np.arange(len(steps)) == 0))
    sizes = np.diff(np.append(starts, len(steps)))
    return np.minimum(np.repeat(sizes, sizes) - 1, MAX_POLYPHONY).astype(np.uint16)
