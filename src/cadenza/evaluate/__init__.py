"""Judge models and music: held-out likelihood, metrics, voice leading, distances.

Submodules are imported on demand (``from cadenza.evaluate import metrics``), so that
the metrics do not pay for importing torch; ``evaluate_nll`` is re-exported lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate_nll"]


def __getattr__(name: str) -> Any:
    if name == "evaluate_nll":
        from cadenza.evaluate.likelihood import evaluate_nll

        return evaluate_nll
    raise AttributeError(f"module 'cadenza.evaluate' has no attribute {name!r}")
