"""The studio over HTTP: every route, progress, results, downloads, bad uploads."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import csrf, job_id, wait_job

from cadenza.web.app import create_app
from cadenza.web.uploads import ParseWorkers, UploadError

TWINKLE = Path(__file__).resolve().parents[2] / "src/cadenza/examples/twinkle.musicxml"
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">]>
<score-partwise version="3.1"><work><work-title>&lol7;</work-title></work></score-partwise>"""


def harmonize(client, name: str, data: bytes, **fields) -> object:
    form = {"csrf_token": csrf(client), "model": "harmonizer-default", "method": "infill",
            "given": "S", "transpositions": "0", **fields}
    return client.post("/studio/harmonize", data=form, files={"file": (name, data)})


def test_pages_work_offline(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200
    for tab in ("Generate", "Continue", "Harmonize"):
        assert f'data-tab="{tab.lower()}"' in page.text
    assert "harmonizer-default" in page.text and "chorale-default" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("htmx.min.js", "style.css", "studio.js", "listen.js"):
        assert client.get(f"/static/{asset}").status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/no/such/page").status_code == 404


def test_generate_shows_audio_roll_score_and_downloads(client: TestClient):
    form = {"csrf_token": csrf(client), "model": "chorale-default", "seed": 3,
            "temperature": 0.9, "top_p": 0.95, "bars": 8}
    queued = client.post("/studio/generate", data=form, headers={"hx-request": "true"})
    assert queued.status_code == 200 and "progress" in queued.text
    html = wait_job(client, job_id(queued.text))
    assert 'class="result"' in html and "<svg" in html and "<audio" in html
    assert "pitch_class_entropy" in html
    job = job_id(html)
    sizes = {}
    for kind, magic in (("mid", b"MThd"), ("wav", b"RIFF"), ("png", b"\x89PNG"),
                        ("musicxml", b"<?xml")):
        got = client.get(f"/studio/jobs/{job}/{kind}")
        assert got.status_code == 200 and got.content.startswith(magic), kind
        sizes[kind] = len(got.content)
    assert client.get(f"/studio/jobs/{job}/py").status_code == 400
    with TestClient(client.app) as other:  # results belong to the browser that asked
        assert other.get(f"/studio/jobs/{job}").status_code == 400
    pooled = client.post(f"/studio/jobs/{job}/pool", data={"csrf_token": csrf(client)})
    assert pooled.status_code == 200 and "listening-test pool" in pooled.text


def test_harmonize_upload_and_typed_abc(client: TestClient):
    queued = harmonize(client, "twinkle.musicxml", TWINKLE.read_bytes())
    assert queued.status_code == 200, queued.text
    html = wait_job(client, job_id(queued.text))
    assert 'class="result"' in html and "<svg" in html
    abc = "X:1\nM:4/4\nL:1/4\nK:G\nG G D' D' | E' E' D'2 | C' C' B B | A A G2 |]\n"
    form = {"csrf_token": csrf(client), "model": "harmonizer-default", "method": "infill",
            "given": "S", "transpositions": "0", "melody": abc}
    typed = client.post("/studio/harmonize", data=form)
    assert typed.status_code == 200, typed.text
    assert 'class="result"' in wait_job(client, job_id(typed.text))


def test_continue_from_corpus_piece(client: TestClient):
    form = {"csrf_token": csrf(client), "model": "chorale-default", "seed": 1, "bars": 8,
            "primer_bars": 2, "piece": "bwv2.6"}
    queued = client.post("/studio/continue", data=form)
    assert queued.status_code == 200, queued.text
    assert 'class="result"' in wait_job(client, job_id(queued.text))
    missing = client.post("/studio/continue", data={**form, "piece": "../../etc/passwd"})
    assert missing.status_code == 400 and "corpus piece" in missing.json()["error"]
    uploaded = client.post("/studio/continue", data={**form, "piece": ""},
                           files={"file": ("twinkle.musicxml", TWINKLE.read_bytes())})
    assert uploaded.status_code == 200, uploaded.text
    assert 'class="result"' in wait_job(client, job_id(uploaded.text))


@pytest.mark.parametrize("name,data,message", [
    ("melody.musicxml", b"", "the file is empty"),
    ("melody.mid", os.urandom(4096), "not a MIDI file"),
    ("melody.musicxml", os.urandom(4096), "not a MusicXML file"),
    ("melody.musicxml", BOMB, "entity declarations"),
    ("melody.exe", b"MZ\x90\x00", "unsupported file type"),
    ("melody.abc", b"\xff\xfe\x00garbage", "must be UTF-8"),
])
def test_bad_uploads_get_a_clear_message(client: TestClient, name, data, message):
    response = harmonize(client, name, data)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert "Traceback" not in response.text


def test_fifty_megabytes_are_refused_before_reading(client: TestClient):
    response = harmonize(client, "melody.mid", b"MThd" + b"\0" * (50 * 1024 * 1024))
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_corrupt_files_are_parsed_in_a_bounded_worker(client: TestClient):
    # a MIDI header with nonsense after it, and a compressed bomb the byte check
    # cannot see: each is the worker's failure, reported in one line
    corrupt = harmonize(client, "melody.mid", b"MThd\x00\x00\x00\x06" + os.urandom(200))
    assert corrupt.status_code == 400 and "corrupt MIDI" in corrupt.json()["error"]
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml",
                         '<?xml version="1.0"?><container><rootfiles><rootfile '
                         'full-path="score.xml"/></rootfiles></container>')
        archive.writestr("score.xml", BOMB)
    bomb = harmonize(client, "melody.mxl", packed.getvalue())
    assert bomb.status_code == 400 and bomb.json()["error"]
    assert client.get("/healthz").status_code == 200  # the server lives on


def test_worker_limits_hold(tmp_path: Path):
    # a memory bound too small to even start Python's parser: a clear refusal
    workers = ParseWorkers(seconds=5, memory_bytes=30_000_000)
    with pytest.raises(UploadError, match="within the server's limits"):
        workers.parse(".musicxml", TWINKLE.read_bytes(), tmp_path)
    workers.close()


def test_forms_need_the_csrf_token(client: TestClient):
    form = {"model": "chorale-default", "bars": 8}
    refused = client.post("/studio/generate", data=form)
    assert refused.status_code == 400 and "expired" in refused.json()["error"]
    forged = client.post("/studio/generate", data={**form, "csrf_token": "0" * 64})
    assert forged.status_code == 400


def test_bad_options_are_named(client: TestClient):
    token = csrf(client)
    hot = client.post("/studio/generate", data={"csrf_token": token, "model": "chorale-default",
                                                "temperature": 9})
    assert hot.status_code == 400 and "temperature" in hot.json()["error"]
    unknown = client.post("/studio/generate", data={"csrf_token": token, "model": "/etc"})
    assert unknown.status_code == 400 and "unknown model" in unknown.json()["error"]
    not_number = client.post("/studio/generate", data={"csrf_token": token,
                                                       "model": "chorale-default",
                                                       "seed": "x"})
    assert not_number.status_code == 422 and "seed" in not_number.json()["error"]
    voices = harmonize(client, "twinkle.musicxml", TWINKLE.read_bytes(), given="SX")
    assert voices.status_code == 400 and "SATB" in voices.json()["error"]


def test_generation_is_rate_limited(config):
    config.generate_per_minute = 1
    with TestClient(create_app(config)) as client:
        form = {"csrf_token": csrf(client), "model": "chorale-default", "bars": 4}
        assert client.post("/studio/generate", data=form).status_code == 200
        second = client.post("/studio/generate", data=form)
        assert second.status_code == 400 and "too many requests" in second.json()["error"]


def test_a_crash_shows_no_stack_trace(client: TestClient, monkeypatch):
    import cadenza.web.listening as listening

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /srv/db")

    monkeypatch.setattr(listening, "find_session", broken)
    with TestClient(client.app, raise_server_exceptions=False) as fresh:
        response = fresh.get("/test", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "something went wrong" in response.text
    assert "Traceback" not in response.text and "secret internals" not in response.text


def test_a_failed_job_says_why_and_stops_polling(client: TestClient):
    waltz = "X:1\nM:3/4\nL:1/4\nK:C\nC E G | c2 G | E C E | D3 |]\n"
    form = {"csrf_token": csrf(client), "model": "harmonizer-default", "method": "infill",
            "given": "S", "transpositions": "0", "melody": waltz}
    queued = client.post("/studio/harmonize", data=form)
    assert queued.status_code == 200, queued.text
    html = wait_job(client, job_id(queued.text))
    assert "meter 3/4" in html and "4/4" in html
    assert "hx-get" not in html  # the page stops asking
