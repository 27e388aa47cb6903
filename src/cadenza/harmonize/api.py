"""One interface over both kinds of harmonizer run: fill a grid with a named method."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import CadenzaError, ConfigError
from cadenza.safety import read_json

LM_METHODS = ("greedy", "beam", "sample")
INFILL_METHODS = ("infill", "gibbs")
DEFAULT_HARMONIZER = Path(__file__).resolve().parent.parent / "runs" / "harmonizer-default"


@dataclass
class Harmonizer:
    """A loaded run that can fill grids: a chorale language model or an infilling model."""

    kind: str  # "lm" or "infill"
    model: Any
    vocab: Any = None
    path: Path | None = None
    # infilling runs: frames per model call (the run's training crop length) and the
    # transposition ensemble (see harmonize/infill.py, Predictor)
    window: int | None = None
    transpositions: int = 2

    def predictor(self) -> Any:
        """The infilling model as the fill strategies ask it (windows, transpositions)."""
        from cadenza.harmonize.infill import Predictor

        return Predictor(self.model, self.window, self.transpositions)

    @property
    def methods(self) -> tuple[str, ...]:
        return LM_METHODS if self.kind == "lm" else INFILL_METHODS

    def fill(self, cells: np.ndarray, fermata: np.ndarray, method: str | None = None,
             width: int = 8, temperature: float = 1.0, seed: int = 0) -> tuple[np.ndarray, float]:
        """Fill the MASK cells; returns the grid and the model's mean log-probability per
        filled token (nan where the method has no such score)."""
        method = method or self.methods[0]
        if method not in self.methods:
            raise ConfigError(f"method {method!r} needs a different run; this "
                              f"{self.kind} run offers: {', '.join(self.methods)}")
        if self.kind == "lm":
            from cadenza.harmonize.lm import harmonize_lm

            return harmonize_lm(self.model, self.vocab, cells, fermata,
                                width=width if method == "beam" else 1,
                                sample=method == "sample", temperature=temperature, seed=seed)
        from cadenza.harmonize.infill import fill_confident, fill_gibbs

        if method == "gibbs":
            return fill_gibbs(self.predictor(), cells, fermata, temperature=temperature,
                              seed=seed), float("nan")
        return fill_confident(self.predictor(), cells, fermata, seed=seed), float("nan")


def load_harmonizer(path: str | Path) -> Harmonizer:
    """Load an infilling run or a chorale language-model run."""
    path = Path(path)
    config = path / "config.json"
    if not config.exists():
        raise CadenzaError(f"{path} is not a cadenza run (no config.json)")
    settings = read_json(config)
    if settings.get("kind") == "infill":
        from cadenza.train.infill import load_infill_run

        return Harmonizer("infill", load_infill_run(path), path=path,
                          window=settings.get("train", {}).get("frames"))
    from cadenza.train.checkpoint import load_run

    run = load_run(path)
    if run.codec.name != "chorale":
        raise ConfigError(f"{path} uses the {run.codec.name!r} codec; harmonizing needs a "
                          "chorale model")
    return Harmonizer("lm", run.model, run.vocab, path)


def default_harmonizer() -> Path:
    """The melody-aware run shipped with cadenza."""
    if (DEFAULT_HARMONIZER / "config.json").exists():
        return DEFAULT_HARMONIZER
    raise CadenzaError(f"no default harmonizer is installed ({DEFAULT_HARMONIZER} is missing); "
                       "train one with `cadenza train-harmonizer` and pass its run folder")
