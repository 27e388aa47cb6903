"""Objectives: each owns a loss, a held-out measure and its unit (see ``base.py``)."""

from cadenza.objectives import (  # noqa: F401  (register them)
    elbo,
    masked,
    masked_tokens,
    multihead,
    multilabel,
    next_token,
)
from cadenza.objectives.base import (
    OBJECTIVES,
    Objective,
    StepLoss,
    build_objective,
    default_objective,
    model_spec,
    register_objective,
)

__all__ = ["OBJECTIVES", "Objective", "StepLoss", "build_objective", "default_objective",
           "model_spec", "register_objective"]
