"""The evidence lower bound for segment VAEs, with KL annealing, free bits and the
collapse monitors of BENCHMARKS.md §6.

``loss = recon + beta(step) * max(KL - free_nats, 0)`` per segment, averaged over the
batch (MusicVAE's free bits: the first ``free_bits`` bits of KL per segment are free).

Reconstruction terms, **summed** over every cell of a segment (``reduction = "sum"``):

- ``bernoulli`` (piano rolls): binary cross-entropy of each cell, exact nats;
- ``laplace`` (log-mel): ``|x - mu| / scale + log(2 scale)``, L1 on log-mel. Chosen over
  a Gaussian because its maximum-likelihood estimate is the median rather than the mean:
  where the decoder is unsure between a partial and its absence, the mean predicts half
  of each (the blur of the tutorial's spectrograms), the median one of them. Its value
  in dB is also the measure we report;
- ``gaussian``: ``(x - mu)^2 / (2 scale^2) + log(scale sqrt(2 pi))``;
- ``mse``: squared error, as the sources used it.

``reduction = "mean"`` reproduces the sources: the reconstruction averaged over cells and
the KL over latent dimensions. Against a summed ELBO that weighs the KL by (cells /
latent dimensions) -- the cause of the report's collapse.

KL weight ``beta(step)``: ``none`` (constant), ``musicvae``
(``(1 - rate ** step) * beta``, Roberts et al. 2018) or ``cyclical`` (Fu et al. 2019:
within each cycle of ``cycle_steps`` batches, a linear rise over its first
``cycle_ratio`` then flat). Every evaluation returns the monitors (KL per dimension,
active units, the z-shuffle test); the loop writes them to ``monitors.jsonl``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.data.segments import SegmentBatch, Segments, heldout_segments
from cadenza.errors import ConfigError
from cadenza.evaluate import latent
from cadenza.objectives.base import Objective, StepLoss, register_objective

RECONSTRUCTIONS = ("bernoulli", "laplace", "gaussian", "mse")
ANNEALING = ("none", "musicvae", "cyclical")


def beta_at(step: int, beta: float, anneal: str = "none", rate: float = 0.99999,
            cycle_steps: int = 1000, cycle_ratio: float = 0.5) -> float:
    """The KL weight after ``step`` training batches."""
    if anneal == "musicvae":
        return (1.0 - rate ** max(step, 0)) * beta
    if anneal == "cyclical":
        phase = (max(step, 0) % cycle_steps) / cycle_steps
        return beta * min(1.0, phase / cycle_ratio)
    return beta


def kl_terms(mu: Tensor, logvar: Tensor) -> Tensor:
    """[B, D] -> [B, D] KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def reconstruction(kind: str, out: Tensor, mean: Tensor, x: Tensor,
                   scale: float) -> Tensor:
    """[B, T, W] per-cell negative log-likelihood (``mse``: squared error). ``out`` is
    the decoder's output, ``mean`` its expected value."""
    if kind == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none")
    if kind == "laplace":
        return (x - mean).abs() / scale + math.log(2 * scale)
    if kind == "gaussian":
        return (x - mean).pow(2) / (2 * scale ** 2) + math.log(scale * math.sqrt(2 * math.pi))
    return (x - mean).pow(2)


@register_objective("elbo")
class ELBO(Objective):
    """Negative ELBO of a segment VAE; held out: the same bound at full beta."""

    unit = "nats/segment"

    def __init__(self, dataset: PreparedDataset, reconstruction: str = "bernoulli",
                 reduction: str = "sum", beta: float = 1.0, anneal: str = "none",
                 anneal_rate: float = 0.99999, cycle_steps: int = 1000,
                 cycle_ratio: float = 0.5, free_bits: float = 0.0, scale: float = 1.0,
                 eval_segments: int = 1024, seed: int = 0) -> None:
        super().__init__(dataset)
        if reconstruction not in RECONSTRUCTIONS:
            raise ConfigError(f"objective.reconstruction must be one of {RECONSTRUCTIONS}")
        if anneal not in ANNEALING:
            raise ConfigError(f"objective.anneal must be one of {ANNEALING}")
        if reduction not in ("sum", "mean"):
            raise ConfigError("objective.reduction must be sum or mean")
        for key, value in (("beta", beta), ("free_bits", free_bits)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"objective.{key} must be a number >= 0, got {value!r}")
        if not (0 < scale < math.inf and 0 < anneal_rate < 1 and cycle_steps >= 1
                and 0 < cycle_ratio <= 1 and eval_segments >= 2):
            raise ConfigError("objective: scale > 0, 0 < anneal_rate < 1, cycle_steps >= 1, "
                              "0 < cycle_ratio <= 1 and eval_segments >= 2 are required")
        self.kind, self.reduction, self.beta, self.anneal = reconstruction, reduction, beta, anneal
        self.rate, self.cycle_steps, self.cycle_ratio = anneal_rate, cycle_steps, cycle_ratio
        self.free_nats, self.scale = free_bits * math.log(2.0), scale
        self.eval_segments, self.seed = eval_segments, seed
        self.steps: int | None = None
        if reduction == "mean":
            self.unit = "mean loss/segment"

    def batches(self, split: str, train: Any) -> Segments:
        self.steps = train.seq_len
        return Segments(self.dataset, split, train.batch_size, train.seq_len, train.seed,
                        train.augmented)

    def beta_at(self, step: int) -> float:
        return beta_at(step, self.beta, self.anneal, self.rate, self.cycle_steps,
                       self.cycle_ratio)

    def terms(self, model: torch.nn.Module, x: Tensor,
              sample: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(reconstruction [B], KL [B], mu, logvar) under this objective's reduction."""
        if x.shape[1] != model.steps:
            raise ConfigError(f"segments of {x.shape[1]} steps, but the model was built for "
                              f"{model.steps} (set train.seq_len = model.steps)")
        out, mu, logvar = model(x, sample=sample)
        cells = reconstruction(self.kind, out.float(), model.mean(out).float(), x, self.scale)
        kl = kl_terms(mu.float(), logvar.float())
        if self.reduction == "mean":
            return cells.mean((1, 2)), kl.mean(1), mu, logvar
        return cells.sum((1, 2)), kl.sum(1), mu, logvar

    def loss(self, model: torch.nn.Module, batch: SegmentBatch, state: Any = None) -> StepLoss:
        recon, kl, _, _ = self.terms(model, batch.inputs)
        kl_cost = (kl - self.free_nats).clamp(min=0.0)
        loss = (recon + self.beta_at(batch.step) * kl_cost).mean()
        return StepLoss(loss, len(batch.inputs))

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        steps = self.steps or model.steps
        x = torch.from_numpy(heldout_segments(self.dataset, split, steps, self.eval_segments))
        if len(x) < 2:
            return {"loss": float("nan"), "unit": self.unit, "count": 0, "pieces": 0}
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        try:
            generator = torch.random.fork_rng(devices=[])
            with generator:  # one fixed sample of z per segment: the same bound every time
                torch.manual_seed(self.seed)
                parts = [self.terms(model, x[i:i + 256].to(device)) for i in range(0, len(x), 256)]
            recon = torch.cat([p[0] for p in parts]).cpu()
            kl = torch.cat([p[1] for p in parts]).cpu()
            mu = torch.cat([p[2] for p in parts]).float().cpu()
            logvar = torch.cat([p[3] for p in parts]).float().cpu()
            monitors = self.monitors(model, x, mu, logvar)
        finally:
            model.train(was_training)
        loss = float((recon + self.beta * kl).mean())
        return {"loss": loss, "negative_elbo": loss, "unit": self.unit, "count": len(x),
                "recon": float(recon.mean()),
                "pieces": len(self.dataset.indices(split, augmented=False)),
                "kl": float(kl.mean()), "monitors": monitors, **{
                    k: v for k, v in monitors.items() if k != "kl_per_dim"}}

    @torch.no_grad()
    def monitors(self, model: torch.nn.Module, x: Tensor, mu: Tensor,
                 logvar: Tensor) -> dict[str, Any]:
        """KL per dimension, active units, and reconstruction quality from each segment's
        own z against another segment's (the z-shuffle test)."""
        per_dim = latent.kl_per_dim(mu, logvar)
        own = decode_means(model, mu)
        other = decode_means(model, mu[latent.shuffled(len(mu), self.seed)])
        found = {"segments": len(x), "kl_nats": float(per_dim.sum()),
                 "active_units": latent.active_units(mu),
                 "kl_per_dim": [round(float(v), 4) for v in per_dim]}
        if self.kind == "bernoulli" or model.output == "sigmoid" and self.is_binary(x):
            truth = x.numpy() > 0.5
            found["f1"] = latent.note_f1(own.numpy() > 0.5, truth)
            found["f1_shuffled"] = latent.note_f1(other.numpy() > 0.5, truth)
            found["shuffle_drop"] = found["f1"] - found["f1_shuffled"]
        else:
            unit = float(getattr(self.dataset.codec, "db_per_unit", 1.0))
            found["l1_db"] = float((own - x).abs().mean()) * unit
            found["l1_db_shuffled"] = float((other - x).abs().mean()) * unit
            found["shuffle_rise"] = found["l1_db_shuffled"] - found["l1_db"]
        return found

    @staticmethod
    def is_binary(x: Tensor) -> bool:
        return bool(((x == 0) | (x == 1)).all())


def decode_means(model: torch.nn.Module, z: Tensor, chunk: int = 256) -> Tensor:
    """Expected frames [N, T, W] decoded from latents ``z`` [N, D] (on the CPU)."""
    device = next(model.parameters()).device
    parts = [model.mean(model.decode(z[i:i + chunk].to(device))).float().cpu()
             for i in range(0, len(z), chunk)]
    return torch.cat(parts) if parts else torch.zeros(0)

