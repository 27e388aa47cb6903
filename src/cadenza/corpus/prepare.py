"""Prepare a corpus: read, preprocess and encode every piece on a process pool,
then write the dataset folder described in :mod:`cadenza.data.dataset`.

Files are read in the main process (their bytes key the cache), handed to the pool
in ordered batches, and the codes stream to a temporary file, so memory stays flat
in the size of the corpus. The vocabulary and split are made once every piece is
known, then the codes are mapped to ids in a second streaming pass.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cadenza import __version__
from cadenza.codecs import Vocab
from cadenza.config import DataConfig
from cadenza.corpus.cache import PrepareCache, default_cache_dir, file_key, settings_digest
from cadenza.corpus.sources import SourceFile, list_sources
from cadenza.corpus.splits import SPLITS, assign_splits
from cadenza.corpus.worker import Skip, Task, prepare_file
from cadenza.data.dataset import META_FILES, field_file, smallest_dtype
from cadenza.errors import ConfigError
from cadenza.io.atomic import folder_lock

BATCH_FILES = 512  # files read and handed to the pool at a time
RECORDS = "records.jsonl"  # per-piece records, streamed to disk during encoding


def prepare(
    config: DataConfig,
    out: str | Path,
    jobs: int | None = None,
    cache_dir: str | Path | None = "default",
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Prepare ``config.corpus`` into the folder ``out``; returns the manifest.

    Holds the lock of ``out`` throughout: a second prepare into the same folder refuses
    at once instead of silently replacing this one's files."""
    config.check()
    with folder_lock(out, wait=False, what="prepare"):
        return _prepare_locked(config, Path(out), jobs, cache_dir, force, progress)


def _prepare_locked(config: DataConfig, out: Path, jobs: int | None,
                    cache_dir: str | Path | None, force: bool,
                    progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    codec = config.build_codec()
    settings = {"codec": codec.config(), "preprocess": asdict(config.preprocess)}
    _check_out(out, config, force)
    sources = list_sources(config.corpus, getattr(codec, "suffixes", None))
    if not sources:
        raise ConfigError(f"no music files found in {config.corpus}")
    # a prepare killed outright (SIGKILL) left its work folder; none of those can be in
    # use now that this process holds the lock of ``out``
    for stale in out.parent.glob(f".{out.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = out.parent / f".{out.name}.partial-{os.getpid()}"
    work.mkdir(parents=True)
    cache = PrepareCache(default_cache_dir() if cache_dir == "default" else cache_dir)
    try:
        with terminate_as_interrupt():
            skipped, counts = _encode_all(sources, settings, jobs, cache, work, progress)
            published = {s.piece_id: s.split for s in sources if s.split}
            manifest = _finish(skipped, counts, config, codec, work, published)
            manifest["seconds"] = round(time.perf_counter() - started, 3)
            (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
            _move_into_place(work, out)
    finally:
        cache.close()
        shutil.rmtree(work, ignore_errors=True)
    return manifest


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block, so its clean-up runs (the work
    folder removed, the pool shut down) before the process ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_pool(
    sources: list[SourceFile],
    work: Callable[[Task], list[Any]],
    jobs: int | None,
    lookup: Callable[[Task], list[Any] | None] = lambda task: None,
    store: Callable[[Task, list[Any]], None] = lambda task, results: None,
    progress: bool = True,
) -> Iterator[tuple[Task, list[Any]]]:
    """Apply ``work`` to every source on ``jobs`` processes, in source order.

    ``lookup`` answers from a cache when it can; fresh results go to ``store``.
    Unreadable files become ``Skip`` records without reaching the pool.
    """
    cores = os.cpu_count() or 1
    if jobs is not None and jobs > cores:
        print(f"cadenza: notice: --jobs {jobs} is more than the {cores} cores; using {cores}",
              file=sys.stderr)
    jobs = max(1, min(jobs or cores, cores))
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_die_with_parent,
                               initargs=(os.getpid(),)) if jobs > 1 else None
    bar = _progress_bar(len(sources), progress)

    def submit(start: int):
        """Read one batch and hand its cache misses to the pool (which starts at once)."""
        tasks = [_load(s) for s in sources[start:start + BATCH_FILES]]
        answers = [t if isinstance(t, list) else lookup(t) for t in tasks]
        misses = [t for t, a in zip(tasks, answers) if a is None]
        fresh: Iterable[list[Any]] = (
            pool.map(work, misses, chunksize=max(1, len(misses) // (4 * jobs)))
            if pool and len(misses) > 1 else map(work, misses)
        )
        return tasks, answers, iter(fresh)

    try:
        batch = submit(0) if sources else None
        for start in range(0, len(sources), BATCH_FILES):
            tasks, answers, fresh = batch
            # Submit the next batch before draining this one, so workers never idle
            # while the main process writes results.
            if start + BATCH_FILES < len(sources):
                batch = submit(start + BATCH_FILES)
            for task, answer in zip(tasks, answers):
                if isinstance(task, list):  # the file could not be opened
                    yield Task("", "", b""), task
                else:
                    if answer is None:
                        answer = next(fresh)
                        store(task, answer)
                    yield task, answer
                bar.update(1)
    finally:
        bar.close()
        if pool:
            pool.shutdown(cancel_futures=True)


def _die_with_parent(parent: int) -> None:
    """Pool worker start-up: ask Linux to kill this worker when its parent dies, so a
    prepare killed outright leaves no workers behind (they would otherwise finish the
    files queued for them first)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end when their queue closes
        pass
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)


def _load(source: SourceFile) -> Task | list[Skip]:
    try:
        return Task(source.piece_id, source.path, Path(source.path).read_bytes())
    except OSError as err:
        return [Skip(source.path, f"cannot open: {err.strerror or err}")]


def _encode_all(sources, settings, jobs, cache, work, progress):
    """Stream every piece's codes to ``work/codes.tmp`` and its record to
    ``work/records.jsonl``; returns the skips and counts (records stay on disk)."""
    digest = settings_digest(settings)
    skipped: list[dict[str, str]] = []
    counts = {"files": len(sources), "cached_files": 0}
    position = 0

    def lookup(task: Task) -> list[Any] | None:
        found = cache.get(file_key(task.data, digest), task)
        counts["cached_files"] += found is not None
        return found

    def store(task: Task, results: list[Any]) -> None:
        cache.put(file_key(task.data, digest), task, results)

    worker = partial(prepare_file, settings=settings)
    with open(work / "codes.tmp", "wb") as sink, open(work / RECORDS, "w") as log:
        for _, results in run_pool(sources, worker, jobs, lookup, store, progress):
            for result in results:
                if isinstance(result, Skip):
                    skipped.append({"source": result.source, "reason": result.reason})
                    continue
                for shift, codes in result.codes.items():
                    sink.write(np.asarray(codes, dtype=np.uint16).tobytes())  # rows of a step
                    log.write(json.dumps({
                        "id": result.piece_id if not shift else f"{result.piece_id}@{shift:+d}",
                        "piece": result.piece_id, "source": result.source,
                        "augment_shift": shift, "start": position, "length": len(codes),
                        **({"facts": result.facts} if not shift else {}),
                    }) + "\n")
                    position += len(codes)
    return skipped, counts


def _records(work: Path) -> Iterator[dict[str, Any]]:
    with open(work / RECORDS) as lines:
        for line in lines:
            yield json.loads(line)


def _kept_codes(records: Iterable[dict[str, Any]], path: Path, tail: tuple[int, ...] = ()):
    """Each record with its codes (``[length, *tail]``), read with seek+read rather than
    a memmap: mapped pages of a file count in the process's RSS, reads through a buffer
    do not."""
    width = int(np.prod(tail)) if tail else 1
    with open(path, "rb") as source:
        for r in records:
            source.seek(2 * width * r["start"])
            codes = np.fromfile(source, dtype=np.uint16, count=r["length"] * width)
            yield r, codes.reshape(-1, *tail)


def _finish(skipped, counts, config: DataConfig, codec, work: Path,
            published: dict[str, str] | None = None) -> dict[str, Any]:
    """Split, build the vocabulary, map codes to ids, write every dataset file.

    Records are read back from disk in passes, so only the piece ids (for the
    split) are held in memory, never the per-piece records.
    """
    originals = [r["piece"] for r in _records(work) if not r["augment_shift"]]
    if not originals:
        reasons: dict[str, int] = {}
        for item in skipped:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        common = "; ".join(f"{n} x {r}" for r, n in
                           sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        raise ConfigError(f"{config.corpus}: no piece kept from {counts['files']} file(s)"
                          + (f" (skipped: {common})" if common else ""))
    if len(set(originals)) != len(originals):
        raise ConfigError("two pieces share an id; rename the duplicate files")
    if published and all(p in published for p in originals):
        split = {p: published[p] for p in originals}  # the corpus's own split
    else:
        split = assign_splits(originals, config.split, config.seed)
    del originals

    def kept() -> Iterator[dict[str, Any]]:
        return (r for r in _records(work)
                if not r["augment_shift"] or split[r["piece"]] == "train")

    spec = codec.spec.main
    if spec.kind == "tokens":
        used = np.zeros(codec.code_space, dtype=np.int64)
        for _, codes in _kept_codes(kept(), work / "codes.tmp"):
            used += np.bincount(codes, minlength=codec.code_space)
        vocab = Vocab.build(codec, np.nonzero(used)[0].tolist())
        dtype = smallest_dtype(len(vocab))
    else:  # frames are stored as they are; the vocabulary holds padding only
        vocab, dtype = Vocab([Vocab.PAD], [-1]), np.dtype(spec.dtype)
    offsets = [0]
    tokens = dict.fromkeys(SPLITS, 0)
    n_kept = 0
    with open(work / field_file(spec), "wb") as sink, open(work / "pieces.json", "w") as pieces:
        pieces.write("[")
        for r, codes in _kept_codes(kept(), work / "codes.tmp", spec.shape):
            ids = vocab.encode(codes, where=r["id"]) if spec.kind == "tokens" else codes
            sink.write(ids.astype(dtype).tobytes())
            offsets.append(offsets[-1] + r["length"])
            piece = {"id": r["id"], "piece": r["piece"], "source": r["source"],
                     "split": split[r["piece"]], "augment_shift": r["augment_shift"],
                     "tokens": r["length"], **({"facts": r["facts"]} if "facts" in r else {})}
            pieces.write(("\n" if not n_kept else ",\n") + json.dumps(piece))
            tokens[piece["split"]] += r["length"]
            n_kept += 1
        pieces.write("\n]\n")
    (work / "codes.tmp").unlink()
    (work / RECORDS).unlink()
    np.save(work / "offsets.npy", np.asarray(offsets, dtype=np.int64))
    _write_json(work / "split.json", {
        "seed": config.seed, "ratios": config.split,
        **{name: sorted(p for p, s in split.items() if s == name) for name in SPLITS},
    })
    vocab.save(work / "vocab.json")
    _write_json(work / "config.json", _config_record(config, codec))
    return {
        "version": __version__,
        "dtype": dtype.name,
        "fields": [spec.to_json()],
        "counts": {
            **counts,
            "pieces": len(split),
            "skipped": len(skipped),
            "augmented_copies": n_kept - len(split),
            "vocab_size": len(vocab),
            "tokens": sum(tokens.values()),
            "tokens_by_split": tokens,
            "pieces_by_split": {n: sum(s == n for s in split.values()) for n in SPLITS},
        },
        "skipped": skipped,
    }


def _config_record(config: DataConfig, codec) -> dict[str, Any]:
    return {"data": asdict(config), "codec": codec.config(), "version": __version__}


def _check_out(out: Path, config: DataConfig, force: bool) -> None:
    """Refuse to overwrite anything but a dataset made with the same settings."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()) or force:
        return
    existing = out / "config.json"
    if not existing.exists():
        raise ConfigError(f"--out {out} is not empty and holds no cadenza dataset")
    try:
        old = json.loads(existing.read_text())
    except (OSError, json.JSONDecodeError):
        raise ConfigError(f"--out {out} holds an unreadable config.json") from None
    new = _config_record(config, config.build_codec())
    if old.get("data") != new["data"] or old.get("codec") != new["codec"]:
        changed = _differences(old.get("data", {}), new["data"])
        raise ConfigError(
            f"--out {out} already holds a different dataset ({changed or 'codec differs'}); "
            "choose another folder or pass --force to replace it"
        )


def _differences(old: dict, new: dict, prefix: str = "") -> str:
    parts = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = _differences(a, b, f"{prefix}{key}.")
            parts += [inner] if inner else []
        elif a != b:
            parts.append(f"{prefix}{key}: {a!r} there, {b!r} asked")
    return "; ".join(parts)


def _move_into_place(work: Path, out: Path) -> None:
    """manifest.json goes first and comes back last: a folder caught half-replaced has
    none, and is no dataset until a prepare finishes."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for name in (*META_FILES, *(p.name for p in work.glob("*.bin"))):
        os.replace(work / name, out / name)
    shutil.rmtree(work, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=not enabled or None, leave=False,
                desc="preparing")


def embedded_dataset(config: DataConfig | None = None) -> Path:
    """The embedded chorales prepared once into the cache folder (default settings)."""
    config = config or DataConfig()
    name = Path(config.corpus).name or "corpus"
    folder = default_cache_dir() / "datasets" / f"{name}-{settings_digest(asdict(config))}"
    if not (folder / "manifest.json").exists():
        config.check()
        # another process may be preparing it: wait for it
        with folder_lock(folder, wait=True):
            if not (folder / "manifest.json").exists():
                _prepare_locked(config, folder, None, "default", False, False)
    return folder
