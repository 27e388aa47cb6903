"""``cadenza harmonize`` and ``cadenza evaluate-harmony``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cadenza.commands import add_command
from cadenza.errors import ConfigError
from cadenza.limits import MAX_BEAM_WIDTH
from cadenza.validate import SEED, float_option, int_option

METHODS = ("greedy", "beam", "sample", "infill", "gibbs")


def register(commands) -> None:
    harmonize = add_command(commands, "harmonize", "fill the other voices of a melody",
                            run_harmonize)
    harmonize.add_argument("paths", nargs="+", metavar="[RUN] MELODY",
                           help="optional run folder (default: the shipped harmonizer), then "
                                "the melody file (.musicxml .mxl .mid .abc .krn)")
    harmonize.add_argument("--given", default="S",
                           help="the voices the input gives: S (default), B, SB, ...")
    _method_options(harmonize)
    harmonize.add_argument("--out", type=Path, required=True, help="output folder")
    harmonize.add_argument("--formats", default="mid,musicxml,wav,png",
                           help="outputs to write (default: mid,musicxml,wav,png)")

    evaluate = add_command(commands, "evaluate-harmony",
                           "BachBot's masked-part test on held-out chorales", run_evaluate)
    evaluate.add_argument("run", nargs="?", type=Path, help="run folder (default: shipped)")
    evaluate.add_argument("--data", type=Path, default=None,
                          help="prepared chorale dataset (default: prepares the embedded one)")
    evaluate.add_argument("--split", default="test", choices=("validation", "test"))
    evaluate.add_argument("--tasks", default="S,A,T,B,AT,ATB", help="voices to hide, per task")
    evaluate.add_argument("--limit", type=int_option(1), default=None,
                          help="only the first N pieces")
    evaluate.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    _method_options(evaluate)


def _method_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=METHODS, default=None,
                        help="greedy|beam|sample (language-model runs), infill|gibbs "
                             "(the melody-aware run); default: the run's first")
    parser.add_argument("--width", type=int_option(1, MAX_BEAM_WIDTH), default=8,
                        help=f"beam width (default 8, at most {MAX_BEAM_WIDTH})")
    parser.add_argument("--temperature", type=float_option(0, 100, low_open=True),
                        default=None,
                        help="sample|gibbs: > 0, below 1 sharpens (default 1); checked as "
                             "`cadenza generate` checks it, for every method")
    parser.add_argument("--top-k", type=int_option(1), default=None,
                        help="sample|gibbs: keep the k likeliest")
    parser.add_argument("--top-p", type=float_option(0, 1, low_open=True), default=None,
                        help="sample|gibbs: keep the likeliest tokens up to probability p")
    parser.add_argument("--min-p", type=float_option(0, 1, low_open=True), default=None,
                        help="sample|gibbs: keep tokens at least p times the likeliest")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--transpositions", type=int_option(0, 6), default=None, metavar="K",
                        help="infill|gibbs: average the model over the input transposed by "
                             "-K..K semitones (default 2; 0 is five times faster)")


LM_METHODS = ("greedy", "beam", "sample")


def _processors(args: argparse.Namespace) -> list:
    """The sampling chain of ``cadenza generate`` (one validation for every command)."""
    from cadenza.generate.processors import sampling_processors

    temperature = 1.0 if args.temperature is None else args.temperature
    return sampling_processors(temperature, args.top_k, args.top_p, args.min_p)


def _harmonizer(run: Path | None, args: argparse.Namespace):
    """The given run; without one, the shipped model that does ``args.method``: the chorale
    language model for greedy/beam/sample, else the infilling harmonizer."""
    from cadenza.generate import default_run
    from cadenza.harmonize import default_harmonizer, load_harmonizer

    if run is None:
        run = default_run() if args.method in LM_METHODS else default_harmonizer()
    harmonizer = load_harmonizer(run)
    if args.transpositions is not None:  # checked where the predictor is built
        harmonizer.transpositions = args.transpositions
    return harmonizer


def run_harmonize(args: argparse.Namespace) -> int:
    from cadenza.generate.outputs import check_formats, write_outputs
    from cadenza.harmonize.grid import VOICE_LETTERS, parse_voices
    from cadenza.harmonize.melody import check_kept, load_melody
    from cadenza.io.atomic import folder_lock

    if len(args.paths) > 2:
        raise ConfigError("give at most a run folder and one melody file")
    run = Path(args.paths[0]) if len(args.paths) == 2 else None
    melody_path = Path(args.paths[-1])
    formats = check_formats(args.formats.split(","))
    processors = _processors(args)
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"{args.out}: cannot write there: it is a file, not a folder")
    harmonizer = _harmonizer(run, args)
    melody = load_melody(melody_path, parse_voices(args.given))
    for notice in melody.notices:
        print(f"notice: {notice}")
    filled, logp = harmonizer.fill(melody.cells, melody.fermata, args.method, width=args.width,
                                   processors=processors, seed=args.seed)
    score = melody.to_score(filled)
    kept = check_kept(melody.original, score, melody.given)
    with folder_lock(args.out):  # one writer at a time; the files are staged, then renamed
        written = write_outputs(score, args.out, f"{melody_path.stem}-harmonized", formats)
    print(f"harmonized {melody_path.name} ({score.end // score.tpq} quarters, given "
          f"{args.given.upper()}, method {args.method or harmonizer.methods[0]}); kept the "
          f"given {''.join(VOICE_LETTERS[v] for v in melody.given)} note for note "
          f"({kept} notes):")
    for path in written.values():
        print(f"  {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from cadenza.corpus.prepare import embedded_dataset
    from cadenza.data.dataset import PreparedDataset
    from cadenza.evaluate.harmony import evaluate_harmony, format_harmony
    from cadenza.safety import write_text

    processors = _processors(args)
    harmonizer = _harmonizer(args.run, args)

    data = args.data or embedded_dataset()
    tasks = tuple(t.strip().upper() for t in args.tasks.split(",") if t.strip())
    result = evaluate_harmony(harmonizer, PreparedDataset(data), args.split, args.method, tasks,
                              args.limit, args.width, args.seed, processors)
    print(format_harmony(result))
    if args.json:
        write_text(args.json, json.dumps(result, indent=1))
    return 0
