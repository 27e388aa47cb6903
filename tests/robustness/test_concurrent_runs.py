"""Two commands on one folder, and commands stopped part-way: nothing mixed, nothing left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import satb_midi_bytes
from tests.robustness.conftest import refused

from cadenza.errors import CadenzaError
from cadenza.io.atomic import folder_lock

CADENZA = [sys.executable, "-m", "cadenza.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _corpus(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"p{i:03d}.mid").write_bytes(satb_midi_bytes(seed=i))
    return folder


def test_a_held_folder_lock_refuses_a_second_prepare(tmp_path, capsys) -> None:
    corpus = _corpus(tmp_path / "corpus", 3)
    with folder_lock(tmp_path / "data"):
        line = refused(capsys, ["prepare", "--corpus", corpus, "--out", tmp_path / "data",
                                "--no-cache", "--quiet", "--jobs", "1"])
    assert "another cadenza prepare is writing into this folder" in line
    assert not (tmp_path / "data").exists()


def test_the_lock_refuses_without_waiting_when_asked(tmp_path) -> None:
    with folder_lock(tmp_path / "out"):
        with pytest.raises(CadenzaError, match="another cadenza"):
            with folder_lock(tmp_path / "out", wait=False):
                pass
    with folder_lock(tmp_path / "out", wait=False):  # free again
        pass


def test_two_concurrent_prepares_with_different_settings(tmp_path) -> None:
    """One wins; the other refuses in one line (the lock, or the other's dataset); the
    folder holds the winner's dataset whole."""
    corpus = _corpus(tmp_path / "corpus", 40)
    out = tmp_path / "data"
    runs = [subprocess.Popen([*CADENZA, "prepare", "--corpus", str(corpus), "--out", str(out),
                              "--no-cache", "--quiet", "--jobs", "1", "--set", f"seed={seed}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
            for seed in (1, 2)]
    done = [(p.wait(timeout=120), p.stderr.read()) for p in runs]
    codes = sorted(code for code, _ in done)
    assert codes == [0, 2], done
    loser = next(err for code, err in done if code == 2).strip().splitlines()
    assert len(loser) == 1 and loser[0].startswith("cadenza: error: ")
    winner = 1 + [code for code, _ in done].index(0)
    from cadenza.data.dataset import PreparedDataset

    assert PreparedDataset(out).config["data"]["seed"] == winner
    assert not list(tmp_path.glob(".data.partial-*"))


def test_two_concurrent_generates_keep_each_piece_whole(tmp_path) -> None:
    """Both runs succeed; every piece's MIDI and MusicXML come from the same run."""
    from cadenza.io import read

    out = tmp_path / "gen"
    runs = [subprocess.Popen([*CADENZA, "generate", "--n", "3", "--seed", str(seed),
                              "--max-tokens", "200", "--formats", "mid,musicxml",
                              "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
            for seed in (1, 2)]
    for p in runs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"chorale-00{i}.{s}" for i in (1, 2, 3) for s in ("mid", "musicxml")]
    for i in (1, 2, 3):
        midi, xml = (read(out / f"chorale-00{i}.{s}")[0].merge_ties() for s in ("mid",
                                                                                 "musicxml"))
        assert midi.notes[["onset", "duration", "pitch", "part"]].tolist() == \
            xml.notes[["onset", "duration", "pitch", "part"]].tolist()


def test_a_failed_write_leaves_no_partial_piece(tmp_path, monkeypatch, capsys) -> None:
    """MusicXML writing fails after the MIDI file was written: neither stays."""
    import cadenza.io

    def broken(score, path):
        raise ValueError("music21 could not make a measure")

    monkeypatch.setattr(cadenza.io, "write_musicxml", broken)
    melody = tmp_path / "melody.mid"
    melody.write_bytes(satb_midi_bytes(seed=0))
    out = tmp_path / "out"
    line = refused(capsys, ["continue", melody, "--n", "1", "--max-tokens", "300",
                            "--formats", "mid,musicxml", "--out", out])
    assert "musicxml" in line
    assert not out.exists() or not any(out.iterdir())


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found |= {int(c) for c in text.split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_prepare_leaves_no_workers_and_no_work_folder(sig, tmp_path) -> None:
    corpus = _corpus(tmp_path / "corpus", 600)
    out = tmp_path / "data"
    proc = subprocess.Popen([*CADENZA, "prepare", "--corpus", str(corpus), "--out", str(out),
                             "--no-cache", "--quiet", "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (len(workers) >= 2 and list(
            tmp_path.glob(".data.partial-*"))):
        workers |= _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) >= 2 and proc.poll() is None, "prepare ended before it could be killed"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)
    assert not out.exists() or not (out / "manifest.json").exists()
    if sig == signal.SIGTERM:  # the process cleans up after itself
        assert not list(tmp_path.glob(".data.partial-*"))
    else:  # nothing runs after SIGKILL: the next prepare into the folder clears it
        assert list(tmp_path.glob(".data.partial-*"))
        small = _corpus(tmp_path / "small", 3)
        done = subprocess.run([*CADENZA, "prepare", "--corpus", str(small), "--out", str(out),
                               "--no-cache", "--quiet", "--jobs", "1"], env=ENV,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not list(tmp_path.glob(".data.partial-*"))


def test_a_run_folder_in_training_refuses_a_second_train(tmp_path, capsys) -> None:
    with folder_lock(tmp_path / "run"):
        line = refused(capsys, ["train", "--preset", "tiny", "--data", tmp_path, "--out",
                                tmp_path / "run", "--resume"])
    assert "another cadenza train is writing into this folder" in line


def test_a_dead_writers_staging_folder_is_swept(tmp_path) -> None:
    """A writer killed outright leaves its private folder; the next writer removes it,
    and leaves a live process's folder alone."""
    from cadenza.io.atomic import STAGE_PREFIX, staged

    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = out / f"{STAGE_PREFIX}{dead}-abc"
    live = out / f"{STAGE_PREFIX}{os.getppid()}-abc"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "piece.mid").write_bytes(b"half")
    with staged(out) as stage:
        (stage / "new.mid").write_bytes(b"whole")
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, "new.mid"])
