"""Uploaded music files: checked for size and type here, parsed in a bounded worker.

Nothing of the request names a path: the upload is written under a random name in a
private temporary folder, only its suffix (from a fixed list) is kept. The worker
(:mod:`cadenza.web.parse_worker`) runs with an address-space limit, a CPU limit and a
wall-clock timeout, and answers with a canonical MusicXML file that the library's
readers (``load_melody``, ``load_primer``) then take as any other file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from cadenza.errors import CadenzaError
from cadenza.io.read import SUFFIXES

XML_SUFFIXES = (".musicxml", ".xml")
ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


class UploadError(CadenzaError):
    """An upload refused or unreadable; the message is shown to the user."""


def check_upload(filename: str, data: bytes, max_bytes: int) -> str:
    """The file's suffix when the upload may be parsed; else an :class:`UploadError`."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError(f"unsupported file type {suffix or '(none)'!r}; upload "
                          f"{', '.join(SUFFIXES)}")
    if not data.strip():
        raise UploadError("the file is empty")
    if len(data) > max_bytes:
        raise UploadError(f"the file is too large ({len(data) // 1000} kB; at most "
                          f"{max_bytes // 1000} kB)")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:8]
    if suffix in (".mid", ".midi") and not head.startswith(b"MThd"):
        raise UploadError("not a MIDI file (no MThd header)")
    if suffix == ".mxl" and not head.startswith(b"PK"):
        raise UploadError("not a compressed MusicXML (.mxl) file")
    if suffix in XML_SUFFIXES:
        if not head.startswith(b"<"):
            raise UploadError("not a MusicXML file (it does not start with '<')")
        if ENTITY.search(data):  # billion-laughs and external entities: never expanded
            raise UploadError("MusicXML with entity declarations (<!ENTITY) is refused")
    if suffix in (".abc", ".krn"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadError(f"a {suffix} file must be UTF-8 text") from None
    return suffix


class ParseWorkers:
    """Bounded parser processes, one per upload, with a warm spare kept ready so a
    request does not wait for Python and music21 to start."""

    def __init__(self, seconds: float, memory_bytes: int) -> None:
        self.seconds, self.memory = seconds, memory_bytes
        self._spare: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        # the worker sets its own limits first thing (preexec_fn is unsafe in a
        # threaded server); CPU seconds include its imports
        env = dict(os.environ, OMP_NUM_THREADS="1")
        command = [sys.executable, "-m", "cadenza.web.parse_worker", str(self.memory),
                   str(int(self.seconds) + 20)]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env)

    def _take(self) -> tuple[subprocess.Popen, float]:
        """A worker and the seconds to give it: a cold one needs time to import first."""
        with self._lock:
            worker, self._spare = self._spare, None
        if worker is not None and worker.poll() is None:
            return worker, self.seconds
        return self._start(), self.seconds + 15

    def warm(self) -> None:
        """Start a spare worker if there is none."""
        with self._lock:
            if self._spare is None or self._spare.poll() is not None:
                self._spare = self._start()

    def close(self) -> None:
        with self._lock:
            if self._spare is not None:
                self._spare.kill()
                self._spare.wait()
                self._spare = None

    def parse(self, suffix: str, data: bytes, out_dir: Path) -> Path:
        """Parse ``data`` (checked by :func:`check_upload`) into ``out_dir/input.musicxml``."""
        worker, seconds = self._take()
        out = out_dir / "input.musicxml"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            request = json.dumps({"path": str(path), "out": str(out)}) + "\n"
            try:
                # the worker's first line says it is ready; the second is its answer
                stdout, _ = worker.communicate(request.encode(), timeout=seconds)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
                raise UploadError(f"parsing the file took longer than {self.seconds:g} s"
                                  ) from None
        # the next spare starts after the parse, not during it
        threading.Thread(target=self.warm, daemon=True).start()
        lines = stdout.decode(errors="replace").strip().splitlines()
        answer = _json(lines[-1]) if len(lines) >= 2 else None
        if answer is None:
            raise UploadError("the file could not be parsed within the server's limits "
                              f"(memory or time; exit status {worker.returncode})")
        if not answer.get("ok"):
            raise UploadError(str(answer.get("error", "the file could not be parsed")))
        return out


def _json(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
