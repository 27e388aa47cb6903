"""Held-out likelihood: mean negative log-likelihood per token of whole pieces.

Every piece is scored from its START with its full context: a recurrent model reads the
whole piece in one pass; a model with a bounded context (``max_context``) slides a window
over longer pieces, advancing by half a context, so each token is predicted from at least
``max_context / 2`` tokens before it (the usual strided perplexity). The first token
(START) is given, every later one (END included) is predicted; padding is never scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.models import SequenceModel

PAD = 0


@torch.no_grad()
def evaluate_nll(
    model: SequenceModel,
    dataset: PreparedDataset,
    split: str = "validation",
    batch_size: int = 16,
    augmented: bool = True,
    constraint: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    frame_id: int | None = None,
    share: Callable[[list[int]], list[int]] | None = None,
) -> dict[str, Any]:
    """Score ``split``: ``nats``/``bits`` per token, ``perplexity``, top-1 ``accuracy``,
    the number of scored ``tokens`` and of ``pieces``; with ``frame_id`` (the frame
    delimiter's id) also ``frames`` and ``nats_per_frame``. ``constraint(logits,
    inputs)`` masks logits before scoring (an objective's restriction to valid
    sequences). ``share`` picks the pieces this process scores (DDP). The model is left
    in the mode it came in (it is scored in eval mode)."""
    pieces = [i for i in dataset.indices(split, augmented=augmented)
              if len(dataset.tokens(i)) > 1]
    pieces.sort(key=lambda i: len(dataset.tokens(i)))  # similar lengths share a batch
    if share is not None:
        pieces = share(pieces)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    nll, correct, count, frames = 0.0, 0, 0, 0
    try:
        for start in range(0, len(pieces), batch_size):
            ids = _padded([dataset.tokens(i) for i in pieces[start:start + batch_size]])
            n, c, k = score_batch(model, torch.from_numpy(ids).to(device), constraint)
            nll, correct, count = nll + n, correct + c, count + k
            if frame_id is not None:
                frames += int((ids[:, 1:] == frame_id).sum())
    finally:
        model.train(was_training)
    nats = nll / count if count else float("nan")
    if frame_id is not None:
        extra = {"frames": frames, "nats_per_frame": nll / frames if frames else float("nan")}
    else:
        extra = {}
    return {
        **extra,
        "nats": nats,
        "bits": nats / math.log(2),
        "perplexity": math.exp(nats) if count else float("nan"),
        "accuracy": correct / count if count else float("nan"),
        "tokens": count,
        "pieces": len(pieces),
    }


def windows(length: int, context: int | None) -> list[tuple[int, int, int]]:
    """The strided windows over ``length`` positions of a model with ``context`` (None:
    unbounded): ``(begin, done, end)`` feeds inputs ``[begin, end)`` and keeps the
    predictions for ``[done, end)``; every position is kept once, each predicted from at
    least ``context / 2`` positions before it (all of them before the first window ends)."""
    context = context or length
    stride = max(context // 2, 1)
    spans, done, end = [], 0, min(context, length)
    while done < length:
        spans.append((max(end - context, 0), done, end))
        done, end = end, min(end + stride, length)
    return spans


@torch.no_grad()
def score_batch(model: SequenceModel, ids: torch.Tensor,
                constraint: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                ) -> tuple[float, int, int]:
    """Summed NLL, correct top-1 guesses and scored targets of right-padded pieces [B, L]."""
    inputs, targets = ids[:, :-1], ids[:, 1:]
    nll, correct, count = 0.0, 0, 0
    for begin, done, end in windows(inputs.shape[1], model.max_context):
        logits, _ = model(inputs[:, begin:end])  # [B, end - begin, V]
        logits = logits[:, done - begin:].float()
        if constraint is not None:
            logits = constraint(logits, inputs[:, done:end])
        gold = targets[:, done:end]
        mask = gold != PAD
        losses = F.cross_entropy(logits.transpose(1, 2), gold, reduction="none")  # [B, t]
        nll += float(losses[mask].sum())
        correct += int(((logits.argmax(-1) == gold) & mask).sum())
        count += int(mask.sum())
    return nll, correct, count


@torch.no_grad()
def target_logprobs(model: SequenceModel, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[:, t + 1] | ids[:, :t + 1]) -> [B, L - 1] for rows [B, L] of an
    autoregressive model, through the same strided windows as :func:`score_batch` where
    the model's context is shorter than the rows (so a model never sees more positions
    than it has). Padding targets are included; mask them where they matter."""
    inputs, targets = ids[:, :-1], ids[:, 1:]
    parts = []
    for begin, done, end in windows(inputs.shape[1], model.max_context):
        logits, _ = model(inputs[:, begin:end])
        parts.append(-F.cross_entropy(logits[:, done - begin:].float().transpose(1, 2),
                                      targets[:, done:end], reduction="none"))
    return torch.cat(parts, dim=1)


def _padded(pieces: list[np.ndarray]) -> np.ndarray:
    ids = np.zeros((len(pieces), max(len(p) for p in pieces)), dtype=np.int64)
    for row, piece in enumerate(pieces):
        ids[row, :len(piece)] = piece
    return ids
