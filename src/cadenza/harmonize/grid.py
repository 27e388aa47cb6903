"""Naming the voices of a grid and comparing a filled grid with Bach's.

The grid itself (cells, ``score_to_grid``, ``grid_to_score``) is in
:mod:`cadenza.codecs.grid`; since it maps one to one onto BachBot's tokens of each
voice, token and frame error rates are cell comparisons.
"""

from __future__ import annotations

import numpy as np

VOICE_LETTERS = "SATB"


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
