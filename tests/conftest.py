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
