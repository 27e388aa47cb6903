"""Training examples for the infilling harmonizer: grid crops with hidden cells.

By default half the examples hide whole voices (as harmonization does: a random non-empty
proper subset of S, A, T, B), the other half hide cells at random with a rate drawn from
U(0, 1) (Coconet's orderless training), so one model fills any combination.
Crops are transposed at random within the voices' ranges (±``transpose``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from cadenza.codecs.grid import MASK, REST, score_to_grid, transpose_cells
from cadenza.data.dataset import PreparedDataset

VOICE_SUBSETS = [s for k in (1, 2, 3) for s in combinations(range(4), k)]


def load_grids(dataset: PreparedDataset, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(cells[V, F], fermata[F]) of every untransposed piece in ``split``."""
    grids = []
    for index in dataset.indices(split, augmented=False):
        score = dataset.codec.decode(dataset.vocab.decode(dataset.tokens(index)))
        grids.append(score_to_grid(score))
    return grids


@dataclass
class GridBatch:
    inputs: torch.Tensor  # [B, F, V] with MASK where hidden
    targets: torch.Tensor  # [B, F, V] true cells
    hidden: torch.Tensor  # [B, F, V] bool: cells the loss counts
    fermata: torch.Tensor  # [B, F]
    offsets: torch.Tensor  # [B] bar position of each crop's first frame

    def to(self, device: torch.device | str) -> GridBatch:
        return GridBatch(*(t.to(device) for t in (self.inputs, self.targets, self.hidden,
                                                  self.fermata, self.offsets)))


def sample_batch(grids, batch_size: int, frames: int, rng: np.random.Generator,
                 transpose: int = 0, voice_share: float = 0.5) -> GridBatch:
    """A batch of random crops (padded with rests where a piece is shorter); a share
    ``voice_share`` of them hides whole voices, the others random cells."""
    inputs = np.full((batch_size, frames, 4), REST, dtype=np.int64)
    targets = np.full_like(inputs, REST)
    hidden = np.zeros(inputs.shape, dtype=bool)
    fermata = np.zeros((batch_size, frames), dtype=bool)
    offsets = np.zeros(batch_size, dtype=np.int64)
    for row in range(batch_size):
        cells, marks = grids[rng.integers(len(grids))]
        length = cells.shape[1]
        start = int(rng.integers(max(length - frames, 0) + 1))
        crop = cells[:, start:start + frames]
        if transpose:
            crop = transpose_cells(crop, int(rng.integers(-transpose, transpose + 1)))
        n = crop.shape[1]
        targets[row, :n] = crop.T
        fermata[row, :n] = marks[start:start + n]
        offsets[row] = start % 16
        mask = np.zeros((frames, 4), dtype=bool)
        if rng.random() < voice_share:
            mask[:, list(VOICE_SUBSETS[rng.integers(len(VOICE_SUBSETS))])] = True
        else:
            mask = rng.random((frames, 4)) < rng.random()
        mask[n:] = False
        hidden[row] = mask
    inputs = np.where(hidden, MASK, targets)
    return GridBatch(*(torch.from_numpy(a) for a in (inputs, targets, hidden, fermata, offsets)))
