"""Parameter matching: the size of each model that meets one parameter budget.

Each registered model has one size option (an RNN's ``hidden``, a transformer's
``dim``); the parameter count grows with it, so the matching size is found by
bisection over the valid sizes (a transformer's ``dim`` must split into even heads).
Where the steps of the main option are too coarse for the tolerance, a finer one is
searched next (an RNN's ``embedding``, a transformer's ``mlp_ratio``).
Models are built on the ``meta`` device: no memory is spent on counting.
"""

from __future__ import annotations

from typing import Any

import torch

from cadenza.errors import ConfigError
from cadenza.models import MODELS, ModelConfigError, build_model, count_parameters

SIZE_KEYS = {"rnn": ("hidden", "embedding"), "bilstm": ("hidden", "embedding"),
             "transformer": ("dim", "mlp_ratio")}
"""The options each model is sized by: the main one, then a finer one."""

MAX_SIZE = 4096


def size_keys(name: str) -> tuple[str, ...]:
    """The options model ``name`` is sized by; a model the study cannot size is refused."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from: {', '.join(sorted(MODELS))}")
    if name not in SIZE_KEYS:
        raise ConfigError(f"model {name!r} cannot be sized for a study; choose from: "
                          f"{', '.join(SIZE_KEYS)}")
    return SIZE_KEYS[name]


def parameters(name: str, vocab_size: int, options: dict[str, Any]) -> int:
    """The parameter count of model ``name`` with ``options`` (built on ``meta``)."""
    with torch.device("meta"):
        return count_parameters(build_model(name, vocab_size, **options))


def _valid(name: str, options: dict[str, Any], key: str, size: int) -> bool:
    try:
        MODELS[name].config_class(**{**options, key: size})
    except ModelConfigError:
        return False
    return True


def _candidates(options: dict[str, Any], key: str) -> list[Any]:
    """The values of ``key`` to search: whole sizes, or for a transformer's
    ``mlp_ratio`` every ratio that gives a whole MLP width up to 16 x ``dim``."""
    if key == "mlp_ratio":
        dim = options["dim"]
        return [(width + 0.5) / dim for width in range(1, 16 * dim + 1)]
    return list(range(1, MAX_SIZE + 1))


def _nearest(name: str, vocab_size: int, options: dict[str, Any], key: str,
             target: int) -> dict[int, int]:
    """Parameter counts of the (at most two) valid sizes of ``key`` around ``target``."""
    sizes = [s for s in _candidates(options, key) if _valid(name, options, key, s)]
    if not sizes:
        raise ConfigError(f"model {name!r}: no valid {key} with options {options}")
    low, high = 0, len(sizes) - 1  # bisect for the first size whose count >= target
    while low < high:
        mid = (low + high) // 2
        if parameters(name, vocab_size, {**options, key: sizes[mid]}) < target:
            low = mid + 1
        else:
            high = mid
    return {s: parameters(name, vocab_size, {**options, key: s})
            for s in sizes[max(low - 1, 0):low + 1]}


def match_size(name: str, vocab_size: int, options: dict[str, Any], target: int,
               tolerance: float = 0.05) -> tuple[dict[str, Any], int]:
    """The options of ``name`` with its size option set so that its parameter count is
    the closest to ``target``, and that count. Where no size of the main option comes
    within ``tolerance`` (a share of ``target``), a model with a second, finer option
    (an RNN's ``embedding``) has it searched too, at the two nearest main sizes. A
    budget nothing meets is a ConfigError naming the nearest counts."""
    key, *fine = size_keys(name)
    options = {k: v for k, v in options.items() if k != key}
    near = _nearest(name, vocab_size, options, key, target)
    best = {**options, key: min(near, key=lambda s: abs(near[s] - target))}
    count = parameters(name, vocab_size, best)
    if abs(count - target) > tolerance * target and fine:
        for size in near:
            base = {k: v for k, v in options.items() if k != fine[0]} | {key: size}
            for value, found in _nearest(name, vocab_size, base, fine[0], target).items():
                if abs(found - target) < abs(count - target):
                    best, count = {**base, fine[0]: value}, found
    if abs(count - target) > tolerance * target:
        raise ConfigError(f"impossible parameter budget {target} for model {name!r} "
                          f"(within {tolerance:.0%}): the nearest sizes give "
                          f"{', '.join(f'{key}={s}: {c}' for s, c in near.items())}")
    return best, count
