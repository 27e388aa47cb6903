"""The preparation cache shared by several processes: no "database is locked"."""

from __future__ import annotations

import sqlite3

import numpy as np

from cadenza.corpus.cache import PrepareCache
from cadenza.corpus.worker import Piece, Task


def piece(name: str, n: int) -> tuple[Task, list[Piece]]:
    task = Task(name, f"/music/{name}.mid", b"")
    return task, [Piece(name, task.path, {0: np.arange(n, dtype=np.uint16)}, {"n": n})]


def test_two_caches_on_one_folder_write_in_turn(tmp_path) -> None:
    first, second = PrepareCache(tmp_path, timeout=1), PrepareCache(tmp_path, timeout=1)
    a, b = piece("a", 5), piece("b", 7)
    first.put("ka", *a)
    second.put("kb", *b)  # waited the whole first run for the lock before
    first.put("ka2", *a)
    got = first.get("kb", b[0])
    assert got is not None and np.array_equal(got[0].codes[0], np.arange(7))
    assert second.get("ka2", a[0]) is not None
    first.close()
    second.close()


def test_a_put_that_cannot_get_the_lock_leaves_the_file_uncached(tmp_path) -> None:
    cache = PrepareCache(tmp_path, timeout=0.2)
    holder = sqlite3.connect(str(tmp_path / "prepare.sqlite"))
    holder.execute("BEGIN IMMEDIATE")  # another process mid-write
    task, results = piece("a", 3)
    cache.put("ka", task, results)  # no exception: the run goes on
    holder.rollback()
    holder.close()
    assert cache.get("ka", task) is None
    cache.put("ka", task, results)
    assert cache.get("ka", task) is not None
    cache.close()
