"""``cadenza search``: an Optuna hyperparameter search over cadenza runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from cadenza.commands import add_command


def register(commands) -> None:
    from cadenza.validate import float_option, int_option

    search = add_command(commands, "search", "search hyperparameters with Optuna "
                         "(every trial a normal run)", run_search)
    search.add_argument("--preset", default="bachbot", help="the preset every trial starts from")
    search.add_argument("--data", required=True, help="prepared dataset folder")
    search.add_argument("--space", default="chorale-lm",
                        help="search space: chorale-lm (shipped) or a .toml file")
    search.add_argument("--trials", type=int_option(1, 100000), default=50,
                        help="finished trials the study should hold, all workers together")
    search.add_argument("--storage", default=None,
                        help="a journal file several local workers share, or an RDB URL "
                             "(sqlite:///study.db, postgresql://...); default: in memory")
    search.add_argument("--study", default="cadenza", help="study name (workers join by it)")
    search.add_argument("--out", type=Path, default=Path("runs/search"),
                        help="folder of the trials' runs and the study's results")
    search.add_argument("--pruner", default="median", choices=("median", "hyperband", "none"))
    search.add_argument("--startup-trials", type=int_option(0, 100000), default=5,
                        help="trials that finish before the median pruner prunes")
    search.add_argument("--seed", type=int_option(0, 2**32 - 1), default=0,
                        help="the TPE sampler's seed")
    search.add_argument("--worker", type=int_option(0, 100000), default=0,
                        help="this worker's number: workers of one study need different ones "
                             "(their samplers' seeds differ)")
    search.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="fix a setting for every trial, e.g. "
                                                  "train.max_steps=2000")
    search.add_argument("--heartbeat", type=float_option(0.1, 3600), default=10.0,
                        metavar="SECONDS", help="how often a running trial says it is alive")
    search.add_argument("--grace", type=float_option(1, 86400), default=60.0,
                        metavar="SECONDS",
                        help="a trial silent this long is failed and enqueued again")
    search.add_argument("--retries", type=int_option(0, 100), default=2,
                        help="how many times a failed trial is retried")


def run_search(args: argparse.Namespace) -> int:
    from cadenza.search import SearchSettings, load_space
    from cadenza.search import run_search as search
    from cadenza.search.storage import Liveness

    settings = SearchSettings(
        preset=args.preset, data=args.data, space=load_space(args.space), out=args.out,
        trials=args.trials, storage=args.storage, study=args.study, seed=args.seed,
        worker=args.worker, pruner=args.pruner, startup_trials=args.startup_trials,
        overrides=list(args.overrides),
        live=Liveness(args.heartbeat, args.grace, args.retries))
    best = search(settings)
    states = ", ".join(f"{n} {k.lower()}" for k, n in best["states"].items() if n)
    print(f"study {best['study']}: {states}; best validation {best['value']:.4f} "
          f"(trial {best['number']}) in {best['run']}; results in {args.out}")
    return 0
