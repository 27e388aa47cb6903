"""``cadenza train`` and ``cadenza evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza.commands import add_command

if TYPE_CHECKING:
    from cadenza.train.config import ExperimentConfig


def register(commands) -> None:
    train = add_command(commands, "train", "train a model on a prepared dataset", run_train)
    train.add_argument("--preset", default=None,
                       help="bachbot, transformer, harmonizer, tiny or a .toml file "
                            "(default: the run's own config with --resume, else bachbot)")
    train.add_argument("--data", default=None, help="prepared dataset folder (cadenza prepare)")
    train.add_argument("--out", required=True, type=Path, help="run directory to write")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting, e.g. model.layers=2, train.lr=1e-3, train.max_steps=100",
    )
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                       help="start from another run's best weights (fine-tuning)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    from cadenza.validate import int_option

    train.add_argument("--nproc", type=int_option(1, 1024), default=1, metavar="N",
                       help="train in N processes on this machine with DDP (launches torchrun; "
                            "train.batch_size is then the global batch)")
    train.add_argument("--max-restarts", type=int_option(0, 1000), default=0, metavar="K",
                       help="with --nproc: restart the workers up to K times after a failure, "
                            "resuming from the last checkpoint")

    evaluate = add_command(commands, "evaluate",
                           "held-out likelihood of a trained run (nats, bits, perplexity)",
                           run_evaluate)
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument("--data", default=None,
                          help="prepared dataset (default: the run's own, rebuilt from its recipe "
                               "data.json into $CADENZA_CACHE where it is not here)")
    evaluate.add_argument("--split", default="validation", choices=("validation", "test", "train"))
    evaluate.add_argument("--which", default="best", choices=("best", "last"),
                          help="best (lowest validation loss) or last weights")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    evaluate.add_argument("--json", action="store_true", help="print JSON")


def run_train(args: argparse.Namespace) -> int:
    from cadenza.train import distributed

    if args.nproc > 1:
        _check_before_launch(args)  # a bad option: one line here, not one per worker
        return distributed.launch(_worker_argv(args), args.nproc, args.max_restarts)
    if distributed.is_worker():
        return distributed.run_worker(lambda: _locked_train(args))
    return _locked_train(args)


def _locked_train(args: argparse.Namespace) -> int:
    from cadenza.io.atomic import folder_lock, make_folder
    from cadenza.train import distributed

    if distributed.env_rank() != 0:  # a DDP worker: rank 0 holds the lock and writes
        return _run_train(args)
    make_folder(args.out)
    # one run per run folder: a second train (or resume) of it refuses at once
    with folder_lock(args.out, wait=False, what="train"):
        return _run_train(args)


def _worker_argv(args: argparse.Namespace) -> list[str]:
    """The ``cadenza train`` arguments each torchrun worker gets (no --nproc)."""
    argv = ["train", "--out", str(args.out)]
    for flag, value in (("--preset", args.preset), ("--data", args.data),
                        ("--init-from", args.init_from)):
        if value is not None:
            argv += [flag, str(value)]
    for item in args.overrides:
        argv += ["--set", item]
    return argv + [f for f, on in (("--resume", args.resume), ("--quiet", args.quiet)) if on]


def _config(args: argparse.Namespace) -> ExperimentConfig:
    from cadenza.errors import ConfigError
    from cadenza.train.checkpoint import read_config
    from cadenza.train.config import apply_overrides, load_preset

    if args.resume and args.preset is None:
        config = read_config(args.out)
    else:
        config = load_preset(args.preset or "bachbot")
    if args.data is not None:
        config.data = args.data
    overrides = list(args.overrides) + (["train.progress=false"] if args.quiet else [])
    config = apply_overrides(config, overrides)
    if not config.data:
        raise ConfigError("no dataset: give --data DIR (a folder made by `cadenza prepare`)")
    return config


def _check_before_launch(args: argparse.Namespace) -> None:
    """What would stop every worker at once, checked once: the config, the dataset,
    the global batch, the run folder."""
    from cadenza.data.dataset import PreparedDataset
    from cadenza.errors import ConfigError

    config = _config(args)
    PreparedDataset(config.data)
    if config.train.batch_size % args.nproc:
        raise ConfigError(f"train.batch_size={config.train.batch_size} is the global batch; "
                          f"it must be a multiple of --nproc {args.nproc}")
    if not args.resume and (args.out / "config.json").exists():
        raise ConfigError(f"{args.out} already holds a run; resume it (--resume) or choose "
                          "another --out")


def _run_train(args: argparse.Namespace) -> int:
    from cadenza.train import distributed
    from cadenza.train.checkpoint import MANIFEST
    from cadenza.train.loop import train

    if distributed.restart_count() and (args.out / MANIFEST).is_file():
        args.resume = True  # an elastic restart goes on from the last checkpoint
    config = _config(args)
    result = train(config, args.out, resume=args.resume, init_from=args.init_from)
    if distributed.env_rank() != 0:
        return 0
    best = result["best_loss"]
    best_text = (f"best validation {best:.4f} {result['unit']} at step {result['best_step']}"
                 if best is not None else "no validation yet")
    print(f"stopped ({result['stopped']}) after {result['steps']} steps, "
          f"{result['epochs']} epochs; {best_text}; run in {args.out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from cadenza.data.recipe import run_dataset
    from cadenza.train.checkpoint import load_run
    from cadenza.train.loop import objective_for

    run = load_run(args.run, which=args.which, device=args.device)
    dataset = run_dataset(run, args.data)
    data = dataset.folder
    result = objective_for(run.config, dataset).evaluate(run.model, args.split)
    if dataset.codec.spec.ordered_frames:  # piano rolls as tokens: name each next frame
        from cadenza.evaluate.rolls import next_frame_guesses

        result["frame_accuracy"] = next_frame_guesses(run, dataset, args.split)[
            "frame_accuracy"]
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{args.run} ({args.which}) on {data} [{args.split}]: {result['pieces']} pieces, "
          f"{result['count']} {result['unit'].split('/')[-1]}s scored")
    for key, label in EVALUATE_LINES:
        if key in result:
            print(f"  {label:<16}{result[key]:.4f}")
    return 0


EVALUATE_LINES = (
    ("nats_per_frame", "nats/frame"), ("nats_per_cell", "nats/cell"),
    ("nats_per_note", "nats/note"),
    ("frame_accuracy", "frame accuracy"),
    ("nats", "nats/token"), ("bits", "bits/token"), ("perplexity", "perplexity"),
    ("accuracy", "token accuracy"),
    # note-feature runs: the sum of the six heads' NLL, then each head
    ("nll", "nats/note"), *((f, f"  {f}") for f in ("pitch", "step", "duration", "interval",
                                                    "velocity", "polyphony")),
    ("pitch_accuracy", "pitch accuracy"),
    ("negative_elbo", "negative ELBO"), ("kl", "KL nats"), ("active_units", "active units"),
    ("f1", "note F1"), ("shuffle_drop", "z-shuffle drop"), ("l1_db", "log-mel L1 dB"),
    ("infill_nats", "pseudo nats/tok"),  # a masked (bidirectional) model: one hidden token
)
