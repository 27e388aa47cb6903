"""Studio work off the request path: one model thread, progress per job, result files.

Requests only queue a job and return at once; the page polls the job (HTMX) and shows
its stage until the result is there. Model work runs on one background thread with
torch at one thread, so generation never blocks the server's event loop and two jobs
never fight over the cores.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.errors import CadenzaError
from cadenza.score import Score
from cadenza.web.security import new_token

log = logging.getLogger("cadenza.web")
FILES = {"mid": "audio/midi", "musicxml": "application/vnd.recordare.musicxml+xml",
         "wav": "audio/wav", "png": "image/png", "svg": "image/svg+xml"}
KEEP_JOBS = 200


@dataclass
class Job:
    id: str
    client: str
    task: str  # generate | continue | harmonize
    model: str
    folder: Path
    state: str = "queued"  # queued | running | done | failed
    stage: str = "waiting for the model thread"
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    score: Score | None = None
    pooled: bool = False


class Jobs:
    """The job table and the single model thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadenza-model",
                                        initializer=_one_torch_thread)
        self._models: dict[tuple[str, str], Any] = {}
        self.reference: dict[str, dict[str, float]] | None = None

    def submit(self, client: str, task: str, model: str,
               work: Callable[[Job], Score]) -> Job:
        job = Job(new_token(16), client, task, model, self.root / new_token(12))
        job.folder.mkdir(parents=True)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                _, old = self._jobs.popitem(last=False)
                shutil.rmtree(old.folder, ignore_errors=True)
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str, client: str) -> Job | None:
        """A job, only for the browser that asked for it."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.client == client else None

    def _run(self, job: Job, work: Callable[[Job], Score]) -> None:
        job.state, job.started = "running", time.monotonic()
        try:
            score = work(job)
            job.score = score
            job.result = finish(job, score, self.reference)
            job.state = "done"
        except CadenzaError as err:
            job.state, job.error = "failed", str(err)
        except Exception:
            log.exception("studio job %s failed", job.id)
            job.state, job.error = "failed", "the model failed on this input (see the log)"
        job.seconds = time.monotonic() - job.started
        job.stage = "done" if job.state == "done" else "failed"

    def model(self, kind: str, path: Path) -> Any:
        """A loaded run, kept (only the model thread calls this)."""
        key = (kind, str(path))
        if key not in self._models:
            if kind == "harmonizer":
                from cadenza.harmonize import load_harmonizer

                self._models[key] = load_harmonizer(path)
            else:
                from cadenza.train.checkpoint import load_run

                self._models[key] = load_run(path)
        return self._models[key]

    def compute_reference(self) -> None:
        """Metric means of held-out Bach, for the table beside each result."""
        from cadenza.evaluate.metrics import compute_all
        from cadenza.evaluate.report import summarize
        from cadenza.web.stimuli import human_scores

        try:
            self.reference = summarize([compute_all(s) for s in human_scores(1000)])
        except Exception:
            log.exception("the corpus reference metrics could not be computed")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def finish(job: Job, score: Score, reference: dict | None) -> dict[str, Any]:
    """Write MIDI, MusicXML, WAV and the roll (the library's writers), engrave the
    score with verovio, and measure it."""
    from cadenza.evaluate.metrics import compute_all
    from cadenza.generate.outputs import write_outputs

    job.stage = "rendering audio, roll and score"
    # FluidSynth is a process of its own: it renders while this thread writes the
    # MusicXML, draws the roll and engraves (benchmarks/bench_web_harmonize.py)
    with ThreadPoolExecutor(max_workers=1) as audio:
        sound = audio.submit(write_outputs, score, job.folder, "piece", ("mid", "wav"))
        written = write_outputs(score, job.folder, "piece", ("musicxml", "png"))
        job.stage = "engraving"
        svg = engrave(written["musicxml"])
        written.update(sound.result())
    (job.folder / "piece.svg").write_text(svg)
    metrics = compute_all(score)
    rows = [{"name": k, "value": v,
             "bach": reference[k]["mean"] if reference and k in reference else None,
             "bach_std": reference[k]["std"] if reference and k in reference else None}
            for k, v in metrics.items()]
    (job.folder / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return {"files": sorted(written) + ["svg"], "metrics": rows, "notes": len(score),
            "quarters": score.end / score.tpq, "audio": "wav" in written}


def engrave(musicxml: Path) -> str:
    """The score as one inline SVG page (verovio), sized to the page width."""
    from importlib.resources import files

    import verovio

    # verovio keeps its default resource path per thread: outside the thread that
    # imported it, a toolkit finds no fonts unless it is told where they are
    toolkit = verovio.toolkit(False)
    toolkit.setResourcePath(str(files("verovio") / "data"))
    toolkit.setOptions({"pageWidth": 2500, "scale": 40, "adjustPageHeight": True,
                        "breaks": "auto", "pageHeight": 60000, "footer": "none",
                        "header": "none"})
    if not toolkit.loadData(musicxml.read_text()):
        raise CadenzaError("the score could not be engraved")
    return toolkit.renderToSVG(1)
