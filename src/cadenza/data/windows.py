"""Training batches cut from a prepared dataset: TBPTT streams and random windows.

Both samplers are pure functions of ``(seed, epoch, window index)``, so a run resumes
exactly from its data position alone, with no sampler state to save.

**TBPTT streams** (recurrent models, BachBot's truncated backprop through time): the
training pieces are spread over ``batch_size`` rows (longest first onto the shortest row,
so the rows end together), the order of pieces within each row is shuffled every epoch,
and each row is read as consecutive windows of ``seq_len`` tokens. Every piece starts at
a window boundary (its last window is padded), and ``Batch.keep`` is False for a row whose
window starts a new piece: the loop resets that row's state to zero there. So a model
always reads a piece from START with a fresh state, in training exactly as in evaluation
and generation. BachBot carried the state across piece boundaries of one concatenated
stream; the reset removes that mismatch at the cost of padding each piece's last
window (about ``seq_len / 2`` tokens a piece, ~6% on the chorales at 128).

**Random windows** (transformers): each row is a window of ``seq_len`` + 1 tokens from a
piece drawn in proportion to its length, starting at its START with probability
``start_fraction`` and at a uniform offset otherwise; shorter pieces are padded.

Targets are the inputs shifted by one; padding (id 0) is the ignored target. The same
windows serve frame fields (``[N, 88]`` piano rolls): a silent frame stands before each
piece in the place of START, so the first frame is predicted from nothing, and
``Batch.mask`` marks the targets that are real frames rather than padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError

PAD = 0


@dataclass
class Batch:
    """inputs and targets [B, T] (token ids; target 0 = no loss) or [B, T, *step]
    (frames, with ``mask`` [B, T] marking real targets); keep [B]: carry the row's state."""

    inputs: torch.Tensor
    targets: torch.Tensor
    keep: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        keep = None if self.keep is None else self.keep.to(device)
        mask = None if self.mask is None else self.mask.to(device)
        return Batch(self.inputs.to(device), self.targets.to(device), keep, mask)

    @property
    def valid(self) -> torch.Tensor:
        """[B, T] bool: which targets are scored."""
        return self.mask if self.mask is not None else self.targets != PAD

    @property
    def tokens(self) -> int:
        """Number of scored (non-padding) targets."""
        return int(self.valid.sum())


class _Windows:
    """Shared set-up: the pieces of a split and their lengths. ``batch(epoch, index,
    rows)`` builds only the given rows of the batch (a training process's share)."""

    carries_state = False
    builds_rows = True

    def __init__(self, dataset: PreparedDataset, split: str, batch_size: int, seq_len: int,
                 seed: int, augmented: bool = True) -> None:
        self.dataset, self.batch_size, self.seq_len, self.seed = dataset, batch_size, seq_len, seed
        self.frames = dataset.main.kind != "tokens"  # a silent frame stands for START
        sizes = np.diff(dataset.offsets) + (1 if self.frames else 0)
        self.pieces = [i for i in dataset.indices(split, augmented) if sizes[i] > 1]
        if not self.pieces:
            raise ConfigError(f"{dataset.folder}: no {split} pieces to train on")
        self.lengths = sizes[self.pieces].astype(np.int64)
        self.step_shape = tuple(dataset.main.shape)
        self.windows_per_epoch = 0

    def _sequence(self, piece: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Steps ``start:stop`` of the piece as the model reads it: token ids from START,
        or frames after a silent one. Only those steps are read and converted (a whole
        piece per window cost more than the model step for small note models)."""
        steps = self.dataset.tokens(piece)
        if not self.frames:
            return np.asarray(steps[start:stop], dtype=np.int64)
        body = np.asarray(steps[max(start - 1, 0):None if stop is None else max(stop - 1, 0)],
                          dtype=np.float32)
        if start > 0:
            return body
        return np.concatenate([np.zeros((1, *self.step_shape), np.float32), body])

    def _empty(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shape = (rows, self.seq_len, *self.step_shape)
        dtype = np.float32 if self.frames else np.int64
        return np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape[:2], bool)

    def _window(self, piece: int, start: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Inputs and targets [seq_len, ...] from ``start`` of ``piece``, zero-padded,
        and the number of real targets."""
        chunk = self._sequence(piece, start, start + self.seq_len + 1)
        x = np.zeros((self.seq_len, *chunk.shape[1:]), dtype=chunk.dtype)
        y = np.zeros_like(x)
        n = max(len(chunk) - 1, 0)
        x[:n], y[:n] = chunk[:-1], chunk[1:]
        return x, y, n

    def _batch(self, x: np.ndarray, y: np.ndarray, valid: np.ndarray,
               keep: torch.Tensor | None = None) -> Batch:
        mask = torch.from_numpy(valid) if self.frames else None
        return Batch(torch.from_numpy(x), torch.from_numpy(y), keep, mask)


class TBPTTStreams(_Windows):
    """Consecutive windows of ``batch_size`` rows of whole pieces, for recurrent models."""

    carries_state = True

    def __init__(self, dataset: PreparedDataset, split: str, batch_size: int, seq_len: int,
                 seed: int, augmented: bool = True) -> None:
        super().__init__(dataset, split, batch_size, seq_len, seed, augmented)
        self.chunks = (self.lengths - 2) // seq_len + 1  # windows per piece: ceil((n-1)/T)
        self.rows: list[list[int]] = [[] for _ in range(batch_size)]
        load = np.zeros(batch_size, dtype=np.int64)
        for k in sorted(range(len(self.pieces)), key=lambda k: (-self.chunks[k], k)):
            row = int(np.argmin(load))
            self.rows[row].append(k)
            load[row] += self.chunks[k]
        _balance(self.rows, self.chunks, load)
        self.windows_per_epoch = int(load.max())
        self._plan_epoch: int | None = None
        self._plan_cache = np.zeros(0)

    def _plan(self, epoch: int) -> np.ndarray:
        """[B, windows, 2]: (piece position, chunk) of every window this epoch; -1 empty."""
        if self._plan_epoch == epoch:
            return self._plan_cache
        rng = np.random.default_rng([self.seed, epoch])
        plan = np.full((self.batch_size, self.windows_per_epoch, 2), -1, dtype=np.int64)
        for r, row in enumerate(self.rows):
            w = 0
            for k in rng.permutation(row) if row else []:
                n = int(self.chunks[k])
                plan[r, w:w + n, 0] = k
                plan[r, w:w + n, 1] = np.arange(n)
                w += n
        self._plan_epoch, self._plan_cache = epoch, plan
        return plan

    def batch(self, epoch: int, index: int, rows: list[int] | None = None) -> Batch:
        """Window ``index`` of ``epoch`` for every row (or for ``rows``)."""
        plan = self._plan(epoch)[:, index]  # [B, 2]
        if rows is not None:
            plan = plan[rows]
        x, y, valid = self._empty(len(plan))
        for r, (k, chunk) in enumerate(plan):
            if k >= 0:
                x[r], y[r], n = self._window(self.pieces[k], int(chunk) * self.seq_len)
                valid[r, :n] = True
        return self._batch(x, y, valid, torch.from_numpy(plan[:, 1] > 0))


def _balance(rows: list[list[int]], chunks: np.ndarray, load: np.ndarray) -> None:
    """Swap pieces between the longest and the shortest row while that shortens the
    longest (fewer padding windows at the end of an epoch); ``rows``/``load`` in place."""
    for _ in range(10 * len(rows)):
        hi, lo = int(np.argmax(load)), int(np.argmin(load))
        gap = load[hi] - load[lo]
        best = None  # (how far from an even split, position in hi, position in lo)
        for i, a in enumerate(rows[hi]):
            for j, b in enumerate([*rows[lo], None]):
                moved = chunks[a] - (0 if b is None else chunks[b])
                if 0 < moved < gap and (best is None or abs(gap - 2 * moved) < best[0]):
                    best = (abs(gap - 2 * moved), i, j, moved)
        if best is None:
            return
        _, i, j, moved = best
        a = rows[hi].pop(i)
        if j < len(rows[lo]):
            rows[hi].append(rows[lo].pop(j))
        rows[lo].append(a)
        load[hi], load[lo] = load[hi] - moved, load[lo] + moved


class RandomWindows(_Windows):
    """Independent random windows, for models with a bounded context (transformers)."""

    def __init__(self, dataset: PreparedDataset, split: str, batch_size: int, seq_len: int,
                 seed: int, start_fraction: float = 0.25, augmented: bool = True) -> None:
        super().__init__(dataset, split, batch_size, seq_len, seed, augmented)
        self.start_fraction = start_fraction
        targets = self.lengths - 1
        self.weights = targets / targets.sum()
        self.windows_per_epoch = max(math.ceil(targets.sum() / (batch_size * seq_len)), 1)

    def batch(self, epoch: int, index: int, rows: list[int] | None = None) -> Batch:
        """Random batch ``index`` of ``epoch`` (or its ``rows``: every row's draw is
        made, in order, so a row is the same whichever rows are built)."""
        rng = np.random.default_rng([self.seed, epoch, index])
        picks = rng.choice(len(self.pieces), size=self.batch_size, p=self.weights)
        starts = []
        for k in picks:
            span = int(self.lengths[k]) - 1 - self.seq_len
            from_start = span <= 0 or rng.random() < self.start_fraction
            starts.append(0 if from_start else int(rng.integers(0, span + 1)))
        rows = range(self.batch_size) if rows is None else rows
        x, y, valid = self._empty(len(rows))
        for r, row in enumerate(rows):
            x[r], y[r], n = self._window(self.pieces[picks[row]], starts[row])
            valid[r, :n] = True
        return self._batch(x, y, valid)


def make_windows(dataset: PreparedDataset, split: str, batch_size: int, seq_len: int,
                 seed: int, tbptt: bool, start_fraction: float = 0.25,
                 augmented: bool = True) -> _Windows:
    """TBPTT streams when ``tbptt`` else random windows; ``augmented=False`` leaves out
    the transposed copies of the pieces."""
    if tbptt:
        return TBPTTStreams(dataset, split, batch_size, seq_len, seed, augmented)
    return RandomWindows(dataset, split, batch_size, seq_len, seed, start_fraction, augmented)
