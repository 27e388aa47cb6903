"""Independent Bernoulli pitches per frame: the report's piano-roll LSTM objective.

A model reads frames ``[B, T, P]`` and gives one logit per pitch of the next frame; the
loss is the binary cross-entropy summed over the pitches of a frame and averaged over
frames. Its held-out measure is the exact negative log-likelihood in nats per frame
(Boulanger-Lewandowski et al., 2012), with the frame accuracy of Bay et al. (2009):
TP / (TP + FP + FN) over all frames, a pitch predicted on where p > 0.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.data.windows import Batch, make_windows
from cadenza.objectives.base import Objective, StepLoss, register_objective


@register_objective("multilabel")
class MultiLabel(Objective):
    """Binary cross-entropy over the pitches of each next frame."""

    unit = "nats/frame"

    def __init__(self, dataset: PreparedDataset) -> None:
        super().__init__(dataset)

    def batches(self, split: str, train: Any) -> Any:
        return make_windows(self.dataset, split, train.batch_size, train.seq_len, train.seed,
                            train.tbptt, train.start_fraction, train.augmented)

    def loss(self, model: torch.nn.Module, batch: Batch, state: Any = None) -> StepLoss:
        logits, state = model(batch.inputs, state)  # [B, T, P]
        targets = (batch.targets > 0).float()
        per_frame = F.binary_cross_entropy_with_logits(logits.float(), targets,
                                                       reduction="none").sum(-1)  # [B, T]
        mask = batch.valid
        count = int(mask.sum())
        return StepLoss(per_frame[mask].sum() / max(count, 1), count, state)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        pieces = [i for i in self.dataset.indices(split, augmented)
                  if len(self.dataset.tokens(i))]
        pieces.sort(key=lambda i: len(self.dataset.tokens(i)))
        pieces = self.my_share(pieces)
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        nll, frames, tp, fp, fn = 0.0, 0, 0, 0, 0
        try:
            for start in range(0, len(pieces), batch_size):
                chunk = pieces[start:start + batch_size]
                rolls = [np.asarray(self.dataset.tokens(i)) for i in chunk]
                targets, mask = _padded(rolls)
                inputs = torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1]], 1)
                logits, _ = model(inputs.to(device))
                logits, targets = logits.float().cpu(), (targets > 0).float()
                per_frame = F.binary_cross_entropy_with_logits(
                    logits, targets, reduction="none").sum(-1)
                nll += float(per_frame[mask].sum())
                frames += int(mask.sum())
                guess = (logits > 0) & mask[..., None]
                truth = targets.bool() & mask[..., None]
                tp += int((guess & truth).sum())
                fp += int((guess & ~truth).sum())
                fn += int((~guess & truth).sum())
        finally:
            model.train(was_training)
        nats = nll / frames if frames else float("nan")
        return {"loss": nats, "unit": self.unit, "count": frames, "nats_per_frame": nats,
                "frames": frames, "frame_accuracy": tp / max(tp + fp + fn, 1),
                "pieces": len(pieces)}


def _padded(rolls: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded frames [B, T, P] (float) and the mask of real frames [B, T]."""
    length = max(len(r) for r in rolls)
    out = torch.zeros(len(rolls), length, rolls[0].shape[1])
    mask = torch.zeros(len(rolls), length, dtype=torch.bool)
    for row, roll in enumerate(rolls):
        out[row, :len(roll)] = torch.from_numpy(roll.astype(np.float32))
        mask[row, :len(roll)] = True
    return out, mask
