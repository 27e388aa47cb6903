"""Sampling a six-head note model, note by note, from nothing or from a seed.

Each step reads the last note's codes and gives six heads for the next note. A
categorical head is sampled with its own temperature (``head_temperature``, else the
overall one); a regression head (the ``notes-tutorial`` variant) gives its prediction,
rounded to the nearest code, as the source did. The interval is never sampled: it
follows from the pitch, so the note the model reads next is exactly the note the codec
would write (the source normalised its seed but fed generated pitches back raw).

How the polyphony head becomes chords (``polyphony``):

- ``count`` (the source's way): the polyphony sampled at a chord's first note fixes how
  many notes start there; the next ones get step 0, the one after a step above 0.
- ``step``: the step head alone decides (step 0 joins the chord). A note's polyphony is
  only known once its chord is complete; the chord is then fed again, corrected, from
  the state where it began, so the state always matches the encoding of what was written.
- ``mono``: one note at a time (polyphony 0, steps above 0).

Within a chord pitches rise, the codec's order. ``scale`` (a :class:`Scale` over the 128
pitches) masks the pitch head. Every row is sampled on its own (one note per model step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cadenza.codecs.notes import (
    DURATION,
    FEATURES,
    INTERVAL,
    INTERVAL_ZERO,
    MAX_POLYPHONY,
    PITCH,
    POLYPHONY,
    STEP,
    VELOCITY,
)
from cadenza.errors import ConfigError
from cadenza.generate.processors import Scale
from cadenza.models.heads import is_regression, split_heads

MODES = ("count", "step", "mono")
SAMPLED = tuple(f for f in FEATURES if f != "interval")


@dataclass
class NoteSampling:
    """How to sample: an overall temperature, per-head ones, the polyphony mode, a scale."""

    temperature: float = 1.0
    head_temperature: dict[str, float] = field(default_factory=dict)
    polyphony: str = "count"
    scale: Scale | None = None

    def __post_init__(self) -> None:
        if self.polyphony not in MODES:
            raise ConfigError(f"--polyphony must be one of {', '.join(MODES)}, "
                              f"got {self.polyphony!r}")
        for name, value in {"": self.temperature, **self.head_temperature}.items():
            if name and name not in SAMPLED:
                raise ConfigError(f"--head-temperature: no sampled head {name!r}; choose from "
                                  f"{', '.join(SAMPLED)} (the interval follows from the pitch)")
            if not value > 0:
                raise ConfigError(f"temperature must be > 0, got {value}")

    def temperature_of(self, feature: str) -> float:
        return self.head_temperature.get(feature, self.temperature)


def parse_head_temperature(text: str | None) -> dict[str, float]:
    """``pitch=0.8,step=1.0`` -> ``{"pitch": 0.8, "step": 1.0}``."""
    out: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--head-temperature {text!r}: expected HEAD=NUMBER pairs "
                              "separated by commas (pitch=0.8,step=1.0)") from None
    return out


def sample_head(logits: Tensor, temperature: float, generator: torch.Generator) -> int:
    """One draw from ``softmax(logits / temperature)`` (logits [classes])."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def generate_notes(model: Any, codec: Any, notes: int, settings: NoteSampling,
                   seed_codes: np.ndarray | None = None, n: int = 1,
                   seed: int | None = None) -> list[np.ndarray]:
    """``n`` rows of codes [len(seed) + notes, 6]: the seed, then ``notes`` new notes."""
    generator = torch.Generator().manual_seed(seed if seed is not None else
                                              int(torch.randint(1 << 62, ()).item()))
    seed_codes = np.zeros((0, len(FEATURES)), np.int64) if seed_codes is None else seed_codes
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return [_one(model, codec, notes, settings, np.asarray(seed_codes, np.int64),
                         generator) for _ in range(n)]
    finally:
        model.train(was_training)


class _Row:
    """One piece being written: its codes, the model state, the open chord."""

    def __init__(self, model: Any, seed_codes: np.ndarray) -> None:
        self.model = model
        self.codes: list[np.ndarray] = []
        state = model.init_state(1)
        out, state = model.step(torch.zeros(1, len(FEATURES)), state)  # the start frame
        self.group_start, self.group_state = 0, state
        self.out, self.state = out, state
        for code in seed_codes:
            self.add(code)

    def add(self, code: np.ndarray) -> None:
        """Feed one note; a step above 0 closes the open chord first."""
        if self.codes and code[STEP] > 0:
            self.close_group()
            self.group_start, self.group_state = len(self.codes), self.state
        self.codes.append(np.array(code, dtype=np.int64))
        self.out, self.state = self.model.step(_tensor(code), self.state)

    def close_group(self) -> None:
        """Give the open chord its true polyphony; feed it again if that changed it."""
        group = self.codes[self.group_start:]
        true = min(len(group) - 1, MAX_POLYPHONY)
        if all(c[POLYPHONY] == true for c in group):
            return
        state = self.group_state
        for c in group:
            c[POLYPHONY] = true
            out, state = self.model.step(_tensor(c), state)
        self.out, self.state = out, state

    @property
    def open_size(self) -> int:
        return len(self.codes) - self.group_start


def _tensor(code: np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(code, dtype=np.float32))[None]


def _one(model: Any, codec: Any, notes: int, settings: NoteSampling, seed_codes: np.ndarray,
         generator: torch.Generator) -> np.ndarray:
    sizes = tuple(model.head_sizes)
    row = _Row(model, seed_codes)
    allowed_pitch = torch.ones(128, dtype=torch.bool)
    if settings.scale is not None:
        allowed_pitch = ~settings.scale.outside[:128]
    # above[p]: allowed pitches above p (a chord must leave room for its other notes)
    above = allowed_pitch.flip(0).long().cumsum(0).flip(0) - allowed_pitch.long()
    cap = codec.time_classes - 1
    for _ in range(notes):
        heads = split_heads(row.out[0], sizes)
        code = np.zeros(len(FEATURES), dtype=np.int64)
        first = not row.codes
        last = row.codes[-1] if row.codes else None
        # how many more notes the open chord needs (count mode), from its polyphony code
        owed = 0 if first else max(int(last[POLYPHONY]) + 1 - row.open_size, 0)
        if settings.polyphony == "count" and owed:
            code[STEP], code[POLYPHONY] = 0, last[POLYPHONY]
        else:
            if settings.polyphony == "mono":
                code[POLYPHONY] = 0
            else:
                code[POLYPHONY] = _draw(heads, POLYPHONY, sizes, settings, generator,
                                        None, (0, MAX_POLYPHONY), codec)
            apart = not first and settings.polyphony != "step"  # a new chord: step > 0
            code[STEP] = _draw(heads, STEP, sizes, settings, generator,
                               _no_zero(sizes[STEP]) if apart else None, (int(apart), cap),
                               codec)
        joins = not first and code[STEP] == 0
        pitch_mask = allowed_pitch.clone()
        if joins:  # pitches rise within a chord
            pitch_mask[: int(last[PITCH]) + 1] = False
        if joins and not bool(pitch_mask.any()):  # no room above: a new chord begins
            code[STEP] = max(1, int(code[STEP]))
            joins, pitch_mask = False, allowed_pitch.clone()
        if settings.polyphony == "count" and not joins:
            # a chord's first note leaves room above it for the chord's other notes
            code[POLYPHONY] = min(int(code[POLYPHONY]), int(above[allowed_pitch].max()))
            pitch_mask &= above >= int(code[POLYPHONY])
        elif settings.polyphony == "count" and bool((pitch_mask & (above >= owed - 1)).any()):
            pitch_mask &= above >= owed - 1
        code[PITCH] = _draw(heads, PITCH, sizes, settings, generator, pitch_mask, (0, 127),
                            codec)
        code[DURATION] = _draw(heads, DURATION, sizes, settings, generator,
                               _no_zero(sizes[DURATION]), (1, cap), codec)
        code[VELOCITY] = _draw(heads, VELOCITY, sizes, settings, generator,
                               _no_zero(sizes[VELOCITY]), (1, 127), codec)
        code[INTERVAL] = INTERVAL_ZERO if first else code[PITCH] - last[PITCH] + INTERVAL_ZERO
        row.add(code)
    row.close_group()
    out = np.stack(row.codes) if row.codes else np.zeros((0, len(FEATURES)), np.int64)
    return out.astype(np.uint16)


def _no_zero(size: int) -> Tensor | None:
    if is_regression(size):
        return None
    mask = torch.ones(size, dtype=torch.bool)
    mask[0] = False
    return mask


def _draw(heads: list[Tensor], feature: int, sizes: tuple[int, ...], settings: NoteSampling,
          generator: torch.Generator, mask: Tensor | None, bounds: tuple[int, int],
          codec: Any) -> int:
    """A code for ``feature``: sampled from its logits (masked, with its temperature), or
    the regression head's value turned back into a code, kept in ``bounds`` and ``mask``."""
    out, low, high = heads[feature], bounds[0], bounds[1]
    if is_regression(sizes[feature]):
        code = int(np.clip(round(_code_of_value(float(out), feature, codec)), low, high))
        if mask is not None and not bool(mask[code]):
            allowed = torch.nonzero(mask)[:, 0]
            code = int(allowed[torch.argmin((allowed - code).abs())])
        return code
    logits = out if mask is None else out.masked_fill(~mask[: len(out)], float("-inf"))
    return sample_head(logits, settings.temperature_of(FEATURES[feature]), generator)


def _code_of_value(value: float, feature: int, codec: Any) -> float:
    """A regression head's value (the multihead objective's units) as a code."""
    if feature in (STEP, DURATION):
        return value * codec.steps_per_unit
    return value + INTERVAL_ZERO if feature == INTERVAL else value
