"""Routes of the blind listening test: consent, trials, answers, play events, the end."""

from __future__ import annotations

import random
import re

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from cadenza.errors import CadenzaError
from cadenza.web.app import check_csrf, render, state
from cadenza.web.db import Trial
from cadenza.web.security import hash_ip
from cadenza.web.sessions import (
    EXPERIENCE,
    MAIN_TRIALS,
    PoolTooSmall,
    find_session,
    next_trial,
    pool_ids,
    record_answer,
    record_events,
    start_session,
)

router = APIRouter()
SESSION_COOKIE = "cz_listen"
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _session(request: Request, db):  # noqa: ANN001, ANN202
    return find_session(db, request.cookies.get(SESSION_COOKIE))


@router.get("/test")
def consent_page(request: Request) -> Response:
    with state(request).factory() as db:
        session = _session(request, db)
        if session is not None:
            return RedirectResponse("/test/done" if session.finished_at else "/test/trial", 303)
        pool = pool_ids(db)
    ready = len(pool["human"]) >= MAIN_TRIALS and len(pool["machine"]) >= MAIN_TRIALS \
        and len(pool["catch"]) > 0
    return render(request, "listen_consent.html", experience=EXPERIENCE, ready=ready,
                  building=state(request).pool_status["state"], main=MAIN_TRIALS)


@router.post("/test/start", dependencies=[Depends(check_csrf)])
def start(request: Request, consent: str = Form(""), experience: str = Form("")) -> Response:
    if consent != "yes":
        raise CadenzaError("the test starts only with your consent (tick the box)")
    shared = state(request)
    with shared.factory() as db:
        existing = _session(request, db)
        if existing is not None:  # one session per cookie: resume it
            return RedirectResponse("/test/trial", 303)
        mode = shared.config.test_mode
        if mode == "mixed":
            mode = random.choice(("pairs", "single"))
        ip = request.client.host if request.client else "unknown"
        try:
            session = start_session(db, mode, experience, hash_ip(shared.secret, ip),
                                    random.Random())
        except PoolTooSmall as err:
            raise CadenzaError(f"{err}; the clips are being prepared, try again in a "
                               "minute") from None
    response = RedirectResponse("/test/trial", 303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="lax",
                        max_age=30 * 24 * 3600)
    return response


@router.get("/test/trial")
def trial_page(request: Request) -> Response:
    with state(request).factory() as db:
        session = _session(request, db)
        if session is None:
            return RedirectResponse("/test", 303)
        trial = next_trial(db, session)
        if trial is None:
            return RedirectResponse("/test/done", 303)
        total = len(session.trials)
        return render(request, "listen_trial.html", trial=trial, number=trial.position + 1,
                      total=total, pairs=trial.token_b is not None)


@router.post("/test/answer", dependencies=[Depends(check_csrf)])
def answer(request: Request, trial: int = Form(...), answer: str = Form(...),
           confidence: int | None = Form(None), client_ms: int | None = Form(None)
           ) -> Response:
    with state(request).factory() as db:
        session = _session(request, db)
        if session is None:
            raise CadenzaError("no listening-test session; start at /test")
        record_answer(db, session, trial, answer, confidence, client_ms)
    return RedirectResponse("/test/trial", 303)


@router.post("/test/events", dependencies=[Depends(check_csrf)])
async def events(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        raise CadenzaError("events must be JSON") from None
    items = body.get("events") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise CadenzaError("events must be a JSON object with a list 'events'")
    with state(request).factory() as db:
        session = _session(request, db)
        if session is None:
            raise CadenzaError("no listening-test session")
        kept = record_events(db, session, items)
    return Response(status_code=204, headers={"X-Events-Stored": str(kept)})


@router.get("/test/done")
def done(request: Request) -> Response:
    with state(request).factory() as db:
        session = _session(request, db)
        if session is None:
            return RedirectResponse("/test", 303)
        if next_trial(db, session) is not None:
            return RedirectResponse("/test/trial", 303)
        trials = [t for t in session.trials if t.kind == "main"]
        right = sum(t.response.correct for t in trials)
        return render(request, "listen_done.html", right=right, total=len(trials),
                      trials=trials, pairs=session.mode == "pairs")


@router.get("/clip/{token}")
def clip(request: Request, token: str) -> Response:
    """A clip by its per-trial random token, only to the session it belongs to."""
    if not TOKEN.fullmatch(token):
        raise CadenzaError("no such clip")
    shared = state(request)
    with shared.factory() as db:
        session = _session(request, db)
        trial = db.scalar(select(Trial).where(or_(Trial.token_a == token,
                                                  Trial.token_b == token)))
        if trial is None or session is None or trial.session_id != session.id:
            return Response("no such clip", status_code=404, media_type="text/plain")
        stimulus = trial.stimulus_a if trial.token_a == token else trial.stimulus_b
        path = shared.config.media / stimulus.filename  # a name the server made
    return FileResponse(path, media_type="audio/wav",
                        headers={"Cache-Control": "private, no-store"})
