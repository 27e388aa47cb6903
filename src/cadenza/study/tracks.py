"""Study measures not owned by an objective: track (b), the conditional NLL of the
true continuation after a k-token primer (autoregressive models only: a masked model
has no such likelihood)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.models import SequenceModel


@torch.no_grad()
def continuation_nll(model: SequenceModel, dataset: PreparedDataset, split: str, primer: int,
                     length: int, batch_size: int = 32) -> float | None:
    """Mean -log p(x_t | x_<t) over t in [primer, primer + length) of every untransposed
    piece of ``split`` at least that long (the primer counts START); None when no piece
    is long enough."""
    span = primer + length
    rows = [np.asarray(dataset.tokens(i)[:span], dtype=np.int64)
            for i in dataset.indices(split, augmented=False) if len(dataset.tokens(i)) >= span]
    if not rows:
        return None
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    try:
        for start in range(0, len(rows), batch_size):
            ids = torch.from_numpy(np.stack(rows[start:start + batch_size])).to(device)
            logits, _ = model(ids[:, :-1])
            losses = F.cross_entropy(logits.float().transpose(1, 2), ids[:, 1:],
                                     reduction="none")  # [B, span - 1]: targets 1..span-1
            total += float(losses[:, primer - 1:].sum())
            count += losses[:, primer - 1:].numel()
    finally:
        model.train(was_training)
    nats = total / count
    return nats if math.isfinite(nats) else None
