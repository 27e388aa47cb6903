"""Fixed-size segments of frames for whole-sequence models (VAEs).

A segment is ``steps`` consecutive frames of one piece (piano-roll steps of 88 pitches,
log-mel frames), read from a prepared dataset's main frame field. Training segments
start anywhere in a piece, drawn in proportion to the starts a piece offers, as a pure
function of ``(seed, epoch, index)`` so resume is exact; held-out segments are the
consecutive, non-overlapping segments of each piece from its start, the same every
time. A piece shorter than a segment gives none.

The codec turns stored values into model values (``codec.to_model``: log-mel dB to a
normalised scale); without it, any value above 0 is a sounding note (1.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError


@dataclass
class SegmentBatch:
    """``inputs`` [B, T, W] float; ``step`` the index of this batch in training (the
    annealing schedules read it; -1 for held-out data)."""

    inputs: torch.Tensor
    step: int = -1

    def to(self, device: torch.device | str) -> SegmentBatch:
        return SegmentBatch(self.inputs.to(device), self.step)


def to_model(dataset: PreparedDataset, frames: np.ndarray) -> np.ndarray:
    """Stored frames -> float32 model values (the codec's mapping, or binary notes)."""
    convert = getattr(dataset.codec, "to_model", None)
    if convert is not None:
        return convert(frames)
    return (np.asarray(frames) > 0).astype(np.float32)


class Segments:
    """Training batches of random segments (the loop's ``Batches``)."""

    carries_state = False

    def __init__(self, dataset: PreparedDataset, split: str, batch_size: int, steps: int,
                 seed: int, augmented: bool = True) -> None:
        if dataset.main.kind != "frames":
            raise ConfigError(f"{dataset.folder}: segments need a frame field (a roll or "
                              f"mel dataset), not {dataset.main.kind}")
        segment = getattr(dataset.codec, "segment", None)
        if segment is not None and segment != steps:
            raise ConfigError(f"{dataset.folder}: its codec cuts segments of {segment} frames; "
                              f"set train.seq_len = {segment} (and model.steps)")
        self.dataset, self.batch_size, self.steps, self.seed = dataset, batch_size, steps, seed
        lengths = np.diff(dataset.offsets)
        self.pieces = np.array([i for i in dataset.indices(split, augmented)
                                if lengths[i] >= steps], dtype=np.int64)
        if not len(self.pieces):
            raise ConfigError(f"{dataset.folder}: no {split} piece is {steps} steps long "
                              "(train.seq_len is the segment length)")
        self.starts = lengths[self.pieces] - steps + 1  # starts each piece offers
        self.weights = self.starts / self.starts.sum()
        self.windows_per_epoch = max(1, int(lengths[self.pieces].sum()) // steps // batch_size)

    def batch(self, epoch: int, index: int) -> SegmentBatch:
        rng = np.random.default_rng([self.seed, epoch, index])
        rows = rng.choice(len(self.pieces), size=self.batch_size, p=self.weights)
        frames = []
        for row in rows:
            start = int(rng.integers(self.starts[row]))
            frames.append(self.dataset.tokens(int(self.pieces[row]))[start:start + self.steps])
        values = to_model(self.dataset, np.stack(frames))
        return SegmentBatch(torch.from_numpy(values), epoch * self.windows_per_epoch + index)


def heldout_segments(dataset: PreparedDataset, split: str, steps: int,
                     limit: int | None = None, augmented: bool = False) -> np.ndarray:
    """The consecutive non-overlapping segments of ``split``'s pieces, ``[N, steps, W]``
    model values; ``limit`` keeps every k-th so at most ``limit`` remain (bounded memory
    and time on a large corpus)."""
    lengths = np.diff(dataset.offsets)
    where = [(i, s) for i in dataset.indices(split, augmented)
             for s in range(0, int(lengths[i]) - steps + 1, steps)]
    if limit is not None and len(where) > limit:
        where = [where[k] for k in np.linspace(0, len(where) - 1, limit).astype(int)]
    if not where:
        return np.zeros((0, steps, *dataset.main.shape), dtype=np.float32)
    frames = np.stack([dataset.tokens(i)[s:s + steps] for i, s in where])
    return to_model(dataset, frames)
