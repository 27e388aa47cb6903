"""The listening test over HTTP: a whole session, its storage, the owner's results."""

from __future__ import annotations

import csv
import io
import random

import pytest
from fastapi.testclient import TestClient
from helpers import ADMIN, answer_session, csrf
from sqlalchemy import func, select

from cadenza.web.app import create_app
from cadenza.web.db import ListeningSession, PlayEvent, Response, Trial
from cadenza.web.sessions import plan_trials


def test_plan_has_controls_in_place():
    for seed in range(100):
        plan = plan_trials("pairs", list(range(12)), list(range(100, 112)), [200, 201],
                           random.Random(seed))
        kinds = [t.kind for t in plan]
        assert len(plan) == 13 and kinds.count("catch") == 2 and kinds.count("repeat") == 1
        assert kinds[0] != "catch"
        repeat = plan[kinds.index("repeat")]
        original = plan[repeat.repeat_of]
        assert kinds.index("repeat") >= repeat.repeat_of + 3
        assert (repeat.a, repeat.b) == (original.b, original.a)  # sides swapped
        assert repeat.human_slot != original.human_slot
        for t in plan:
            human = t.a if t.human_slot == "a" else t.b
            assert human < 100  # the key points at the Bach clip


def test_pairs_session_is_stored_and_counted(client: TestClient):
    shown = answer_session(client)
    assert len(shown) == 13
    factory = client.app.state.cadenza.factory
    with factory() as db:
        assert db.scalar(select(func.count()).select_from(Response)) == 13
        session = db.scalar(select(ListeningSession))
        assert session.finished_at is not None and session.mode == "pairs"
        assert len(session.ip_hash) == 64 and "testclient" not in session.ip_hash
        truth = {t.id: t.human_slot for t in db.scalars(select(Trial))}
    # the page never tells which clip is Bach: no key, no stimulus ids, no file names
    for info in shown:
        assert "human_slot" not in info["html"] and ".wav" not in info["html"]
    right = sum(truth[i["trial"]] == "a" for i in shown if i["trial"] in truth)
    done = client.get("/test/done")
    assert "You were right on" in done.text
    # the results page counts the session and its responses
    login = client.post("/admin/login", data={"csrf_token": csrf(client, "/admin"),
                                              "token": ADMIN})
    assert login.status_code == 200 and "Listening-test results" in login.text
    assert "1 sessions (1 finished), 13 stored responses" in login.text
    assert "too fast 0" in login.text and "failed catch" in login.text
    exported = client.get("/admin/export/responses.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 13
    assert sum(r["correct"] == "True" for r in rows) == right


def test_play_events_are_logged(client: TestClient):
    token = csrf(client, "/test")
    client.post("/test/start", data={"csrf_token": token, "experience": "none",
                                     "consent": "yes"})
    page = client.get("/test/trial")
    import re

    trial = int(re.search(r'name="trial" value="(\d+)"', page.text).group(1))
    events = [{"trial": trial, "slot": "a", "event": "play", "position": 0, "t": 10},
              {"trial": trial, "slot": "a", "event": "seek", "position": 5.5, "t": 900},
              {"trial": 999999, "slot": "a", "event": "play", "position": 0, "t": 5},
              {"trial": trial, "slot": "z", "event": "play", "position": 0, "t": 5}]
    stored = client.post("/test/events", json={"events": events},
                         headers={"X-CSRF-Token": token})
    assert stored.status_code == 204 and stored.headers["X-Events-Stored"] == "2"
    assert client.post("/test/events", json={"events": events}).status_code == 400
    with client.app.state.cadenza.factory() as db:
        kept = db.scalars(select(PlayEvent).order_by(PlayEvent.id)).all()
        assert [(e.event, e.position_s) for e in kept] == [("play", 0.0), ("seek", 5.5)]


def test_clips_belong_to_their_session(client: TestClient, config):
    token = csrf(client, "/test")
    client.post("/test/start", data={"csrf_token": token, "experience": "none",
                                     "consent": "yes"})
    import re

    page = client.get("/test/trial").text
    clip = re.findall(r'src="/clip/([A-Za-z0-9_-]+)"', page)[0]
    audio = client.get(f"/clip/{clip}")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert audio.headers["content-type"] == "audio/wav"
    with TestClient(client.app) as stranger:
        assert stranger.get(f"/clip/{clip}").status_code == 404
    assert client.get("/clip/..%2F..%2Fsecret.key").status_code in (400, 404)
    assert client.get("/clip/not-a-token").status_code == 400


def test_answers_are_checked(client: TestClient):
    token = csrf(client, "/test")
    refused = client.post("/test/start", data={"csrf_token": token, "experience": "none"})
    assert refused.status_code == 400 and "consent" in refused.text
    client.post("/test/start", data={"csrf_token": token, "experience": "none",
                                     "consent": "yes"})
    import re

    trial = int(re.search(r'name="trial" value="(\d+)"',
                          client.get("/test/trial").text).group(1))
    bad = client.post("/test/answer", data={"csrf_token": token, "trial": trial,
                                            "answer": "human"})
    assert bad.status_code == 400 and "answers offered" in bad.text
    good = client.post("/test/answer", data={"csrf_token": token, "trial": trial,
                                             "answer": "b"})
    assert good.status_code == 200
    again = client.post("/test/answer", data={"csrf_token": token, "trial": trial,
                                              "answer": "a"})
    assert again.status_code == 400 and "answered already" in again.text
    forged = client.post("/test/answer", data={"trial": trial + 1, "answer": "a"})
    assert forged.status_code == 400 and "expired" in forged.text


def test_single_mode_and_exclusions(config):
    config.test_mode = "single"
    app = create_app(config)
    def attentive(info: dict) -> str:  # "human" always, but passes the catch trials
        with app.state.cadenza.factory() as db:
            kind = db.get(Trial, info["trial"]).kind
        return "machine" if kind == "catch" else "human"

    with TestClient(app) as first, TestClient(app) as second, TestClient(app) as hasty:
        answer_session(first, experience="musician", choose=attentive)
        answer_session(second, experience="none")  # same IP: a repeat attempt
        answer_session(hasty, listen=False)  # answers at once: too fast
        with app.state.cadenza.factory() as db:
            assert db.scalar(select(func.count()).select_from(Response)) == 39
            confidences = set(db.scalars(select(Response.confidence)))
            assert confidences == {4}
        page = first.get("/admin/results", headers={"Authorization": f"Bearer {ADMIN}"})
        assert "3 sessions (3 finished), 39 stored responses" in page.text
        assert "too fast 1" in page.text and "repeat attempt 2" in page.text
        # the first session is counted; "human" always: no sensitivity, a liberal bias
        assert "failed catch 2" in page.text
        assert "d&prime; = 0.000" in page.text and "criterion c = -1.383" in page.text
        parts = first.get("/admin/export/participants.csv",
                          headers={"Authorization": f"Bearer {ADMIN}"})
        rows = list(csv.DictReader(io.StringIO(parts.text)))
        assert [r["mode"] for r in rows] == ["single"] * 3


def test_admin_needs_the_token(client: TestClient):
    assert client.get("/admin/results").url.path == "/admin"
    wrong = client.post("/admin/login", data={"csrf_token": csrf(client, "/admin"),
                                              "token": ADMIN[:-1] + "x"})
    assert wrong.status_code == 403 and "not right" in wrong.text
    assert client.get("/admin/export/responses.csv").status_code == 403
    assert client.get("/admin/export/responses.csv",
                      headers={"Authorization": "Bearer nope"}).status_code == 403
    ok = client.get("/admin/export/items.csv", headers={"Authorization": f"Bearer {ADMIN}"})
    assert ok.status_code == 200 and ok.text.startswith("item,kind,model")
    assert len(ok.text.strip().splitlines()) == 1 + 24  # the pool: 11 + 11 + 2
    unknown = client.get("/admin/export/secrets.csv",
                         headers={"Authorization": f"Bearer {ADMIN}"})
    assert unknown.status_code == 400


def test_an_empty_pool_says_so(tmp_path):
    from cadenza.web.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path / "empty", admin_token=ADMIN, build_pool=False)
    with TestClient(create_app(config)) as client:
        page = client.get("/test")
        assert "still being prepared" in page.text
        refused = client.post("/test/start", data={"csrf_token": csrf(client, "/test"),
                                                   "consent": "yes", "experience": "none"})
        assert refused.status_code == 400
        assert "pool is too small: human (0/10), machine (0/10), catch (0/1)" in refused.text


def test_results_table_matches_hand_counts(config):
    """Two listeners from two addresses, all controls passed: one right on 8 of 10 main
    trials, one on 6. Pooled: 14 of 20, Wilson and binomial as in test_stats."""
    from cadenza.web.analysis import analyse
    from cadenza.web.stats import binomial_p, wilson

    app = create_app(config)

    def listener(right: int):
        seen = []

        def choose(info: dict) -> str:
            with app.state.cadenza.factory() as db:
                trial = db.get(Trial, info["trial"])
                kind, human = trial.kind, trial.human_slot
            wrong = "b" if human == "a" else "a"
            if kind != "main":
                return human  # controls passed, the repeat counted right
            seen.append(1)
            return human if len(seen) <= right else wrong
        return choose

    for address, right in ((("10.0.0.1", 1000), 8), (("10.0.0.2", 1000), 6)):
        with TestClient(app, client=address) as client:
            answer_session(client, choose=listener(right))
    with app.state.cadenza.factory() as db:
        found = analyse(db, bootstrap_reps=500)
    overall = found.overall["pairs"]
    assert (overall.n, overall.correct) == (20, 14)
    assert (overall.low, overall.high) == pytest.approx(wilson(14, 20))
    assert overall.p == pytest.approx(binomial_p(14, 20))
    # 14 of 20: P(X >= 14) = (38760 + 15504 + 4845 + 1140 + 190 + 20 + 1) / 2^20
    assert overall.p == pytest.approx(2 * 60460 / 2**20)
    assert found.excluded == {"failed catch": 0, "too fast": 0, "repeat attempt": 0}
    assert sorted(p["correct"] for p in found.participants) == [6, 8]
    experience = [g for g in found.groups if "experience" in g.name]
    assert len(experience) == 1 and experience[0].p_holm >= experience[0].p
    low, high = found.bootstrap["pairs"]
    assert low <= 0.6 and high >= 0.8  # two listeners: the interval spans both
