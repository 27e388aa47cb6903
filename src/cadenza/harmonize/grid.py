"""Scores as voices × frames grids of cells, the harmonizers' common ground.

A cell is what one voice does in one 16th-note frame: ``REST``, or the chorale
codec's (pitch, tied) token as ``1 + 2 * pitch + tied``. The grid maps one to one
onto BachBot's tokens of each voice, so token and frame error rates are cell
comparisons.
"""

from __future__ import annotations

import numpy as np

from cadenza.evaluate.voiceleading import frame_grid
from cadenza.models.infill import MASK, REST
from cadenza.score import DEFAULT_TPQ, Score, TimeSignature, make_notes

VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
VOICE_LETTERS = "SATB"


def score_to_grid(score: Score, steps_per_quarter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``cells[V, F]`` (int64) and ``fermata[F]`` (bool) of a quantized score."""
    pitch, starts = frame_grid(score, steps_per_quarter)
    cells = np.where(pitch >= 0, 1 + 2 * pitch.astype(np.int64) + (~starts), REST)
    grid = score.tpq // steps_per_quarter
    fermata = np.zeros(pitch.shape[1], dtype=bool)
    marked = score.notes[score.notes["fermata"]]
    fermata[np.minimum(marked["onset"] // grid, max(len(fermata) - 1, 0))] = True
    return cells.astype(np.int64), fermata


def grid_to_score(cells: np.ndarray, fermata: np.ndarray, steps_per_quarter: int = 4,
                  names: tuple[str, ...] = VOICE_NAMES) -> Score:
    """The score a grid describes; a tie that continues nothing starts a new note."""
    grid = DEFAULT_TPQ // steps_per_quarter
    rows = []
    for voice, line in enumerate(np.asarray(cells)):
        start, held = 0, None  # held: pitch of the note sounding now
        for frame, cell in enumerate(list(line) + [REST]):
            cell = int(cell)
            pitch = (cell - 1) // 2 if cell not in (REST, MASK) else None
            tied = pitch is not None and (cell - 1) % 2 == 1
            continues = tied and held == pitch and not (frame < len(fermata) and fermata[frame])
            if held is not None and not continues:
                rows.append((start * grid, (frame - start) * grid, held, voice,
                             bool(fermata[start]) if start < len(fermata) else False))
                held = None
            if pitch is not None and not continues:
                start, held = frame, pitch
    columns = list(zip(*rows)) if rows else [[]] * 5
    notes = make_notes(
        onset=np.array(columns[0], dtype=np.int64), duration=np.array(columns[1], dtype=np.int64),
        pitch=np.array(columns[2], dtype=np.int64), part=np.array(columns[3], dtype=np.int64),
        fermata=np.array(columns[4], dtype=bool),
    )
    return Score(notes=notes, parts=list(names[: len(cells)]),
                 time_signatures=[TimeSignature(0, 4, 4)])


def parse_voices(letters: str) -> list[int]:
    """``"SB"`` -> ``[0, 3]``; a clear error for anything else."""
    from cadenza.errors import ConfigError

    letters = letters.upper().strip()
    if not letters or any(c not in VOICE_LETTERS for c in letters) or len(set(letters)) < len(
        letters
    ):
        raise ConfigError(f"voices must be letters from SATB without repeats, got {letters!r}")
    return sorted(VOICE_LETTERS.index(c) for c in letters)


def error_rates(predicted: np.ndarray, truth: np.ndarray, free: list[int]) -> dict[str, float]:
    """BachBot's token error (share of free-voice cells that differ) and frame error
    (share of frames where any free-voice cell differs)."""
    wrong = predicted[free] != truth[free]  # [len(free), F]
    return {
        "token_error": float(wrong.mean()) if wrong.size else 0.0,
        "frame_error": float(wrong.any(axis=0).mean()) if wrong.size else 0.0,
        "cells": int(wrong.size),
        "frames": int(wrong.shape[1]),
    }
