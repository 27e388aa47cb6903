"""A cache of prepared files, keyed by file content and preparation settings.

One SQLite file holds, per key, a JSON record and the concatenated uint16 codes.
Nothing is pickled: a cache file from elsewhere can at worst hold wrong numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.corpus.worker import Piece, Skip, Task

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$CADENZA_CACHE``, else ``~/.cache/cadenza``."""
    return Path(os.environ.get("CADENZA_CACHE") or Path.home() / ".cache" / "cadenza")


def settings_digest(settings: dict[str, Any]) -> str:
    text = json.dumps({"v": CACHE_VERSION, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_key(data: bytes, digest: str) -> str:
    return hashlib.sha256(data).hexdigest() + ":" + digest


class PrepareCache:
    """Get and put the results of :func:`~cadenza.corpus.worker.prepare_file`.

    Several preparations may share one cache: WAL lets readers go on beside a writer,
    and each put commits at once, so no process holds the write lock for a whole run
    (it did, and a second ``prepare`` failed with "database is locked"). A put that
    still cannot get the lock leaves that file uncached; a cache never fails a run."""

    def __init__(self, folder: str | Path | None, timeout: float = 30.0):
        self.db = None
        if folder is None:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(Path(folder) / "prepare.sqlite"), timeout=timeout)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync on each commit
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, meta TEXT, codes BLOB)"
        )
        self.db.commit()

    def get(self, key: str, task: Task) -> list[Piece | Skip] | None:
        if self.db is None:
            return None
        row = self.db.execute("SELECT meta, codes FROM files WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        meta, blob = json.loads(row[0]), np.frombuffer(row[1], dtype=np.uint16)
        results: list[Piece | Skip] = []
        start = 0
        for item in meta:
            # the same content may sit at another path: records name the current one
            source = task.path + item["suffix"]
            if "reason" in item:
                results.append(Skip(source, item["reason"]))
                continue
            codes = {}
            tail = tuple(item.get("tail", ()))  # the shape of one step, for frame codecs
            for shift, size in item["lengths"]:
                codes[int(shift)] = blob[start:start + size].reshape(-1, *tail)
                start += size
            results.append(Piece(task.piece_id + item["suffix"], source, codes, item["facts"]))
        return results

    def put(self, key: str, task: Task, results: list[Piece | Skip]) -> None:
        if self.db is None:
            return
        meta, chunks = [], []
        for r in results:
            suffix = r.source[len(task.path):] if r.source.startswith(task.path) else ""
            if isinstance(r, Skip):
                meta.append({"suffix": suffix, "reason": r.reason})
                continue
            meta.append({
                "suffix": suffix, "facts": r.facts,
                "lengths": [[shift, int(np.size(c))] for shift, c in r.codes.items()],
                "tail": list(np.shape(next(iter(r.codes.values())))[1:]),
            })
            chunks.extend(np.ravel(c) for c in r.codes.values())
        blob = np.concatenate(chunks).astype(np.uint16).tobytes() if chunks else b""
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (key, json.dumps(meta), blob)
            )
            self.db.commit()
        except sqlite3.OperationalError:  # locked past the timeout: this file stays uncached
            self.db.rollback()

    def close(self) -> None:
        if self.db is not None:
            self.db.commit()
            self.db.close()
            self.db = None
