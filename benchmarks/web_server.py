"""A `cadenza serve` subprocess for the web benchmarks, started and waited for."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "bench-token-0123456789abcdef"


def start_server(data: Path, port: int, *extra: str) -> subprocess.Popen:
    """`cadenza serve` on ``port`` with one torch thread; returns once /healthz answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "cadenza.cli", "serve", "--data", str(data), "--port",
         str(port), "--no-pool", "--admin-token", TOKEN, *extra],
        env=dict(os.environ, OMP_NUM_THREADS="1"))
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")
