"""A tiny prepared chorale dataset (made once per session) and tiny experiment configs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from cadenza.train.config import ExperimentConfig, apply_overrides, load_preset

RANGES = {"Soprano": (64, 76), "Alto": (57, 69), "Tenor": (50, 62), "Bass": (41, 53)}


def write_satb(path: Path, seed: int, bars: int = 4) -> None:
    """A 4/4 MIDI file with four named voices of random quarter and half notes in C."""
    import symusic

    rng = np.random.default_rng(seed)
    scale = [0, 2, 4, 5, 7, 9, 11]
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.tempos.append(symusic.Tempo(0, 100.0))
    for name, (low, high) in RANGES.items():
        track, tick = symusic.Track(name, 0, False), 0
        pitches = [p for p in range(low, high + 1) if p % 12 in scale]
        while tick < bars * 4 * 480:
            length = 480 * int(rng.choice([1, 2]))
            track.notes.append(symusic.Note(tick, length, int(rng.choice(pitches)), 80))
            tick += length
        score.tracks.append(track)
    path.write_bytes(bytes(score.dumps_midi()))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """10 four-bar SATB pieces prepared with the chorale codec (split 8 / 1 / 1)."""
    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare

    root = tmp_path_factory.mktemp("tiny")
    corpus = root / "midi"
    corpus.mkdir()
    for i in range(10):
        write_satb(corpus / f"piece{i}.mid", seed=i)
    prepare(DataConfig(corpus=str(corpus)), root / "data", jobs=1, cache_dir=None,
            progress=False)
    return root / "data"


@pytest.fixture(scope="session")
def one_piece_data(tmp_path_factory) -> Path:
    """Two pieces: one to train on, one to validate on."""
    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare

    root = tmp_path_factory.mktemp("one")
    (root / "midi").mkdir()
    for i in range(2):
        write_satb(root / "midi" / f"piece{i}.mid", seed=i)
    prepare(DataConfig(corpus=str(root / "midi"), split=[0.5, 0.5, 0.0]), root / "data",
            jobs=1, cache_dir=None, progress=False)
    return root / "data"


@pytest.fixture(scope="session")
def other_vocab_data(tiny_data: Path, tmp_path_factory) -> Path:
    """The tiny dataset with one more token in its vocabulary."""
    folder = tmp_path_factory.mktemp("other") / "data"
    shutil.copytree(tiny_data, folder)
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["tokens"].append("extra")
    vocab["codes"].append(max(vocab["codes"]) + 1)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    return folder


@pytest.fixture
def make_config(tiny_data: Path) -> Callable[..., ExperimentConfig]:
    """``make_config("train.lr=0.1", ...)``: the tiny preset on the tiny dataset."""

    def make(*overrides: str) -> ExperimentConfig:
        torch.set_num_threads(1)
        config = load_preset("tiny")
        config.data = str(tiny_data)
        return apply_overrides(config, list(overrides))

    return make
