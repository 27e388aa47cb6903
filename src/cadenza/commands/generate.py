"""``cadenza generate`` and ``cadenza continue``: sample pieces from a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cadenza.commands import add_command
from cadenza.limits import MAX_PIECES, MAX_TOKENS
from cadenza.validate import SEED, float_option, int_option

COUNT = int_option(1, name="value")  # --frames, --bars, --notes


def register(commands) -> None:
    generate = add_command(commands, "generate", "sample new pieces from a trained run",
                           run_generate)
    generate.add_argument("run", nargs="?", type=Path, default=None,
                          help="run folder (default: the shipped chorale model)")
    generate.add_argument("--length", type=COUNT, default=None, metavar="BARS",
                          help="bars per piece (piano-roll and miditok runs; default 8); "
                               "notes per piece (note-feature runs; default 200)")
    _sampling_options(generate)

    cont = add_command(commands, "continue", "continue a primer file with a trained run",
                       run_continue)
    cont.add_argument("paths", nargs="+", type=Path, metavar="[RUN] PRIMER",
                      help="optional run folder, then the primer (.mid, .musicxml, ...)")
    length = cont.add_mutually_exclusive_group()
    length.add_argument("--frames", type=COUNT,
                        help="keep the primer's first N 16th-note frames")
    length.add_argument("--bars", type=COUNT, help="keep the primer's first N bars")
    length.add_argument("--notes", type=COUNT, help="keep the primer up to its N-th note "
                        "(note-feature runs: its first N notes, default 25)")
    cont.add_argument("--length", type=COUNT, default=None, metavar="BARS",
                      help="bars to add (piano-roll and miditok runs; default 4; chorales "
                           "end at a close of their own); notes to add (note-feature runs; "
                           "default 200)")
    _sampling_options(cont)


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int_option(1, MAX_PIECES), default=4,
                        help=f"how many pieces (default 4, at most {MAX_PIECES})")
    sampling_flags(parser)
    parser.add_argument("--seed", type=SEED, default=None, help="same seed, same pieces")
    parser.add_argument("--max-tokens", type=int_option(16, 1 << 20), default=MAX_TOKENS,
                        help=f"longest piece in tokens, primer included (default {MAX_TOKENS})")
    parser.add_argument("--out", type=Path, required=True, help="folder for the output files")
    parser.add_argument("--formats", default="mid,musicxml,wav,png",
                        help="comma-separated: mid, musicxml, wav, png (default all)")
    parser.add_argument("--no-grammar", action="store_true",
                        help="sample without the codec grammar mask")
    note_flags(parser)


def note_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of note-feature runs (and --scale, which token runs take too)."""
    parser.add_argument("--head-temperature", default=None, metavar="HEAD=T,...",
                        help="per-head temperatures of a note-feature run, e.g. "
                             "pitch=0.8,step=1.0 (others: --temperature)")
    parser.add_argument("--polyphony", choices=("count", "step", "mono"), default=None,
                        help="note-feature runs: chords from the polyphony head (count, the "
                             "default), from the step head (step), or none (mono)")
    parser.add_argument("--scale", default=None, metavar="TONIC:MODE",
                        help="allow only the pitches of a scale, e.g. D:minor (note-feature "
                             "and chorale runs)")


def sampling_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override the run's own sampling settings (its sampling.json)."""
    parser.add_argument("--temperature", type=TEMPERATURE, default=None,
                        help="default: the run's setting, else 1.0")
    parser.add_argument("--pitch-temperature", type=TEMPERATURE, default=None,
                        help="temperature of the pitch of new notes only, keeping the odds "
                             "of moving vs holding (chorales; default: the run's setting)")
    parser.add_argument("--top-k", type=int_option(1, 1 << 20), default=None)
    parser.add_argument("--top-p", type=float_option(0, 1, low_open=True), default=None)
    parser.add_argument("--min-p", type=float_option(0, 1, high_open=True), default=None)
    parser.add_argument("--min-frames", type=int_option(0, 1 << 20), default=None,
                        help="no END before this many 16th-note frames (chorales)")
    parser.add_argument("--end-after", type=int_option(0, 1 << 20), default=None,
                        metavar="FRAMES",
                        help="past this many frames, END grows likelier every frame, so a "
                             "long piece ends at a close of its own (chorales; 0: off)")
    parser.add_argument("--end-growth", type=float_option(1, 1000), default=None,
                        help="factor on END's odds per frame past --end-after (default 1.1)")


TEMPERATURE = float_option(0, 100, low_open=True)


def sampling_settings(args: argparse.Namespace, run_path: str | Path) -> Any:
    """The run's sampling settings with the flags given on the command line applied."""
    from cadenza.generate.settings import load_sampling

    return load_sampling(run_path).override(
        temperature=args.temperature, pitch_temperature=args.pitch_temperature,
        top_k=args.top_k, top_p=args.top_p, min_p=args.min_p, min_frames=args.min_frames,
        end_after=args.end_after, end_growth=args.end_growth)


def _load(run: Path | None) -> Any:
    from cadenza.errors import CadenzaError
    from cadenza.generate import default_run

    try:
        from cadenza.train.checkpoint import load_run
    except ImportError:
        raise CadenzaError("loading runs needs cadenza.train, which is not installed") from None
    loaded = load_run(run if run is not None else default_run())
    contract = getattr(loaded.model, "contract", "autoregressive")
    if contract != "autoregressive":  # a bidirectional or VAE model has no next step
        raise CadenzaError(f"{loaded.path} holds a {contract} model "
                           f"({loaded.config.model.name}), which cannot sample left to right")
    return loaded


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The options checked before any model is loaded."""
    from cadenza.errors import CadenzaError
    from cadenza.generate.outputs import check_formats

    if args.out.exists() and not args.out.is_dir():
        raise CadenzaError(f"{args.out}: cannot write there: it is a file, not a folder")
    return {
        "formats": check_formats(args.formats.split(",")),
        "grammar": None if args.no_grammar else "auto",
    }


def _write(scores: list, args: argparse.Namespace, formats: tuple[str, ...], name: str) -> None:
    from cadenza.generate.outputs import write_outputs
    from cadenza.io.atomic import folder_lock

    # one writer at a time: a second run into --out waits, so the pieces of one run
    # come out together and each piece's files are written whole (staged, then renamed)
    with folder_lock(args.out, wait=True):
        for index, score in enumerate(scores, start=1):
            stem = f"{name}-{index:03d}"
            written = write_outputs(score, args.out, stem, formats)
            files = ", ".join(str(p) for p in written.values()) or "nothing"
            print(f"{stem}: {len(score)} notes, {score.end / score.tpq:g} quarters -> {files}")


def run_generate(args: argparse.Namespace) -> int:
    from cadenza.commands._midi_tokens import generate_tokens, is_event_tokens
    from cadenza.commands._notes import generate_notes_command, is_notes
    from cadenza.commands._rolls import generate_rolls, is_pianoroll
    from cadenza.generate import sample

    settings = _settings(args)
    run = _load(args.run)
    if is_notes(run):
        return generate_notes_command(args, run, settings["formats"])
    _token_run_only(args, run)
    if is_pianoroll(run):
        return generate_rolls(args, run, settings["formats"])
    if is_event_tokens(run):
        return generate_tokens(args, run, settings["formats"])
    processors = sampling_settings(args, run.path).processors(run.vocab) + _scale(args, run)
    rows = sample(run.model, run.vocab, n=args.n, processors=processors,
                  max_tokens=args.max_tokens, seed=args.seed, grammar=settings["grammar"])
    scores = [run.codec.decode(run.vocab.decode(ids)) for ids in rows]
    _write(scores, args, settings["formats"], run.codec.name)
    return 0


def run_continue(args: argparse.Namespace) -> int:
    from cadenza.commands._notes import continue_notes, is_notes
    from cadenza.commands._rolls import continue_rolls, is_pianoroll
    from cadenza.errors import CadenzaError
    from cadenza.generate.continuation import continue_primer, load_primer
    from cadenza.harmonize.melody import check_kept

    if len(args.paths) > 2:
        raise CadenzaError("give at most a run folder and one primer file")
    run_path, primer_path = (None, args.paths[0]) if len(args.paths) == 1 else args.paths
    settings = _settings(args)
    run = _load(run_path)
    if is_notes(run):
        return continue_notes(args, run, primer_path, settings["formats"])
    _token_run_only(args, run)
    if is_pianoroll(run):
        return continue_rolls(args, run, primer_path, settings["formats"])
    from cadenza.commands._midi_tokens import continue_tokens, is_event_tokens

    if is_event_tokens(run):
        return continue_tokens(args, run, primer_path, settings["formats"])
    full = _harmonized_primer(primer_path) if run.codec.name == "chorale" else None
    primer = load_primer(primer_path, run.codec, run.vocab, frames=args.frames,
                         bars=args.bars, notes=args.notes, score=full,
                         max_tokens=args.max_tokens)
    if primer.notice:
        print(f"notice: {primer.notice}")
    print(f"primer {primer_path}: kept {primer.frames} frames ({len(primer.ids)} tokens), "
          f"transposed by {primer.shift:+d} and back")
    scores = continue_primer(run.model, run.vocab, run.codec, primer, n=args.n,
                             processors=sampling_settings(args, run.path).processors(run.vocab)
                             + _scale(args, run),
                             max_tokens=args.max_tokens,
                             seed=args.seed, grammar=settings["grammar"])
    # every continuation opens with the primer, note for note, or nothing is written
    given, end = primer.score.transpose(-primer.shift), primer.end_tick
    for score in scores:
        kept = check_kept(given, score, end=end)
    print(f"kept the primer note for note ({kept} notes) in each continuation")
    _write(scores, args, settings["formats"], f"{primer_path.stem}-continued")
    return 0


def _harmonized_primer(path: Path) -> Any:
    """A primer with fewer voices than the chorale model writes (a melody, or a melody
    and bass), harmonized first by the shipped harmonizer, as ``cadenza harmonize``
    would; ``None`` for a primer with four voices or more."""
    from cadenza.harmonize import default_harmonizer, load_harmonizer
    from cadenza.harmonize.grid import VOICE_LETTERS
    from cadenza.harmonize.melody import check_kept, load_melody
    from cadenza.io import read

    score = read(path)[0]
    voices = sum(1 for p in range(len(score.parts)) if len(score.part_notes(p)))
    if voices >= 4 or voices == 0:
        return None
    given = {1: [0], 2: [0, 3], 3: [0, 1, 3]}[voices]  # S; S and B; S, A and B
    melody = load_melody(path, given)
    for notice in melody.notices:
        print(f"notice: {notice}")
    filled, _ = load_harmonizer(default_harmonizer()).fill(melody.cells, melody.fermata)
    harmonized = melody.to_score(filled)
    kept = check_kept(melody.original, harmonized, melody.given)
    letters = "".join(VOICE_LETTERS[v] for v in given)
    print(f"notice: the primer has {voices} voice(s); harmonized it as {letters} with the "
          f"shipped harmonizer first (kept note for note, {kept} notes)")
    return harmonized


def _token_run_only(args: argparse.Namespace, run: Any) -> None:
    """Note-feature flags on a run that has no note heads: one clear error."""
    from cadenza.errors import CadenzaError

    for flag, value in (("--head-temperature", args.head_temperature),
                        ("--polyphony", args.polyphony)):
        if value is not None:
            raise CadenzaError(f"{flag} is for note-feature runs (codec notes); "
                               f"this run's codec is {run.codec.name}")
    if args.scale and run.codec.name == "pianoroll":
        raise CadenzaError("--scale is for note-feature, chorale and miditok runs, "
                           "not piano-roll runs")


def _scale(args: argparse.Namespace, run: Any) -> list:
    """The scale processor ``--scale`` asks for over a token run's vocabulary."""
    from cadenza.generate.processors import Scale

    return [Scale.for_vocab(args.scale, run.vocab, run.codec)] if args.scale else []
