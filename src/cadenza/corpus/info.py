"""``cadenza corpus info``: what a corpus holds, before any filtering."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cadenza.corpus.prepare import run_pool
from cadenza.corpus.sources import list_sources
from cadenza.corpus.worker import Skip, describe_file


def corpus_info(corpus: str, jobs: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Counts of files, pieces, parts, meters, keys and notes; unreadable files listed."""
    sources = list_sources(corpus)
    pieces: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for _, results in run_pool(sources, describe_file, jobs, progress=progress):
        for r in results:
            if isinstance(r, Skip):
                skipped.append({"source": r.source, "reason": r.reason})
            else:
                pieces.append(r)
    return {
        "corpus": corpus,
        "files": len(sources),
        "pieces": len(pieces),
        "notes": sum(p["notes"] for p in pieces),
        "parts": dict(sorted(Counter(p["parts"] for p in pieces).items())),
        "meters": dict(Counter(p["meter"] for p in pieces).most_common()),
        "keys": dict(Counter(p["key"] for p in pieces).most_common()),
        "part_names": dict(Counter(n for p in pieces for n in p["part_names"]).most_common(12)),
        "unreadable": skipped,
    }


def format_info(info: dict[str, Any]) -> str:
    lines = [
        f"corpus   {info['corpus']}",
        f"files    {info['files']}",
        f"pieces   {info['pieces']}",
        f"notes    {info['notes']}",
    ]
    for title in ("parts", "meters", "keys", "part_names"):
        body = ", ".join(f"{k}: {v}" for k, v in info[title].items())
        lines.append(f"{title.replace('_', ' '):8} {body}")
    if info["unreadable"]:
        lines.append(f"unreadable {len(info['unreadable'])}:")
        lines += [f"  {s['source']}: {s['reason']}" for s in info["unreadable"]]
    return "\n".join(lines)
