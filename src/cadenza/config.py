"""Configs are dataclasses, one per stage; this module reads, overrides and saves them.

Overrides are ``--set path.to.field=value``, converted to the field's declared type
and refused with a clear error for unknown keys or values of the wrong type.
Defaults live only in the dataclass fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from cadenza.corpus.preprocess import PreprocessConfig
from cadenza.errors import ConfigError
from cadenza.score import DEFAULT_TPQ
from cadenza.validate import SEED_MAX, check_meter, check_number

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass
class DataConfig:
    """The data stage: which corpus, which codec, how pieces are prepared and split."""

    corpus: str = "bach-chorales"
    codec: str = "chorale"
    codec_options: dict[str, Any] = field(default_factory=dict)  # --set codec.X=...
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])  # train/val/test
    seed: int = 0  # decides which piece falls in which split

    @classmethod
    def for_corpus(cls, corpus: str, codec: str | None = None) -> DataConfig:
        """The settings a corpus is prepared with by default: the chorale pipeline, or
        what a benchmark corpus declares (its rolls as they are)."""
        from cadenza.codecs import CODECS
        from cadenza.corpus.benchmarks import BENCHMARKS, DATA_DEFAULTS

        if corpus not in BENCHMARKS:
            # a codec may say how pieces are prepared for it (miditok: every track, meter
            # and key as they are), so chorale-only filters do not apply to it
            own = getattr(CODECS.get(codec or "chorale"), "preprocess_defaults", None)
            return cls(corpus=corpus, codec=codec or "chorale",
                       preprocess=PreprocessConfig(**own) if own else PreprocessConfig())
        defaults = DATA_DEFAULTS
        same_codec = codec in (None, defaults["codec"])
        return cls(corpus=corpus, codec=codec or defaults["codec"],
                   codec_options=dict(defaults["codec_options"]) if same_codec else {},
                   preprocess=PreprocessConfig(**defaults["preprocess"]))

    def build_codec(self) -> Any:
        from cadenza.codecs import build_codec

        return build_codec(self.codec, **self.codec_options)

    def check(self) -> None:
        self.build_codec()
        ratios = self.split
        if len(ratios) != 3 or not all(isinstance(r, int | float) and math.isfinite(r)
                                       and r >= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
            raise ConfigError(f"split must be three ratios >= 0 summing to 1, got {ratios}")
        if not ratios[0]:
            raise ConfigError(f"split must give the training set a share, got {ratios}")
        check_number("seed", self.seed, 0, SEED_MAX, integer=True)
        check_meter("preprocess.meter", self.preprocess.meter)
        for shift in self.preprocess.augment:
            check_number("preprocess.augment", shift, -24, 24, integer=True)
        steps = self.preprocess.quantize
        if steps < 0 or (steps and DEFAULT_TPQ % steps):
            raise ConfigError(
                f"preprocess.quantize must be 0 (off) or a divisor of {DEFAULT_TPQ}, got {steps}"
            )


def apply_overrides(config: Any, overrides: list[str]) -> Any:
    """Set ``a.b=value`` entries on a (nested) dataclass in place; returns it."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        path, raw = item.split("=", 1)
        if path.strip().startswith("codec.") and hasattr(config, "codec_options"):
            _set_codec_option(config, path.strip(), raw.strip())
            continue
        target = config
        names = path.strip().split(".")
        for name in names[:-1]:
            target = _child(target, name, path)
        name = names[-1]
        hints = typing.get_type_hints(type(target))
        if name not in hints or not dataclasses.is_dataclass(target):
            raise ConfigError(f"--set {path}: unknown key; valid keys: {', '.join(keys(config))}")
        setattr(target, name, parse_value(raw.strip(), hints[name], path))
    return config


def _set_codec_option(config: Any, path: str, raw: str) -> None:
    """``--set codec.X=value``, typed by the codec's constructor."""
    import inspect

    from cadenza.codecs import CODECS

    if config.codec not in CODECS:
        raise ConfigError(f"unknown codec {config.codec!r}; choose from: {', '.join(CODECS)}")
    cls = CODECS[config.codec]
    hints = typing.get_type_hints(cls.__init__)
    name = path.split(".", 1)[1]
    options = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    if name not in options:
        raise ConfigError(f"--set {path}: codec {config.codec!r} has no option {name!r}; "
                          f"its options: {', '.join(options)}")
    config.codec_options[name] = parse_value(raw, hints.get(name, str), path)


def _child(target: Any, name: str, path: str) -> Any:
    if not dataclasses.is_dataclass(target) or not hasattr(target, name):
        raise ConfigError(f"--set {path}: unknown key {name!r}")
    return getattr(target, name)


def keys(config: Any, prefix: str = "") -> list[str]:
    """Every settable dotted key of a nested dataclass."""
    found = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            found += keys(value, f"{prefix}{f.name}.")
        else:
            found.append(prefix + f.name)
    return found


def parse_value(raw: str, kind: Any, path: str) -> Any:
    """Convert text to ``kind`` (bool, int, float, str, lists of them, optional)."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return parse_value(raw, inner[0], path)
    try:
        if origin is list:
            text = raw.strip()
            items = json.loads(text) if text.startswith("[") else [
                x for x in text.split(",") if x.strip()
            ]
            return [parse_value(str(x), args[0], path) for x in items]
        if kind is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError
        if kind is int:
            return int(raw)
        if kind is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ConfigError(f"--set {path}={raw}: expected a finite number")
            return value
        if kind is str:
            return raw
    except (ValueError, json.JSONDecodeError):
        pass
    name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"--set {path}={raw}: expected {name}")


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) dataclass from a dict; unknown keys are an error."""
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        if name not in hints:
            raise ConfigError(f"{cls.__name__}: unknown key {name!r}")
        kind = hints[name]
        values[name] = from_dict(kind, value) if dataclasses.is_dataclass(kind) else value
    return cls(**values)
