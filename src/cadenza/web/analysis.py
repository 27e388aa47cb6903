"""The listening test's results: exclusions, accuracy tables, d′, per participant, per item.

Exclusions are decided here, from the stored data, and never by deleting rows:
a session is excluded if it failed a catch trial, answered a trial faster than 90% of
its clips' length (it cannot have listened), or is not the first session from its
hashed IP (BachBot counted the first response per IP). Catch and repeat trials are
controls and never count towards accuracy.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cadenza.web.db import ListeningSession, Stimulus, Trial
from cadenza.web.stats import binomial_p, cluster_bootstrap, d_prime, holm, wilson

REASONS = ("failed catch", "too fast", "repeat attempt")


@dataclass
class Row:
    """One stored answer, flattened for analysis and export."""

    session: int
    mode: str
    experience: str
    position: int
    kind: str
    model: str
    task: str
    items: str  # stimulus ids, a[/b]
    truth: str  # pairs: the human slot; single: the clip's kind
    answer: str
    confidence: int | None
    correct: bool
    response_ms: int
    clip_seconds: float
    excluded: str = ""  # the session's reasons, "; "-joined


@dataclass
class Group:
    name: str
    n: int
    correct: int
    accuracy: float
    low: float
    high: float
    p: float
    p_holm: float | None = None


@dataclass
class Results:
    sessions: int
    finished: int
    responses: int
    excluded: dict[str, int]
    overall: dict[str, Group] = field(default_factory=dict)  # by mode
    bootstrap: dict[str, tuple[float, float]] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    dprime: Any = None
    participants: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def load_rows(db: Session) -> tuple[list[ListeningSession], list[Row]]:
    sessions = list(db.scalars(select(ListeningSession).order_by(ListeningSession.id).options(
        selectinload(ListeningSession.trials).selectinload(Trial.response),
        selectinload(ListeningSession.trials).selectinload(Trial.stimulus_a),
        selectinload(ListeningSession.trials).selectinload(Trial.stimulus_b))))
    rows = []
    for s in sessions:
        for t in s.trials:
            if t.response is None:
                continue
            clips = [c for c in (t.stimulus_a, t.stimulus_b) if c is not None]
            machine = next((c for c in clips if c.kind != "human"), clips[0])
            rows.append(Row(
                session=s.id, mode=s.mode, experience=s.experience, position=t.position,
                kind=t.kind, model=machine.model, task=machine.task,
                items="/".join(str(c.id) for c in clips),
                truth=t.human_slot or t.stimulus_a.kind, answer=t.response.answer,
                confidence=t.response.confidence, correct=t.response.correct,
                response_ms=t.response.response_ms,
                clip_seconds=sum(c.seconds for c in clips)))
    return sessions, rows


def exclusions(sessions: list[ListeningSession], rows: list[Row]) -> dict[int, list[str]]:
    """Each session's reasons for exclusion (an empty list: included)."""
    reasons: dict[int, list[str]] = {s.id: [] for s in sessions}
    for row in rows:
        if row.kind == "catch" and not row.correct and "failed catch" not in reasons[row.session]:
            reasons[row.session].append("failed catch")
        if row.response_ms < 900 * row.clip_seconds and "too fast" not in reasons[row.session]:
            reasons[row.session].append("too fast")
    seen: set[str] = set()
    for s in sorted(sessions, key=lambda s: (s.started_at, s.id)):
        if s.ip_hash in seen:
            reasons[s.id].append("repeat attempt")
        seen.add(s.ip_hash)
    return reasons


def group(name: str, outcomes: list[bool]) -> Group:
    n, k = len(outcomes), sum(outcomes)
    low, high = wilson(k, n)
    return Group(name, n, k, k / n if n else float("nan"), low, high, binomial_p(k, n))


def analyse(db: Session, bootstrap_reps: int = 2000) -> Results:
    sessions, rows = load_rows(db)
    reasons = exclusions(sessions, rows)
    for row in rows:
        row.excluded = "; ".join(reasons[row.session])
    counted = [r for r in rows if r.kind == "main" and not r.excluded]
    results = Results(
        sessions=len(sessions), finished=sum(s.finished_at is not None for s in sessions),
        responses=len(rows),
        excluded={k: sum(k in v for v in reasons.values()) for k in REASONS}, rows=rows)
    for mode in ("pairs", "single"):
        mine = [r for r in counted if r.mode == mode]
        if not mine:
            continue
        results.overall[mode] = group(f"{mode}: all", [r.correct for r in mine])
        clusters = defaultdict(list)
        for r in mine:
            clusters[r.session].append(r.correct)
        results.bootstrap[mode] = cluster_bootstrap(list(clusters.values()), bootstrap_reps)
        for label, key in (("model", "model"), ("task", "task"), ("experience", "experience")):
            values = sorted({getattr(r, key) for r in mine})
            for value in values:
                results.groups.append(group(f"{mode}: {label} = {value}",
                                            [r.correct for r in mine if getattr(r, key) == value]))
    for g, adjusted in zip(results.groups, holm([g.p for g in results.groups])):
        g.p_holm = adjusted
    single = [r for r in counted if r.mode == "single"]
    if single:
        bach = [r for r in single if r.truth == "human"]
        machine = [r for r in single if r.truth != "human"]
        results.dprime = d_prime(sum(r.answer == "human" for r in bach), len(bach),
                                 sum(r.answer == "human" for r in machine), len(machine))
    results.participants = _participants(sessions, rows, reasons)
    results.items = _items(db, counted)
    return results


def _participants(sessions, rows: list[Row], reasons) -> list[dict[str, Any]]:
    by_session: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_session[row.session].append(row)
    out = []
    for s in sessions:
        mine = by_session[s.id]
        main = [r for r in mine if r.kind == "main"]
        repeat = next((r for r in mine if r.kind == "repeat"), None)
        original = next((r for r in main if repeat and _repeat_of(s, repeat) == r.position),
                        None)
        consistent = None
        if repeat and original:  # the same pick of the human clip, sides swapped or not
            consistent = repeat.correct == original.correct
        out.append({"session": s.id, "mode": s.mode, "experience": s.experience,
                    "answered": len(mine), "main": len(main),
                    "correct": sum(r.correct for r in main),
                    "catch_passed": sum(r.correct for r in mine if r.kind == "catch"),
                    "repeat_consistent": consistent,
                    "median_ms": sorted(r.response_ms for r in mine)[len(mine) // 2] if mine
                    else None,
                    "finished": s.finished_at is not None,
                    "excluded": "; ".join(reasons[s.id])})
    return out


def _repeat_of(session: ListeningSession, repeat: Row) -> int | None:
    trial = next(t for t in session.trials if t.position == repeat.position)
    return trial.repeat_of


def _items(db: Session, counted: list[Row]) -> list[dict[str, Any]]:
    shown: dict[int, list[bool]] = defaultdict(list)
    for r in counted:
        for item in r.items.split("/"):
            shown[int(item)].append(r.correct)
    out = []
    for stim in db.scalars(select(Stimulus).order_by(Stimulus.id)):
        outcomes = shown.get(stim.id, [])
        out.append({"item": stim.id, "kind": stim.kind, "model": stim.model, "task": stim.task,
                    "source": stim.source, "seconds": stim.seconds, "shown": len(outcomes),
                    "listeners_correct": sum(outcomes)})
    return out


def to_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if records:
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return buffer.getvalue()
