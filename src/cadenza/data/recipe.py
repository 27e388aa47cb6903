"""The dataset a run is scored on: the folder given, else the one its recipe describes.

A run records the folder it trained on (``config.json``) and how that folder was
prepared (``data.json``). The folder is a path on the machine that trained it, so it
is used only where it exists here *and* was prepared by the same recipe; otherwise a
recipe over an embedded corpus is prepared again, once, into the cache
(:func:`cadenza.corpus.prepare.embedded_dataset`). Either way the dataset's ids are
mapped onto the run's vocabulary (:meth:`PreparedDataset.map_onto`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError


def run_dataset(run: Any, data: str | Path | None = None) -> PreparedDataset:
    """The dataset to score ``run`` (a :class:`~cadenza.train.checkpoint.Run`) on, in the
    run's ids: ``data`` when given, else the run's own dataset found or rebuilt."""
    folder = Path(data) if data is not None else recorded_dataset(run)
    dataset = PreparedDataset(folder)
    what = f"{run.path} on {folder}"
    run_codec = json.loads((Path(run.path) / "codec.json").read_text())
    if dataset.config.get("codec") != run_codec:
        raise ConfigError(f"{what}: the dataset was encoded with another codec "
                          f"({dataset.config.get('codec')} vs the run's {run_codec})")
    return dataset.map_onto(run.vocab, what)


def recorded_dataset(run: Any) -> Path:
    """The folder of the run's own dataset, or the same preparation made into the cache."""
    from cadenza.config import DataConfig, from_dict
    from cadenza.corpus.prepare import embedded_dataset
    from cadenza.corpus.sources import EMBEDDED

    recipe_path = Path(run.path) / "data.json"
    recipe = json.loads(recipe_path.read_text()) if recipe_path.exists() else None
    recorded = Path(run.config.data) if run.config.data else None
    if recorded is not None and recipe is not None and _prepared_by(recorded, recipe):
        return recorded
    if recipe is not None and recipe.get("corpus") in EMBEDDED:
        return embedded_dataset(from_dict(DataConfig, recipe))
    where = (f"its recorded dataset {recorded} is not here or was prepared otherwise"
             if recorded else "it records no dataset")
    raise ConfigError(f"{run.path}: {where}, and its recipe (data.json) "
                      f"{'names no embedded corpus' if recipe else 'is missing'}; pass --data DIR")


def _prepared_by(folder: Path, recipe: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a complete dataset prepared with ``recipe``."""
    try:
        made = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (folder / "manifest.json").is_file() and made.get("data") == recipe
