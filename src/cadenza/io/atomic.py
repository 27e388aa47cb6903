"""Outputs that appear whole or not at all, and one writer per output folder.

- :func:`staged` writes a group of files (one piece's MIDI, MusicXML, WAV, PNG) into a
  private folder inside the destination, then renames each into place; a failure
  part-way removes the private folder and leaves nothing behind.
- :func:`folder_lock` takes an exclusive ``flock`` on ``.<folder>.lock`` beside it, so
  two commands writing one ``--out`` wait for each other (or the second refuses).
  The kernel drops the lock when its process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cadenza.errors import CadenzaError
from cadenza.safety import about

STAGE_PREFIX = ".staging-"


def make_folder(folder: str | Path) -> Path:
    """``folder`` created if need be; a file in its place, or no permission, is a
    CadenzaError naming it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CadenzaError(f"{folder}: cannot write there: it is a file, not a folder")
    with about(folder, "cannot create the folder"):
        folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CadenzaError(f"{folder}: cannot write there: permission denied")
    return folder


@contextmanager
def staged(folder: str | Path) -> Iterator[Path]:
    """A private folder inside ``folder`` to write into; on success every file in it is
    renamed into ``folder`` (replacing files of the same name), on failure it is removed."""
    folder = make_folder(folder)
    _sweep_stale_stages(folder)
    with about(folder, "cannot write there"):
        stage = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=folder))
    try:
        yield stage
        with about(folder, "cannot write there"):
            for item in sorted(stage.iterdir()):
                os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def lock_path(folder: str | Path) -> Path:
    """``.<name>.lock`` beside ``folder``, so the folder holds only its own files."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


def _sweep_stale_stages(folder: Path) -> None:
    """Remove the private folders of processes that died mid-write (a SIGKILL runs no
    clean-up); a live process's folder is left alone."""
    for stage in folder.glob(f"{STAGE_PREFIX}*"):
        pid = stage.name[len(STAGE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def folder_lock(folder: str | Path, wait: bool = True, what: str = "command") -> Iterator[Path]:
    """Hold the lock of ``folder`` (the file :func:`lock_path`; the folder's parent is
    created if need be). ``wait=False`` refuses at once with a CadenzaError when another
    process holds it."""
    folder = Path(folder)
    lock = lock_path(folder)
    make_folder(lock.parent)
    with about(lock, "cannot lock"):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise CadenzaError(f"{folder}: another cadenza {what} is writing into this folder; "
                               "wait for it to finish or choose another --out") from None
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock
