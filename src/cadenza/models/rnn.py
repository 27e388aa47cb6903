"""Recurrent language model (BachBot style): embedding -> stacked LSTM/GRU/RNN -> logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import ModelConfigError, SequenceModel
from .layers import TokenEmbedding
from .registry import register_model
from .structure import FrameStructure

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

RNNState = tuple[Tensor, ...]
"""(h,) for rnn/gru, (h, c) for lstm; each tensor [layers, B, hidden]; with frame
features a last entry holds the structure counters [B, 3]."""


@dataclass
class RNNConfig:
    """Options of `RNNLanguageModel`; defaults are BachBot's best model.

    `dropout` applies between recurrent layers and before the output projection.
    `tie_weights` shares the embedding matrix with the output layer (adding a
    hidden -> embedding projection when the sizes differ).
    """

    cell: str = "lstm"
    layers: int = 3
    hidden: int = 256
    embedding: int = 32
    dropout: float = 0.3
    tie_weights: bool = False
    # Where each token sits in its frame, bar and phrase (see models/structure.py);
    # the token ids are looked up in the vocabulary at training time.
    frame_features: bool = False
    start_token: int = -1
    frame_token: int = -1
    fermata_token: int = -1

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ModelConfigError(
                f"unknown rnn cell {self.cell!r}; choose from: {', '.join(CELLS)}"
            )
        for key in ("layers", "hidden", "embedding"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelConfigError(f"rnn option {key} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"rnn option dropout must be in [0, 1), got {self.dropout!r}")


@register_model("rnn")
class RNNLanguageModel(SequenceModel):
    """Stacked recurrent language model; state carries across windows (TBPTT)."""

    config_class = RNNConfig
    max_context = None

    def __init__(self, vocab_size: int, config: RNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RNNConfig()
        self.vocab_size = vocab_size
        self.embed = TokenEmbedding(vocab_size, config.embedding)
        if config.frame_features and min(config.start_token, config.frame_token,
                                         config.fermata_token) < 0:
            raise ModelConfigError("frame_features needs start_token, frame_token and "
                                   "fermata_token (filled in from the vocabulary by train)")
        self.structure = FrameStructure(
            config.embedding, config.start_token, config.frame_token, config.fermata_token
        ) if config.frame_features else None
        self.rnn = CELLS[config.cell](
            config.embedding,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        out_dim = config.hidden
        self.proj: nn.Module = nn.Identity()
        if config.tie_weights and config.hidden != config.embedding:
            self.proj = nn.Linear(config.hidden, config.embedding, bias=False)
            out_dim = config.embedding
        self.head = nn.Linear(out_dim, vocab_size)
        if config.tie_weights:
            self.head.weight = self.embed.weight

    @property
    def _is_lstm(self) -> bool:
        return self.config.cell == "lstm"

    def forward(self, tokens: Tensor, state: RNNState | None = None) -> tuple[Tensor, RNNState]:
        """tokens [B, T] (+ state) -> (logits [B, T, V], state after the last token)."""
        x = self.embed(tokens)  # [B, T, E]
        counters: tuple[Tensor, ...] = ()
        if self.structure is not None:
            start = (state[-1] if state is not None
                     else FrameStructure.initial_counters(tokens.shape[0], tokens.device))
            features, last = self.structure(tokens, start)
            x, counters = x + features, (last,)
        if state is None:
            out, new = self.rnn(x)  # out [B, T, H]
        elif self._is_lstm:
            out, new = self.rnn(x, (state[0], state[1]))
        else:
            out, new = self.rnn(x, state[0])
        new_state: RNNState = (tuple(new) if self._is_lstm else (new,)) + counters
        logits = self.head(self.proj(self.dropout(out)))  # [B, T, V]
        return logits, new_state

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> RNNState:
        """Zero state: (h,) or (h, c), each [layers, B, hidden]."""
        weight = self.head.weight
        shape = (self.config.layers, batch_size, self.config.hidden)
        h = torch.zeros(shape, device=device or weight.device, dtype=weight.dtype)
        state = (h, torch.zeros_like(h)) if self._is_lstm else (h,)
        if self.structure is not None:
            state += (FrameStructure.initial_counters(batch_size, h.device),)
        return state

    def select_state(self, state: RNNState, index: Tensor) -> RNNState:
        """Select batch rows `index` [B'] of every state tensor (batch is dim 1 of the
        recurrent state, dim 0 of the structure counters)."""
        return tuple(s.index_select(1 if s.dim() == 3 else 0, index.to(s.device))
                     for s in state)
