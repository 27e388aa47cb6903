"""Listening-test load: many concurrent sessions against a real ``cadenza serve``.

    python benchmarks/bench_web_load.py [--sessions 50] [--think 0] [--port 0]

Starts ``cadenza serve`` (SQLite, one process) on localhost with a stimulus pool built
first (held-out Bach, samples of the shipped model, catch clips), then runs
``--sessions`` participants at once, each over its own HTTP connection: consent,
start, and for each of the 13 trials the trial page, the first kB of each clip, a batch
of play events and the answer. ``--think`` seconds pass between a page and its answer
(0: as fast as possible, the worst case). Reports errors, the answers stored against
those sent (read back from the database after the run), and the latency of the answer
submission (median, p95, max). Target: no error, no lost answer, p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from web_server import start_server


def build_pool(data: Path) -> None:
    import torch

    from cadenza.generate import default_run
    from cadenza.web import db
    from cadenza.web.config import ServerConfig
    from cadenza.web.stimuli import build_pool as fill

    torch.set_num_threads(1)
    config = ServerConfig(data_dir=data)
    config.media.mkdir(parents=True)
    db.upgrade(config.database)
    engine = db.make_engine(config.database)
    print("pool:", fill(db.session_factory(engine), config.media, [default_run()],
                        humans=12, machines=12, catches=2, seed=0))
    engine.dispose()


async def participant(base: str, think: float, latencies: list[float],
                      errors: list[str]) -> int:
    """One whole session; returns the answers the server accepted."""
    accepted = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        try:
            page = await client.get("/test")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            started = await client.post("/test/start", data={
                "csrf_token": token, "consent": "yes", "experience": "some"})
            if started.status_code != 303:
                errors.append(f"start: {started.status_code} {started.text[:100]}")
                return 0
            while True:
                page = await client.get("/test/trial")
                if page.status_code == 303:
                    break
                trial = re.search(r'name="trial" value="(\d+)"', page.text).group(1)
                for clip in re.findall(r'src="(/clip/[A-Za-z0-9_-]+)"', page.text):
                    got = await client.get(clip, headers={"Range": "bytes=0-1023"})
                    if got.status_code not in (200, 206):
                        errors.append(f"clip: {got.status_code}")
                events = [{"trial": int(trial), "slot": "a", "event": e, "position": 0,
                           "t": 1} for e in ("play", "ended")]
                logged = await client.post("/test/events", json={"events": events},
                                           headers={"X-CSRF-Token": token})
                if logged.status_code != 204:
                    errors.append(f"events: {logged.status_code}")
                if think:
                    await asyncio.sleep(think)
                begin = time.perf_counter()
                reply = await client.post("/test/answer", data={
                    "csrf_token": token, "trial": trial, "answer": "a", "client_ms": 1})
                latencies.append(time.perf_counter() - begin)
                if reply.status_code != 303:
                    errors.append(f"answer: {reply.status_code} {reply.text[:100]}")
                else:
                    accepted += 1
        except (httpx.HTTPError, AttributeError) as err:
            errors.append(f"{type(err).__name__}: {err}")
    return accepted


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored_answers(data: Path) -> int:
    from sqlalchemy import func, select

    from cadenza.web import db
    from cadenza.web.db import Response

    engine = db.make_engine(f"sqlite:///{data / 'cadenza.db'}")
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(Response)).scalar()
    engine.dispose()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--think", type=float, default=0.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cadenza-load-"))
    data = folder / "data"
    build_pool(data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_server(data, port)
    load_before = os.getloadavg()[0]
    latencies: list[float] = []
    errors: list[str] = []
    try:
        begin, cpu = time.perf_counter(), cpu_seconds(server.pid)

        async def everyone() -> list[int]:
            return await asyncio.gather(*(participant(f"http://127.0.0.1:{port}", args.think,
                                                      latencies, errors)
                                          for _ in range(args.sessions)))

        accepted = sum(asyncio.run(everyone()))
        wall = time.perf_counter() - begin
        cpu = cpu_seconds(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = stored_answers(data)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    print(f"{args.sessions} concurrent sessions, think {args.think:g} s: {wall:.1f} s wall, "
          f"server CPU {cpu:.1f} s ({1000 * cpu / max(len(latencies), 1):.1f} ms per trial: "
          "page, 2 clip requests, events, answer); load average before "
          f"{load_before:.1f}")
    print(f"answers sent {len(latencies)}, accepted {accepted}, stored {stored} "
          f"(lost {accepted - stored}); errors {len(errors)}")
    for error in errors[:5]:
        print("  error:", error)
    if latencies:
        print(f"answer latency: median {1000 * statistics.median(latencies):.0f} ms, "
              f"p95 {1000 * p95:.0f} ms, max {1000 * latencies[-1]:.0f} ms "
              f"(target p95 <= 200 ms)")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
