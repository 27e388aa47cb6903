"""``cadenza train`` and ``cadenza evaluate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cadenza.commands import add_command


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

    evaluate = add_command(commands, "evaluate",
                           "held-out likelihood of a trained run (nats, bits, perplexity)",
                           run_evaluate)
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument("--data", default=None,
                          help="prepared dataset (default: the one the run was trained on)")
    evaluate.add_argument("--split", default="validation", choices=("validation", "test", "train"))
    evaluate.add_argument("--which", default="best", choices=("best", "last"),
                          help="best (lowest validation loss) or last weights")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    evaluate.add_argument("--json", action="store_true", help="print JSON")


def run_train(args: argparse.Namespace) -> int:
    from cadenza.io.atomic import folder_lock, make_folder

    make_folder(args.out)
    # one process per run folder: a second train (or resume) of it refuses at once
    with folder_lock(args.out, wait=False, what="train"):
        return _run_train(args)


def _run_train(args: argparse.Namespace) -> int:
    from cadenza.errors import ConfigError
    from cadenza.train.checkpoint import read_config
    from cadenza.train.config import apply_overrides, load_preset
    from cadenza.train.loop import train

    if args.preset and _train_infill(args):
        return 0
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
    result = train(config, args.out, resume=args.resume, init_from=args.init_from)
    best = result["best_loss"]
    best_text = f"best validation {best:.4f} nats/token at step {result['best_step']}" if (
        best is not None) else "no validation yet"
    print(f"stopped ({result['stopped']}) after {result['steps']} steps, "
          f"{result['epochs']} epochs; {best_text}; run in {args.out}")
    return 0


def _train_infill(args: argparse.Namespace) -> bool:
    """Train an infilling harmonizer when the preset is one (``kind = "infill"``)."""
    from cadenza.config import apply_overrides
    from cadenza.errors import ConfigError
    from cadenza.train.infill import infill_preset, train_infill

    experiment = infill_preset(args.preset)
    if experiment is None:
        return False
    if args.resume:
        raise ConfigError("the infilling harmonizer has no --resume; use --init-from RUN")
    experiment.data = str(args.data or experiment.data)
    apply_overrides(experiment, list(args.overrides))
    if not experiment.data:
        raise ConfigError("no dataset: give --data DIR (a folder made by `cadenza prepare`)")
    result = train_infill(experiment, args.out, init_from=args.init_from)
    print(f"best validation {result['best_val_loss']:.4f} nats/cell after {result['steps']} "
          f"steps ({result['minutes']:.1f} min); run in {args.out}")
    return True


def run_evaluate(args: argparse.Namespace) -> int:
    from cadenza.data.dataset import PreparedDataset
    from cadenza.evaluate.likelihood import evaluate_nll
    from cadenza.train.checkpoint import check_vocab, load_run

    run = load_run(args.run, which=args.which, device=args.device)
    data = args.data or run.config.data
    dataset = PreparedDataset(data)
    check_vocab(run.vocab, dataset.vocab, f"evaluate {args.run} on {data}")
    result = evaluate_nll(run.model, dataset, args.split)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{args.run} ({args.which}) on {data} [{args.split}]: {result['pieces']} pieces, "
          f"{result['tokens']} tokens")
    print(f"  nats/token      {result['nats']:.4f}")
    print(f"  bits/token      {result['bits']:.4f}")
    print(f"  perplexity      {result['perplexity']:.3f}")
    print(f"  token accuracy  {result['accuracy']:.4f}")
    return 0
