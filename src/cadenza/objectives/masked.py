"""Masked cells of a voices × 16ths grid: the infilling harmonizer's objective.

Training examples are random crops of the training chorales as grids
(:mod:`cadenza.codecs.grid`), some cells hidden: a share ``voice_share`` of the crops
hides whole voices (as harmonization does), the others random cells at a rate drawn
from U(0, 1) (Coconet's orderless training), each crop transposed by up to
±``transpose`` semitones (:func:`cadenza.data.grids.sample_batch`). The loss is the
cross-entropy of the hidden cells, averaged over them.

Held-out data is scored on ``eval_crops`` fixed crops (the same every time: seed
``eval_seed``, untransposed), hiding voices in the same share as training, in nats per
hidden cell. An epoch is ``batches_per_epoch`` batches (0: as many crops as cover the
training frames once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from cadenza.codecs.grid import GRID_SPEC
from cadenza.codecs.spec import CodecSpec
from cadenza.data.dataset import PreparedDataset
from cadenza.data.grids import GridBatch, load_grids, sample_batch
from cadenza.errors import ConfigError
from cadenza.objectives.base import Objective, StepLoss, register_objective

Grids = list[tuple[np.ndarray, np.ndarray]]
FRAMES = 128  # the default crop: 8 bars of 16ths


@dataclass
class CropBatches:
    """Random crops as a pure function of (seed, epoch, index): resume is exact."""

    grids: Grids
    batch_size: int
    frames: int
    seed: int
    transpose: int
    voice_share: float
    windows_per_epoch: int
    carries_state: bool = False

    def batch(self, epoch: int, index: int) -> GridBatch:
        rng = np.random.default_rng([self.seed, epoch, index])
        return sample_batch(self.grids, self.batch_size, self.frames, rng, self.transpose,
                            self.voice_share)


@register_objective("masked")
class Masked(Objective):
    """Cross-entropy of the hidden cells of grid crops."""

    unit = "nats/cell"

    def __init__(self, dataset: PreparedDataset, frames: int = FRAMES, transpose: int = 3,
                 voice_share: float = 0.5, batches_per_epoch: int = 0, eval_crops: int = 128,
                 eval_seed: int = 12345) -> None:
        super().__init__(dataset)
        if dataset.config["codec"]["name"] != "chorale":
            raise ConfigError("the masked objective (infilling harmonizer) trains on a "
                              f"chorale-codec dataset, not {dataset.config['codec']['name']!r}")
        for name, value, low in (("frames", frames, 16), ("transpose", transpose, 0),
                                 ("batches_per_epoch", batches_per_epoch, 0),
                                 ("eval_crops", eval_crops, 1), ("eval_seed", eval_seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"objective.{name} must be an integer >= {low}, got {value!r}")
        if isinstance(voice_share, bool) or not isinstance(voice_share, (int, float)) or not (
                0 <= voice_share <= 1):
            raise ConfigError(f"objective.voice_share must be in [0, 1], got {voice_share!r}")
        self.frames, self.transpose, self.voice_share = frames, transpose, float(voice_share)
        self.batches_per_epoch, self.eval_crops, self.eval_seed = (batches_per_epoch,
                                                                   eval_crops, eval_seed)
        self._grids: dict[str, Grids] = {}
        self._fixed: dict[str, GridBatch] = {}

    @classmethod
    def model_spec(cls, codec: CodecSpec) -> CodecSpec:
        return GRID_SPEC

    def grids(self, split: str) -> Grids:
        """The untransposed pieces of ``split`` as grids (read once)."""
        if split not in self._grids:
            self._grids[split] = load_grids(self.dataset, split)
        return self._grids[split]

    def batches(self, split: str, train: Any) -> CropBatches:
        grids = self.grids(split)
        if not grids:
            raise ConfigError(f"{self.dataset.folder}: no {split} pieces to train on")
        per_epoch = self.batches_per_epoch or math.ceil(
            sum(cells.shape[1] for cells, _ in grids) / (self.frames * train.batch_size))
        return CropBatches(grids, train.batch_size, self.frames, train.seed, self.transpose,
                           self.voice_share, max(per_epoch, 1))

    def loss(self, model: torch.nn.Module, batch: GridBatch, state: Any = None) -> StepLoss:
        logits = model(batch.inputs, batch.fermata, batch.offsets)  # [B, F, V, C]
        hidden = batch.hidden
        count = int(hidden.sum())
        loss = F.cross_entropy(logits[hidden].float(), batch.targets[hidden], reduction="sum")
        return StepLoss(loss / max(count, 1), count)

    def fixed_crops(self, split: str) -> GridBatch | None:
        """The held-out crops of ``split``: the same every call (None: no pieces)."""
        if split not in self._fixed:
            grids = self.grids(split)
            if not grids:
                return None
            rng = np.random.default_rng(self.eval_seed)
            self._fixed[split] = sample_batch(grids, self.eval_crops, self.frames, rng,
                                              voice_share=self.voice_share)
        return self._fixed[split]

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        crops = self.fixed_crops(split)
        nll, cells, right = 0.0, 0, 0
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        mine = torch.tensor(self.my_share(range(0 if crops is None else self.eval_crops)),
                            dtype=torch.long)
        try:
            for start in range(0, len(mine), batch_size):
                rows = mine[start:start + batch_size]
                part = GridBatch(*(t[rows] for t in (
                    crops.inputs, crops.targets, crops.hidden, crops.fermata,
                    crops.offsets))).to(device)
                logits = model(part.inputs, part.fermata, part.offsets)[part.hidden].float()
                truth = part.targets[part.hidden]
                nll += float(F.cross_entropy(logits, truth, reduction="sum"))
                cells += len(truth)
                right += int((logits.argmax(-1) == truth).sum())
        finally:
            model.train(was_training)
        nats = nll / cells if cells else float("nan")
        return {"loss": nats, "unit": self.unit, "count": cells, "nats_per_cell": nats,
                "cells": cells, "accuracy": right / max(cells, 1),
                "crops": 0 if crops is None else self.eval_crops,
                "pieces": len(self.grids(split))}
