"""The same hyperparameter-search budget for every model of a study: an Optuna search
(:mod:`cadenza.search`) of ``study.search_trials`` trials per (dataset, model) over the
space ``study.search_space``, at the first window length and the first seed. Its best
setting then trains every seed and window length of that model.

Only training settings and dropout may be searched: a size option would undo the
parameter matching.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError
from cadenza.search.space import Space, load_space
from cadenza.study.spec import ModelEntry, StudySpec

SEARCHABLE = ("train.", "model.dropout")


def study_space(spec: StudySpec) -> Space | None:
    """The study's search space (None: no search); a key that would change a model's
    size, or the run's identity, is refused."""
    if not spec.search_trials:
        return None
    if not spec.search_space:
        raise ConfigError("study.search_trials needs study.search_space (a space TOML, as "
                          "for cadenza search --space)")
    name = spec.search_space
    path = spec.folder / name
    space = load_space(path if path.is_file() else name)
    bad = [p.key for p in space.params if not p.key.startswith(SEARCHABLE)
           or p.key in ("train.seed", "train.seq_len")]
    if bad:
        raise ConfigError(f"study.search_space may search train.* (not seed, seq_len) and "
                          f"model.dropout only, not {', '.join(bad)}: a size option would "
                          "undo the parameter matching")
    return space


def _toml(config: dict[str, Any]) -> str:
    """A run config (``data`` and flat tables of scalars) as TOML."""
    lines = [f"data = {json.dumps(config['data'])}"]
    for section in ("model", "objective", "train"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in config[section].items()
                  if v is not None]
    return "\n".join(lines) + "\n"


def best_setting(spec: StudySpec, space: Space, data: PreparedDataset, model: ModelEntry,
                 config: dict[str, Any], out: Path) -> dict[str, Any]:
    """The best trial of the model's search in ``out`` (run, or kept where it has all
    its trials): ``{"params": {key: value}, "value": ..., "seconds": ...}``."""
    from cadenza.search.study import SearchSettings, run_search

    out.mkdir(parents=True, exist_ok=True)
    kept = out / "study-search.json"
    if kept.is_file():
        return json.loads(kept.read_text())
    preset = out / "base.toml"
    preset.write_text(_toml(config))
    started = time.monotonic()
    best = run_search(SearchSettings(
        preset=str(preset), data=str(data.folder), space=space, out=out,
        trials=spec.search_trials, storage=str(out / "trials.journal"),
        study=f"{spec.name}-{model.label}", seed=int(config["train"]["seed"])))
    found = {"params": best["params"], "value": best["value"], "number": best["number"],
             "seconds": round(time.monotonic() - started, 3)}
    kept.write_text(json.dumps(found, indent=1))
    return found


def apply_setting(config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A run config (file layout) with a searched setting put in."""
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    for key, value in params.items():
        section, _, name = key.partition(".")
        config[section][name] = value
    return config
