"""Piano rolls: which pitches sound in each time step (Boulanger-Lewandowski et al., 2012).

Two layouts of the same frames:

- ``roll``: one ``[N, pitches]`` uint8 array per piece, 1 where a pitch sounds (or its
  velocity, with ``values="velocity"``), for models that read whole frames;
- ``tokens``: every frame as its sounding pitches from low to high followed by the frame
  delimiter ``|``, after a ``BOS``. A language model over these tokens factorises a frame
  note by note, so it captures how the notes of a frame depend on each other (a NADE
  over the pitches of a frame, in the order of the tokens). Because pitches rise within
  a frame, a model restricted to rising pitches (:func:`frame_mask`) puts all its mass on
  valid frames, and its token log-likelihood summed over a frame is the frame's exact
  log-likelihood: nats per frame, the benchmark's unit.

A step is a grid of ``steps_per_quarter`` per quarter note, or ``steps_per_second`` per
second for unquantized performances. With ``sustain`` a note held by the sustain pedal
sounds until the pedal lifts (or the pitch is struck again). Decoding turns each run of
sounding steps into one note, so encode -> decode -> encode is the identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch

from cadenza.codecs.base import register_codec
from cadenza.codecs.spec import TOKENS, CodecSpec, FieldSpec
from cadenza.errors import CadenzaError
from cadenza.score import DEFAULT_TPQ, Score, make_notes

BOS, FRAME, FIRST_PITCH = 0, 1, 2
LAYOUTS = ("roll", "tokens")
VALUES = ("binary", "velocity")


class RollRangeError(CadenzaError, ValueError):
    """A pitch outside the roll's range (a ValueError too: augmentation drops the shift)."""


@register_codec("pianoroll")
class PianoRollCodec:
    """Scores <-> piano-roll frames, as arrays (``roll``) or rising pitch tokens."""

    name: ClassVar[str] = "pianoroll"

    def __init__(self, pitches: int = 88, steps_per_quarter: int = 4,
                 steps_per_second: float = 0.0, values: str = "binary",
                 layout: str = "roll", sustain: bool = True):
        if pitches not in (88, 128):
            raise ValueError(f"pitches must be 88 or 128, got {pitches}")
        if steps_per_quarter < 1 or DEFAULT_TPQ % steps_per_quarter:
            raise ValueError(f"steps_per_quarter must divide {DEFAULT_TPQ}")
        if not (steps_per_second >= 0 and np.isfinite(steps_per_second)):
            raise ValueError("steps_per_second must be >= 0 (0: use steps_per_quarter)")
        if layout not in LAYOUTS or values not in VALUES:
            raise ValueError(f"layout must be one of {LAYOUTS}, values one of {VALUES}")
        if layout == "tokens" and values == "velocity":
            raise ValueError("the tokens layout holds binary frames only (values=binary)")
        self.pitches, self.lowest = pitches, 21 if pitches == 88 else 0
        self.steps_per_quarter, self.steps_per_second = steps_per_quarter, steps_per_second
        self.values, self.layout, self.sustain = values, layout, sustain
        self.code_space = FIRST_PITCH + pitches if layout == "tokens" else 0
        self.specials = ("BOS", "|") if layout == "tokens" else ()

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "pitches": self.pitches,
                "steps_per_quarter": self.steps_per_quarter,
                "steps_per_second": self.steps_per_second, "values": self.values,
                "layout": self.layout, "sustain": self.sustain}

    @property
    def spec(self) -> CodecSpec:
        if self.layout == "tokens":
            return CodecSpec((TOKENS,), {"bos": "BOS", "frame": "|"}, ordered_frames=True)
        return CodecSpec((FieldSpec("roll", "frames", "uint8", (self.pitches,)),))

    @property
    def produces(self) -> str:
        return "tokens" if self.layout == "tokens" else "frames"

    # -- names (tokens layout) ------------------------------------------------------
    def token_name(self, code: int) -> str:
        return ("BOS", "|")[code] if code < FIRST_PITCH else f"p{code - FIRST_PITCH + self.lowest}"

    def code_of(self, name: str) -> int:
        if name in ("BOS", "|"):
            return ("BOS", "|").index(name)
        return FIRST_PITCH + int(name[1:]) - self.lowest

    def pitch_of_code(self, code: int) -> int | None:
        return code - FIRST_PITCH + self.lowest if code >= FIRST_PITCH else None

    # -- encode --------------------------------------------------------------------
    def roll(self, score: Score) -> np.ndarray:
        """``[steps, pitches]`` uint8: 1 (or the velocity) where a pitch sounds."""
        notes = score.notes
        start, end = self._steps(score, notes["onset"]), self._steps(
            score, notes["onset"] + self._sounding(score))
        end = np.maximum(end, start + 1)  # no note vanishes
        column = notes["pitch"].astype(np.int64) - self.lowest
        if len(notes) and (column.min() < 0 or column.max() >= self.pitches):
            bad = int(notes["pitch"][(column < 0) | (column >= self.pitches)][0])
            raise RollRangeError(f"pitch {bad} is outside the {self.pitches}-key roll")
        roll = np.zeros((int(end.max()) if len(notes) else 0, self.pitches), dtype=np.uint8)
        value = notes["velocity"] if self.values == "velocity" else np.ones(len(notes), np.uint8)
        for s, e, c, v in zip(start, end, column, value):
            roll[s:e, c] = np.maximum(roll[s:e, c], v)
        return roll

    def encode(self, score: Score) -> np.ndarray:
        """The roll (``roll`` layout) or the rising pitch tokens (``tokens`` layout)."""
        roll = self.roll(score)
        return self.roll_to_codes(roll) if self.layout == "tokens" else roll

    def roll_to_codes(self, roll: np.ndarray) -> np.ndarray:
        steps, columns = np.nonzero(roll)  # row-major: steps ascending, pitches rising
        codes = np.empty(1 + len(steps) + len(roll), dtype=np.uint16)
        codes[0] = BOS
        # each frame's pitches, then its delimiter: position = 1 + notes before + frames before
        counts = np.bincount(steps, minlength=len(roll))
        before = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(len(steps)) - before[steps]
        codes[1 + before[steps] + steps + rank] = FIRST_PITCH + columns
        codes[1 + before + counts + np.arange(len(roll))] = FRAME
        return codes

    def codes_to_roll(self, codes: Iterable[int]) -> np.ndarray:
        """Frames of rising pitch tokens back to a roll; an unfinished last frame counts."""
        frames: list[list[int]] = [[]]
        for position, code in enumerate(int(c) for c in codes):
            if code == BOS and position == 0:
                continue
            if code == FRAME:
                frames.append([])
            elif FIRST_PITCH <= code < self.code_space:
                frames[-1].append(code - FIRST_PITCH)
            else:
                raise CadenzaError(f"token {code} is illegal at {position} in a piano roll")
        if not frames[-1]:
            frames.pop()
        roll = np.zeros((len(frames), self.pitches), dtype=np.uint8)
        for step, columns in enumerate(frames):
            roll[step, columns] = 1
        return roll

    # -- decode --------------------------------------------------------------------
    def decode(self, codes: Any) -> Score:
        """The Score of a roll ``[steps, pitches]`` or of token codes."""
        roll = np.asarray(codes)
        if roll.ndim == 1:
            roll = self.codes_to_roll(roll)
        return self.roll_to_score(roll)

    def roll_to_score(self, roll: np.ndarray) -> Score:
        """One note per run of sounding steps; a velocity roll restrikes where it changes."""
        roll = np.asarray(roll)
        padded = np.zeros((len(roll) + 2, roll.shape[1]), dtype=np.int16)
        padded[1:-1] = roll
        change = padded[1:] != padded[:-1]  # [steps + 1, pitches]
        starts = change[:-1] & (padded[1:-1] > 0)
        onsets, columns = np.nonzero(starts)
        ends = np.empty_like(onsets)
        for i, (s, c) in enumerate(zip(onsets, columns)):
            e = s + 1
            while e < len(roll) and not change[e, c]:
                e += 1
            ends[i] = e
        velocity = (roll[onsets, columns] if self.values == "velocity"
                    else np.full(len(onsets), 80))
        tick = self._tick_per_step()
        notes = make_notes(onset=onsets * tick, duration=(ends - onsets) * tick,
                           pitch=columns + self.lowest, velocity=velocity)
        tempos = [(0, 120.0)]
        return Score(notes=notes, parts=["Piano"], tempos=tempos)

    # -- time ------------------------------------------------------------------------
    def _tick_per_step(self) -> int:
        if self.steps_per_second:  # decode at 120 bpm: a quarter is half a second
            return max(1, round(DEFAULT_TPQ * 2 / self.steps_per_second))
        return DEFAULT_TPQ // self.steps_per_quarter

    def _steps(self, score: Score, ticks: np.ndarray) -> np.ndarray:
        """Step index of each tick, rounded to the nearest step."""
        ticks = np.asarray(ticks, dtype=np.int64)
        if not self.steps_per_second:
            grid = score.tpq / self.steps_per_quarter
            return np.floor(ticks / grid + 0.5).astype(np.int64)
        return np.floor(seconds(score, ticks) * self.steps_per_second + 0.5).astype(np.int64)

    def _sounding(self, score: Score) -> np.ndarray:
        """Each note's duration, held on by the sustain pedal where there is one."""
        notes = score.notes
        pedals = getattr(score, "pedals", None)
        if not self.sustain or pedals is None or not len(pedals) or not len(notes):
            return notes["duration"]
        return sustained_durations(notes, pedals)


def sustained_durations(notes: np.ndarray, pedals: np.ndarray) -> np.ndarray:
    """Durations with the pedal applied: a note released while the pedal is down sounds
    until the pedal lifts, or until the same pitch is struck again, whichever is first.
    ``pedals`` is ``[k, 2]`` (down tick, up tick)."""
    end = notes["onset"] + notes["duration"]
    down, up = pedals[:, 0], pedals[:, 1]
    inside = np.searchsorted(down, end, side="right") - 1  # last pedal down at or before
    held = (inside >= 0) & (end < up[np.maximum(inside, 0)])
    new_end = np.where(held, up[np.maximum(inside, 0)], end)
    order = np.lexsort((notes["onset"], notes["pitch"]))
    for a, b in zip(order[:-1], order[1:]):  # a restrike of the same pitch cuts the hold
        if notes["pitch"][a] == notes["pitch"][b] and new_end[a] > notes["onset"][b]:
            new_end[a] = max(end[a], notes["onset"][b])
    return new_end - notes["onset"]


def seconds(score: Score, ticks: np.ndarray) -> np.ndarray:
    """Seconds at each tick under the score's tempo map."""
    marks = sorted(score.tempos) or [(0, 120.0)]
    starts = np.array([t for t, _ in marks], dtype=np.float64)
    per_tick = np.array([60.0 / bpm / score.tpq for _, bpm in marks])
    elapsed = np.concatenate([[0.0], np.cumsum(np.diff(starts) * per_tick[:-1])])
    where = np.maximum(np.searchsorted(starts, ticks, side="right") - 1, 0)
    return elapsed[where] + (ticks - starts[where]) * per_tick[where]


def frame_mask(ranks: torch.Tensor, frame_id: int, inputs: torch.Tensor) -> torch.Tensor:
    """Which next tokens keep a frame's pitches rising: bool ``[B, T, V]``.

    ``ranks[v]`` is the pitch of id ``v`` (``-1`` for non-pitch ids). After a pitch only
    higher pitches or the delimiter may follow; after the delimiter or BOS any pitch or
    the delimiter (an empty frame). BOS and padding are never allowed.
    """
    last = ranks[inputs].clamp(min=-1)  # [B, T]: the pitch just read, -1 at a frame start
    allowed = ranks[None, None, :] > last[..., None]  # [B, T, V]
    allowed[..., frame_id] = True
    return allowed
