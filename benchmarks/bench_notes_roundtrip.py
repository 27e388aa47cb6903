"""Round trip of the ``notes`` codec: encode -> decode -> encode is the identity.

For every file of a corpus (default: the shipped Piano-midi.de pieces, written as MIDI
into the cache) and every codec option shipped (time in beats on the 12-per-beat grid,
time in seconds at 100 per second), counts the pieces whose codes come back unchanged.

    python benchmarks/bench_notes_roundtrip.py [--corpus piano-midi | --folder DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from cadenza.codecs import build_codec
from cadenza.io.read import read

OPTIONS = ({"time": "beats"}, {"time": "seconds"})


def files(args: argparse.Namespace) -> list[Path]:
    if args.folder:
        return sorted(p for p in Path(args.folder).rglob("*") if p.suffix in (".mid", ".midi"))
    from cadenza.corpus.benchmarks import benchmark_folder

    cache = Path(os.environ.get("CADENZA_CACHE", Path.home() / ".cache" / "cadenza"))
    return sorted(benchmark_folder(args.corpus, cache).rglob("*.mid"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="piano-midi")
    parser.add_argument("--folder", default=None, help="a folder of MIDI files instead")
    args = parser.parse_args()
    paths = files(args)
    scores = [read(p)[0] for p in paths]
    for options in OPTIONS:
        codec = build_codec("notes", **options)
        same, notes = 0, 0
        for score in scores:
            codes = codec.encode(score)
            same += np.array_equal(codes, codec.encode(codec.decode(codes)))
            notes += len(codes)
        print(f"notes codec {options}: {same}/{len(scores)} pieces ({notes} notes) come back "
              "unchanged")


if __name__ == "__main__":
    main()
