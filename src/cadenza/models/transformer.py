"""Decoder-only transformer: pre-norm blocks, rotary positions, key/value cache.

Positions are absolute: the cache stores keys already rotated for their positions, so
`step` just appends. The context is bounded by `max_context`: going past it raises a
`ValueError` (a caller that wants longer output re-primes a fresh state with the last
tokens; the model never slides silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import ModelConfigError, SequenceModel
from .layers import MLP, RMSNorm, TokenEmbedding, apply_rotary, rotary_tables
from .registry import register_model


@dataclass
class TransformerConfig:
    """Options of `TransformerLanguageModel`."""

    layers: int = 6
    dim: int = 256
    heads: int = 8
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    max_context: int = 1024
    tie_weights: bool = True

    def __post_init__(self) -> None:
        for key in ("layers", "dim", "heads", "max_context"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelConfigError(
                    f"transformer option {key} must be a positive int, got {value!r}"
                )
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ModelConfigError(
                f"transformer dim ({self.dim}) / heads ({self.heads}) must "
                "be a whole, even head size (rotary embeddings)"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"transformer dropout must be in [0, 1), got {self.dropout!r}")
        if self.mlp_ratio <= 0:
            raise ModelConfigError(f"transformer mlp_ratio must be > 0, got {self.mlp_ratio!r}")


class KVCache(NamedTuple):
    """Decoding state: per-layer keys and values [B, heads, position, head_dim]."""

    keys: tuple[Tensor, ...]
    values: tuple[Tensor, ...]
    position: int  # tokens seen so far == absolute position of the next token


class SelfAttention(nn.Module):
    """Causal multi-head self-attention with rotary positions and an optional cache."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, past: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x [B, T, D], cos/sin [T, hd/2], past (k, v) [B, h, P, hd] -> ([B, T, D], (k, v))."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # [B, h, T, hd]
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        p = 0
        if past is not None:
            p = past[0].shape[2]
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)  # [B,h,P+T,hd]
        mask, causal = None, t > 1 and p == 0
        if t > 1 and p > 0:  # query i (absolute p + i) sees keys 0..p + i
            mask = torch.ones(t, p + t, dtype=torch.bool, device=x.device).tril(diagonal=p)
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # [B, h, T, hd]
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.resid_dropout(self.out(y)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.dim)
        self.attn = SelfAttention(config.dim, config.heads, config.dropout)
        self.mlp_norm = RMSNorm(config.dim)
        self.mlp = MLP(config.dim, int(config.dim * config.mlp_ratio), config.dropout)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, past: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x [B, T, D] -> ([B, T, D], this layer's (k, v) including `past`)."""
        a, kv = self.attn(self.attn_norm(x), cos, sin, past)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), kv


@register_model("transformer")
class TransformerLanguageModel(SequenceModel):
    """Decoder-only transformer language model with a key/value cache.

    `forward(tokens)` (state None) is the training pass and returns state None: windows
    are independent. `forward(tokens, cache)` extends a cache by a chunk (prompt prefill);
    `step` extends it by one token.
    """

    config_class = TransformerConfig

    def __init__(self, vocab_size: int, config: TransformerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TransformerConfig()
        self.vocab_size, self.max_context = vocab_size, config.max_context
        self.embed = TokenEmbedding(vocab_size, config.dim, config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = RMSNorm(config.dim)
        self.head = nn.Linear(config.dim, vocab_size, bias=False)
        cos, sin = rotary_tables(config.dim // config.heads, config.max_context)
        self.register_buffer("rope_cos", cos, persistent=False)  # [max_context, hd/2]
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        if config.tie_weights:
            self.head.weight = self.embed.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, tokens: Tensor, state: KVCache | None = None
    ) -> tuple[Tensor, KVCache | None]:
        """tokens [B, T] (+ cache) -> (logits [B, T, V], extended cache or None)."""
        start = 0 if state is None else state.position
        end = start + tokens.shape[1]
        if end > self.config.max_context:
            raise ValueError(
                f"sequence of {end} tokens exceeds the transformer's max_context "
                f"of {self.config.max_context}; start a new state with fewer tokens"
            )
        cos, sin = self.rope_cos[start:end], self.rope_sin[start:end]  # [T, hd/2]
        x = self.embed(tokens)  # [B, T, D]
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            past = None if state is None else (state.keys[i], state.values[i])
            x, (k, v) = block(x, cos, sin, past)
            keys.append(k)
            values.append(v)
        logits = self.head(self.norm(x))  # [B, T, V]
        if state is None:
            return logits, None
        return logits, KVCache(tuple(keys), tuple(values), end)

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> KVCache:
        """Empty cache: per-layer keys/values [B, heads, 0, head_dim], position 0."""
        weight = self.head.weight
        c = self.config
        empty = torch.zeros(
            batch_size,
            c.heads,
            0,
            c.dim // c.heads,
            device=device or weight.device,
            dtype=weight.dtype,
        )
        return KVCache((empty,) * c.layers, (empty,) * c.layers, 0)

    def select_state(self, state: KVCache, index: Tensor) -> KVCache:
        """Select batch rows `index` [B'] of every cached key/value tensor."""

        def pick(ts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return tuple(t.index_select(0, index.to(t.device)) for t in ts)

        return KVCache(pick(state.keys), pick(state.values), state.position)
