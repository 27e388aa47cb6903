"""A study TOML: which data, which models, which seeds, which budget, which tracks.

::

    [study]
    name = "four-way"
    seeds = [0, 1, 2]            # every model is trained once per seed
    params = 20000               # the parameter budget every model is sized to
    tolerance = 0.05             # ... within this share
    search_trials = 8            # Optuna trials per (dataset, model): the same budget ...
    search_space = "space.toml"  # ... over this space (train.* and model.dropout only)
    seq_lens = [64]              # training window lengths (track d: one cell per length)
    primers = [8, 16, 32]        # track b: k primer tokens ...
    continuation = 32            # ... and the length of the scored continuation
    continuation_pieces = 16     # ... sampled for this many held-out pieces
    infill_length = 64           # track c: positions in the first tokens of a piece
    infill_positions = 4         # ... this many per held-out piece
    gibbs_sweeps = 4             # the bidirectional model's continuation
    tokens = 4000000             # each run's training budget in window tokens: max_steps
                                 # = ceil(tokens / (batch_size x seq_len)), the same data
                                 # for every model and length, and no clock in the result

    [datasets.chorales]          # a prepared folder (path, relative to the TOML) ...
    path = "data/chorales"
    [datasets.piano]             # ... or a `cadenza prepare` recipe, prepared into OUT/data
    corpus = "piano-midi"
    codec = "notes"

    [train]                      # TrainConfig fields for every run
    epochs = 5

    [models.lstm]                # a label, a registered model and its options
    model = "rnn"
    cell = "lstm"
    train = { tbptt = true }     # per-model TrainConfig fields

The size option of each model (``hidden``, ``dim``) is set by the study
(:mod:`cadenza.study.budget`); a whole-sequence model trains with ``masked_tokens``; a
model with a bounded context (a transformer's ``max_context``) gets the run's window
length as its context, so it is never scored or sampled on positions it never trained
on (it slides over longer sequences instead).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.errors import ConfigError
from cadenza.models import MODELS
from cadenza.safety import read_text
from cadenza.study.budget import size_keys

STUDY_KEYS = {"name": str, "seeds": list, "params": int, "tolerance": float,
              "search_trials": int, "seq_lens": list, "primers": list, "continuation": int,
              "infill_length": int, "infill_positions": int, "gibbs_sweeps": int,
              "continuation_pieces": int, "search_space": str, "tokens": int}


@dataclass
class ModelEntry:
    """One model of the study: its label, registered name, options and train overrides."""

    label: str
    name: str
    options: dict[str, Any]
    train: dict[str, Any] = field(default_factory=dict)
    objective: str = "auto"

    @property
    def autoregressive(self) -> bool:
        return MODELS[self.name].contract == "autoregressive"


@dataclass
class StudySpec:
    """A parsed and checked study TOML (``folder``: where relative paths start)."""

    name: str
    folder: Path
    datasets: dict[str, dict[str, Any]]
    models: list[ModelEntry]
    train: dict[str, Any]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    params: int = 20000
    tolerance: float = 0.05
    search_trials: int = 0
    seq_lens: list[int] = field(default_factory=lambda: [64])
    primers: list[int] = field(default_factory=lambda: [8, 16, 32])
    continuation: int = 32
    infill_length: int = 64
    infill_positions: int = 4
    gibbs_sweeps: int = 4
    continuation_pieces: int = 16
    search_space: str = ""
    tokens: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def load_study(path: str | Path, overrides: list[str] = ()) -> StudySpec:
    """Read and check a study TOML, with ``overrides`` (``section.key=TOML value``, e.g.
    ``study.tokens=12000000``, ``study.seq_lens=[24]``, ``train.lr=1e-3``) put in
    first; any fault is one ConfigError line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"study file {path} not found")
    try:
        raw = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"study {path}: {err}") from None
    for item in overrides:
        _override(raw, item)
    return parse_study(raw, path.parent, where=f"study {path}")


def _override(raw: dict[str, Any], item: str) -> None:
    """Put ``a.b.c=value`` (a TOML value) into ``raw``; tables on the way must exist,
    so a misspelt section is refused rather than added."""
    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts):
        raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. "
                          "study.tokens=12000000")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word is a string
    table = raw
    for depth, part in enumerate(parts[:-1], 1):
        if not isinstance(table.get(part), dict):
            raise ConfigError(f"--set {item!r}: the study has no table "
                              f"{'.'.join(parts[:depth])}")
        table = table[part]
    table[parts[-1]] = value


def parse_study(raw: dict[str, Any], folder: Path, where: str = "study") -> StudySpec:
    unknown = sorted(set(raw) - {"study", "datasets", "train", "models"})
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(unknown)}; expected "
                          "[study], [datasets.NAME], [train], [models.LABEL]")
    head = dict(raw.get("study", {}))
    for key, value in head.items():
        kind = STUDY_KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{where}: unknown key study.{key}; accepted: "
                              f"{', '.join(STUDY_KEYS)}")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            head[key] = value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{where}: study.{key} must be {kind.__name__}, got {value!r}")
    for key, low in (("seeds", 0), ("seq_lens", 2), ("primers", 1)):
        values = head.get(key, [low])
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= low
                                 for v in values):
            raise ConfigError(f"{where}: study.{key} must be a non-empty list of integers "
                              f">= {low}, got {values!r}")
    for key in ("params", "tokens", "continuation", "infill_length", "infill_positions",
                "gibbs_sweeps", "continuation_pieces"):
        if key in head and head[key] < 1:
            raise ConfigError(f"{where}: study.{key} must be >= 1, got {head[key]!r}")
    if not 0 < head.get("tolerance", 0.05) < 1:
        raise ConfigError(f"{where}: study.tolerance must be in (0, 1)")
    if head.get("search_trials", 0) < 0:
        raise ConfigError(f"{where}: study.search_trials must be >= 0")
    datasets = raw.get("datasets", {})
    if not datasets or not all(isinstance(d, dict) for d in datasets.values()):
        raise ConfigError(f"{where}: no datasets; add [datasets.NAME] with path = FOLDER "
                          "or a prepare recipe (corpus, codec)")
    models = [_model(label, dict(entry), where) for label, entry in
              raw.get("models", {}).items()]
    if not models:
        raise ConfigError(f"{where}: no models; add [models.LABEL] with model = NAME")
    return StudySpec(name=str(head.pop("name", "study")), folder=folder,
                     datasets={k: dict(v) for k, v in datasets.items()}, models=models,
                     train=dict(raw.get("train", {})), raw=raw, **head)


def _model(label: str, entry: dict[str, Any], where: str) -> ModelEntry:
    name = entry.pop("model", None)
    if not isinstance(name, str):
        raise ConfigError(f"{where}: models.{label} needs model = NAME (a registered model)")
    if name not in MODELS:
        raise ConfigError(f"{where}: models.{label}: unknown model {name!r}; choose from: "
                          f"{', '.join(sorted(MODELS))}")
    size_keys(name)  # a model the study cannot size is refused here
    train = entry.pop("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: models.{label}.train must be a table")
    default = "auto" if MODELS[name].contract == "autoregressive" else "masked_tokens"
    objective = str(entry.pop("objective", default))
    return ModelEntry(label, name, entry, train, objective)
