"""Mel preparation speed and memory (issue 15): FluidSynth rendering and mel extraction
on the process pool, cold and cached, and peak memory at two corpus sizes.

Prints a table: files/s cold (rendered) and warm (answered from the cache), and the
peak RSS of the main process and of the largest worker at N and 4N files (flat in
corpus size: codes stream to disk, never held).

Usage: python benchmarks/bench_mel_prepare.py [--jobs 2] [--files 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_prepare import make_midi_folder
from table import print_table


def timed_mel_prepare(corpus: Path, out: Path, cache: Path | None, jobs: int) -> dict:
    """One mel preparation in a fresh process: wall time and peak memory."""
    code = (
        "import json, resource, time\n"
        "from cadenza.config import DataConfig\n"
        "from cadenza.corpus.prepare import prepare\n"
        "from cadenza.corpus.preprocess import PreprocessConfig\n"
        f"config = DataConfig(corpus={str(corpus)!r}, codec='mel',\n"
        "                    preprocess=PreprocessConfig(satb=False, normalize_key=False))\n"
        "t = time.perf_counter()\n"
        f"m = prepare(config, {str(out)!r}, jobs={jobs},\n"
        f"            cache_dir={str(cache) if cache else None!r}, force=True, progress=False)\n"
        "wall = time.perf_counter() - t\n"
        "me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'wall': wall, 'pieces': m['counts']['pieces'],\n"
        "                  'frames': m['counts']['tokens'], 'rss_main_mb': me / 1024,\n"
        "                  'rss_worker_mb': kids / 1024}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small, big = tmp / "small", tmp / "big"
        make_midi_folder(small, args.files)
        make_midi_folder(big, args.files * 4, seed=1)
        cold = timed_mel_prepare(small, tmp / "a", tmp / "cache", args.jobs)
        warm = timed_mel_prepare(small, tmp / "a", tmp / "cache", args.jobs)
        rows.append((f"{args.files} MIDI files rendered, cold",
                     f"{args.files / cold['wall']:.2f} files/s",
                     "", f"{cold['wall']:.1f} s, {cold['frames']} mel frames"))
        rows.append((f"{args.files} files, warm (cached)", f"{warm['wall']:.2f} s", "", ""))
        large = timed_mel_prepare(big, tmp / "b", None, args.jobs)
        for label, m in ((f"{args.files} files", cold), (f"{args.files * 4} files", large)):
            rows.append((f"peak RSS, {label}",
                         f"main {m['rss_main_mb']:.0f} MB, worker {m['rss_worker_mb']:.0f} MB",
                         "flat in corpus size", f"{m['pieces']} pieces"))
    print(f"machine: {os.cpu_count()} cores, jobs={args.jobs}")
    print_table(rows)


if __name__ == "__main__":
    main()
