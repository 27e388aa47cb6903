"""The same listening test on PostgreSQL (by URL), on a throwaway local cluster.

Needs the PostgreSQL server programs (``initdb``, ``pg_ctl``) and psycopg; where the
programs are not installed the test is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import ADMIN, answer_session, csrf
from sqlalchemy import func, select

from cadenza.web import db
from cadenza.web.app import create_app
from cadenza.web.config import ServerConfig


@pytest.fixture
def postgres_url():
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[dev]')")
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("the PostgreSQL server programs (initdb, pg_ctl) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
    run = {"check": True, "capture_output": True, "cwd": folder, "timeout": 120}
    subprocess.run([*as_user, "initdb", "-D", str(folder / "data"), "-A", "trust", "-U",
                    "cadenza"], **run)
    subprocess.run([*as_user, "pg_ctl", "-D", str(folder / "data"), "-w", "-l",
                    str(folder / "log"), "-o", f"-k {folder} -c listen_addresses=''",
                    "start"], **run)
    try:
        yield f"postgresql+psycopg://cadenza@/postgres?host={folder}"
    finally:
        subprocess.run([*as_user, "pg_ctl", "-D", str(folder / "data"), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_listening_session_on_postgres(postgres_url: str, pool_template: Path, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(pool_template, data)
    config = ServerConfig(data_dir=data, db_url=postgres_url, admin_token=ADMIN,
                          build_pool=False)
    app = create_app(config)  # migrates the empty PostgreSQL database
    # the pool's clips were built into the SQLite template: copy their rows across
    source = db.session_factory(db.make_engine(f"sqlite:///{data / 'cadenza.db'}"))
    with source() as old, app.state.cadenza.factory() as new:
        for stimulus in old.scalars(select(db.Stimulus)):
            old.expunge(stimulus)
            new.merge(stimulus)
        new.commit()
    with TestClient(app) as client:
        assert len(answer_session(client)) == 13
        with app.state.cadenza.factory() as session:
            assert session.scalar(select(func.count()).select_from(db.Response)) == 13
        login = client.post("/admin/login", data={"csrf_token": csrf(client, "/admin"),
                                                  "token": ADMIN})
        assert "1 sessions (1 finished), 13 stored responses" in login.text
