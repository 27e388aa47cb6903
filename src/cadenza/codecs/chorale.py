"""BachBot's chorale encoding (Liang, 2016).

A piece is ``START``, then one *frame* per 16th note, then ``END``. A frame is an
optional fermata token ``(.)``, the sounding notes from soprano down to bass as
``(MIDI pitch, tied-from-previous-frame)`` tokens (written ``60`` and ``60~``), and
the delimiter ``|||``. A voice that rests is left out of the frame, as in BachBot.

Notes are listed in part order (S, A, T, B), which is BachBot's "descending"
order except where voices cross; keeping part order lets harmonization know
which voice each token belongs to. A voice holding a chord keeps its top note.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any, ClassVar

import numpy as np

from cadenza.codecs.base import register_codec
from cadenza.codecs.spec import TOKENS, CodecSpec
from cadenza.errors import CadenzaError
from cadenza.score import DEFAULT_TPQ, Score, TimeSignature, make_notes

START, END, FRAME, FERMATA = 0, 1, 2, 3
FIRST_NOTE = 4
SPECIAL_NAMES = ("START", "END", "|||", "(.)")
VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
# Where each voice usually sits after transposition to C/Am; decoding uses these to
# decide which voice a note belongs to when some voices rest.
VOICE_CENTRES = (70, 64, 57, 48)


class DecodeError(CadenzaError):
    """Codes that do not describe a chorale."""


def note_code(pitch: int, tied: bool) -> int:
    return FIRST_NOTE + 2 * pitch + int(tied)


def split_note_code(code: int) -> tuple[int, bool]:
    return (code - FIRST_NOTE) // 2, bool((code - FIRST_NOTE) % 2)


@register_codec("chorale")
class ChoraleCodec:
    """BachBot's (pitch, tie) frames at a fixed grid."""

    name: ClassVar[str] = "chorale"
    produces: ClassVar[str] = "tokens"
    code_space = FIRST_NOTE + 2 * 128
    specials = SPECIAL_NAMES

    def __init__(self, steps_per_quarter: int = 4, voices: int = 4):
        if DEFAULT_TPQ % steps_per_quarter:
            raise ValueError(f"steps_per_quarter must divide {DEFAULT_TPQ}")
        self.steps_per_quarter = steps_per_quarter
        self.voices = voices

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "steps_per_quarter": self.steps_per_quarter,
                "voices": self.voices}

    @property
    def spec(self) -> CodecSpec:
        return CodecSpec((TOKENS,), {"bos": "START", "eos": "END", "frame": "|||"})

    # -- names -----------------------------------------------------------------
    def token_name(self, code: int) -> str:
        if code < FIRST_NOTE:
            return SPECIAL_NAMES[code]
        pitch, tied = split_note_code(code)
        return f"{pitch}~" if tied else str(pitch)

    def code_of(self, name: str) -> int:
        if name in SPECIAL_NAMES:
            return SPECIAL_NAMES.index(name)
        tied = name.endswith("~")
        return note_code(int(name.rstrip("~")), tied)

    # -- encode ------------------------------------------------------------------
    def pitch_of_code(self, code: int) -> int | None:
        """The MIDI pitch of a note token (onset or tie), None for the others."""
        return split_note_code(code)[0] if FIRST_NOTE <= code < self.code_space else None

    def encode(self, score: Score) -> np.ndarray:
        """Codes for a score of at most ``voices`` parts (quantized here if it is not)."""
        if len(score.parts) > self.voices:
            raise CadenzaError(
                f"the chorale codec takes at most {self.voices} parts, got {len(score.parts)}"
            )
        grid = score.tpq // self.steps_per_quarter
        notes = score.notes
        if len(notes) and ((notes["onset"] % grid).any() or (notes["duration"] % grid).any()):
            notes = score.quantize(self.steps_per_quarter).notes
        n_frames = -(-score.end // grid) if len(notes) else 0
        # rows: frames; columns: fermata, one per voice, delimiter; -1 = nothing there
        table = np.full((n_frames, self.voices + 2), -1, dtype=np.int64)
        table[:, -1] = FRAME
        notes = notes[np.argsort(notes["pitch"], kind="stable")]  # top note of a chord wins
        first = notes["onset"] // grid
        length = np.maximum((notes["onset"] + notes["duration"]) // grid - first, 1)
        which = np.repeat(np.arange(len(notes)), length)
        step = np.arange(len(which)) - np.repeat(np.cumsum(length) - length, length)
        tied = np.where(step == 0, notes["tied"][which], True)
        codes = FIRST_NOTE + 2 * notes["pitch"][which].astype(np.int64) + tied
        table[first[which] + step, 1 + notes["part"][which]] = codes
        table[first[notes["fermata"]], 0] = FERMATA
        body = table.ravel()
        return np.concatenate([[START], body[body >= 0], [END]]).astype(np.uint16)

    # -- decode ------------------------------------------------------------------
    def frames(self, codes: Iterable[int]) -> list[tuple[bool, list[int]]]:
        """Split codes into frames of (fermata, note codes); checks the structure."""
        frames: list[tuple[bool, list[int]]] = []
        fermata, current = False, []
        for position, code in enumerate(int(c) for c in codes):
            if code == START and position == 0:
                continue
            if code == END:
                break
            if code == FRAME:
                frames.append((fermata, current))
                fermata, current = False, []
            elif code == FERMATA and not current and not fermata:
                fermata = True
            elif FIRST_NOTE <= code < self.code_space and len(current) < self.voices:
                current.append(code)
            else:
                raise DecodeError(f"token {self.token_name(code)!r} is illegal at {position}")
        if fermata or current:
            frames.append((fermata, current))  # an unfinished last frame still counts
        return frames

    def decode(self, codes: Iterable[int]) -> Score:
        """The four-part score the codes describe (voices found by part order and ties)."""
        grid = DEFAULT_TPQ // self.steps_per_quarter
        rows: list[tuple[int, int, int, int, bool, bool]] = []
        open_notes: dict[int, list] = {}  # voice -> [onset frame, frames, pitch, tied, fermata]
        last_pitch = list(VOICE_CENTRES[: self.voices])
        for index, (fermata, note_codes) in enumerate(self.frames(codes)):
            notes = [split_note_code(c) for c in note_codes]
            voices = self._assign_voices(notes, open_notes, last_pitch)
            for voice in list(open_notes):
                if voice not in voices:
                    rows.append(self._close(open_notes.pop(voice), voice, grid))
            for voice, (pitch, tied) in zip(voices, notes):
                held = open_notes.get(voice)
                if held and tied and held[2] == pitch and not fermata:
                    held[1] += 1
                    continue
                if held:
                    rows.append(self._close(open_notes.pop(voice), voice, grid))
                open_notes[voice] = [index, 1, pitch, tied, fermata]
                last_pitch[voice] = pitch
        rows.extend(self._close(held, voice, grid) for voice, held in open_notes.items())
        columns = list(zip(*rows)) if rows else [[]] * 6
        notes = make_notes(
            onset=np.array(columns[0], dtype=np.int64),
            duration=np.array(columns[1], dtype=np.int64),
            pitch=np.array(columns[2], dtype=np.int64),
            part=np.array(columns[3], dtype=np.int64),
            tied=np.array(columns[4], dtype=bool),
            fermata=np.array(columns[5], dtype=bool),
        )
        return Score(notes=notes, parts=list(VOICE_NAMES[: self.voices]),
                     time_signatures=[TimeSignature(0, 4, 4)])

    @staticmethod
    def _close(held: list, voice: int, grid: int) -> tuple[int, int, int, int, bool, bool]:
        onset, frames, pitch, tied, fermata = held
        return onset * grid, frames * grid, pitch, voice, tied, fermata

    def _assign_voices(
        self, notes: list[tuple[int, bool]], open_notes: dict[int, list], last_pitch: list[int]
    ) -> tuple[int, ...]:
        """Voices for a frame's notes, kept in order; ties pull a note to its voice."""
        if len(notes) == self.voices:
            return tuple(range(self.voices))
        best, best_cost = tuple(range(len(notes))), float("inf")
        for voices in combinations(range(self.voices), len(notes)):
            cost = 0.0
            for voice, (pitch, tied) in zip(voices, notes):
                held = open_notes.get(voice)
                if tied and not (held and held[2] == pitch):
                    cost += 1000.0
                cost += abs(pitch - last_pitch[voice])
            if cost < best_cost:
                best, best_cost = voices, cost
        return best
