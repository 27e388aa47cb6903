"""Helpers for the hostile-input tests: run the CLI and demand the one-line refusal."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from cadenza.cli import main

RUNS = Path(__file__).resolve().parents[2] / "src" / "cadenza" / "runs"


def refused(capsys, args: list[str]) -> str:
    """Run ``cadenza args``; it must exit 2 with exactly one line on stderr, the
    ``cadenza: error:`` line, and no traceback. Returns that line."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}, stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith("cadenza: error: "), err
    assert "Traceback" not in err
    return lines[0]


def midi_file(tpq: int = 480, numerator: int = 4, denominator_power: int = 2,
              tempo_us: int = 500_000, notes: int = 16, step: int | None = None) -> bytes:
    """A one-track MIDI file written byte by byte, so its header can say anything."""

    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        n >>= 7
        while n:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        return bytes(reversed(out))

    step = step if step is not None else max(tpq, 1)
    events = b"\x00\xff\x58\x04" + bytes([numerator, denominator_power, 24, 8])
    events += b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big")
    for i in range(notes):
        pitch = 72 + (0, 2, 4, 5, 7, 5, 4, 2)[i % 8]
        events += vlq(0) + bytes([0x90, pitch, 80]) + vlq(step) + bytes([0x80, pitch, 0])
    events += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk"
            + struct.pack(">I", len(events)) + events)


@pytest.fixture
def copy_run(tmp_path) -> Callable[[str], Path]:
    """``copy_run("chorale-default")``: a private copy of a shipped run, to damage."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(RUNS / name, target)
        return target

    return copy
