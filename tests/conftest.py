"""Shared fixtures: small SATB MIDI files built at run time, and the embedded
Bach corpus prepared once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

VOICE_RANGES = {"Soprano": (64, 76), "Alto": (57, 69), "Tenor": (50, 62), "Bass": (41, 53)}
SATB = ("Soprano", "Alto", "Tenor", "Bass")


def satb_midi_bytes(
    seed: int = 0,
    bars: int = 2,
    meter: tuple[int, int] = (4, 4),
    names: tuple[str, ...] = SATB,
    tpq: int = 480,
) -> bytes:
    """A type-1 MIDI file: one named track per voice, quarter and half notes."""
    import symusic

    rng = np.random.default_rng(seed)
    score = symusic.Score(tpq)
    score.time_signatures.append(symusic.TimeSignature(0, meter[0], meter[1]))
    score.tempos.append(symusic.Tempo(0, 100.0))
    beat = tpq * 4 // meter[1]
    total = bars * meter[0] * beat
    for index, name in enumerate(names):
        low, high = VOICE_RANGES.get(name, (48 + 2 * index, 60 + 2 * index))
        track = symusic.Track(name, 0, False)
        tick = 0
        while tick < total:
            length = beat * int(rng.choice([1, 2])) if total - tick >= 2 * beat else beat
            track.notes.append(symusic.Note(tick, length, int(rng.integers(low, high + 1)), 80))
            tick += length
        score.tracks.append(track)
    return bytes(score.dumps_midi())


@pytest.fixture
def make_satb_midi() -> Callable[..., Path]:
    """``make_satb_midi(path, seed=0, bars=2, meter=(4, 4), names=SATB)`` writes a file."""

    def make(path: str | Path, **options: object) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(satb_midi_bytes(**options))
        return path

    return make


@pytest.fixture
def satb_folder(tmp_path: Path, make_satb_midi) -> Callable[..., Path]:
    """``satb_folder(n, name='corpus')``: a folder of ``n`` distinct SATB MIDI files."""

    def make(n: int = 20, name: str = "corpus", bars: int = 2) -> Path:
        folder = tmp_path / name
        for i in range(n):
            make_satb_midi(folder / f"piece{i:02d}.mid", seed=i, bars=bars)
        return folder

    return make


@pytest.fixture(scope="session")
def bach_prepared(tmp_path_factory) -> tuple[Path, dict]:
    """The embedded Bach chorales prepared with the default DataConfig (once)."""
    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare

    root = tmp_path_factory.mktemp("bach")
    out = root / "dataset"
    manifest = prepare(DataConfig(), out, jobs=2, cache_dir=root / "cache", progress=False)
    return out, manifest


@pytest.fixture(scope="session")
def bach_dataset(bach_prepared):
    from cadenza.data.dataset import PreparedDataset

    return PreparedDataset(bach_prepared[0])


@pytest.fixture
def satb_bytes() -> Callable[..., bytes]:
    """``satb_bytes(seed=0, bars=2, meter=(4, 4), names=SATB)``: SATB MIDI file bytes."""
    return satb_midi_bytes


# -- a tiny piano-roll corpus: MIDI files with a published split -----------------------
import json  # noqa: E402

from cadenza.codecs.pianoroll import PianoRollCodec  # noqa: E402
from cadenza.config import DataConfig, apply_overrides  # noqa: E402
from cadenza.corpus.prepare import prepare  # noqa: E402
from cadenza.io.write import midi_bytes  # noqa: E402


def random_roll(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Chords of 2-4 notes held for 1-3 frames, within two octaves of middle C."""
    roll = np.zeros((frames, 88), np.uint8)
    t = 0
    while t < frames:
        hold = int(rng.integers(1, 4))
        pitches = rng.choice(np.arange(60 - 21 - 12, 60 - 21 + 12), int(rng.integers(2, 5)),
                             replace=False)
        roll[t:t + hold, pitches] = 1
        t += hold
    roll[-1, 60 - 21] = 1  # a MIDI file ends at its last note
    return roll


@pytest.fixture(scope="session")
def roll_folder(tmp_path_factory) -> Path:
    """12 pieces of 24-40 frames (one frame = a quarter): 8 train, 2 validation, 2 test."""
    folder = tmp_path_factory.mktemp("rolls")
    rng = np.random.default_rng(0)
    codec = PianoRollCodec(steps_per_quarter=1)
    split = {}
    for i in range(12):
        name = f"piece{i:02d}.mid"
        roll = random_roll(rng, int(rng.integers(24, 41)))
        (folder / name).write_bytes(midi_bytes(codec.roll_to_score(roll)))
        split[name] = "train" if i < 8 else ("validation" if i < 10 else "test")
    (folder / "split.json").write_text(json.dumps(split))
    return folder


@pytest.fixture(scope="session")
def roll_dataset(roll_folder, tmp_path_factory) -> Callable[..., Path]:
    """``roll_dataset(layout='roll', jobs=1, *overrides)``: the folder prepared."""
    made: dict[tuple, Path] = {}

    def make(layout: str = "roll", jobs: int = 1, *overrides: str) -> Path:
        key = (layout, jobs, overrides)
        if key not in made:
            config = DataConfig.for_corpus("jsb")  # the benchmark defaults, on this folder
            config.corpus = str(roll_folder)
            config = apply_overrides(config, [f"codec.layout={layout}", *overrides])
            out = tmp_path_factory.mktemp(f"ds-{layout}-{jobs}")
            prepare(config, out, jobs=jobs, cache_dir=None, progress=False)
            made[key] = out
        return made[key]

    return make
