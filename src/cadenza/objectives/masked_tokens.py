"""Masked tokens: the bidirectional LSTM's infilling objective over token sequences.

Training examples are the random windows the transformers train on; in each row a
share of the real tokens drawn from U(0, 1) is hidden (the orderless masking of
Coconet, so every masking that Gibbs resampling meets is seen in training) and the
loss is the cross-entropy of the hidden tokens. START (position 0 of a piece) is never
hidden. Held-out data is scored as single hidden positions
(:mod:`cadenza.evaluate.infilling`): ``positions`` fixed positions per piece in its
first ``length`` tokens, in nats per hidden token. Summed, these are terms of a
pseudo-log-likelihood, so the unit says ``pseudo``: it never shares a column with an
autoregressive NLL.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from cadenza.data.dataset import PreparedDataset
from cadenza.data.windows import PAD, Batch, make_windows
from cadenza.errors import ConfigError
from cadenza.evaluate.infilling import InfillSet, infill_set, score_infilling
from cadenza.objectives.base import Objective, StepLoss, register_objective


@register_objective("masked_tokens")
class MaskedTokens(Objective):
    """Cross-entropy of hidden tokens of a whole-sequence token model."""

    unit = "pseudo-nats/token"

    def __init__(self, dataset: PreparedDataset, length: int = 64, positions: int = 4,
                 eval_seed: int = 12345) -> None:
        super().__init__(dataset)
        if dataset.main.kind != "tokens":
            raise ConfigError("the masked_tokens objective trains on a token dataset, not "
                              f"{dataset.main.kind}")
        for name, value, low in (("length", length, 2), ("positions", positions, 1),
                                 ("eval_seed", eval_seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"objective.{name} must be an integer >= {low}, got {value!r}")
        self.length, self.positions, self.eval_seed = length, positions, eval_seed
        self._sets: dict[str, InfillSet] = {}

    def batches(self, split: str, train: Any) -> Any:
        if train.tbptt:
            raise ConfigError("the masked_tokens objective reads whole windows; "
                              "use --set train.tbptt=false")
        return make_windows(self.dataset, split, train.batch_size, train.seq_len, train.seed,
                            False, train.start_fraction, train.augmented)

    def loss(self, model: torch.nn.Module, batch: Batch, state: Any = None) -> StepLoss:
        tokens = batch.targets  # the window's tokens (inputs shifted by one: never START)
        real = tokens != PAD
        rate = torch.rand(tokens.shape[0], 1, device=tokens.device)
        hidden = real & (torch.rand(tokens.shape, device=tokens.device) < rate)
        first = real.float().argmax(1)  # a row with nothing hidden hides its first token
        none = ~hidden.any(1) & real.any(1)
        hidden[none, first[none]] = True
        logits = model(tokens.masked_fill(hidden, model.mask_id))
        count = int(hidden.sum())
        loss = F.cross_entropy(logits[hidden].float(), tokens[hidden], reduction="sum")
        return StepLoss(loss / max(count, 1), count)

    def held_out(self, split: str) -> InfillSet:
        """The fixed single positions of ``split`` (the same every call)."""
        if split not in self._sets:
            self._sets[split] = infill_set(self.dataset, split, self.length, self.positions,
                                           self.eval_seed)
        return self._sets[split]

    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        data = self.held_out(split)
        rows = torch.tensor(self.my_share(range(len(data))), dtype=torch.long)
        device = next(model.parameters()).device
        mine = InfillSet(data.windows[rows].to(device), data.positions[rows].to(device))
        result = score_infilling(model, mine, batch_size)
        return {**result, "loss": result["infill_nats"], "unit": self.unit,
                "count": result["positions"], "accuracy": result["infill_accuracy"],
                "pieces": len(self.dataset.indices(split, augmented=False))}
