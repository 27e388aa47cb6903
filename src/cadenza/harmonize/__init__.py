"""Harmonization: fill the voices a melody leaves open.

``harmonize(run_path, melody_path, given, method)`` is the entry point; the
methods are BachBot's forced greedy decoding, beam search and sampling with a
chorale language model (:mod:`cadenza.harmonize.lm`), and the melody-aware
infilling model (:mod:`cadenza.harmonize.infill`) that sees the whole melody.
"""

from cadenza.harmonize.api import (
    DEFAULT_HARMONIZER,
    INFILL_METHODS,
    LM_METHODS,
    Harmonizer,
    default_harmonizer,
    load_harmonizer,
)

__all__ = [
    "DEFAULT_HARMONIZER",
    "INFILL_METHODS",
    "LM_METHODS",
    "Harmonizer",
    "default_harmonizer",
    "load_harmonizer",
]
