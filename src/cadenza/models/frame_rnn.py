"""A recurrent model over whole frames: piano-roll steps in, one logit per pitch out.

The report's song-extension LSTM (source ``002_…``): the roll of each step is the input,
an LSTM reads the steps in order, and a sigmoid per pitch gives the next frame. The
pitches of a frame are independent given the past (the ``multilabel`` objective); a
model that captures how they depend on each other reads the same frames as rising pitch
tokens (``codec.layout=tokens``) with the token language models.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import ModelConfigError, SequenceModel
from .registry import register_model

FrameState = tuple[Tensor, Tensor]
"""(h, c), each [layers, B, hidden]."""


@dataclass
class FrameRNNConfig:
    """Options of `FrameRNN`; `dropout` applies between layers and before the output."""

    layers: int = 2
    hidden: int = 1024
    dropout: float = 0.2

    def __post_init__(self) -> None:
        for key in ("layers", "hidden"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelConfigError(f"frame-rnn option {key} must be a positive int, "
                                       f"got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"frame-rnn dropout must be in [0, 1), got {self.dropout!r}")


@register_model("frame-rnn")
class FrameRNN(SequenceModel):
    """Stacked LSTM over frames [B, T, P] -> next-frame logits [B, T, P]."""

    config_class = FrameRNNConfig
    inputs = "frames"
    max_context = None

    def __init__(self, width: int, config: FrameRNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FrameRNNConfig()
        self.vocab_size = width  # the output size, as for the token models
        self.rnn = nn.LSTM(width, config.hidden, num_layers=config.layers, batch_first=True,
                           dropout=config.dropout if config.layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, width)

    def forward(self, frames: Tensor, state: FrameState | None = None
                ) -> tuple[Tensor, FrameState]:
        out, (h, c) = self.rnn(frames.float(), state)  # [B, T, H]
        return self.head(self.dropout(out)), (h, c)

    def init_state(self, batch_size: int, device: torch.device | str | None = None
                   ) -> FrameState:
        weight = self.head.weight
        h = torch.zeros(self.config.layers, batch_size, self.config.hidden,
                        device=device or weight.device, dtype=weight.dtype)
        return h, torch.zeros_like(h)

    def select_state(self, state: FrameState, index: Tensor) -> FrameState:
        return tuple(s.index_select(1, index.to(s.device)) for s in state)

    def step(self, frame: Tensor, state: FrameState) -> tuple[Tensor, FrameState]:
        """One step: a frame [B, P] -> (next-frame logits [B, P], state)."""
        logits, state = self.forward(frame[:, None], state)
        return logits[:, 0], state
