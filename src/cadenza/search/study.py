"""An Optuna study over cadenza runs: TPE (seeded), a pruner fed the validation loss
at every evaluation, heartbeats and retries, the first trial set by the space.

Every trial is a normal run directory (``OUT/trials/trial-NNNN``: resumable, loadable,
evaluable). The study writes ``OUT/results.csv`` (one row a trial), ``history.png`` and
``importance.png`` (Optuna's optimization-history and parameter-importance plots) and
``best.json`` (the best trial's value, setting and run path).
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from cadenza.errors import ConfigError
from cadenza.search.space import Space
from cadenza.search.storage import (
    Heartbeat,
    Liveness,
    fail_stale,
    needs_own_heartbeat,
    open_storage,
    trial_id,
)
from cadenza.train.config import ExperimentConfig, apply_overrides, load_preset

PRUNERS = ("median", "hyperband", "none")
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class SearchSettings:
    """One worker's search: ``trials`` counts the study's finished (complete or pruned)
    trials, whichever worker ran them; ``overrides`` fix keys for every trial (say, a
    step budget); ``worker`` varies the sampler's seed between workers of one study."""

    preset: str
    data: str
    space: Space
    out: Path
    trials: int = 50
    storage: str | None = None
    study: str = "cadenza"
    seed: int = 0
    worker: int = 0
    pruner: str = "median"
    startup_trials: int = 5  # the median pruner's: trials that finish before it prunes
    overrides: list[str] = field(default_factory=list)
    live: Liveness = field(default_factory=Liveness)


def make_pruner(name: str, startup_trials: int = 5) -> optuna.pruners.BasePruner:
    """Median (once ``startup_trials`` have finished; from the second training step
    on), Hyperband, or none."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner must be one of {', '.join(PRUNERS)}, not {name!r}")


def open_study(s: SearchSettings) -> tuple[optuna.Study, Any]:
    """The study (created, or joined where it exists) and its storage."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(s.storage, s.live)
    seed = int(np.random.SeedSequence([s.seed, s.worker]).generate_state(1)[0])
    study = optuna.create_study(study_name=s.study, storage=storage, direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=make_pruner(s.pruner, s.startup_trials), load_if_exists=True)
    return study, storage


def trial_config(s: SearchSettings, overrides: list[str]) -> ExperimentConfig:
    config = load_preset(s.preset)
    config.data = s.data
    return apply_overrides(config, [*s.overrides, *overrides, "train.progress=false"])


def check_space(s: SearchSettings) -> None:
    """Every value the space can propose is a valid config (a bad key fails here, once,
    not in every trial)."""
    for p in s.space.params:
        for value in p.choices if p.choices is not None else (p.low, p.high):
            trial_config(s, [f"{p.key}={str(value).lower() if isinstance(value, bool) else value}"])
    if s.space.first:
        trial_config(s, [f"{k}={v}" for k, v in s.space.first.items()])


def run_search(s: SearchSettings) -> dict[str, Any]:
    """Run trials until the study holds ``s.trials`` finished ones; write the results;
    returns the best trial's summary (``best.json``)."""
    from cadenza.train.loop import train

    check_space(s)
    study, storage = open_study(s)
    if s.space.first:  # BachBot's setting first: every other trial is judged against it
        study.enqueue_trial(s.space.first, skip_if_exists=True)
    own_beat = needs_own_heartbeat(storage)

    def objective(trial: optuna.Trial) -> float:
        if own_beat:
            fail_stale(study, storage, s.live)
        run = s.out / "trials" / f"trial-{trial.number:04d}"
        trial.set_user_attr("run", str(run))
        config = trial_config(s, s.space.suggest(trial))
        beat = Heartbeat(storage, trial_id(storage, study, trial.number),
                         s.live.interval) if own_beat else None

        def report(metrics: dict[str, Any]) -> None:
            if metrics.get("val_nats") is not None:
                trial.report(metrics["val_nats"], metrics["step"])
                if trial.should_prune():
                    raise optuna.TrialPruned(f"validation {metrics['val_nats']:.4f} at step "
                                             f"{metrics['step']}")

        try:
            result = train(config, run, hooks=[report])
        finally:
            if beat is not None:
                beat.close()
        if result["best_loss"] is None:
            raise ConfigError(f"{run}: no validation loss (no validation pieces?)")
        return float(result["best_loss"])

    if own_beat:
        fail_stale(study, storage, s.live)
    if _finished(study) < s.trials:
        study.optimize(objective, callbacks=[MaxTrialsCallback(s.trials, states=DONE)],
                       catch=(ConfigError,), gc_after_trial=True)
    return write_results(study, s.out)


def _finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=DONE))


def write_results(study: optuna.Study, out: Path) -> dict[str, Any]:
    """results.csv, history.png, importance.png and best.json in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    keys = sorted({k for t in trials for k in t.params})
    rows = [{"number": t.number, "state": t.state.name, "value": t.value,
             "seconds": round(t.duration.total_seconds(), 3) if t.duration else None,
             "last_step": t.last_step, "retry_of": t.system_attrs.get("failed_trial"),
             **{k: t.params.get(k) for k in keys}, "run": t.user_attrs.get("run")}
            for t in trials]
    tmp = out / "results.csv.tmp"
    with tmp.open("w", newline="") as file:
        writer = csv.DictWriter(file, ["number", "state", "value", "seconds", "last_step",
                                       "retry_of", *keys, "run"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out / "results.csv")
    _plots(study, out)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise ConfigError(f"study {study.study_name}: no trial completed (see "
                          f"{out / 'results.csv'})")
    best = min(complete, key=lambda t: t.value)
    summary = {"study": study.study_name, "number": best.number, "value": best.value,
               "params": best.params, "run": best.user_attrs.get("run"),
               "finished": _finished(study),
               "states": {s.name: sum(t.state == s for t in trials) for s in TrialState}}
    tmp = out / "best.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / "best.json")
    return summary


def _plots(study: optuna.Study, out: Path) -> None:
    """Optuna's optimization history and parameter importances (the latter needs two
    completed trials that differ)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from optuna.visualization import matplotlib as views

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib views experimental
        for name, view in (("history.png", views.plot_optimization_history),
                           ("importance.png", views.plot_param_importances)):
            try:
                axes = view(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # too few completed trials to plot
            figure = np.ravel(axes)[0].figure
            figure.set_size_inches(8, 5)
            figure.tight_layout()
            figure.savefig(out / name, dpi=100)
            plt.close(figure)
