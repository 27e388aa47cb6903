"""Building blocks shared by the models: embedding, RMSNorm, rotary positions, MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TokenEmbedding(nn.Module):
    """Token ids [B, T] -> vectors [B, T, dim], followed by dropout."""

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.dropout = nn.Dropout(dropout)

    @property
    def weight(self) -> nn.Parameter:
        """The [V, dim] embedding matrix (shared with the output layer when tied)."""
        return self.embed.weight

    def forward(self, tokens: Tensor) -> Tensor:
        """Embed tokens [B, T] -> [B, T, dim]."""
        return self.dropout(self.embed(tokens))


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension, with a learned gain."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise x [..., dim] -> [..., dim]."""
        rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * rms * self.weight


class MLP(nn.Module):
    """Position-wise feed-forward: dim -> hidden -> GELU -> dim -> dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x [..., dim] -> [..., dim]."""
        return self.dropout(self.down(nn.functional.gelu(self.up(x))))


def rotary_tables(
    head_dim: int, max_positions: int, base: float = 10000.0
) -> tuple[Tensor, Tensor]:
    """cos and sin tables, each [max_positions, head_dim // 2], for rotary embeddings."""
    if head_dim % 2:
        raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(max_positions, dtype=torch.float64)[:, None] * inv_freq  # [P, D/2]
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate x [B, H, T, D] by the angles of its absolute positions (cos/sin [T, D/2])."""
    x1, x2 = x.chunk(2, dim=-1)  # [B, H, T, D/2] each
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
