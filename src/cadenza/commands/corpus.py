"""``cadenza prepare`` and ``cadenza corpus info``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cadenza.commands import add_command, add_corpus_options


def register(commands) -> None:
    prepare = add_command(commands, "prepare", "read, preprocess and encode a corpus", run_prepare)
    add_corpus_options(prepare)
    prepare.add_argument("--codec", default=None,
                         help="codec name (default: chorale; pianoroll for the benchmark "
                              "corpora jsb, nottingham, musedata, piano-midi); its options "
                              "by --set codec.NAME=VALUE")
    prepare.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    prepare.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a data setting, e.g. preprocess.meter=3/4 or preprocess.augment=-2,2",
    )
    prepare.add_argument("--cache", type=Path, default=None,
                         help="cache folder (default: $CADENZA_CACHE or ~/.cache/cadenza)")
    prepare.add_argument("--no-cache", action="store_true", help="skip the cache")
    prepare.add_argument("--force", action="store_true", help="replace another dataset in --out")

    corpus = commands.add_parser("corpus", help="look at a corpus")
    corpus_commands = corpus.add_subparsers(title="commands", metavar="COMMAND")
    info = add_command(corpus_commands, "info", "counts of pieces, parts, meters, keys, notes",
                       run_corpus_info)
    add_corpus_options(info)
    info.add_argument("--json", action="store_true", help="print JSON")


def run_prepare(args: argparse.Namespace) -> int:
    from cadenza.config import DataConfig, apply_overrides
    from cadenza.corpus.prepare import prepare

    config = apply_overrides(DataConfig.for_corpus(args.corpus, args.codec), args.overrides)
    cache = None if args.no_cache else (args.cache or "default")
    manifest = prepare(config, args.out, jobs=args.jobs, cache_dir=cache, force=args.force,
                       progress=not args.quiet)
    counts = manifest["counts"]
    print(
        f"prepared {counts['pieces']} pieces ({counts['tokens']} steps, "
        f"vocabulary {counts['vocab_size']}) from {counts['files']} files into {args.out} "
        f"in {manifest['seconds']:.1f} s"
    )
    split = counts["pieces_by_split"]
    print(f"split: train {split['train']}, validation {split['validation']}, "
          f"test {split['test']}; augmented copies {counts['augmented_copies']}")
    if manifest["skipped"]:
        print(f"skipped {len(manifest['skipped'])} (each with its reason in "
              f"{args.out / 'manifest.json'}):")
        reasons: dict[str, int] = {}
        for item in manifest["skipped"]:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {n:4d}  {reason}")
    return 0


def run_corpus_info(args: argparse.Namespace) -> int:
    from cadenza.corpus.info import corpus_info, format_info

    info = corpus_info(args.corpus, jobs=args.jobs, progress=not args.quiet)
    print(json.dumps(info, indent=1) if args.json else format_info(info))
    return 0
