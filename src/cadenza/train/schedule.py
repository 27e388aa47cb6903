"""Learning-rate schedules as pure functions of the step: nothing to save, exact on resume."""

from __future__ import annotations

import math

from cadenza.train.config import TrainConfig


def lr_at(step: int, config: TrainConfig, steps_per_epoch: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based).

    - ``step``: ``lr * decay ** (epoch // decay_epochs)`` (BachBot halves it every 5 epochs);
    - ``cosine``: linear warm-up over ``warmup_steps``, then a half cosine from ``lr`` to
      ``lr * min_lr_ratio`` at the end of the last epoch;
    - ``constant``: ``lr`` after the warm-up.

    The length of the schedule depends on ``epochs`` only, never on ``max_steps``, so
    an interrupted run follows the same curve as an uninterrupted one.
    """
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "step":
        epoch = step // max(steps_per_epoch, 1)
        return config.lr * config.decay ** (epoch // config.decay_epochs)
    if config.schedule == "cosine":
        total = max(config.epochs * steps_per_epoch - config.warmup_steps, 1)
        progress = min((step - config.warmup_steps) / total, 1.0)
        low = config.lr * config.min_lr_ratio
        return low + (config.lr - low) * 0.5 * (1 + math.cos(math.pi * progress))
    return config.lr
