"""A listening-test session: its plan of trials, answers and play events (database logic).

A session is 10 main trials, 2 catch trials (a scrambled clip no attentive listener
takes for Bach) and 1 main trial repeated later with its sides swapped, in random
order. Nothing is judged here: exclusions happen in the analysis only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.errors import CadenzaError
from cadenza.web.db import ListeningSession, PlayEvent, Response, Stimulus, Trial, utcnow
from cadenza.web.security import new_token

MODES = ("pairs", "single")
EXPERIENCE = ("none", "some", "musician", "expert")
MAIN_TRIALS, CATCH_TRIALS = 10, 2
EVENTS = ("play", "pause", "seek", "ended", "progress")


class PoolTooSmall(CadenzaError):
    """The pool cannot fill a session yet."""


@dataclass
class PlannedTrial:
    kind: str  # main | catch | repeat
    a: int  # stimulus ids
    b: int | None
    human_slot: str | None
    repeat_of: int | None = None


def plan_trials(mode: str, humans: list[int], machines: list[int], catches: list[int],
                rng: random.Random, main: int = MAIN_TRIALS) -> list[PlannedTrial]:
    """The trials of one session, in the order they are shown."""
    if mode == "pairs":
        need = {"human": (humans, main), "machine": (machines, main), "catch": (catches, 1)}
    else:
        need = {"human": (humans, main // 2), "machine": (machines, main - main // 2),
                "catch": (catches, 1)}
    short = [f"{kind} ({len(have)}/{want})" for kind, (have, want) in need.items()
             if len(have) < want]
    if short:
        raise PoolTooSmall(f"the stimulus pool is too small: {', '.join(short)}")
    if mode == "pairs":
        pairs = zip(rng.sample(humans, main), rng.sample(machines, main))
        trials = [_pair("main", h, m, rng) for h, m in pairs]
        catch = [_pair("catch", rng.choice(humans), rng.choice(catches), rng)
                 for _ in range(CATCH_TRIALS)]
    else:
        clips = rng.sample(humans, main // 2) + rng.sample(machines, main - main // 2)
        rng.shuffle(clips)
        trials = [PlannedTrial("main", s, None, None) for s in clips]
        catch = [PlannedTrial("catch", rng.choice(catches), None, None)
                 for _ in range(CATCH_TRIALS)]
    for trial in catch:  # never first: the first trial teaches the controls
        trials.insert(rng.randint(1, len(trials)), trial)
    mains = [i for i, t in enumerate(trials) if t.kind == "main" and i <= len(trials) - 3]
    original = rng.choice(mains)
    source = trials[original]
    swapped = PlannedTrial("repeat", source.b, source.a, _other(source.human_slot), original) \
        if source.b is not None else PlannedTrial("repeat", source.a, None, None, original)
    trials.insert(rng.randint(original + 3, len(trials)), swapped)
    return trials


def _pair(kind: str, human: int, other: int, rng: random.Random) -> PlannedTrial:
    if rng.random() < 0.5:
        return PlannedTrial(kind, human, other, "a")
    return PlannedTrial(kind, other, human, "b")


def _other(slot: str | None) -> str | None:
    return {"a": "b", "b": "a"}.get(slot or "")


def pool_ids(db: Session) -> dict[str, list[int]]:
    """Active stimulus ids by kind."""
    found: dict[str, list[int]] = {"human": [], "machine": [], "catch": []}
    for sid, kind in db.execute(select(Stimulus.id, Stimulus.kind).where(Stimulus.active)):
        found.setdefault(kind, []).append(sid)
    return found


def start_session(db: Session, mode: str, experience: str, ip_hash: str,
                  rng: random.Random) -> ListeningSession:
    """A new session with its planned trials, committed."""
    if mode not in MODES:
        raise CadenzaError(f"unknown test mode {mode!r}")
    if experience not in EXPERIENCE:
        raise CadenzaError("choose your musical experience from the list")
    pool = pool_ids(db)
    plan = plan_trials(mode, pool["human"], pool["machine"], pool["catch"], rng)
    session = ListeningSession(token=new_token(), ip_hash=ip_hash, mode=mode,
                               experience=experience, consent=True)
    db.add(session)
    db.flush()
    for position, trial in enumerate(plan):
        db.add(Trial(session_id=session.id, position=position, kind=trial.kind,
                     stimulus_a_id=trial.a, stimulus_b_id=trial.b, human_slot=trial.human_slot,
                     token_a=new_token(), token_b=new_token() if trial.b is not None else None,
                     repeat_of=trial.repeat_of))
    db.commit()
    return session


def find_session(db: Session, token: str | None) -> ListeningSession | None:
    if not token:
        return None
    return db.scalar(select(ListeningSession).where(ListeningSession.token == token))


def next_trial(db: Session, session: ListeningSession) -> Trial | None:
    """The first unanswered trial (its shown time recorded), or None when all are done."""
    trial = db.scalar(select(Trial).outerjoin(Response)
                      .where(Trial.session_id == session.id, Response.id.is_(None))
                      .order_by(Trial.position).limit(1))
    if trial is None:
        if session.finished_at is None:
            session.finished_at = utcnow()
            db.commit()
        return None
    if trial.shown_at is None:
        trial.shown_at = utcnow()
        db.commit()
    return trial


def is_correct(trial: Trial, answer: str) -> bool:
    if trial.stimulus_b_id is not None:
        return answer == trial.human_slot
    return (answer == "human") == (trial.stimulus_a.kind == "human")


def record_answer(db: Session, session: ListeningSession, trial_id: int, answer: str,
                  confidence: int | None, client_ms: int | None) -> Response:
    """Store one answer at once. Refuses a trial of another session, a second answer,
    or an answer the mode does not offer."""
    trial = db.get(Trial, trial_id)
    if trial is None or trial.session_id != session.id:
        raise CadenzaError("no such trial in this session")
    if trial.response is not None:
        raise CadenzaError("this trial is answered already")
    pairs = trial.stimulus_b_id is not None
    if answer not in (("a", "b") if pairs else ("human", "machine")):
        raise CadenzaError("choose one of the answers offered")
    if not pairs and (confidence is None or not 1 <= confidence <= 5):
        raise CadenzaError("choose a confidence from 1 to 5")
    shown = trial.shown_at or utcnow()
    if shown.tzinfo is None:  # SQLite gives naive datetimes back
        shown = shown.replace(tzinfo=UTC)
    elapsed = int((datetime.now(UTC) - shown).total_seconds() * 1000)
    response = Response(trial_id=trial.id, session_id=session.id, answer=answer,
                        confidence=None if pairs else confidence,
                        correct=is_correct(trial, answer), response_ms=max(elapsed, 0),
                        client_ms=client_ms)
    db.add(response)
    db.commit()
    return response


def record_events(db: Session, session: ListeningSession, events: list[dict]) -> int:
    """Store the browser's play events of this session's trials; others are dropped."""
    trials = {t.id for t in session.trials}
    kept = 0
    for item in events[:200]:
        try:
            trial_id, slot = int(item["trial"]), str(item["slot"])
            name, position, when = str(item["event"]), float(item["position"]), int(item["t"])
        except (KeyError, TypeError, ValueError):
            continue
        if trial_id in trials and slot in ("a", "b") and name in EVENTS:
            db.add(PlayEvent(session_id=session.id, trial_id=trial_id, slot=slot, event=name,
                             position_s=max(0.0, min(position, 3600.0)), client_ms=when))
            kept += 1
    db.commit()
    return kept
