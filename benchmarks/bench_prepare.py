"""Corpus preparation speed and memory (issue 2; protocol in shared/BENCHMARKS.md §4).

Prints a table:
- the embedded Bach chorales, cold (empty cache) and warm (cached), median of runs;
- a folder of generated SATB MIDI files on the symusic path, files/s end to end;
- peak RSS of preparation (main process and largest worker) at two corpus sizes.

With ``--codec miditok`` (issue 14) the folder holds generated general-MIDI files
(piano with velocities and pedal, bass, drums on channel 10, a tempo change; 8 bars)
prepared with the MidiTok codec (REMI, its defaults), end to end: files/s (target
>= 500 on 2 cores) and peak RSS at ``--files`` and four times as many (flat).

Usage: python benchmarks/bench_prepare.py [--jobs 2] [--repeats 3] [--files 2000]
       python benchmarks/bench_prepare.py --codec miditok [--files 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from table import print_table


def make_midi_folder(folder: Path, n_files: int, seed: int = 0) -> None:
    """``n_files`` small four-part 4/4 MIDI files (8 bars of quarter notes)."""
    import symusic

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    centres = (72, 65, 58, 48)
    for i in range(n_files):
        midi = symusic.Score(480)
        midi.time_signatures.append(symusic.TimeSignature(0, 4, 4))
        for name, centre in zip(("Soprano", "Alto", "Tenor", "Bass"), centres):
            track = symusic.Track(name, 0, False)
            pitches = centre + rng.integers(-5, 6, size=32)
            for k, pitch in enumerate(pitches):
                track.notes.append(symusic.Note(k * 480, 480, int(pitch), 80))
            midi.tracks.append(track)
        (folder / f"piece{i:05d}.mid").write_bytes(bytes(midi.dumps_midi()))


def make_general_midi_folder(folder: Path, n_files: int, seed: int = 0) -> None:
    """``n_files`` small multi-track files: piano chords (velocities, pedal), a bass
    (program 33) and drums on channel 10, 8 bars of 4/4 with a tempo change."""
    import symusic

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        midi = symusic.Score(480)
        midi.time_signatures.append(symusic.TimeSignature(0, 4, 4))
        midi.tempos.append(symusic.Tempo(0, float(rng.integers(70, 150))))
        midi.tempos.append(symusic.Tempo(4 * 1920, float(rng.integers(70, 150))))
        piano = symusic.Track("Piano", 0, False)
        bass = symusic.Track("Bass", 33, False)
        kit = symusic.Track("Drums", 0, True)
        for beat in range(32):
            for pitch in rng.choice(np.arange(55, 80), int(rng.integers(1, 4)), replace=False):
                piano.notes.append(symusic.Note(beat * 480, int(rng.choice([240, 480, 960])),
                                                int(pitch), int(rng.integers(30, 127))))
            if beat % 2 == 0:
                bass.notes.append(symusic.Note(beat * 480, 960, int(rng.integers(36, 48)), 90))
            kit.notes.append(symusic.Note(beat * 480, 120, 36 if beat % 2 == 0 else 38, 100))
        for bar in range(8):
            piano.controls.append(symusic.ControlChange(bar * 1920, 64, 127))
            piano.controls.append(symusic.ControlChange(bar * 1920 + 1800, 64, 0))
        midi.tracks.extend([piano, bass, kit])
        (folder / f"song{i:05d}.mid").write_bytes(bytes(midi.dumps_midi()))


def timed_prepare(corpus: str, out: Path, cache: Path | None, jobs: int,
                  codec: str | None = None) -> dict:
    """Run one preparation in a fresh process; wall time and peak memory."""
    code = (
        "import json, resource, sys, time\n"
        "from cadenza.config import DataConfig\n"
        "from cadenza.corpus.prepare import prepare\n"
        "t = time.perf_counter()\n"
        f"m = prepare(DataConfig.for_corpus({corpus!r}, {codec!r}), {str(out)!r}, jobs={jobs},\n"
        f"            cache_dir={str(cache) if cache else None!r}, force=True, progress=False)\n"
        "wall = time.perf_counter() - t\n"
        "me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "cpu = sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(\n"
        "    resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))\n"
        "print(json.dumps({'wall': wall, 'pieces': m['counts']['pieces'],\n"
        "                  'files': m['counts']['files'], 'rss_main_mb': me / 1024,\n"
        "                  'rss_worker_mb': kids / 1024, 'cpu': cpu}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--codec", choices=("chorale", "miditok"), default="chorale")
    args = parser.parse_args()
    if args.codec == "miditok":
        return miditok_rows(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold = []
        for r in range(args.repeats):
            cold.append(timed_prepare("bach-chorales", tmp / "bach", tmp / f"cache-cold{r}",
                                      args.jobs))
        warm = [timed_prepare("bach-chorales", tmp / "bach", tmp / "cache-cold0", args.jobs)
                for _ in range(args.repeats)]
        rows.append(("bach chorales, cold", f"{median_of(cold, 'wall'):.2f} s",
                     "<= 20 s", f"{cold[0]['pieces']} pieces of {cold[0]['files']} files"))
        rows.append(("bach chorales, warm (cached)", f"{median_of(warm, 'wall'):.2f} s",
                     "<= 2 s", ""))

        folder = tmp / "midi"
        make_midi_folder(folder, args.files)
        midi_cold = [timed_prepare(str(folder), tmp / "midi-ds", tmp / f"mc{r}", args.jobs)
                     for r in range(args.repeats)]
        wall = median_of(midi_cold, "wall")
        rows.append((f"{args.files} MIDI files, cold", f"{args.files / wall:,.0f} files/s",
                     ">= 2,000 files/s", f"{wall:.2f} s wall"))

        big = tmp / "midi-big"
        make_midi_folder(big, args.files * 4, seed=1)
        small_mem = timed_prepare(str(folder), tmp / "m1", None, args.jobs)
        big_mem = timed_prepare(str(big), tmp / "m2", None, args.jobs)
        for label, m in ((f"{args.files} files", small_mem), (f"{args.files * 4} files", big_mem)):
            rows.append((f"peak RSS, {label}",
                         f"main {m['rss_main_mb']:.0f} MB, worker {m['rss_worker_mb']:.0f} MB",
                         "flat in corpus size", ""))
    print(f"machine: {os.cpu_count()} cores, jobs={args.jobs}, medians of {args.repeats} runs")
    print_table(rows)


def miditok_rows(args: argparse.Namespace) -> None:
    """Issue 14: general MIDI through the MidiTok codec, end to end."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, big = tmp / "midi", tmp / "midi-big"
        make_general_midi_folder(folder, args.files)
        make_general_midi_folder(big, args.files * 4, seed=1)
        runs = [timed_prepare(str(folder), tmp / "ds", None, args.jobs, "miditok")
                for _ in range(args.repeats)]
        wall, cpu = median_of(runs, "wall"), median_of(runs, "cpu")
        rows.append((f"{args.files} general MIDI files, miditok REMI",
                     f"{args.files / wall:,.0f} files/s", ">= 500 files/s",
                     f"{wall:.2f} s wall, {runs[0]['pieces']} pieces"))
        # on a shared machine the wall time counts other jobs too; CPU seconds do not
        rows.append(("  the same, per CPU-second x jobs", f"{args.files / cpu * args.jobs:,.0f} "
                     "files/s", "", f"{cpu:.2f} CPU-s (process and workers)"))
        large = timed_prepare(str(big), tmp / "ds-big", None, args.jobs, "miditok")
        for label, m in ((f"{args.files} files", runs[0]), (f"{args.files * 4} files", large)):
            rows.append((f"peak RSS, {label}",
                         f"main {m['rss_main_mb']:.0f} MB, worker {m['rss_worker_mb']:.0f} MB",
                         "flat in corpus size", f"{m['files'] / m['wall']:,.0f} files/s"))
    print(f"machine: {os.cpu_count()} cores, jobs={args.jobs}, medians of {args.repeats} runs "
          "(no cache)")
    print_table(rows)


if __name__ == "__main__":
    main()
