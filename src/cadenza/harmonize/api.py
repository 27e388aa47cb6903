"""One interface over both kinds of harmonizer run: fill a grid with a named method."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import CadenzaError, ConfigError
from cadenza.generate.processors import LogitsProcessor

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
             width: int = 8, processors: Sequence[LogitsProcessor] = (),
             seed: int = 0) -> tuple[np.ndarray, float]:
        """Fill the MASK cells; returns the grid and the model's mean log-probability per
        filled token (nan where the method has no such score). The sampling methods
        (``sample``, ``gibbs``) draw through ``processors``, the chain ``generate`` uses
        (:func:`~cadenza.generate.processors.sampling_processors`, which validates it)."""
        method = method or self.methods[0]
        if method not in self.methods:
            raise ConfigError(f"method {method!r} needs a different run; this "
                              f"{self.kind} run offers: {', '.join(self.methods)}")
        if self.kind == "lm":
            from cadenza.harmonize.lm import harmonize_lm

            return harmonize_lm(self.model, self.vocab, cells, fermata,
                                width=width if method == "beam" else 1,
                                sample=method == "sample", processors=processors, seed=seed)
        from cadenza.harmonize.infill import fill_confident, fill_gibbs

        if method == "gibbs":
            return fill_gibbs(self.predictor(), cells, fermata, processors=processors,
                              seed=seed), float("nan")
        return fill_confident(self.predictor(), cells, fermata, seed=seed), float("nan")


def load_harmonizer(path: str | Path) -> Harmonizer:
    """Load an infilling run (the ``masked`` objective) or a chorale language-model run."""
    from cadenza.objectives.masked import FRAMES
    from cadenza.train.checkpoint import load_run

    path = Path(path)
    if not (path / "config.json").exists():
        raise CadenzaError(f"{path} is not a cadenza run (no config.json)")
    run = load_run(path)
    if run.model.contract == "whole-sequence":
        if run.config.objective.name != "masked":
            raise ConfigError(f"{path} is a {run.config.model.name!r} model trained with the "
                              f"{run.config.objective.name!r} objective; harmonizing needs "
                              "an infilling (masked) or a chorale language-model run")
        # asked in windows as long as the crops it was trained on
        return Harmonizer("infill", run.model, path=path,
                          window=run.config.objective.options.get("frames", FRAMES))
    if run.codec.name != "chorale":
        raise ConfigError(f"{path} uses the {run.codec.name!r} codec; harmonizing needs a "
                          "chorale model")
    return Harmonizer("lm", run.model, run.vocab, path)


def default_harmonizer() -> Path:
    """The melody-aware run shipped with cadenza."""
    if (DEFAULT_HARMONIZER / "config.json").exists():
        return DEFAULT_HARMONIZER
    raise CadenzaError(f"no default harmonizer is installed ({DEFAULT_HARMONIZER} is missing); "
                       "train one with `cadenza train --preset harmonizer` and pass its run folder")
