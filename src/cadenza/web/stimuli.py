"""Listening-test stimuli: excerpts cut at a cadence, rendered alike, stored by the server.

Every clip, human or machine, goes through the same steps: the tempo set to 80
quarters a minute, every velocity 80, the FluidSynth GM piano, the WAV scaled to the
same RMS loudness, and the piece cut 12–20 s in at the end of a fermata (else at the
bar line nearest 16 s). Human clips come from the held-out (test) split of the
embedded chorales, decoded by the same codec as the machine's, so both sides are
SATB, quantized and in C major / A minor alike.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import CadenzaError
from cadenza.score import Score
from cadenza.web.db import Stimulus
from cadenza.web.security import new_token

TEMPO = 80.0  # quarters per minute, every clip
VELOCITY = 80
SECONDS = (12.0, 20.0)
TARGET_SECONDS = 16.0
TARGET_RMS = 10 ** (-20 / 20)  # -20 dBFS
KINDS = ("human", "machine", "catch")


@dataclass
class Excerpt:
    score: Score
    seconds: float
    cadence: str  # "fermata" or "bar"


def excerpt(score: Score) -> Excerpt | None:
    """The opening of ``score`` cut 12–20 s in at a cadence; None if it is too short."""
    per_second = TEMPO / 60 * score.tpq  # ticks per second
    low, high = SECONDS[0] * per_second, SECONDS[1] * per_second
    if score.end < low:
        return None
    notes = score.notes
    ends = notes["onset"][notes["fermata"]] + notes["duration"][notes["fermata"]]
    fermatas = sorted({int(e) for e in ends if low <= e <= high})
    target = TARGET_SECONDS * per_second
    if fermatas:
        cut, cadence = min(fermatas, key=lambda e: abs(e - target)), "fermata"
    else:
        bar = 4 * score.tpq * score.time_signatures[0].numerator // \
            score.time_signatures[0].denominator if score.time_signatures else 4 * score.tpq
        bars = [b for b in range(bar, int(high) + 1, bar) if b >= low]
        if not bars:
            return None
        cut, cadence = min(bars, key=lambda b: abs(b - target)), "bar"
    kept = notes[notes["onset"] < cut].copy()
    kept["duration"] = np.minimum(kept["duration"], cut - kept["onset"])
    kept["velocity"] = VELOCITY
    clip = score.replace(notes=kept, tempos=[(0, TEMPO)])
    return Excerpt(clip, cut / per_second, cadence)


def scrambled(score: Score, rng: np.random.Generator) -> Score:
    """A catch clip: the same rhythm with random pitches, which no attentive listener
    takes for Bach."""
    notes = score.notes.copy()
    notes["pitch"] = rng.integers(48, 85, size=len(notes))
    notes["tied"] = False
    return score.replace(notes=notes)


def render_clip(score: Score, wav_path: Path) -> None:
    """Render through FluidSynth and scale to the common loudness."""
    from cadenza.io import write_midi
    from cadenza.io.audio import render_wav

    with tempfile.TemporaryDirectory() as tmp:
        midi = write_midi(score, Path(tmp) / "clip.mid")
        if render_wav(midi, wav_path) is None:
            raise CadenzaError("listening-test clips need FluidSynth and the GM soundfont "
                               "(apt-get install fluidsynth fluid-soundfont-gm)")
    normalize_loudness(wav_path)


def normalize_loudness(path: Path, target: float = TARGET_RMS) -> None:
    """Scale a 16-bit WAV in place to the target RMS (peaks clipped at full scale)."""
    with wave.open(str(path), "rb") as reader:
        params = reader.getparams()
        frames = reader.readframes(params.nframes)
    if params.sampwidth != 2:
        raise CadenzaError(f"expected 16-bit audio from FluidSynth, got {8 * params.sampwidth}")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    if rms > 0:
        samples = np.clip(samples * (target / rms), -1, 32767 / 32768)
    with wave.open(str(path), "wb") as writer:
        writer.setparams(params)
        writer.writeframes((samples * 32768).astype("<i2").tobytes())


def add_stimulus(db: Any, media: Path, score: Score, kind: str, model: str, task: str,
                 source: str) -> Stimulus | None:
    """Cut, render and store one clip; None when the piece is too short for a clip."""
    if kind not in KINDS:
        raise ValueError(f"unknown stimulus kind {kind!r}")
    cut = excerpt(score)
    if cut is None:
        return None
    filename = f"{new_token(18)}.wav"  # the name says nothing about the clip
    render_clip(cut.score, media / filename)
    stimulus = Stimulus(kind=kind, model=model, task=task, source=f"{source} ({cut.cadence})",
                        filename=filename, seconds=round(cut.seconds, 2))
    db.add(stimulus)
    db.commit()
    return stimulus


def human_scores(limit: int) -> list[Score]:
    """Held-out chorales of the embedded corpus, as the codec decodes them."""
    from cadenza.corpus.prepare import embedded_dataset
    from cadenza.data.dataset import PreparedDataset
    from cadenza.evaluate.report import decode_pieces

    return decode_pieces(PreparedDataset(embedded_dataset()), "test")[:limit]


def machine_scores(run_path: Path, n: int, seed: int) -> list[Score]:
    """``n`` pieces from a chorale run at its own sampling settings, none shorter than
    the longest clip."""
    from cadenza.generate import sample
    from cadenza.generate.settings import load_sampling
    from cadenza.train.checkpoint import load_run

    run = load_run(run_path)
    # long enough for the longest clip: every sample can be cut at a cadence in range
    frames = int(SECONDS[1] * TEMPO / 60 * 4)
    processors = load_sampling(run.path).override(min_frames=frames).processors(run.vocab)
    rows = sample(run.model, run.vocab, n=n, processors=processors, max_tokens=1536, seed=seed)
    return [run.codec.decode(run.vocab.decode(ids)) for ids in rows]


def build_pool(factory: Any, media: Path, runs: Sequence[Path], humans: int = 16,
               machines: int = 16, catches: int = 4, seed: int = 0,
               progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Fill the pool: human clips, machine clips from each run, catch clips. Returns the
    counts added."""
    rng = np.random.default_rng(seed)
    added = dict.fromkeys(KINDS, 0)
    with factory() as db:
        progress("reading held-out chorales")
        real = human_scores(humans + catches)
        for index, score in enumerate(real[:humans]):
            progress(f"human clip {index + 1}/{humans}")
            added["human"] += add_stimulus(db, media, score, "human", "bach", "corpus",
                                           f"test piece {index}") is not None
        for index, score in enumerate(real[humans:humans + catches]):
            clip = excerpt(score)
            if clip is not None:
                added["catch"] += add_stimulus(db, media, scrambled(clip.score, rng), "catch",
                                               "scrambled", "catch", f"test piece {humans + index}"
                                               ) is not None
        for run in runs:
            progress(f"sampling pieces from {run.name}")
            kept = 0
            # some samples end before 12 s: draw half as many again to have enough
            for index, score in enumerate(machine_scores(run, machines + machines // 2, seed)):
                if kept == machines:
                    break
                progress(f"machine clip {kept + 1}/{machines} ({run.name})")
                kept += add_stimulus(db, media, score, "machine", run.name, "generate",
                                     f"seed {seed} #{index}") is not None
            added["machine"] += kept
    return added
