"""One error path: whatever goes wrong with a user's file ends as one line naming it.

Readers wrap the code that touches a file in :func:`about` (the file name is known
there); :func:`one_line` turns any exception into the text of that line, and the CLI's
last-resort boundary (``cadenza.cli``) uses it for whatever still escapes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError

# torch reports a failed allocation as a RuntimeError with one of these phrases
_ALLOCATION = ("can't allocate memory", "not enough memory", "out of memory",
               "DefaultCPUAllocator")


def is_out_of_memory(err: BaseException) -> bool:
    return isinstance(err, MemoryError) or (
        isinstance(err, RuntimeError) and any(p in str(err) for p in _ALLOCATION))


def problem(err: BaseException) -> str:
    """What went wrong, in one line, without the file name (the caller adds it)."""
    if is_out_of_memory(err):
        return "out of memory (the input or the model is too large for this machine)"
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text (byte {err.start} is {err.object[err.start:err.start + 1]!r})"
    if isinstance(err, json.JSONDecodeError):
        return f"malformed JSON ({err.msg} at line {err.lineno}, column {err.colno})"
    if isinstance(err, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(err, NotADirectoryError):
        return "a part of the path is a file, not a folder"
    if isinstance(err, OSError):
        return err.strerror or first_line(err)
    if isinstance(err, ZeroDivisionError | OverflowError):
        return f"a value out of range ({first_line(err)})"
    return f"{type(err).__name__}: {first_line(err)}"


def first_line(err: BaseException, limit: int = 200) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(err).__name__


def one_line(err: BaseException) -> str:
    """The whole message for any exception: the file (when one is known) and the problem."""
    if isinstance(err, CadenzaError):
        return " ".join(str(err).split()) or type(err).__name__
    filename = getattr(err, "filename", None)
    text = problem(err)
    return f"{filename}: {text}" if filename else text


@contextmanager
def about(path: str | Path, action: str = "cannot read") -> Iterator[None]:
    """Turn any failure inside the block into a CadenzaError ``<path>: <action>: <problem>``.

    CadenzaErrors pass unchanged (they name their file already)."""
    try:
        yield
    except CadenzaError:
        raise
    except Exception as err:  # MemoryError is an Exception too
        raise CadenzaError(f"{path}: {action}: {problem(err)}") from None


def read_text(path: str | Path) -> str:
    """A UTF-8 text file, or a CadenzaError naming it."""
    with about(path):
        return Path(path).read_text(encoding="utf-8")


def read_json(path: str | Path, kind: type | None = dict) -> Any:
    """A JSON file (of ``kind`` at the top, when given), or a CadenzaError naming it.
    NaN and Infinity, which Python's json accepts, are refused: they are not JSON."""
    text = read_text(path)

    def refuse(constant: str) -> Any:
        raise CadenzaError(f"{path}: cannot read: {constant} is not a JSON number")

    with about(path):
        data = json.loads(text, parse_constant=refuse)
    if kind is not None and not isinstance(data, kind):
        raise CadenzaError(f"{path}: cannot read: expected a JSON {kind.__name__}, "
                           f"found {type(data).__name__}")
    return data


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (a temporary file renamed over it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with about(path, "cannot write"):
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
