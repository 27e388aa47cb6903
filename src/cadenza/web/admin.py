"""The owner's results page and CSV export, behind the admin token."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from cadenza.errors import CadenzaError
from cadenza.web.analysis import analyse, to_csv
from cadenza.web.app import check_csrf, render, state
from cadenza.web.db import PlayEvent
from cadenza.web.security import ADMIN_COOKIE, admin_cookie, token_matches

router = APIRouter()
EXPORTS = ("responses", "participants", "items", "play_events")


def is_admin(request: Request) -> bool:
    """The signed cookie from the login form, or ``Authorization: Bearer TOKEN``."""
    shared = state(request)
    expected = shared.config.admin_token
    if not expected:
        return False
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer ") and token_matches(expected, bearer[7:].strip()):
        return True
    return token_matches(admin_cookie(shared.secret, expected), request.cookies.get(ADMIN_COOKIE))


@router.get("/admin")
def login_page(request: Request) -> Response:
    if is_admin(request):
        return RedirectResponse("/admin/results", 303)
    return render(request, "admin_login.html")


@router.post("/admin/login", dependencies=[Depends(check_csrf)])
def login(request: Request, token: str = Form("")) -> Response:
    shared = state(request)
    if not shared.config.admin_token or not token_matches(shared.config.admin_token, token):
        return render(request, "admin_login.html", status_code=403, failed=True)
    response = RedirectResponse("/admin/results", 303)
    response.set_cookie(ADMIN_COOKIE, admin_cookie(shared.secret, shared.config.admin_token),
                        httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.get("/admin/results")
def results(request: Request) -> Response:
    if not is_admin(request):
        return RedirectResponse("/admin", 303)
    from cadenza.web.sessions import pool_ids

    with state(request).factory() as db:
        found = analyse(db)
        pool = {kind: len(ids) for kind, ids in pool_ids(db).items()}
    return render(request, "admin_results.html", r=found, exports=EXPORTS, pool=pool,
                  building=state(request).pool_status["state"])


@router.get("/admin/export/{name}.csv")
def export(request: Request, name: str) -> Response:
    if not is_admin(request):
        return Response("the admin token is needed", status_code=403, media_type="text/plain")
    if name not in EXPORTS:
        raise CadenzaError(f"unknown export; choose from {', '.join(EXPORTS)}")
    with state(request).factory() as db:
        if name == "play_events":
            records = [{"session": e.session_id, "trial": e.trial_id, "slot": e.slot,
                        "event": e.event, "position_s": e.position_s, "client_ms": e.client_ms,
                        "stored_at": e.created_at.isoformat()}
                       for e in db.query(PlayEvent).order_by(PlayEvent.id)]
        else:
            found = analyse(db, bootstrap_reps=1)
            records = {"responses": [asdict(r) for r in found.rows],
                       "participants": found.participants, "items": found.items}[name]
    return Response(to_csv(records), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
