"""A tiny note-feature dataset and run, made once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def write_piano(path: Path, seed: int, notes: int = 60) -> None:
    """A one-track MIDI file of random notes and chords on a 16th/triplet grid."""
    import symusic

    rng = np.random.default_rng(seed)
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 100.0))
    track, tick = symusic.Track("Piano", 0, False), 0
    while len(track.notes) < notes:
        chord = int(rng.choice([1, 1, 2, 3]))
        root = int(rng.integers(48, 72))
        for k in range(chord):
            length = int(rng.choice([120, 160, 240, 480, 960]))
            track.notes.append(symusic.Note(tick, length, root + 4 * k,
                                            int(rng.integers(40, 110))))
        tick += int(rng.choice([0, 120, 160, 240, 480, 1440]))
    score.tracks.append(track)
    path.write_bytes(bytes(score.dumps_midi()))


@pytest.fixture(scope="session")
def notes_data(tmp_path_factory) -> Path:
    """12 random piano pieces prepared with the notes codec."""
    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare
    from cadenza.corpus.preprocess import PreprocessConfig

    root = tmp_path_factory.mktemp("notes")
    corpus = root / "midi"
    corpus.mkdir()
    for i in range(12):
        write_piano(corpus / f"piece{i:02d}.mid", seed=i)
    config = DataConfig(corpus=str(corpus), codec="notes",
                        preprocess=PreprocessConfig(meter=None, satb=False,
                                                    normalize_key=False, quantize=0))
    prepare(config, root / "data", jobs=1, cache_dir=None, progress=False)
    return root / "data"


@pytest.fixture(scope="session")
def notes_run(notes_data, tmp_path_factory) -> Path:
    """A tiny categorical note model trained for a few steps with cadenza's own command."""
    from cadenza.cli import main

    run = tmp_path_factory.mktemp("runs") / "notes"
    assert main(["train", "--preset", "notes", "--data", str(notes_data), "--out", str(run),
                 "--set", "model.hidden=16", "--set", "model.layers=1",
                 "--set", "model.embedding=4", "--set", "train.batch_size=4",
                 "--set", "train.seq_len=16", "--set", "train.max_steps=6",
                 "--set", "train.eval_every=3", "--set", "train.log_every=2",
                 "--quiet"]) == 0
    return run
