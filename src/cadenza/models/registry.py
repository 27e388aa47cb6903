"""Name -> model class registry: `@register_model("rnn")` and `build_model("rnn", 64, ...)`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from .base import ModelConfigError, SequenceModel

M = TypeVar("M", bound=type[SequenceModel])

MODELS: dict[str, type[SequenceModel]] = {}
"""Every registered model class, by name."""


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator: register a `SequenceModel` subclass under `name`."""

    def decorate(cls: M) -> M:
        if name in MODELS:
            raise ValueError(f"model name {name!r} is already registered by {MODELS[name]}")
        if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
            raise TypeError(f"{cls.__name__} must set `config_class` to a dataclass")
        cls.model_name = name
        MODELS[name] = cls
        return cls

    return decorate


def model_options(name: str) -> list[str]:
    """The option names accepted by model `name` (the fields of its config dataclass)."""
    return [f.name for f in dataclasses.fields(_lookup(name).config_class)]


def _lookup(name: str) -> type[SequenceModel]:
    try:
        return MODELS[name]
    except KeyError:
        choices = ", ".join(sorted(MODELS))
        raise ModelConfigError(f"unknown model {name!r}; choose from: {choices}") from None


def build_model_for(name: str, spec: Any, vocab_size: int, **config: Any) -> SequenceModel:
    """Build model ``name`` for the main field of a codec spec: a vocabulary of
    ``vocab_size`` ids for token fields, the width of a step for frame fields. A model
    that reads another kind of field than the codec produces is refused."""
    cls = _lookup(name)
    field = spec.main
    if cls.inputs != field.kind:
        raise ModelConfigError(f"model {name!r} reads {cls.inputs}, but this codec produces "
                               f"{field.kind} ({field.name}); choose a model for {field.kind}")
    size = vocab_size if field.kind == "tokens" else int(field.shape[0])
    return build_model(name, size, **config)


def build_model(name: str, vocab_size: int, **config: Any) -> SequenceModel:
    """Build the registered model `name` for `vocab_size` tokens with its config options.

    Raises `ModelConfigError` (a `ValueError`) for an unknown name, an unknown option
    (listing the accepted ones) or a bad option value.
    """
    cls = _lookup(name)
    accepted = model_options(name)
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ModelConfigError(
            f"unknown option(s) for model {name!r}: {', '.join(unknown)}; "
            f"accepted: {', '.join(accepted)}"
        )
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ModelConfigError(f"vocab_size must be a positive int, got {vocab_size!r}")
    return cls(vocab_size, cls.config_class(**config))
