"""Peak memory and time of harmonize, continue and prepare on hostile-sized inputs (issue 12).

Inputs, made here: a MIDI file of 1,000,000 notes (four named SATB tracks of 250,000
quarter notes) and a 1,000-bar melody (4,000 quarter notes, one track). Each command
runs under ``/usr/bin/time -v`` (apt-get install time) with one thread; the table gives
its exit status, peak resident memory and wall time. Target: every peak <= 2 GB, and
every run ends in exit 0 or a one-line refusal (exit 2).

Usage: python benchmarks/bench_hostile.py [--quick]   (--quick: --transpositions 0)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from table import print_table

CADENZA = str(Path(sys.executable).with_name("cadenza"))
LIMIT_KB = 2 * 2**20


def make_midi(path: Path, notes_per_track: int, names: tuple[str, ...], seed: int = 0) -> None:
    import symusic

    rng = np.random.default_rng(seed)
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    centres = {"Soprano": 72, "Alto": 65, "Tenor": 58, "Bass": 48}
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    for name in names:
        track = symusic.Track(name, 0, False)
        pitches = centres[name] - 5 + scale[rng.integers(0, 8, notes_per_track)]
        times = np.arange(notes_per_track, dtype=np.int32) * 480
        track.notes = symusic.Note.from_numpy(
            time=times, duration=np.full(notes_per_track, 480, dtype=np.int32),
            pitch=pitches.astype(np.int8), velocity=np.full(notes_per_track, 80, np.int8))
        score.tracks.append(track)
    path.write_bytes(bytes(score.dumps_midi()))


def measure(args: list[str], cwd: Path) -> tuple[int, int, float, str]:
    """(exit status, peak RSS kB, wall seconds, last stderr line) of one command."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["/usr/bin/time", "-v", CADENZA, *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    report = done.stderr
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)[1])
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", report)[1]
    seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(clock.split(":"))))
    own = [line for line in report.splitlines()
           if line.startswith(("cadenza:", "notice:")) or "Command exited" in line]
    message = own[0] if own else (done.stdout.strip().splitlines() or [""])[-1]
    return done.returncode, peak, seconds, message[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="harmonize with --transpositions 0 (five times faster)")
    options = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        sys.exit("needs /usr/bin/time (apt-get install time)")
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        (work / "big").mkdir()
        (work / "melody").mkdir()
        make_midi(work / "big" / "million.mid", 250_000, ("Soprano", "Alto", "Tenor", "Bass"))
        make_midi(work / "melody" / "bars1000.mid", 4_000, ("Soprano",))
        quick = ["--transpositions", "0"] if options.quick else []
        runs = {
            "harmonize 1,000-bar melody": ["harmonize", "melody/bars1000.mid", "--out", "h1",
                                           "--formats", "mid", *quick],
            "harmonize 1M-note MIDI": ["harmonize", "big/million.mid", "--out", "h2",
                                       "--formats", "mid", *quick],
            "continue 1,000-bar melody": ["continue", "melody/bars1000.mid", "--n", "1",
                                          "--seed", "0", "--out", "c1", "--formats", "mid"],
            "continue 1M-note MIDI": ["continue", "big/million.mid", "--n", "1", "--seed", "0",
                                      "--out", "c2", "--formats", "mid"],
            "prepare 1,000-bar melody": ["prepare", "--corpus", "melody", "--out", "p1",
                                         "--no-cache", "--quiet", "--jobs", "1",
                                         "--set", "preprocess.satb=false"],
            "prepare 1M-note MIDI": ["prepare", "--corpus", "big", "--out", "p2", "--no-cache",
                                     "--quiet", "--jobs", "1"],
        }
        rows = []
        for name, args in runs.items():
            code, peak, seconds, message = measure(args, work)
            rows.append((f"{name}: peak RSS", f"{peak / 1024:.0f} MB", "<= 2048 MB",
                         f"exit {code}, {seconds:.0f} s; {message}"))
            print(rows[-1], flush=True)
        print()
        print_table(rows)
        worst = max(int(r[1].split()[0]) for r in rows)
        print(f"\nworst peak {worst} MB ({'within' if worst * 1024 <= LIMIT_KB else 'OVER'} "
              "the 2 GB target)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
