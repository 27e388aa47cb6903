"""Numbers checked at the edge: every numeric option, ``--set`` key and settings file value
goes through :func:`check_number`, so NaN, infinities and out-of-range values stop with
one clear line before they reach a model, a schedule or a file.

The argparse types below (:func:`int_option`, :func:`float_option`) use the same check,
so a bad flag is refused while the command line is parsed.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import Any

from cadenza.errors import ConfigError

SEED_MAX = 2**63 - 1  # torch.manual_seed takes any 64-bit value; numpy any non-negative


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None,
                 *, low_open: bool = False, high_open: bool = False,
                 integer: bool = False) -> Any:
    """``value`` if it is a finite number within the bounds; else a ConfigError naming
    ``name``. ``low_open``/``high_open`` exclude the bound itself."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ConfigError(f"{name} must be {_bounds(low, high, low_open, high_open)}, "
                          f"got {value}")
    return value


def _bounds(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    return f"{'<' if high_open else '<='} {high:g}"


def check_optional(name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
    """:func:`check_number` for a value that may be None (None passes)."""
    return None if value is None else check_number(name, value, *args, **kwargs)


def int_option(low: int | None = None, high: int = 2**62,
               name: str = "value") -> Callable[[str], int]:
    """An argparse ``type`` for a whole number within [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        return _as_argument(lambda: check_number(name, value, low, high, integer=True))

    parse.__name__ = "whole number"
    return parse


def float_option(low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False,
                 name: str = "value") -> Callable[[str], float]:
    """An argparse ``type`` for a finite number within the bounds."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        return _as_argument(lambda: check_number(name, value, low, high, low_open=low_open,
                                                 high_open=high_open))

    parse.__name__ = "number"
    return parse


def _as_argument(check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ConfigError as err:  # argparse names the option itself
        raise argparse.ArgumentTypeError(str(err).removeprefix("value ")) from None


SEED = int_option(0, SEED_MAX)

_METER = re.compile(r"^(\d{1,3})/(\d{1,3})$")


def check_meter(name: str, text: str | None) -> str | None:
    """A meter such as ``3/4``: numerator 1..255, denominator a power of two up to 128."""
    if text is None:
        return None
    match = _METER.match(text.strip())
    if match:
        numerator, denominator = int(match[1]), int(match[2])
        if valid_meter(numerator, denominator):
            return f"{numerator}/{denominator}"
    raise ConfigError(f"{name} must be a meter such as 4/4 or 3/4 (numerator 1..255, "
                      f"denominator 1, 2, 4, ... 128) or none, got {text!r}")


def valid_meter(numerator: int, denominator: int) -> bool:
    return 1 <= numerator <= 255 and 1 <= denominator <= 128 and \
        denominator & (denominator - 1) == 0
