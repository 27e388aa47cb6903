"""Logits processors: pure functions ``(logits, context) -> logits`` composed in a list.

Filters follow the usual definitions (as in Hugging Face's ``LogitsProcessor``s):
temperature divides the logits, top-k keeps the k largest, top-p keeps the smallest
set whose probability reaches p (Holtzman et al., 2020), min-p keeps tokens whose
probability is at least ``p`` times the top token's (Nguyen et al., 2024). A removed
token gets ``-inf``; every filter keeps at least the most likely token.

A processor that needs per-row memory (a grammar) also has ``init_state``,
``advance`` and ``select_state``; the decoder keeps that memory in
``Context.states[processor.name]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from cadenza.errors import ConfigError


@dataclass
class Context:
    """What a processor may look at: ids so far [B, T], the step, per-row states."""

    ids: Tensor
    step: int = 0
    states: dict[str, Any] = field(default_factory=dict)


LogitsProcessor = Callable[[Tensor, Context], Tensor]


@runtime_checkable
class Constraint(Protocol):
    """A processor with per-row state, advanced by the decoder after every token."""

    name: str

    def __call__(self, logits: Tensor, context: Context) -> Tensor: ...

    def init_state(self, batch_size: int) -> Any: ...

    def advance(self, state: Any, tokens: Tensor) -> Any: ...

    def select_state(self, state: Any, index: Tensor) -> Any: ...


PROCESSORS: dict[str, Callable[..., LogitsProcessor]] = {}


def register_processor(name: str) -> Callable[[type], type]:
    """Class decorator adding a processor to the registry under ``name``."""

    def add(cls: type) -> type:
        PROCESSORS[name] = cls
        return cls

    return add


def apply(processors: Iterable[LogitsProcessor], logits: Tensor, context: Context) -> Tensor:
    """Run ``logits`` [B, V] through each processor in turn."""
    for processor in processors:
        logits = processor(logits, context)
    return logits


@register_processor("temperature")
@dataclass
class Temperature:
    """Divide the logits by ``value`` (> 0): below 1 sharpens, above 1 flattens."""

    value: float

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise ConfigError(f"temperature must be > 0, got {self.value}")

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        return logits if self.value == 1.0 else logits / self.value


@register_processor("top_k")
@dataclass
class TopK:
    """Keep the ``k`` most likely tokens of each row."""

    k: int

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"top-k must be >= 1, got {self.k}")

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        if self.k >= logits.shape[-1]:
            return logits
        kth = torch.topk(logits, self.k, dim=-1).values[..., -1:]
        return logits.masked_fill(logits < kth, float("-inf"))


@register_processor("top_p")
@dataclass
class TopP:
    """Keep the smallest set of most likely tokens whose probability reaches ``p``."""

    p: float

    def __post_init__(self) -> None:
        if not 0 < self.p <= 1:
            raise ConfigError(f"top-p must be in (0, 1], got {self.p}")

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        if self.p >= 1.0:
            return logits
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # drop a token when the tokens before it already reach p
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= self.p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, float("-inf"))


@register_processor("min_p")
@dataclass
class MinP:
    """Keep tokens whose probability is at least ``p`` times the top token's."""

    p: float

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ConfigError(f"min-p must be in [0, 1], got {self.p}")

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        if self.p <= 0:
            return logits
        probs = logits.softmax(dim=-1)
        threshold = probs.max(dim=-1, keepdim=True).values * self.p
        return logits.masked_fill(probs < threshold, float("-inf"))


@register_processor("group_temperature")
@dataclass
class GroupTemperature:
    """Temperature inside one group of tokens, keeping the group's total probability.

    ``ids`` name the group. Within it the logits are divided by ``value``; then the
    group is shifted so its share of the probability mass is what the model gave it.
    For chorales the group is the note onsets: the pitch of a new note is sharpened
    while the choice of *whether* a voice moves (onset or tie, hence the rhythm) keeps
    the model's own odds. A plain temperature cannot do this: below 1 it also favours
    the likelier tie and makes the music static.
    """

    value: float
    ids: Tensor

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise ConfigError(f"group temperature must be > 0, got {self.value}")
        self.ids = torch.as_tensor(self.ids, dtype=torch.long)

    def __call__(self, logits: Tensor, context: Context) -> Tensor:
        if self.value == 1.0 or not len(self.ids):
            return logits
        ids = self.ids.to(logits.device)
        group = logits[..., ids].float()
        mass = torch.logsumexp(group, dim=-1, keepdim=True)  # the group's log-share
        scaled = group / self.value
        scaled = scaled - torch.logsumexp(scaled, dim=-1, keepdim=True) + mass
        out = logits.clone()
        # a row whose group is all -inf (forbidden here) is left as it was
        out[..., ids] = torch.where(torch.isfinite(mass), scaled, group).to(logits.dtype)
        return out


def build_processor(name: str, *args: Any, **kwargs: Any) -> LogitsProcessor:
    """Instantiate a registered processor by name."""
    if name not in PROCESSORS:
        raise ConfigError(
            f"unknown logits processor {name!r}; choose from: {', '.join(sorted(PROCESSORS))}"
        )
    return PROCESSORS[name](*args, **kwargs)


def sampling_processors(
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    pitch_temperature: float | None = None,
    onset_ids: Sequence[int] | Tensor | None = None,
) -> list[LogitsProcessor]:
    """The usual chain: temperature, then top-k, top-p and min-p (each only if set).

    ``pitch_temperature`` (with the vocabulary's ``onset_ids``) adds a
    `GroupTemperature` over note onsets first: sharper pitch choices, same rhythm.
    """
    chain: list[LogitsProcessor] = []
    if pitch_temperature is not None and pitch_temperature != 1.0:
        if onset_ids is None:
            raise ConfigError("pitch temperature needs a vocabulary with note onsets")
        chain.append(build_processor("group_temperature", pitch_temperature, onset_ids))
    if temperature != 1.0:
        chain.append(build_processor("temperature", temperature))
    for name, value in (("top_k", top_k), ("top_p", top_p), ("min_p", min_p)):
        if value is not None:
            chain.append(build_processor(name, value))
    return chain


def constraints(processors: Sequence[LogitsProcessor]) -> list[Constraint]:
    """The processors in ``processors`` that keep per-row state."""
    return [p for p in processors if isinstance(p, Constraint)]


SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),  # natural minor
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic-minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
TONICS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def parse_scale(text: str) -> tuple[int, ...]:
    """The pitch classes of ``TONIC:MODE`` (``D:minor``, ``F#:major``, ``Bb:dorian``)."""
    tonic, _, mode = text.partition(":")
    tonic, mode = tonic.strip(), (mode.strip() or "major").lower()
    letter = tonic[:1].upper()
    accidentals = tonic[1:]
    if letter not in TONICS or accidentals not in ("", "#", "b", "##", "bb"):
        raise ConfigError(f"--scale {text!r}: the tonic must be a note name such as C, F# or "
                          "Bb, then a colon and a mode (D:minor)")
    if mode not in SCALES:
        raise ConfigError(f"--scale {text!r}: unknown mode {mode!r}; choose from: "
                          f"{', '.join(SCALES)}")
    root = (TONICS[letter] + accidentals.count("#") - accidentals.count("b")) % 12
    return tuple(sorted((root + step) % 12 for step in SCALES[mode]))


@register_processor("scale")
class Scale:
    """Allow only pitches of a scale: ids whose pitch is outside it get ``-inf``.

    ``pitches[id]`` is the MIDI pitch of each id, ``-1`` for ids without one (the
    codec's ``pitch_of_code`` through the vocabulary: START, delimiters, rests are left
    alone), so the same processor serves a token model's vocabulary and a note model's
    pitch head (where id = pitch).
    """

    def __init__(self, pitch_classes: Sequence[int], pitches: Sequence[int] | Tensor) -> None:
        pitches = torch.as_tensor(pitches, dtype=torch.long)
        allowed_classes = torch.zeros(12, dtype=torch.bool)
        allowed_classes[list(pitch_classes)] = True
        self.outside = (pitches >= 0) & ~allowed_classes[pitches.clamp(min=0) % 12]
        if bool(self.outside.all()):
            raise ConfigError("the scale leaves no pitch to choose from")

    @classmethod
    def for_vocab(cls, text: str, vocab: Any, codec: Any) -> Scale:
        """The scale ``text`` over a token vocabulary (pitches from the codec)."""
        if not hasattr(codec, "pitch_of_code"):
            raise ConfigError(f"--scale: the {codec.name} codec does not say which tokens "
                              "are pitches")
        pitches = [codec.pitch_of_code(int(c)) if c >= 0 else None for c in vocab.codes]
        return cls(parse_scale(text), [-1 if p is None else p for p in pitches])

    def __call__(self, logits: Tensor, context: Context | None = None) -> Tensor:
        return logits.masked_fill(self.outside.to(logits.device), float("-inf"))
