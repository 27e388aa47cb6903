"""An orderless infilling model over a voices × frames grid (after Coconet and DeepBach).

Each cell of the grid is what one voice does in one 16th-note frame: a rest, or a
(pitch, tied-from-previous-frame) pair — the chorale codec's tokens laid out by
voice. Any cells may be hidden (``MASK``); the model sees every visible cell, before
and after, and predicts all hidden ones at once. That is what harmonization needs:
the given voices are visible everywhere, including what comes later in the melody.

It keeps the whole-sequence contract and is built by the registry (``"infill"``) from
the grid's spec (:data:`cadenza.codecs.grid.GRID_SPEC`: the number of voices);
the ``masked`` objective trains it. ``forward(cells[B, F, V], fermata[B, F]) ->
logits[B, F, V, CLASSES]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cadenza.codecs.grid import CLASSES, FRAMES_PER_BAR
from cadenza.models.base import ModelConfigError, WholeSequenceModel
from cadenza.models.layers import MLP, RMSNorm, apply_rotary, rotary_tables
from cadenza.models.registry import register_model


@dataclass
class InfillConfig:
    """Size of the infilling transformer (bidirectional, rotary positions)."""

    layers: int = 6
    dim: int = 192
    heads: int = 6
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    max_frames: int = 2048

    def __post_init__(self) -> None:
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ModelConfigError("dim / heads must be a whole even number")


class _Block(nn.Module):
    """Pre-norm bidirectional self-attention + MLP."""

    def __init__(self, config: InfillConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.norm1, self.norm2 = RMSNorm(config.dim), RMSNorm(config.dim)
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.out = nn.Linear(config.dim, config.dim)
        self.mlp = MLP(config.dim, int(config.mlp_ratio * config.dim), config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.attn_dropout = config.dropout

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # [B, H, T, D]
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        p = self.attn_dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # [B, H, T, D]
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(b, t, d)))
        return x + self.mlp(self.norm2(x))


@register_model("infill")
class InfillModel(WholeSequenceModel):
    """Predicts every cell of a partly hidden ``voices`` × frames grid."""

    inputs = "grid"
    config_class = InfillConfig

    def __init__(self, voices: int = 4, config: InfillConfig | None = None) -> None:
        super().__init__()
        self.voices = voices
        self.config = config = config or InfillConfig()
        # one table per voice, summed: the frame vector knows which voice holds what
        self.cells = nn.ModuleList(nn.Embedding(CLASSES + 1, config.dim) for _ in
                                   range(voices))
        self.beat = nn.Embedding(FRAMES_PER_BAR, config.dim)
        self.fermata = nn.Embedding(2, config.dim)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.layers))
        self.norm = RMSNorm(config.dim)
        self.head = nn.Linear(config.dim, voices * CLASSES)
        cos, sin = rotary_tables(config.dim // config.heads, config.max_frames)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, cells: Tensor, fermata: Tensor, offset: Tensor | int = 0) -> Tensor:
        """cells [B, F, V] (MASK where hidden), fermata [B, F] -> logits [B, F, V, C].

        ``offset`` ([B] or one int) is the position in the bar, in frames, of frame 0.
        """
        b, frames, voices = cells.shape
        if frames > self.config.max_frames:
            raise ValueError(f"{frames} frames exceed max_frames {self.config.max_frames}")
        x = sum(table(cells[..., v]) for v, table in enumerate(self.cells))  # [B, F, dim]
        offset = torch.as_tensor(offset, device=cells.device).reshape(-1, 1)  # [B or 1, 1]
        beats = (torch.arange(frames, device=cells.device)[None] + offset) % FRAMES_PER_BAR
        x = self.dropout(x + self.beat(beats) + self.fermata(fermata.long()))
        cos, sin = self.cos[:frames], self.sin[:frames]
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.head(self.norm(x)).view(b, frames, voices, CLASSES)
