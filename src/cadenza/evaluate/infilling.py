"""Single-position infilling, the measure where autoregressive and bidirectional
models meet: how well does a model guess x_i given everything else?

A bidirectional (masked) model answers directly: hide x_i, read p(x_i | rest). An
autoregressive model answers **exactly** by enumeration,
``p(x_i = v | rest) ∝ p(x_<i, v, x_>i)``: every v in the vocabulary is put at i and the
whole window scored (BENCHMARKS.md §7). The summed -log p(x_i | rest) over the positions
of a bidirectional model is its pseudo-log-likelihood; it is reported under its own
name, never beside an autoregressive NLL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.likelihood import target_logprobs
from cadenza.models import SequenceModel


@dataclass
class InfillSet:
    """Held-out windows [N, T] (token ids from START) and one position per row to hide."""

    windows: torch.Tensor
    positions: torch.Tensor

    def __len__(self) -> int:
        return len(self.positions)


def infill_set(dataset: PreparedDataset, split: str, length: int, per_piece: int,
               seed: int) -> InfillSet:
    """``per_piece`` positions (never START) in the first ``length`` tokens of each
    untransposed piece of ``split``, drawn with ``seed``: the same set every call."""
    rng = np.random.default_rng(seed)
    rows, positions = [], []
    for piece in dataset.indices(split, augmented=False):
        ids = np.asarray(dataset.tokens(piece)[:length], dtype=np.int64)
        if len(ids) < 2:
            continue
        picks = rng.choice(np.arange(1, len(ids)), size=min(per_piece, len(ids) - 1),
                           replace=False)
        for i in sorted(int(p) for p in picks):
            row = np.zeros(length, dtype=np.int64)  # right-padded with PAD (0)
            row[:len(ids)] = ids
            rows.append(row)
            positions.append(i)
    windows = torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, length).long()
    return InfillSet(windows, torch.tensor(positions, dtype=torch.long))


@torch.no_grad()
def sequence_logprob(model: SequenceModel, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[:, 1:] | ids[:, 0]) of each row of ``ids`` [B, T] under an
    autoregressive model (padding, id 0, is not scored) -> [B]. A model with a shorter
    context than T is scored through strided windows: the joint is then that of the
    model as it is used (each conditional from at most its context), still normalised,
    so the enumeration below stays exact for it."""
    logp = target_logprobs(model, ids)
    return (logp * (ids[:, 1:] != 0)).sum(1)


@torch.no_grad()
def exact_conditional(model: SequenceModel, ids: torch.Tensor, position: int,
                      batch_size: int = 256) -> torch.Tensor:
    """log p(x_i = v | x_{-i}) for every v of the vocabulary -> [V], by enumerating v
    at ``position`` of ``ids`` [T] and scoring each whole sequence. Exact for an
    autoregressive model; id 0 (padding) gets probability 0."""
    vocab = model.vocab_size
    scores = []
    for start in range(0, vocab, batch_size):
        values = torch.arange(start, min(start + batch_size, vocab), device=ids.device)
        rows = ids.unsqueeze(0).repeat(len(values), 1)
        rows[:, position] = values
        scores.append(sequence_logprob(model, rows))
    joint = torch.cat(scores)
    joint[0] = float("-inf")
    return joint - torch.logsumexp(joint, 0)


@torch.no_grad()
def masked_conditional(model: torch.nn.Module, windows: torch.Tensor,
                       positions: torch.Tensor) -> torch.Tensor:
    """log p(x_i = v | x_{-i}) -> [N, V] of a masked (bidirectional) model: position i
    of each row hidden (``model.mask_id``); padding gets probability 0."""
    rows = windows.clone()
    index = torch.arange(len(rows))
    rows[index, positions] = model.mask_id
    logits = model(rows)[index, positions].float()
    logits[:, 0] = float("-inf")
    return torch.log_softmax(logits, -1)


def score_infilling(model: torch.nn.Module, data: InfillSet, batch_size: int = 64
                    ) -> dict[str, Any]:
    """Mean -log p(x_i | rest) of the true x_i and the share of positions where it is the
    most probable value. ``conditional`` says how it was computed: ``exact`` (an
    autoregressive model, by enumeration) or ``pseudo`` (a masked model's own guess,
    the terms of its pseudo-log-likelihood)."""
    was_training = model.training
    model.eval()
    nll, right = 0.0, 0
    autoregressive = getattr(model, "contract", "") == "autoregressive"
    try:
        for start in range(0, len(data), batch_size):
            windows = data.windows[start:start + batch_size]
            positions = data.positions[start:start + batch_size]
            if autoregressive:
                logp = torch.stack([exact_conditional(model, w, int(i))
                                    for w, i in zip(windows, positions)])
            else:
                logp = masked_conditional(model, windows, positions)
            truth = windows[torch.arange(len(windows)), positions]
            nll -= float(logp.gather(1, truth[:, None]).sum())
            right += int((logp.argmax(1) == truth).sum())
    finally:
        model.train(was_training)
    count = len(data)
    return {"infill_nats": nll / count if count else float("nan"),
            "infill_accuracy": right / count if count else float("nan"),
            "positions": count,
            "conditional": "exact" if autoregressive else "pseudo"}
