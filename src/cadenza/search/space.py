"""A search space: config keys (as for ``--set``) and the values each may take.

::

    [params]
    "model.cell" = { choices = ["lstm", "gru"] }          # categorical
    "model.hidden" = { low = 64, high = 512, log = true }  # integers (both ends whole)
    "train.lr" = { low = 3e-4, high = 1e-2, log = true }   # floats
    [first]                                                # tried first (optional)
    "model.hidden" = 256
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cadenza.errors import ConfigError


@dataclass
class Param:
    """One searched key: ``choices``, or a range ``low``..``high``."""

    key: str
    choices: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = None

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial proposes for this key."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, self.choices)
        if self.integer:
            return trial.suggest_int(self.key, self.low, self.high, log=self.log,
                                     step=self.step or 1)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)


@dataclass
class Space:
    """The searched keys and the setting to try first (may be empty)."""

    params: list[Param]
    first: dict[str, Any] = field(default_factory=dict)

    def suggest(self, trial: Any) -> list[str]:
        """The trial's setting as ``--set`` overrides."""
        return [f"{p.key}={_text(p.suggest(trial))}" for p in self.params]


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def space_names() -> list[str]:
    folder = resources.files("cadenza").joinpath("search", "spaces")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_space(name_or_path: str | Path) -> Space:
    """A shipped space by name (``chorale-lm``) or a TOML file; a bad one is a
    ConfigError naming it."""
    from cadenza.train.config import load_toml

    data = load_toml(name_or_path, ("search", "spaces"), "search space", space_names)
    return _parse(data, f"search space {name_or_path}")


def _parse(data: dict[str, Any], where: str) -> Space:
    unknown = sorted(set(data) - {"params", "first"})
    if unknown or not isinstance(data.get("params"), dict) or not data["params"]:
        raise ConfigError(f"{where}: expected a non-empty [params] table and an optional "
                          f"[first] table{f', not {unknown}' if unknown else ''}")
    params = [_param(key, spec, where) for key, spec in data["params"].items()]
    first = data.get("first", {})
    if not isinstance(first, dict):
        raise ConfigError(f"{where}: [first] must be a table of key = value")
    keys = {p.key for p in params}
    if set(first) - keys:
        raise ConfigError(f"{where}: [first] sets keys outside [params]: "
                          f"{', '.join(sorted(set(first) - keys))}")
    return Space(params, dict(first))


def _param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict) or not set(spec) <= {"choices", "low", "high", "log", "step"}:
        raise ConfigError(f"{where}: {key} must be {{ choices = [...] }} or "
                          "{ low = ..., high = ..., log = ..., step = ... }")
    if "choices" in spec:
        if not isinstance(spec["choices"], list) or not spec["choices"]:
            raise ConfigError(f"{where}: {key}.choices must be a non-empty list")
        return Param(key, choices=list(spec["choices"]))
    low, high = spec.get("low"), spec.get("high")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or low > high or (spec.get("log") and low <= 0):
        raise ConfigError(f"{where}: {key} needs numbers low <= high (low > 0 with log)")
    return Param(key, low=low, high=high, log=bool(spec.get("log", False)),
                 step=spec.get("step"))
