"""``cadenza report`` and ``cadenza compare``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cadenza.commands import add_command
from cadenza.commands.generate import sampling_flags, sampling_settings
from cadenza.limits import MAX_PIECES
from cadenza.validate import SEED, int_option


def register(commands) -> None:
    report = add_command(commands, "report", "judge a run next to real music (HTML + JSON)",
                         run_report)
    report.add_argument("run", nargs="?", type=Path, default=None,
                        help="run folder (default: the shipped chorale model)")
    report.add_argument("--n", type=int_option(2, MAX_PIECES), default=64,
                        help=f"pieces to generate (default 64, 2..{MAX_PIECES})")
    sampling_flags(report)
    report.add_argument("--seed", type=SEED, default=0)
    report.add_argument("--samples", type=int_option(0, 64), default=3,
                        help="samples shown with audio/score")
    report.add_argument("--no-audio", action="store_true", help="skip WAV rendering")
    report.add_argument("--data", type=Path, default=None, help="dataset (default: the run's)")
    report.add_argument("--out", type=Path, required=True, help="folder for the report")

    compare = add_command(commands, "compare", "several runs in one table", run_compare)
    compare.add_argument("runs", nargs="+", type=Path)
    compare.add_argument("--data", type=Path, default=None, help="dataset (default: each run's)")


def run_report(args: argparse.Namespace) -> int:
    from cadenza.evaluate.report import write_report
    from cadenza.generate import default_run
    from cadenza.io.atomic import folder_lock

    run = args.run or default_run()
    _refuse_note_runs(run)
    sampling = sampling_settings(args, run)
    with folder_lock(args.out):  # two reports into one folder take turns
        numbers = write_report(run, args.out, n=args.n, sampling=sampling, seed=args.seed,
                               data=args.data, samples=args.samples, audio=not args.no_audio)
    nll = numbers["test_nll"]
    cmp = numbers["set_comparison"]
    per_note = f", {nll['nats_per_note']:.3f} nats/note" if "nats_per_note" in nll else ""
    print(f"test NLL {nll['nats']:.3f} nats/token ({nll['bits']:.3f} bits, perplexity "
          f"{nll['perplexity']:.3f}{per_note}); "
          f"mean overlapping area {cmp['mean_overlap_generated']:.3f} "
          f"(held-out vs train {cmp['mean_overlap_bach']:.3f}); "
          f"{numbers['copying']['flagged']} of {args.n} pieces flagged as copies")
    print(f"wrote {args.out / 'report.html'} and {args.out / 'report.json'}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """One row per run, each scored by its own objective (a masked model's pseudo
    nats sit under their own unit, never read as an NLL)."""
    from cadenza.data.recipe import run_dataset
    from cadenza.models import count_parameters
    from cadenza.train.checkpoint import load_run
    from cadenza.train.logs import run_timing
    from cadenza.train.loop import objective_for

    print(f"{'run':40} {'model':12} {'params':>9} {'unit':>18} {'val':>8} {'test':>8} "
          f"{'acc':>6} {'mean OA':>8} {'train s':>8} {'units/s':>8}")
    for path in args.runs:
        run = load_run(path)
        objective = objective_for(run.config, run_dataset(run, args.data))
        val = objective.evaluate(run.model, "validation", augmented=False)
        test = objective.evaluate(run.model, "test", augmented=False)
        report = path / "report" / "report.json"
        overlap = "-"
        if report.exists():
            summary = json.loads(report.read_text())["set_comparison"]
            overlap = f"{summary['mean_overlap_generated']:.3f}"
        timing = run_timing(Path(path) / "log.csv")  # wall time, throughput of training
        print(f"{str(path)[-40:]:40} {run.config.model.name:12} "
              f"{count_parameters(run.model):9,d} {test['unit']:>18} {val['loss']:8.3f} "
              f"{test['loss']:8.3f} {_number(test.get('accuracy'), '.3f'):>6} "
              f"{overlap:>8} {_number(timing['wall_s'], '.2f'):>8} "
              f"{_number(timing['units_per_s'], '.0f'):>8}")
    return 0


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def _refuse_note_runs(run: Path) -> None:
    """The report samples tokens; a note-feature run says where its measures are."""
    from cadenza.errors import CadenzaError
    from cadenza.safety import read_json

    codec = Path(run) / "codec.json"
    if codec.is_file() and read_json(codec).get("name") == "notes":
        raise CadenzaError(f"{run}: report is for token runs; a note-feature run is measured "
                           "by `cadenza evaluate RUN --data DATA` and "
                           "benchmarks/bench_notes.py")
