"""The experiment config: which dataset, which model, how to train; TOML presets; overrides.

One file layout serves TOML presets and a run's ``config.json``::

    data = "path/to/dataset"          # optional in a preset (given by --data)
    [model]
    name = "rnn"                      # a registered model; the other keys are its options,
    layers = 3                        # type-checked against its config dataclass
    [train]
    lr = 2e-3                         # fields of TrainConfig

``--set model.layers=3`` is checked against the chosen model's config dataclass
(``RNNConfig``, ``TransformerConfig``, ...); ``--set model.name=transformer`` switches
model and drops the options meant for the previous one. Defaults live only in the
dataclasses; ``resolve`` fills them in, so a saved config is complete.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cadenza.config import parse_value
from cadenza.errors import ConfigError
from cadenza.models import MODELS, ModelConfigError
from cadenza.safety import read_text
from cadenza.validate import SEED_MAX, check_optional

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("step", "cosine", "constant")


@dataclass
class ModelSection:
    """A registered model's name and its options (fields of its config dataclass)."""

    name: str = "rnn"
    options: dict[str, Any] = field(default_factory=dict)

    def config_class(self) -> type:
        if self.name not in MODELS:
            raise ConfigError(f"unknown model {self.name!r}; choose from: {', '.join(MODELS)}")
        return MODELS[self.name].config_class

    def build_config(self) -> Any:
        """The model's config dataclass; unknown options or bad values are a ConfigError."""
        cls = self.config_class()
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(self.options) - set(hints))
        if unknown:
            raise ConfigError(
                f"unknown option(s) for model {self.name!r}: {', '.join(unknown)}; "
                f"accepted: {', '.join(hints)}"
            )
        values = {k: _checked(v, hints[k], f"model.{k}") for k, v in self.options.items()}
        try:
            return cls(**values)
        except ModelConfigError as err:
            raise ConfigError(str(err)) from None


@dataclass
class ObjectiveSection:
    """A registered objective's name (``auto``: the one the dataset's main field is
    trained with, next_token for tokens, multilabel for frames) and its options."""

    name: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    """How to train. ``step`` decays lr by ``decay`` every ``decay_epochs`` (BachBot);
    ``cosine`` warms up linearly for ``warmup_steps`` then follows a cosine to
    ``lr * min_lr_ratio``. ``tbptt`` trains recurrent models on consecutive windows with
    the state carried across them; otherwise windows are drawn at random (transformers).
    ``eval_every`` is in optimizer steps (0: at the end of every epoch); ``patience``
    counts evaluations without a better validation loss (0: never stop early).
    ``max_steps`` / ``max_minutes`` interrupt a run (resumable with a larger budget)."""

    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: str = "step"
    decay: float = 0.5
    decay_epochs: int = 5
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    epochs: int = 30
    batch_size: int = 50
    seq_len: int = 128
    tbptt: bool = True
    start_fraction: float = 0.25  # random windows: share that start at a piece's START
    # false: train on the untransposed pieces only, though the dataset holds transposed
    # copies (fine-tune a model that learnt from every key on the home key, C/Am)
    augmented: bool = True
    grad_clip: float = 5.0  # 0: no clipping
    grad_accum: int = 1
    eval_every: int = 0
    patience: int = 10
    min_delta: float = 0.0  # a validation loss must beat the best by more to count
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bfloat16 autocast, used only on CUDA
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    max_steps: int | None = None
    max_minutes: float | None = None
    log_every: int = 10
    progress: bool = True

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"train.optimizer must be one of {OPTIMIZERS}, "
                              f"got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"train.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for key, (low, high) in _RANGES.items():
            check_optional(f"train.{key}", getattr(self, key), low, high)
        for key, (low, high) in _OPEN_BELOW.items():
            check_optional(f"train.{key}", getattr(self, key), low, high, low_open=True)
        if self.device != "auto" and self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ConfigError(f"train.device must be auto, cpu, cuda or cuda:N, "
                              f"not {self.device!r}")


# Every number of TrainConfig and its allowed range (NaN and infinities never pass).
_RANGES = {
    "epochs": (1, 1e9), "batch_size": (1, 1 << 20), "seq_len": (1, 1 << 24),
    "grad_accum": (1, 1 << 20), "decay_epochs": (1, 1e9), "log_every": (1, 1e12),
    "eval_every": (0, 1e12), "patience": (0, 1e9), "threads": (0, 4096),
    "warmup_steps": (0, 1e12), "weight_decay": (0, 10), "min_lr_ratio": (0, 1),
    "start_fraction": (0, 1), "grad_clip": (0, 1e9), "min_delta": (0, 1e9),
    "seed": (0, SEED_MAX), "max_steps": (0, 1e15),
}
_OPEN_BELOW = {"lr": (0, 10), "decay": (0, 1), "max_minutes": (0, 1e9)}  # > low


@dataclass
class ExperimentConfig:
    """Everything a run needs: the prepared dataset folder, the model, the training."""

    data: str = ""
    model: ModelSection = field(default_factory=ModelSection)
    objective: ObjectiveSection = field(default_factory=ObjectiveSection)
    train: TrainConfig = field(default_factory=TrainConfig)

    def resolve(self) -> ExperimentConfig:
        """Check everything and fill in every model default (in place; returns self)."""
        self.train = _checked_dataclass(TrainConfig, dataclasses.asdict(self.train), "train")
        self.train.check()
        self.model.options = dataclasses.asdict(self.model.build_config())
        return self


BUDGET_KEYS = ("max_steps", "max_minutes", "progress", "threads", "device", "log_every")
"""Train fields a resumed run may change; every other field must match the saved run."""


def to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """The file layout (model options flat beside the name)."""
    return {
        "data": config.data,
        "model": {"name": config.model.name, **config.model.options},
        "objective": {"name": config.objective.name, **config.objective.options},
        "train": dataclasses.asdict(config.train),
    }


def from_dict(data: dict[str, Any], where: str = "config") -> ExperimentConfig:
    """Build (and resolve) an ExperimentConfig from the file layout."""
    unknown = sorted(set(data) - {"data", "model", "objective", "train"})
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(unknown)}; "
                          "expected data, [model], [objective], [train]")
    model = dict(data.get("model", {}))
    section = ModelSection(name=str(model.pop("name", "rnn")), options=model)
    objective = dict(data.get("objective", {}))
    goal = ObjectiveSection(name=str(objective.pop("name", "auto")), options=objective)
    train = _checked_dataclass(TrainConfig, data.get("train", {}), "train")
    config = ExperimentConfig(data=str(data.get("data", "")), model=section, objective=goal,
                              train=train)
    try:
        return config.resolve()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def preset_names() -> list[str]:
    """The presets shipped in the package (``cadenza/presets/*.toml``)."""
    folder = resources.files("cadenza").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str | Path) -> ExperimentConfig:
    """A shipped preset by name (``bachbot``, ``transformer``, ``tiny``) or a TOML file."""
    data = load_toml(name_or_path, ("presets",), "preset", preset_names)
    return from_dict(data, where=f"preset {name_or_path}")


def load_toml(name_or_path: str | Path, folder: tuple[str, ...], what: str,
              names: Callable[[], list[str]]) -> dict[str, Any]:
    """The TOML file ``name_or_path`` (a path: it ends in .toml or holds a /), or the
    one of that name shipped in the package's ``folder``; ConfigError naming ``what``."""
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or "/" in text_path:
        path = Path(text_path)
        if not path.is_file():
            raise ConfigError(f"{what} file {path} not found")
        text = read_text(path)
    else:
        resource = resources.files("cadenza").joinpath(*folder, f"{text_path}.toml")
        if not resource.is_file():
            raise ConfigError(f"unknown {what} {text_path!r}; choose from: "
                              f"{', '.join(names())} or give a .toml file")
        text = resource.read_text()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} {text_path}: {err}") from None


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Apply ``key=value`` overrides (``data=...``, ``model.X=...``, ``train.X=...``)."""
    pairs = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = (s.strip() for s in item.split("=", 1))
        pairs.append((key, raw))
    names = ("model.name", "objective.name")  # a name first: it resets its options
    for key, raw in sorted(pairs, key=lambda kv: kv[0] not in names):
        _override(config, key, raw)
    return config.resolve()


def _override(config: ExperimentConfig, key: str, raw: str) -> None:
    section, _, name = key.partition(".")
    if key == "data":
        config.data = raw
    elif key == "model.name":
        if raw != config.model.name:
            config.model = ModelSection(name=raw)
            config.model.config_class()
    elif section == "model" and name:
        hints = typing.get_type_hints(config.model.config_class())
        if name not in hints:
            raise ConfigError(f"--set {key}: unknown option of model {config.model.name!r}; "
                              f"accepted: name, {', '.join(hints)}")
        config.model.options[name] = parse_value(raw, hints[name], key)
    elif key == "objective.name":
        config.objective = ObjectiveSection(name=raw)
    elif section == "objective" and name:
        config.objective.options[name] = _guess_value(raw)
    elif section == "train" and name in typing.get_type_hints(TrainConfig):
        hint = typing.get_type_hints(TrainConfig)[name]
        setattr(config.train, name, parse_value(raw, hint, key))
    else:
        valid = ["data", "model.name", "model.<option>", "objective.name",
                 "objective.<option>"] + [
            f"train.{f.name}" for f in dataclasses.fields(TrainConfig)]
        raise ConfigError(f"--set {key}: unknown key; valid keys: {', '.join(valid)}")


def _guess_value(raw: str) -> Any:
    """An objective option's value: JSON where it parses (numbers, booleans), else text;
    the objective's constructor checks it."""
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _checked_dataclass(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                          f"accepted: {', '.join(hints)}")
    return cls(**{k: _checked(v, hints[k], f"{where}.{k}") for k, v in values.items()})


def _checked(value: Any, kind: Any, where: str) -> Any:
    """``value`` if it has type ``kind`` (ints pass as floats); else a ConfigError."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if args and type(None) in args:
        if value is None:
            return None
        return _checked(value, next(a for a in args if a is not type(None)), where)
    if origin is list and isinstance(value, list):
        return [_checked(v, args[0], where) for v in value]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(kind, type) and isinstance(value, kind) and not (
        kind is int and isinstance(value, bool)
    ):
        return value
    name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"{where}: expected {name}, got {value!r}")
