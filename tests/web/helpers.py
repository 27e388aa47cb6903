"""Steps the web tests share: read a page's CSRF token, wait for a studio job, answer a
listening-test session through the HTTP API."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from cadenza.web.db import Trial

ADMIN = "test-admin-token-0123456789"  # every test server's results token


def csrf(client, page: str = "/") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def job_id(html: str) -> str:
    found = re.search(r'/studio/jobs/([A-Za-z0-9_-]+)"', html) or \
        re.search(r'id="piece-([A-Za-z0-9_-]+)"', html)
    assert found, html[:500]
    return found.group(1)


def wait_job(client, job: str, timeout: float = 120.0) -> str:
    """The job's final HTML (result or error)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = client.get(f"/studio/jobs/{job}", headers={"hx-request": "true"}).text
        if 'class="result"' in html or 'class="error"' in html:
            return html
        time.sleep(0.3)
    raise AssertionError(f"job {job} did not finish in {timeout} s")


def backdate(app, minutes: float = 5.0) -> None:
    """Pretend every shown trial was shown minutes ago (the listener took their time)."""
    factory = app.state.cadenza.factory
    with factory() as db:
        for trial in db.scalars(select(Trial).where(Trial.shown_at.is_not(None))):
            trial.shown_at = datetime.now(UTC) - timedelta(minutes=minutes)
        db.commit()


def answer_session(client, consent: bool = True, experience: str = "some",
                   listen: bool = True, choose=None) -> list[dict]:
    """Start a session and answer every trial; returns what each trial page showed.
    ``choose(trial_info)`` gives the answer (default: always clip A / "human")."""
    token = csrf(client, "/test")
    started = client.post("/test/start", data={"csrf_token": token, "experience": experience,
                                               **({"consent": "yes"} if consent else {})})
    assert started.status_code == 200, started.text
    shown = []
    for _ in range(30):
        page = client.get("/test/trial")
        if "/test/done" in str(page.url):
            return shown
        trial = int(re.search(r'name="trial" value="(\d+)"', page.text).group(1))
        clips = re.findall(r'src="/clip/([A-Za-z0-9_-]+)"', page.text)
        info = {"trial": trial, "clips": clips, "pairs": len(clips) == 2, "html": page.text}
        shown.append(info)
        if listen:
            backdate(client.app)
        given = choose(info) if choose else ("a" if info["pairs"] else "human")
        data = {"csrf_token": token, "trial": trial, "answer": given, "client_ms": 60000}
        if not info["pairs"]:
            data["confidence"] = 4
        response = client.post("/test/answer", data=data)
        assert response.status_code == 200, response.text
    raise AssertionError("the session never ended")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "cadenza.cli", "serve", "--data", str(data), "--port",
               str(port), "--no-pool", "--admin-token", ADMIN]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode())
    process.kill()
    raise AssertionError("cadenza serve did not come up in 60 s")
