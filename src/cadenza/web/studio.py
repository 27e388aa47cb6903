"""Routes of the studio: generate, continue, harmonize; progress; results; downloads."""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response

from cadenza.errors import CadenzaError
from cadenza.score import Score
from cadenza.web.app import check_csrf, render, state
from cadenza.web.jobs import FILES, Job, Jobs
from cadenza.web.security import new_token
from cadenza.web.uploads import ParseWorkers, check_upload

router = APIRouter()
SHIPPED = Path(__file__).resolve().parent.parent / "runs"
METHODS = ("infill", "gibbs", "greedy", "beam", "sample")
_EXTRAS_LOCK = threading.Lock()


def discover_runs(extra: list[Path]) -> dict[str, tuple[str, Path]]:
    """Every shipped run and every run folder given: name -> (kind, folder). The form
    sends a name; only these folders are ever opened."""
    found: dict[str, tuple[str, Path]] = {}
    folders = sorted(p for p in SHIPPED.iterdir() if p.is_dir()) if SHIPPED.exists() else []
    for folder in folders + [Path(p) for p in extra]:
        config = folder / "config.json"
        if not config.exists():
            continue
        kind = "harmonizer" if json.loads(config.read_text()).get("kind") == "infill" \
            else "chorale"
        name = folder.name if folder.name not in found else f"{folder.parent.name}/{folder.name}"
        found[name] = (kind, folder.resolve())
    return found


@lru_cache(maxsize=1)
def corpus_pieces() -> dict[str, str]:
    """The embedded Bach chorales a continuation may start from: id -> file."""
    from cadenza.corpus.sources import bach_chorale_files

    return {f.piece_id: f.path for f in bach_chorale_files()}


def _extras(request: Request) -> dict[str, Any]:
    """Per-app studio state, made on first use."""
    shared = state(request)
    extras = shared.extras
    with _EXTRAS_LOCK:
        if "jobs" not in extras:
            extras["runs"] = discover_runs(shared.config.runs)
            extras["jobs"] = Jobs(shared.config.results)
            extras["parsers"] = ParseWorkers(shared.config.parse_seconds,
                                             shared.config.parse_memory_bytes)
            threading.Thread(target=extras["jobs"].compute_reference, daemon=True).start()
    return extras


def shutdown_jobs(app: FastAPI) -> None:
    extras = app.state.cadenza.extras
    if "jobs" in extras:
        extras["jobs"].close()
        extras["parsers"].close()


@router.get("/")
def studio_page(request: Request) -> Response:
    runs = _extras(request)["runs"]
    return render(request, "studio.html",
                  chorale_runs=[n for n, (k, _) in runs.items() if k == "chorale"],
                  all_runs=list(runs), methods=METHODS,
                  pieces=list(corpus_pieces())[:400])


def _number(value: float, low: float, high: float, name: str) -> float:
    if not low <= value <= high:
        raise CadenzaError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def _run(request: Request, name: str, kinds: tuple[str, ...]) -> tuple[str, Path]:
    runs = _extras(request)["runs"]
    if name not in runs or runs[name][0] not in kinds:
        choices = [n for n, (k, _) in runs.items() if k in kinds]
        raise CadenzaError(f"unknown model {name!r}; choose from {', '.join(choices)}")
    return runs[name]


def _limit(request: Request) -> None:
    """Per browser, and per IP address at five times that (dropping the cookie does not
    escape the limit)."""
    shared = state(request)
    ip = request.client.host if request.client else "unknown"
    if not (shared.limiter.allow(request.state.client) and shared.ip_limiter.allow(ip)):
        raise CadenzaError("too many requests; wait a minute before the next piece")


def _upload(request: Request, upload: UploadFile | None, text: str, folder_job: Path) -> Path:
    """The uploaded (or typed ABC) melody, parsed by a bounded worker into MusicXML."""
    limit = state(request).config.max_upload_bytes
    if upload is not None and upload.filename:
        data = upload.file.read(limit + 1)
        suffix = check_upload(upload.filename, data, limit)
    elif text.strip():
        data = text.encode()
        suffix = check_upload("typed.abc", data, limit)
    else:
        raise CadenzaError("upload a file (or type a melody in ABC)")
    return _extras(request)["parsers"].parse(suffix, data, folder_job)


def _queue(request: Request, task: str, model: str, work) -> Response:  # noqa: ANN001
    job = _extras(request)["jobs"].submit(request.state.client, task, model, work)
    return render(request, "_job.html", job=job)


def _sampling(run: Any, temperature: float, top_p: float, bars: int) -> list:
    from cadenza.generate.settings import load_sampling

    frames = bars * 16  # 16th-note frames in a 4/4 bar
    settings = load_sampling(run.path).override(
        temperature=temperature, top_p=top_p if top_p < 1 else None,
        min_frames=max(16, frames - 32), end_after=frames)
    return settings.processors(run.vocab)


@router.post("/studio/generate", dependencies=[Depends(check_csrf)])
def generate(request: Request, model: str = Form(...), seed: int = Form(0),
             temperature: float = Form(1.0), top_p: float = Form(1.0),
             bars: int = Form(16)) -> Response:
    _number(temperature, 0.1, 3, "temperature")
    _number(top_p, 0.05, 1, "top-p")
    _number(bars, 4, 64, "length (bars)")
    _number(seed, 0, 2**31 - 1, "seed")
    _kind, folder = _run(request, model, ("chorale",))
    _limit(request)
    jobs: Jobs = _extras(request)["jobs"]

    def work(job: Job) -> Score:
        from cadenza.generate import sample

        job.stage = "loading the model"
        run = jobs.model("chorale", folder)
        job.stage = "sampling"
        rows = sample(run.model, run.vocab, n=1, seed=seed,
                      processors=_sampling(run, temperature, top_p, bars))
        return run.codec.decode(run.vocab.decode(rows[0]))

    return _queue(request, "generate", model, work)


@router.post("/studio/continue", dependencies=[Depends(check_csrf)])
def continue_piece(request: Request, model: str = Form(...), seed: int = Form(0),
                   temperature: float = Form(1.0), top_p: float = Form(1.0),
                   bars: int = Form(16), primer_bars: int = Form(4), piece: str = Form(""),
                   file: Annotated[UploadFile | None, File()] = None) -> Response:
    _number(temperature, 0.1, 3, "temperature")
    _number(top_p, 0.05, 1, "top-p")
    _number(bars, 4, 64, "length (bars)")
    _number(primer_bars, 1, 16, "primer bars")
    _kind, folder = _run(request, model, ("chorale",))
    _limit(request)
    jobs: Jobs = _extras(request)["jobs"]
    staging = jobs.root / "uploads"
    staging.mkdir(exist_ok=True)
    if file is not None and file.filename:
        primer_path = _upload(request, file, "", staging)
        renamed = staging / f"{new_token(12)}-primer.musicxml"
        primer_path.replace(renamed)
        primer_path = renamed
    elif piece in corpus_pieces():
        primer_path = Path(corpus_pieces()[piece])
    else:
        raise CadenzaError("upload a primer file or choose a corpus piece")

    def work(job: Job) -> Score:
        from cadenza.generate.continuation import continue_primer, load_primer

        job.stage = "loading the model"
        run = jobs.model("chorale", folder)
        job.stage = "reading the primer"
        try:
            primer = load_primer(primer_path, run.codec, run.vocab, bars=primer_bars)
        finally:
            if primer_path.is_relative_to(staging):  # an upload, not a corpus file
                primer_path.unlink(missing_ok=True)
        job.stage = "continuing"
        return continue_primer(run.model, run.vocab, run.codec, primer, n=1, seed=seed,
                               processors=_sampling(run, temperature, top_p, bars))[0]

    return _queue(request, "continue", model, work)


@router.post("/studio/harmonize", dependencies=[Depends(check_csrf)])
def harmonize(request: Request, model: str = Form(...), seed: int = Form(0),
              temperature: float = Form(1.0), method: str = Form("infill"),
              given: str = Form("S"), transpositions: int = Form(0), melody: str = Form(""),
              file: Annotated[UploadFile | None, File()] = None) -> Response:
    from cadenza.harmonize.grid import parse_voices

    _number(temperature, 0.1, 3, "temperature")
    _number(transpositions, 0, 3, "transpositions")
    if method not in METHODS:
        raise CadenzaError(f"unknown method; choose from {', '.join(METHODS)}")
    voices = parse_voices(given)
    _kind, folder = _run(request, model, ("chorale", "harmonizer"))
    _limit(request)
    jobs: Jobs = _extras(request)["jobs"]
    job_dir = jobs.root / "uploads"
    job_dir.mkdir(exist_ok=True)
    parsed = _upload(request, file, melody, job_dir)
    melody_path = job_dir / f"{new_token(12)}-melody.musicxml"
    parsed.replace(melody_path)

    def work(job: Job) -> Score:
        from cadenza.harmonize.melody import load_melody

        job.stage = "loading the model"
        harmonizer = jobs.model("harmonizer", folder)
        harmonizer.transpositions = transpositions
        job.stage = "reading the melody"
        try:
            task = load_melody(melody_path, voices)
        finally:
            melody_path.unlink(missing_ok=True)
        job.stage = f"harmonizing ({method})"
        from cadenza.generate.processors import sampling_processors

        filled, _ = harmonizer.fill(task.cells, task.fermata, method,
                                    processors=sampling_processors(temperature), seed=seed)
        return task.to_score(filled)

    return _queue(request, "harmonize", model, work)


def _job(request: Request, job_id: str) -> Job:
    job = _extras(request)["jobs"].get(job_id, request.state.client)
    if job is None:
        raise CadenzaError("no such job (results are kept for the browser that asked)")
    return job


@router.get("/studio/jobs/{job_id}")
def job_status(request: Request, job_id: str) -> Response:
    job = _job(request, job_id)
    if job.state == "done":
        svg = (job.folder / "piece.svg").read_text()
        return render(request, "_result.html", job=job, svg=svg)
    return render(request, "_job.html", job=job)


@router.get("/studio/jobs/{job_id}/{kind}")
def job_file(request: Request, job_id: str, kind: str) -> Response:
    job = _job(request, job_id)
    if kind not in FILES or job.state != "done" or kind not in job.result["files"]:
        raise CadenzaError("no such file for this job")
    return FileResponse(job.folder / f"piece.{kind}", media_type=FILES[kind],
                        filename=f"cadenza-{job.task}.{kind}")


@router.post("/studio/jobs/{job_id}/pool", dependencies=[Depends(check_csrf)])
def add_to_pool(request: Request, job_id: str) -> Response:
    from cadenza.web.stimuli import add_stimulus

    job = _job(request, job_id)
    if job.state != "done" or job.score is None:
        raise CadenzaError("the piece is not finished yet")
    if job.pooled:
        return Response('<p class="note">already in the listening-test pool</p>')
    shared = state(request)
    with shared.factory() as db:
        stimulus = add_stimulus(db, shared.config.media, job.score, "machine", job.model,
                                job.task, f"studio job {job.id[:8]}")
    if stimulus is None:
        raise CadenzaError("the piece is shorter than a 12 s clip")
    job.pooled = True
    return Response(f'<p class="note">added to the listening-test pool as a '
                    f'{stimulus.seconds:g} s clip</p>', media_type="text/html")
