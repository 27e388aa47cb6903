"""Training: experiment configs and presets, the loop, and the run directory."""

from cadenza.train.checkpoint import Run, load_run
from cadenza.train.config import (
    ExperimentConfig,
    ModelSection,
    TrainConfig,
    apply_overrides,
    load_preset,
    preset_names,
)
from cadenza.train.loop import train

__all__ = [
    "ExperimentConfig",
    "ModelSection",
    "Run",
    "TrainConfig",
    "apply_overrides",
    "load_preset",
    "load_run",
    "preset_names",
    "train",
]
