"""The contract every sequence model follows, plus small helpers shared by all of them.

A model maps token ids to next-token logits and knows tensors only: no files, losses,
sampling or codecs live here. Recurrent state (RNN hidden state, transformer key/value
cache) is an explicit value passed in and returned, never mutated in place, so a caller
may keep an old state around (beam search, sampling with restarts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from cadenza.errors import ConfigError

State = Any
"""A model-specific state: a tensor, or a (nested) tuple of tensors and ints."""


class ModelConfigError(ConfigError, ValueError):
    """A bad model name, option or option value (a `ValueError` and a `ConfigError`)."""


class SequenceModel(nn.Module, ABC):
    """The autoregressive contract: a model over token ids (or frames, ``inputs =
    "frames"``) that predicts the next step, with an explicit state for incremental
    decoding (``init_state``, ``step``, ``select_state``). Search, continuation and
    cached decoding need this contract; a whole-sequence model (bidirectional, VAE)
    keeps :class:`WholeSequenceModel` instead and never fakes a ``step``.

    Subclasses set `config_class` (a dataclass of options) and are built by
    `cadenza.models.build_model`; `model_name` is filled in by `register_model`.
    """

    contract: ClassVar[str] = "autoregressive"
    inputs: ClassVar[str] = "tokens"  # the kind of codec field it reads
    model_name: ClassVar[str] = ""
    config_class: ClassVar[type]
    vocab_size: int
    max_context: int | None = None  # None: unbounded (RNNs); else max positions

    @abstractmethod
    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits for every position of `tokens` [B, T] -> ([B, T, V], new state).

        `state=None` starts from scratch. The returned state continues the sequence
        (feed it, detached, into the next window for truncated backprop through time).
        """

    @abstractmethod
    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """The empty state for `batch_size` sequences, for incremental decoding."""

    @abstractmethod
    def select_state(self, state: State, index: Tensor) -> State:
        """Keep/reorder the batch rows of `state` given by `index` [B'] (beam search)."""

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """One decoding step: tokens [B] -> (logits [B, V], new state)."""
        logits, new_state = self.forward(tokens[:, None], state)  # [B, 1, V]
        return logits[:, 0], new_state

    def detach_state(self, state: State) -> State:
        """The same state cut from the autograd graph (truncated backprop through time)."""
        return map_tensors(state, lambda t: t.detach())


class WholeSequenceModel(nn.Module):
    """The whole-sequence contract: the model sees every step at once (bidirectional
    infilling, VAEs) and has no incremental state. Its objective says how it is used."""

    contract: ClassVar[str] = "whole-sequence"
    inputs: ClassVar[str] = "tokens"
    model_name: ClassVar[str] = ""
    config_class: ClassVar[type]


def map_tensors(state: State, fn: Any) -> State:
    """Apply `fn` to every tensor in a (nested) tuple/list state; other leaves unchanged."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(map_tensors(s, fn) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(map_tensors(s, fn) for s in state)
    return state


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
