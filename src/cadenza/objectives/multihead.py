"""Six heads, six losses: the note-feature objective (source ``000_…``).

A note model (``models/note_rnn.py``) gives, for the next note, one head per feature of
:mod:`cadenza.codecs.notes`. A head wider than one value holds logits and is trained
with cross-entropy; a one-value head (the source's step, duration, interval and
velocity) is trained as the source did, with mean squared error plus a "positive
pressure" on negative predictions::

    mse_with_positive_pressure(y, ŷ) = mean((y - ŷ)² + pressure · max(-ŷ, 0))

The training loss is the weighted sum of the heads' losses (the source weighted them
1, 1, 1, 0.5, 0.1, 1). Regression targets are in the codec's units: step and duration
in beats (or seconds), interval in semitones, velocity in MIDI units.

Held out, every head is scored as a negative log-likelihood in nats per note, so the two
kinds of head compare: a categorical head by its cross-entropy; a regression head as a
Gaussian around its prediction whose standard deviation is the head's RMSE on the split
scored (the maximum-likelihood choice for a fixed-variance model, which favours it),
discretised onto the codec's grid: the probability of the code's bin,
``Φ((y + h/2 - ŷ)/σ) - Φ((y - h/2 - ŷ)/σ)``, floored at 1e-12. ``nll`` is their sum.
``loss``, the validation loss early stopping watches, is the weighted training loss (in
nats per note when every head is categorical and weighted 1; a "weighted loss" per note
once squared errors enter it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from cadenza.codecs.notes import FEATURES, INTERVAL_ZERO
from cadenza.data.dataset import PreparedDataset
from cadenza.data.windows import Batch, make_windows
from cadenza.errors import ConfigError
from cadenza.models.heads import is_regression, split_heads
from cadenza.objectives.base import Objective, StepLoss, register_objective

SOURCE_WEIGHTS = (1.0, 1.0, 1.0, 0.5, 0.1, 1.0)
LOG_FLOOR = float(np.log(1e-12))


def mse_with_positive_pressure(target: torch.Tensor, predicted: torch.Tensor,
                               pressure: float = 10.0) -> torch.Tensor:
    """Per element: ``(target - predicted)² + pressure · max(-predicted, 0)``."""
    return (target - predicted) ** 2 + pressure * torch.clamp(-predicted, min=0.0)


def discretised_gaussian_nll(target: torch.Tensor, mean: torch.Tensor, sigma: float,
                             width: float) -> torch.Tensor:
    """-log of the Gaussian mass on the bin ``target ± width/2`` (floored at 1e-12)."""
    lo = (target - width / 2 - mean) / sigma
    hi = (target + width / 2 - mean) / sigma
    upper = lo > 0  # in the upper tail use the mirror image, where log_ndtr is accurate
    lo, hi = torch.where(upper, -hi, lo), torch.where(upper, -lo, hi)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    log_mass = log_hi + torch.log1p(-torch.exp(torch.clamp(log_lo - log_hi, max=-1e-12)))
    return -torch.clamp(log_mass, min=LOG_FLOOR)


@register_objective("multihead")
class MultiHead(Objective):
    """Per-head losses, weighted; per-feature held-out NLL in nats per note."""

    unit = "nats/note"

    def __init__(self, dataset: PreparedDataset, weights: Sequence[float] | None = None,
                 pressure: float = 10.0) -> None:
        super().__init__(dataset)
        codec = dataset.codec
        if getattr(codec, "name", "") != "notes":
            raise ConfigError("objective multihead needs a dataset of the notes codec "
                              f"(this one: {getattr(codec, 'name', '?')}); prepare with "
                              "--codec notes")
        self.weights = tuple(float(w) for w in (weights or (1.0,) * len(FEATURES)))
        if len(self.weights) != len(FEATURES) or any(not w >= 0 for w in self.weights):
            raise ConfigError(f"objective multihead: weights must be {len(FEATURES)} numbers "
                              f">= 0 ({', '.join(FEATURES)}), got {weights!r}")
        if not pressure >= 0:
            raise ConfigError(f"objective multihead: pressure must be >= 0, got {pressure!r}")
        self.pressure = float(pressure)
        self.classes = codec.classes
        per_unit = codec.steps_per_unit
        # regression targets: code -> value, and the width of one code in those units
        self.scale = (1.0, 1 / per_unit, 1 / per_unit, 1.0, 1.0, 1.0)
        self.offset = (0.0, 0.0, 0.0, -float(INTERVAL_ZERO), 0.0, 0.0)
        self.metric_names = FEATURES

    def batches(self, split: str, train: Any) -> Any:
        return make_windows(self.dataset, split, train.batch_size, train.seq_len, train.seed,
                            train.tbptt, train.start_fraction, train.augmented)

    def _check(self, model: torch.nn.Module) -> tuple[int, ...]:
        sizes = tuple(getattr(model, "head_sizes", ()))
        ok = len(sizes) == len(FEATURES) and all(
            s in (1, n) for s, n in zip(sizes, self.classes))
        if not ok:
            raise ConfigError(f"objective multihead: the model's heads {sizes} do not fit the "
                              f"codec's classes {self.classes} (set model.time_classes to "
                              "the codec's time_classes)")
        if any(is_regression(s) for s in sizes):  # the loss mixes squared errors in
            self.unit = "weighted loss/note"
        return sizes

    def value(self, feature: int, codes: torch.Tensor) -> torch.Tensor:
        """A regression head's target for ``codes`` of ``feature``, in the codec's units."""
        return (codes.float() + self.offset[feature]) * self.scale[feature]

    def head_losses(self, heads: list[torch.Tensor], targets: torch.Tensor,
                    sizes: tuple[int, ...]) -> list[torch.Tensor]:
        """Per head, the loss of each scored note [N] (heads and targets already masked)."""
        losses = []
        for f, (out, size) in enumerate(zip(heads, sizes)):
            if is_regression(size):
                losses.append(mse_with_positive_pressure(self.value(f, targets[:, f]),
                                                         out.float(), self.pressure))
            else:
                losses.append(F.cross_entropy(out.float(), targets[:, f], reduction="none"))
        return losses

    def loss(self, model: torch.nn.Module, batch: Batch, state: Any = None) -> StepLoss:
        sizes = self._check(model)
        out, state = model(batch.inputs, state)  # [B, T, sum(sizes)]
        mask = batch.valid
        count = int(mask.sum())
        if count == mask.numel():  # every note scored: a view, not a masked copy
            out, targets = out.flatten(0, 1), batch.targets.flatten(0, 1)
        else:
            out, targets = out[mask], batch.targets[mask]
        heads = split_heads(out, sizes)
        losses = [h.sum() / max(count, 1)
                  for h in self.head_losses(heads, targets.long(), sizes)]
        total = sum(w * h for w, h in zip(self.weights, losses))
        return StepLoss(total, count, state,
                        metrics={n: h.detach() for n, h in zip(FEATURES, losses)})

    @torch.no_grad()
    def predictions(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                    augmented: bool = True) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every head's output for every note of ``split`` (each piece read from its
        start) and the notes' codes [N, 6]."""
        data = self.dataset
        pieces = sorted((i for i in data.indices(split, augmented) if len(data.tokens(i))),
                        key=lambda i: len(data.tokens(i)))
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        outs, codes = [], []
        self.scored_pieces = len(pieces)
        try:
            for start in range(0, len(pieces), batch_size):
                rows = [np.asarray(data.tokens(i), dtype=np.int64)
                        for i in pieces[start:start + batch_size]]
                length = max(len(r) for r in rows)
                targets = torch.zeros(len(rows), length, len(FEATURES), dtype=torch.long)
                mask = torch.zeros(len(rows), length, dtype=torch.bool)
                for r, row in enumerate(rows):
                    targets[r, :len(row)], mask[r, :len(row)] = torch.from_numpy(row), True
                inputs = torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1]], 1)
                out, _ = model(inputs.float().to(device))
                outs.append(out.float().cpu()[mask])
                codes.append(targets[mask])
        finally:
            model.train(was_training)
        sizes = tuple(model.head_sizes)
        if not outs:
            return [torch.zeros(0, s).squeeze(-1) for s in sizes], torch.zeros(0, 6).long()
        return split_heads(torch.cat(outs), sizes), torch.cat(codes)

    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        sizes = self._check(model)
        heads, codes = self.predictions(model, split, batch_size, augmented)
        notes = len(codes)
        result: dict[str, Any] = {"unit": self.unit, "count": notes, "notes": notes,
                                  "pieces": self.scored_pieces}
        if not notes:
            return {**result, "loss": float("nan"), "nll": float("nan")}
        losses = self.head_losses(heads, codes, sizes)
        nll = 0.0
        for f, (name, out, size) in enumerate(zip(FEATURES, heads, sizes)):
            if is_regression(size):
                target = self.value(f, codes[:, f])
                sigma = max(float(((target - out) ** 2).mean().sqrt()), 1e-6)
                value = float(discretised_gaussian_nll(target, out, sigma,
                                                       self.scale[f]).mean())
                result[f"{name}_rmse"] = sigma
            else:
                value = float(losses[f].mean())
                result[f"{name}_accuracy"] = float((out.argmax(-1) == codes[:, f]).float()
                                                   .mean())
            result[name] = value
            nll += value
        result["nll"] = nll
        result["loss"] = float(sum(w * h.mean() for w, h in zip(self.weights, losses)))
        return result
