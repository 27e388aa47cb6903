"""Next-token cross-entropy: the language models' objective (teacher forcing).

Held-out data is scored as whole pieces from their first token (see
:mod:`cadenza.evaluate.likelihood`), in nats per token. A codec whose frames are
tokens in rising pitch order (``CodecSpec.ordered_frames``: piano rolls as tokens) also
restricts the distribution to valid frames, in training and in scoring alike, so the
log-likelihood of a frame's tokens is the frame's exact log-likelihood; its held-out
measure is then nats per frame, the polyphonic benchmark's unit. A codec that can count
the notes among its codes (``count_notes``: MidiTok tokens) is also scored in nats per
note, which compares tokenizations that spend different numbers of tokens on a note.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from cadenza.codecs.pianoroll import frame_mask
from cadenza.data.dataset import PreparedDataset
from cadenza.data.windows import PAD, Batch, make_windows
from cadenza.objectives.base import Objective, StepLoss, register_objective


@register_objective("next_token")
class NextToken(Objective):
    """Cross-entropy of every next token (padding ignored)."""

    def __init__(self, dataset: PreparedDataset) -> None:
        super().__init__(dataset)
        spec = dataset.codec.spec
        self.frame_id = dataset.vocab.role(spec, "frame")
        self.ranks: torch.Tensor | None = None
        if spec.ordered_frames:
            codec, vocab = dataset.codec, dataset.vocab
            pitch = [codec.pitch_of_code(int(c)) if c >= 0 else None for c in vocab.codes]
            self.ranks = torch.tensor([-2 if p is None else p for p in pitch])
            self.unit = "nats/frame"
        else:
            self.unit = "nats/token"

    def batches(self, split: str, train: Any) -> Any:
        return make_windows(self.dataset, split, train.batch_size, train.seq_len, train.seed,
                            train.tbptt, train.start_fraction, train.augmented)

    def constrain(self, logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits with tokens that would break a frame's rising order at -inf."""
        if self.ranks is None:
            return logits
        allowed = frame_mask(self.ranks.to(inputs.device), self.frame_id, inputs)
        return logits.masked_fill(~allowed, float("-inf"))

    def loss(self, model: torch.nn.Module, batch: Batch, state: Any = None) -> StepLoss:
        logits, state = model(batch.inputs, state)  # [B, T, V]
        logits = self.constrain(logits.float(), batch.inputs)
        count = batch.tokens
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(),
                               ignore_index=PAD, reduction="sum") / max(count, 1)
        return StepLoss(loss, count, state)

    def evaluate(self, model: torch.nn.Module, split: str, batch_size: int = 16,
                 augmented: bool = True) -> dict[str, Any]:
        from cadenza.evaluate.likelihood import evaluate_nll

        constraint = self.constrain if self.ranks is not None else None
        result = evaluate_nll(model, self.dataset, split, batch_size, augmented,
                              constraint=constraint, frame_id=self.frame_id,
                              share=self.my_share)
        per_frame = self.ranks is not None
        if not per_frame and hasattr(self.dataset.codec, "count_notes"):
            result.update(self._per_note(result, split, augmented))
        loss = result["nats_per_frame"] if per_frame else result["nats"]
        return {**result, "loss": loss, "unit": self.unit,
                "count": result["frames"] if per_frame else result["tokens"]}

    def _per_note(self, result: dict[str, Any], split: str,
                  augmented: bool) -> dict[str, Any]:
        """Nats per note: the summed NLL over the notes of the scored targets (every
        token after each piece's first, as :func:`evaluate_nll` scores them)."""
        dataset, count = self.dataset, self.dataset.codec.count_notes
        notes = sum(count(dataset.vocab.decode(dataset.tokens(i)[1:]))
                    for i in dataset.indices(split, augmented=augmented)
                    if len(dataset.tokens(i)) > 1)
        total = result["nats"] * result["tokens"]
        return {"notes": notes, "nats_per_note": total / notes if notes else float("nan")}
