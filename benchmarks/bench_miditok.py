"""The MidiTok codec (issue 14): round trips for every option set, and a run's test NLL.

    python benchmarks/bench_miditok.py [--files 200]
    python benchmarks/bench_miditok.py --nll src/cadenza/runs/piano-miditok

1. For each option set cadenza ships (REMI and TSD; with and without programs,
   velocities, pedal, tempos, meters, chords, rests), the share of pieces for which
   encode -> decode -> encode gives the same codes (target 1.000): generated
   general-MIDI files (piano with velocities and pedal, bass, drums, a tempo change)
   and the pieces of the shipped Piano-midi.de corpus as MIDI.
2. ``--nll RUN``: the run's test NLL in nats per token and per note (its own dataset).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from bench_prepare import make_general_midi_folder
from table import print_table

OPTION_SETS = [
    {"tokenization": "REMI"},
    {"tokenization": "TSD"},
    {"tokenization": "REMI", "programs": False, "velocities": 0},
    {"tokenization": "TSD", "programs": False, "velocities": 0},
    {"tokenization": "REMI", "sustain_pedal": False, "tempos": False,
     "time_signatures": False},
    {"tokenization": "TSD", "steps_per_quarter": 4, "velocities": 8},
    {"tokenization": "REMI", "chords": True, "rests": True},
    {"tokenization": "TSD", "rests": True, "steps_per_quarter": 16},
]


def scores(files: int) -> dict[str, list]:
    """The pieces each round trip is checked on, by source."""
    from cadenza.corpus.benchmarks import benchmark_folder
    from cadenza.corpus.cache import default_cache_dir
    from cadenza.io.read import read

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_general_midi_folder(folder, files, seed=7)
        general = [read(p, drums=True)[0] for p in sorted(folder.glob("*.mid"))]
    piano = benchmark_folder("piano-midi", default_cache_dir())
    return {"generated general MIDI": general,
            "Piano-midi.de": [read(p)[0] for p in sorted(piano.rglob("*.mid"))]}


def round_trips(pieces: dict[str, list]) -> list[tuple[str, str, str, str]]:
    from cadenza.codecs import build_codec

    rows = []
    for options in OPTION_SETS:
        codec = build_codec("miditok", **options)
        for source, scores_ in pieces.items():
            same, tokens = 0, 0
            for score in scores_:
                codes = codec.encode(score)
                tokens += len(codes)
                same += np.array_equal(codec.encode(codec.decode(codes)), codes)
            label = ", ".join(f"{k}={v}" for k, v in options.items())
            rows.append((f"{label} [{source}]", f"{same / len(scores_):.3f}", "1.000",
                         f"{same}/{len(scores_)} pieces, {tokens / len(scores_):,.0f} tokens"
                         " a piece"))
    return rows


def nll_rows(run_path: Path) -> list[tuple[str, str, str, str]]:
    from cadenza.data.recipe import run_dataset
    from cadenza.train.checkpoint import load_run
    from cadenza.train.loop import objective_for

    run = load_run(run_path)
    dataset = run_dataset(run)
    result = objective_for(run.config, dataset).evaluate(run.model, "test", augmented=False)
    note = f"{result['pieces']} pieces, {result['tokens']} tokens, {result['notes']} notes"
    return [(f"{run_path.name}: test NLL", f"{result['nats']:.3f} nats/token", "", note),
            (f"{run_path.name}: test NLL per note", f"{result['nats_per_note']:.3f} nats/note",
             "", json.dumps(run.codec.config()))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--nll", type=Path, default=None, metavar="RUN")
    args = parser.parse_args()
    if args.nll is not None:
        print_table(nll_rows(args.nll))
        return
    print_table(round_trips(scores(args.files)))


if __name__ == "__main__":
    main()
