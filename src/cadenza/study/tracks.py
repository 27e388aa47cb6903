"""Study measures not owned by an objective: track (b), the conditional NLL of the
true continuation after a k-token primer (autoregressive models only: a masked model
has no such likelihood)."""

from __future__ import annotations

import math

import numpy as np
import torch

from cadenza.data.dataset import PreparedDataset
from cadenza.evaluate.likelihood import target_logprobs
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
            losses = -target_logprobs(model, ids)  # [B, span - 1]: targets 1..span-1
            total += float(losses[:, primer - 1:].sum())
            count += losses[:, primer - 1:].numel()
    finally:
        model.train(was_training)
    nats = total / count
    return nats if math.isfinite(nats) else None


def continuation_pieces(dataset: PreparedDataset, split: str, span: int,
                        limit: int) -> list[np.ndarray]:
    """The first ``span`` tokens of at most ``limit`` untransposed pieces of ``split``
    at least that long (the same pieces for every model)."""
    rows = [np.asarray(dataset.tokens(i)[:span], dtype=np.int64)
            for i in dataset.indices(split, augmented=False) if len(dataset.tokens(i)) >= span]
    return rows[:limit]


def continue_primers(model: torch.nn.Module, vocab, pieces: list[np.ndarray], primer: int,
                     length: int, sweeps: int, seed: int) -> list[list[int]]:
    """Each piece's first ``primer`` tokens continued by ``length`` sampled ones: drawn
    left to right by an autoregressive model (under the codec's grammar where it has
    one, as ``cadenza generate`` draws; a model with a shorter context than the whole
    slides a window of its context over it), resampled for ``sweeps`` Gibbs sweeps by a
    masked one (which has no grammar: what it writes may not decode)."""
    from cadenza.generate.decode import sample
    from cadenza.generate.gibbs import gibbs_continue

    autoregressive = model.contract == "autoregressive"
    out = []
    for index, ids in enumerate(pieces):
        head = ids[:primer]
        if autoregressive:
            row = sample(model, vocab, prompt_ids=head.tolist(), max_tokens=primer + length,
                         seed=seed + index)[0]
        else:
            row = gibbs_continue(model, torch.from_numpy(head), length, sweeps,
                                 seed=seed + index).tolist()
        out.append([int(t) for t in row])
    return out


def music_overlap(codec, vocab, generated: list[list[int]], real: list[np.ndarray]
                  ) -> dict[str, object]:
    """Per-feature overlapping area of the metrics of the sampled continuations against
    the true ones (primer included in both), their mean, and how many decoded."""
    from cadenza.errors import CadenzaError
    from cadenza.evaluate.distances import compare_sets, mean_overlap
    from cadenza.evaluate.metrics import compute_all

    def features(rows) -> list[dict[str, float]]:
        found = []
        for row in rows:
            try:
                score = codec.decode(vocab.decode([int(t) for t in row]))
            except (CadenzaError, ValueError, KeyError, IndexError):
                continue  # a sequence that is not music: counted by what is missing
            if len(score.notes):
                found.append(compute_all(score))
        return found

    ours, theirs = features(generated), features(real)
    table = compare_sets(ours, theirs) if len(ours) > 1 and len(theirs) > 1 else {}
    return {"overlap_mean": mean_overlap(table) if table else None,
            "overlap": {k: v["overlapping_area"] for k, v in table.items()},
            "decoded": len(ours), "sampled": len(generated)}
