"""A bidirectional LSTM over token ids, for infilling (the four-way study's BiLSTM).

It sees the whole sequence, before and after each position, so it cannot predict
left to right: it keeps the whole-sequence contract and is trained by the
``masked_tokens`` objective, which hides some tokens (id ``vocab_size``, one past the
vocabulary, is MASK) and scores the model's guesses for them. Continuation is
Gibbs-style resampling of the future (:mod:`cadenza.study.gibbs`).
``forward(tokens [B, T]) -> logits [B, T, V]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from cadenza.models.base import ModelConfigError, WholeSequenceModel
from cadenza.models.registry import register_model


@dataclass
class BiLSTMConfig:
    """Size of the bidirectional LSTM (``hidden`` per direction)."""

    layers: int = 2
    hidden: int = 64
    embedding: int = 32
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for key in ("layers", "hidden", "embedding"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelConfigError(f"bilstm option {key} must be a positive int, "
                                       f"got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"bilstm option dropout must be in [0, 1), "
                                   f"got {self.dropout!r}")


@register_model("bilstm")
class BiLSTMInfill(WholeSequenceModel):
    """Embedding (vocabulary + MASK) -> bidirectional LSTM -> logits over the vocabulary."""

    config_class = BiLSTMConfig

    def __init__(self, vocab_size: int, config: BiLSTMConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BiLSTMConfig()
        self.vocab_size = vocab_size
        self.mask_id = vocab_size
        self.embed = nn.Embedding(vocab_size + 1, config.embedding)
        self.rnn = nn.LSTM(config.embedding, config.hidden, num_layers=config.layers,
                           dropout=config.dropout if config.layers > 1 else 0.0,
                           batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * config.hidden, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens [B, T] (``mask_id`` where hidden) -> logits [B, T, V]."""
        out, _ = self.rnn(self.embed(tokens))  # [B, T, 2H]
        return self.head(self.dropout(out))
