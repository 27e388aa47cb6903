"""The FastAPI application: middleware, error pages, and the three groups of routes."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza.errors import CadenzaError
from cadenza.web import db as database
from cadenza.web.config import ServerConfig
from cadenza.web.security import (
    CLIENT_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    RateLimiter,
    csrf_ok,
    csrf_token,
    load_secret,
    new_token,
)

HERE = Path(__file__).resolve().parent
log = logging.getLogger("cadenza.web")
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; "
       "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")


@dataclass
class State:
    """What the routes share: settings, database, secret, templates, background work."""

    config: ServerConfig
    factory: Any
    secret: bytes
    templates: Jinja2Templates
    limiter: RateLimiter  # studio jobs per browser
    ip_limiter: RateLimiter  # and per IP address
    pool_status: dict[str, str] = field(default_factory=lambda: {"state": "idle"})
    extras: dict[str, Any] = field(default_factory=dict)


def state(request: Request) -> State:
    return request.app.state.cadenza


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template with the CSRF token and the shared context filled in."""
    context.update(request=request, csrf=csrf_token(state(request).secret,
                                                    request.state.client))
    return state(request).templates.TemplateResponse(request, name, context,
                                                     status_code=status_code)


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the token, as a form field or header."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and "form" in request.headers.get("content-type", ""):
        given = (await request.form()).get(CSRF_FIELD)
    if not csrf_ok(state(request).secret, request.cookies.get(CLIENT_COOKIE), str(given or "")):
        raise CadenzaError("the form has expired or came from another site; reload the page")


def create_app(config: ServerConfig) -> FastAPI:
    """The whole site for ``config``; the database is migrated to the newest schema."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.media.mkdir(exist_ok=True)
    config.results.mkdir(exist_ok=True)
    database.upgrade(config.database)
    engine = database.make_engine(config.database)
    shared = State(config=config, factory=database.session_factory(engine),
                   secret=load_secret(config.data_dir),
                   templates=Jinja2Templates(directory=str(HERE / "templates")),
                   limiter=RateLimiter(config.generate_per_minute, 60.0),
                   ip_limiter=RateLimiter(5 * config.generate_per_minute, 60.0))

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        from cadenza.web.studio import shutdown_jobs

        if config.build_pool:
            threading.Thread(target=_fill_pool, args=(shared,), daemon=True).start()
        yield
        shutdown_jobs(app)
        engine.dispose()

    app = FastAPI(title="cadenza", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.cadenza = shared
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(Guard, max_bytes=config.max_upload_bytes)
    _error_pages(app)
    from cadenza.web import admin, listening, studio

    app.include_router(studio.router)
    app.include_router(listening.router)
    app.include_router(admin.router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _fill_pool(shared: State) -> None:
    """Build the stimulus pool in the background when it cannot fill a session."""
    import torch

    from cadenza.generate import default_run
    from cadenza.web.sessions import pool_ids
    from cadenza.web.stimuli import build_pool

    torch.set_num_threads(1)  # the server's other work keeps the remaining cores

    with shared.factory() as db:
        have = pool_ids(db)
    humans, machines, catches = shared.config.pool_sizes
    if len(have["human"]) >= 10 and len(have["machine"]) >= 10 and have["catch"]:
        shared.pool_status["state"] = "ready"
        return
    try:
        build_pool(shared.factory, shared.config.media, [default_run()], humans, machines,
                   catches, progress=lambda text: shared.pool_status.update(state=text))
        shared.pool_status["state"] = "ready"
    except Exception as err:  # a failed build is reported on the page, not raised
        log.exception("building the stimulus pool failed")
        shared.pool_status["state"] = f"failed: {err}"


class Guard:
    """Plain ASGI middleware (cheaper than ``BaseHTTPMiddleware`` on every request):
    refuses bodies over the limit before they are read, gives each browser its client
    cookie (the CSRF tokens hang on it) and adds the security headers."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.limit = max_bytes + 64 * 1024  # room for the form's other fields

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        length = request.headers.get("content-length")
        refusal = None
        if length is None and "chunked" in request.headers.get("transfer-encoding", ""):
            refusal = (411, "send the upload with a Content-Length")
        elif length is not None and (not length.isdigit() or int(length) > self.limit):
            refusal = (413, f"the upload is too large (at most {self.max_bytes // 1000} kB)")
        if refusal is not None:
            await _error(request, *refusal)(scope, receive, send)
            return
        client = request.cookies.get(CLIENT_COOKIE)
        fresh = client is None or not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", client)
        scope.setdefault("state", {})["client"] = new_token() if fresh else client

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if fresh:
                    headers.append("set-cookie", f"{CLIENT_COOKIE}={scope['state']['client']}; "
                                   "HttpOnly; Max-Age=7776000; Path=/; SameSite=lax")
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(request: Request, status: int, message: str) -> Response:
    """An error as one clear sentence: JSON for scripts and HTMX, a page otherwise."""
    wants_html = "text/html" in request.headers.get("accept", "") and \
        "hx-request" not in request.headers
    if wants_html:
        body = (f"<!doctype html><title>cadenza: error</title><link rel=stylesheet "
                f"href=/static/style.css><main><h1>Sorry</h1><p class=error>{_escape(message)}"
                f"</p><p><a href=/>Back to the studio</a></p></main>")
        return HTMLResponse(body, status_code=status)
    if "hx-request" in request.headers:  # shown in place by HTMX (see studio.js)
        return HTMLResponse(f'<p class="error">{_escape(message)}</p>', status_code=status)
    return JSONResponse({"error": message}, status_code=status)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(CadenzaError)
    async def user_error(request: Request, err: CadenzaError) -> Response:
        return _error(request, 400, str(err))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        messages = {404: "there is nothing at this address", 405: "method not allowed"}
        detail = err.detail if isinstance(err.detail, str) else ""
        return _error(request, err.status_code, messages.get(err.status_code, detail))

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, err: RequestValidationError) -> Response:
        fields = sorted({str(e["loc"][-1]) for e in err.errors() if e.get("loc")})
        return _error(request, 422, f"missing or malformed field(s): {', '.join(fields)}")

    @app.exception_handler(Exception)
    async def crash(request: Request, err: Exception) -> Response:
        reference = uuid.uuid4().hex[:8]
        log.exception("request failed (reference %s)", reference)
        return _error(request, 500, f"something went wrong on the server (reference "
                                    f"{reference}); the details are in the server's log")
