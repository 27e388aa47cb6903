"""Shared fixtures for the web tests: one stimulus pool built once, copied per test."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from helpers import ADMIN

from cadenza.web.config import ServerConfig

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its TestClient with httpx2; httpx works the same.
    # Imported once here, quietly; the test modules then get the cached module.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import fastapi.testclient  # noqa: F401


@pytest.fixture(scope="session")
def pool_template(tmp_path_factory) -> Path:
    """A data folder whose database holds a real pool: held-out Bach, samples of the
    shipped model, catch clips (built once per test run)."""
    import torch

    from cadenza.generate import default_run
    from cadenza.web import db
    from cadenza.web.config import ServerConfig
    from cadenza.web.stimuli import build_pool

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("pool")
    config = ServerConfig(data_dir=folder)
    config.media.mkdir(parents=True)
    db.upgrade(config.database)
    engine = db.make_engine(config.database)
    added = build_pool(db.session_factory(engine), config.media, [default_run()],
                       humans=11, machines=11, catches=2, seed=3)
    engine.dispose()
    assert added == {"human": 11, "machine": 11, "catch": 2}
    return folder


@pytest.fixture
def config(pool_template: Path, tmp_path: Path) -> ServerConfig:
    data = tmp_path / "data"
    shutil.copytree(pool_template, data)
    return ServerConfig(data_dir=data, admin_token=ADMIN, build_pool=False)


@pytest.fixture
def client(config: ServerConfig):
    from fastapi.testclient import TestClient

    from cadenza.web.app import create_app

    with TestClient(create_app(config)) as test_client:
        yield test_client
