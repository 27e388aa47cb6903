"""The database: migrations match the models, and a killed server loses no answer."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import free_port, serve
from sqlalchemy import create_engine, func, select

from cadenza.web import db
from cadenza.web.db import Response


def test_migrations_build_the_models_schema(tmp_path: Path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    db.upgrade(url)
    db.upgrade(url)  # a second upgrade finds nothing to do
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection),
                                       db.Base.metadata)
        version = connection.exec_driver_sql("select version_num from alembic_version")
        assert version.scalar() == "0001"
    engine.dispose()
    assert differences == []


def answer(client: httpx.Client, base: str, count: int) -> list[int]:
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get(f"{base}/test", follow_redirects=True).text).group(1)
    answered = []
    for _ in range(count):
        page = client.get(f"{base}/test/trial", follow_redirects=True).text
        trial = int(re.search(r'name="trial" value="(\d+)"', page).group(1))
        reply = client.post(f"{base}/test/answer", data={"csrf_token": token, "trial": trial,
                                                          "answer": "a"})
        assert reply.status_code == 303, reply.text
        answered.append(trial)
    return answered


def test_a_killed_server_loses_no_stored_response(pool_template: Path, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(pool_template, data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(data, port)
    try:
        client = httpx.Client(timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          client.get(f"{base}/test").text).group(1)
        started = client.post(f"{base}/test/start", data={"csrf_token": token,
                                                          "consent": "yes",
                                                          "experience": "some"})
        assert started.status_code == 303
        before = answer(client, base, 5)
    finally:
        server.send_signal(signal.SIGKILL)  # no shutdown, no flush: killed mid-session
        server.wait()
    engine = db.make_engine(f"sqlite:///{data / 'cadenza.db'}")
    with db.session_factory(engine)() as session:
        stored = session.scalars(select(Response.trial_id).order_by(Response.id)).all()
    engine.dispose()
    assert stored == before
    # the same browser resumes where it stopped, on a new server
    server = serve(data, port)
    try:
        after = answer(client, base, 8)
        assert not set(after) & set(before)
        done = client.get(f"{base}/test/trial", follow_redirects=True)
        assert "You were right on" in done.text
    finally:
        server.terminate()
        server.wait(timeout=30)
    engine = db.make_engine(f"sqlite:///{data / 'cadenza.db'}")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Response)).scalar() == 13
    engine.dispose()


@pytest.mark.parametrize("args,message", [
    (["--port", "0"], "--port: port must be in [1, 65535], got 0"),
    (["--db", "nosuchdialect://x"], "cannot open the database"),
    (["--run", "/nonexistent"], "is not a cadenza run"),
])
def test_serve_refuses_bad_options_in_one_line(tmp_path: Path, args, message):
    done = subprocess.run([sys.executable, "-m", "cadenza.cli", "serve", "--data",
                           str(tmp_path), "--no-pool", *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("cadenza: error:") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
