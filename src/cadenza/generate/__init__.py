"""Generation: logits processors, the chorale grammar, search, continuation, outputs."""

from __future__ import annotations

from pathlib import Path

from cadenza.errors import CadenzaError
from cadenza.generate.decode import Beam, beam_search, greedy, log_prob, sample
from cadenza.generate.grammar import ChoraleGrammar
from cadenza.generate.processors import (
    PROCESSORS,
    Context,
    apply,
    build_processor,
    sampling_processors,
)

DEFAULT_RUN = Path(__file__).resolve().parent.parent / "runs" / "chorale-default"


def default_run() -> Path:
    """The run shipped with cadenza (``cadenza/runs/chorale-default``)."""
    if (DEFAULT_RUN / "config.json").exists():
        return DEFAULT_RUN
    raise CadenzaError(
        f"no default model is installed ({DEFAULT_RUN} is missing); train one with "
        "`cadenza prepare --out DATA` and `cadenza train`, then pass its run folder"
    )


__all__ = [
    "PROCESSORS",
    "Beam",
    "ChoraleGrammar",
    "Context",
    "apply",
    "beam_search",
    "build_processor",
    "default_run",
    "greedy",
    "log_prob",
    "sample",
    "sampling_processors",
]
