"""``cadenza study``: the four-way comparison (or any study TOML) end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from cadenza.commands import add_command
from cadenza.validate import int_option


def register(commands) -> None:
    study = add_command(commands, "study",
                        "train every model of a study TOML on the same data and seeds; "
                        "write results.json and report.html", run_study)
    study.add_argument("spec", type=Path, metavar="STUDY.toml",
                       help="the study (e.g. studies/four-way-smoke.toml)")
    study.add_argument("--out", required=True, type=Path,
                       help="study folder; a rerun keeps its finished runs")
    study.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="SECTION.KEY=VALUE",
                       help="change one value of the TOML for this study (repeatable; "
                            "a TOML value), e.g. --set study.seq_lens=[24] --set "
                            "study.tokens=12000000")
    study.add_argument("--jobs", type=int_option(1, 256), default=1,
                       help="runs (and searches) trained at once, each in its own process "
                            "on the study's thread budget; the numbers do not depend on it "
                            "(default 1)")


def run_study(args: argparse.Namespace) -> int:
    from cadenza.io.atomic import folder_lock, make_folder
    from cadenza.study.listen import write_continuations
    from cadenza.study.report import write_results
    from cadenza.study.runner import prepare_datasets, true_continuations
    from cadenza.study.runner import run_study as run
    from cadenza.study.spec import load_study

    spec = load_study(args.spec, args.overrides)
    make_folder(args.out)
    with folder_lock(args.out, wait=False, what="study"):
        records = run(spec, args.out, jobs=args.jobs)
        truth = true_continuations(spec, prepare_datasets(spec, args.out))
        listen = write_continuations(args.out, records, spec.primers[0], truth)
        write_results(args.out, spec.raw, records, listen)
    print(f"study {spec.name}: {len(records)} runs; report in {args.out / 'report.html'}, "
          f"every number in {args.out / 'results.json'}")
    return 0
