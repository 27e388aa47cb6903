"""Studio harmonization end to end: upload a 16-bar melody, get audio, roll and score.

    python benchmarks/bench_web_harmonize.py [--runs 5] [--transpositions 0 2]

Starts ``cadenza serve`` on localhost (torch at one thread), then for each
transposition count uploads the soprano of a held-out Bach chorale cut to 16 bars
(MusicXML, with its fermatas) to /studio/harmonize with the shipped melody-aware
harmonizer (method infill), polls the job every 50 ms until the result (inline SVG
score) is there, and downloads the WAV and the piano-roll PNG. One warm-up run loads
the model; the medians and maxima of ``--runs`` runs follow.
Target: <= 3 s with 0 transpositions on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from web_server import start_server


def sixteen_bar_melody(folder: Path) -> Path:
    """The soprano of the first held-out chorale at least 16 bars long, cut there."""
    from cadenza.io import write_musicxml
    from cadenza.web.stimuli import human_scores

    for score in human_scores(100):
        if score.end >= 64 * score.tpq:
            soprano = score.select_parts([0], ["Soprano"])
            notes = soprano.notes[soprano.notes["onset"] < 64 * score.tpq].copy()
            notes["duration"] = notes["duration"].clip(max=64 * score.tpq - notes["onset"])
            return write_musicxml(soprano.replace(notes=notes), folder / "melody.musicxml")
    raise SystemExit("no held-out chorale is 16 bars long")


def harmonize_once(client: httpx.Client, melody: bytes, transpositions: int
                   ) -> tuple[float, float, float]:
    """Seconds: end to end, of it the upload's answer (check and parse), and the job."""
    page = client.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    begin = time.perf_counter()
    queued = client.post("/studio/harmonize", data={
        "csrf_token": token, "model": "harmonizer-default", "method": "infill", "given": "S",
        "transpositions": str(transpositions), "seed": "0"},
        files={"file": ("melody.musicxml", melody)}, headers={"hx-request": "true"})
    uploaded = time.perf_counter() - begin
    job = re.search(r'/studio/jobs/([A-Za-z0-9_-]+)"', queued.text)
    if queued.status_code != 200 or job is None:
        raise SystemExit(f"harmonize failed: {queued.status_code} {queued.text[:200]}")
    while True:
        html = client.get(f"/studio/jobs/{job.group(1)}", headers={"hx-request": "true"}).text
        if 'class="result"' in html:
            break
        if 'class="error"' in html:
            raise SystemExit(f"job failed: {html}")
        time.sleep(0.05)
    assert "<svg" in html
    for kind in ("wav", "png"):
        got = client.get(f"/studio/jobs/{job.group(1)}/{kind}")
        assert got.status_code == 200 and len(got.content) > 1000, kind
    job_seconds = float(re.search(r"made in ([\d.]+) s", html).group(1))
    return time.perf_counter() - begin, uploaded, job_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--transpositions", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    melody = sixteen_bar_melody(folder).read_bytes()
    server = start_server(folder / "data", args.port, "--jobs-per-minute", "1000")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=120) as client:
            harmonize_once(client, melody, 0)  # loads the model
            for k in args.transpositions:
                runs = [harmonize_once(client, melody, k) for _ in range(args.runs)]
                times = [r[0] for r in runs]
                print(f"16 bars, infill, {k} transpositions: median "
                      f"{statistics.median(times):.2f} s, max {max(times):.2f} s "
                      f"over {args.runs} runs" + (" (target <= 3 s)" if k == 0 else "")
                      + f"; of it upload+parse {statistics.median(r[1] for r in runs):.2f} s,"
                      f" the job {statistics.median(r[2] for r in runs):.2f} s (medians); "
                      f"load average {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
