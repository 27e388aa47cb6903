"""Kill-at-any-instant resume (issue 12): SIGKILL a tiny training run at random instants,
resume it, and compare with the run that was never interrupted.

The run saves a checkpoint every step (``eval_every=1``), and its LSTM is wide
(``--hidden``, default 512) while its batches are tiny, so a good share of the
instants fall inside a save. Each resumed run must end bit-identical to the uninterrupted one (the
log's step, epoch, lr, losses and accuracy, and the last and best weights), or the
resume must refuse with one ``cadenza: error:`` line (exit 2). 16 kills fall after the
first checkpoint exists, 4 anywhere (start-up included). Runs in a few minutes on one
thread.

Usage: python benchmarks/bench_kill_resume.py [--kills 20] [--steps 20] [--hidden 512]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from table import print_table

CADENZA = str(Path(sys.executable).with_name("cadenza"))
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
COLUMNS = ("step", "epoch", "lr", "train_loss", "val_nats", "val_accuracy")


def make_data(root: Path) -> Path:
    """Ten random four-bar SATB pieces, prepared."""
    import symusic

    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare

    corpus = root / "midi"
    corpus.mkdir(parents=True)
    ranges = {"Soprano": (64, 76), "Alto": (57, 69), "Tenor": (50, 62), "Bass": (41, 53)}
    for i in range(10):
        rng = np.random.default_rng(i)
        score = symusic.Score(480)
        score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
        for name, (low, high) in ranges.items():
            track, tick = symusic.Track(name, 0, False), 0
            while tick < 16 * 480:
                length = 480 * int(rng.choice([1, 2]))
                track.notes.append(symusic.Note(tick, length, int(rng.integers(low, high)), 80))
                tick += length
            score.tracks.append(track)
        (corpus / f"p{i}.mid").write_bytes(bytes(score.dumps_midi()))
    prepare(DataConfig(corpus=str(corpus)), root / "data", jobs=1, cache_dir=None,
            progress=False)
    return root / "data"


def train_args(data: Path, out: Path, steps: int, hidden: int) -> list[str]:
    return [CADENZA, "train", "--preset", "tiny", "--data", str(data), "--out", str(out),
            "--quiet", "--set", f"train.max_steps={steps}", "--set", "train.eval_every=1",
            "--set", "train.epochs=1000", "--set", f"model.hidden={hidden}"]


def fingerprint(run: Path) -> tuple:
    """What must match: the log's columns, the last and the best weights (tensors)."""
    from safetensors.torch import load_file

    from cadenza.train.checkpoint import last_weights
    from cadenza.train.logs import read_log

    log = [[row[c] for c in COLUMNS] for row in read_log(run / "log.csv")]
    weights = [{k: v.numpy().tobytes() for k, v in load_file(p).items()}
               for p in (last_weights(run), run / "model.safetensors")]
    return log, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=512, help="LSTM width (save size)")
    options = parser.parse_args()
    rng = np.random.default_rng(options.seed)
    root = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    try:
        data = make_data(root)
        started = time.monotonic()
        proc = subprocess.Popen(train_args(data, root / "full", options.steps, options.hidden),
                                env=ENV, stdout=subprocess.DEVNULL)
        while not (root / "full" / "checkpoint.json").exists() and proc.poll() is None:
            time.sleep(0.01)
        first_checkpoint = time.monotonic() - started
        assert proc.wait() == 0, "the uninterrupted run failed"
        total = time.monotonic() - started
        reference = fingerprint(root / "full")
        outcomes = {"identical": 0, "refused": 0, "diverged": 0, "failed": 0}
        mid_save = 0
        notes = []
        for k in range(options.kills):
            out = root / f"run{k}"
            anywhere = k >= options.kills - options.kills // 5
            proc = subprocess.Popen(train_args(data, out, options.steps, options.hidden), env=ENV,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = time.monotonic()
            if anywhere:
                delay = rng.uniform(0, total)
            else:
                while not (out / "checkpoint.json").exists() and proc.poll() is None:
                    time.sleep(0.005)
                delay = rng.uniform(0, total - first_checkpoint)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            leftovers = list(out.glob("*.tmp")) + list(out.glob(".*.tmp"))
            steps_on_disk = {p.name.split("-")[1].split(".")[0] for p in out.glob("last-*")}
            mid_save += bool(leftovers) or len(steps_on_disk) > 1
            resumed = subprocess.run([CADENZA, "train", "--resume", "--out", str(out),
                                      "--quiet"], env=ENV, capture_output=True, text=True)
            err = [line for line in resumed.stderr.splitlines() if line.strip()]
            if resumed.returncode == 0:
                same = fingerprint(out) == reference
                outcomes["identical" if same else "diverged"] += 1
            elif resumed.returncode == 2 and len(err) == 1 and err[0].startswith(
                    "cadenza: error:"):
                outcomes["refused"] += 1
                notes.append(err[0][:100])
            else:
                outcomes["failed"] += 1
                notes.append(f"exit {resumed.returncode}: {err[-1] if err else ''}"[:100])
        rows = [
            ("uninterrupted run", f"{total:.1f} s", "", f"{options.steps} steps, checkpoint "
             f"every step, first after {first_checkpoint:.1f} s; LSTM {options.hidden} wide"),
            ("kills", str(options.kills), "20", f"{mid_save} caught mid-save (temporary or "
             "two steps' files on disk)"),
            ("resumed bit-identical", str(outcomes["identical"]), "", "log and last/best "
             "weights equal the uninterrupted run's"),
            ("resume refused (one line)", str(outcomes["refused"]), "", "killed before the "
             "first checkpoint"),
            ("diverged or crashed", str(outcomes["diverged"] + outcomes["failed"]), "0", ""),
        ]
        print_table(rows)
        for note in sorted(set(notes)):
            print(f"  {note}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
