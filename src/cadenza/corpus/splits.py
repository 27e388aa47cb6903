"""A deterministic by-piece train/validation/test split.

Pieces are ordered by a seeded hash of their id and cut at exact counts, so the
split depends only on the set of piece ids and the seed: not on file order, not on
the number of worker processes. Adding a piece moves only pieces near the cuts.
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "validation", "test")


def assign_splits(piece_ids: list[str], ratios: list[float], seed: int = 0) -> dict[str, str]:
    """Map each piece id to ``train``, ``validation`` or ``test``."""
    order = sorted(piece_ids, key=lambda pid: (_hash(pid, seed), pid))
    n = len(order)
    n_test = round(n * ratios[2])
    n_validation = round(n * ratios[1])
    if n >= 3:  # every non-empty ratio gets at least one piece
        n_test = max(n_test, 1 if ratios[2] > 0 else 0)
        n_validation = max(n_validation, 1 if ratios[1] > 0 else 0)
    split = {}
    for rank, pid in enumerate(order):
        if rank < n_test:
            split[pid] = "test"
        elif rank < n_test + n_validation:
            split[pid] = "validation"
        else:
            split[pid] = "train"
    return split


def _hash(piece_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{piece_id}".encode()).hexdigest()
