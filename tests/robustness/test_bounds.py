"""Memory and time stay bounded whatever the input's size: the primer is cut to the token
budget, the harmonizer's windows go through in fixed-size batches, a huge model config is
refused before anything is allocated, an over-long melody is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import satb_midi_bytes
from tests.robustness.conftest import refused

from cadenza.errors import ConfigError


def test_a_long_primer_is_cut_to_the_token_budget(tmp_path) -> None:
    from cadenza.generate import default_run
    from cadenza.generate.continuation import load_primer
    from cadenza.train.checkpoint import load_run

    run = load_run(default_run())
    primer_file = tmp_path / "long.mid"
    primer_file.write_bytes(satb_midi_bytes(seed=3, bars=16))
    whole = load_primer(primer_file, run.codec, run.vocab)
    assert not whole.notice and whole.frames == 16 * 16
    cut = load_primer(primer_file, run.codec, run.vocab, max_tokens=400)
    assert len(cut.ids) <= 300 < len(whole.ids)
    assert cut.ids == whole.ids[:len(cut.ids)]  # the same opening, whole frames
    assert f"primer cut to its first {cut.frames} frames" in cut.notice
    assert "--max-tokens 400" in cut.notice


def test_predictor_batches_to_its_memory_budget(monkeypatch) -> None:
    from cadenza.codecs.grid import CLASSES, MASK
    from cadenza.harmonize import infill
    from cadenza.models.infill import InfillConfig, InfillModel

    torch.manual_seed(0)
    model = InfillModel(4, InfillConfig(layers=1, dim=16, heads=2, dropout=0.0)).eval()
    rng = np.random.default_rng(0)
    cells = torch.from_numpy(1 + 2 * (rng.integers(50, 70, size=(200, 4)) + [14, 7, 0, -10]))
    cells[:, 1:] = MASK
    fermata = torch.zeros(200, dtype=torch.bool)
    predictor = infill.Predictor(model, window=32, transpositions=2)
    one_batch = predictor.log_probs(cells, fermata)
    sizes = []
    real_forward = model.forward

    def forward(inputs, *args):
        sizes.append(len(inputs))
        return real_forward(inputs, *args)

    monkeypatch.setattr(model, "forward", forward)
    monkeypatch.setattr(infill, "BATCH_BYTES", 3 * 8 * 4 * 32 * 4 * CLASSES)  # 3 windows
    batched = predictor.log_probs(cells, fermata)
    windows = len(infill._window_starts(200, 32)) * 5
    assert max(sizes) == 3 and sum(sizes) == windows
    torch.testing.assert_close(batched, one_batch)


def test_a_model_too_large_to_build_is_refused_before_allocating(tmp_path) -> None:
    from cadenza.io.weights import build_bounded
    from cadenza.models import build_model

    with pytest.raises(ConfigError, match=r"the model would take [0-9.]+ GB, more than the 2 GB"):
        build_bounded(lambda: build_model("rnn", 100, hidden=200_000, layers=2))
    assert build_bounded(lambda: build_model("rnn", 100, hidden=8, layers=1)) is not None


def test_a_melody_over_the_length_limit_is_refused(tmp_path, capsys) -> None:
    import symusic

    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track("Soprano", 0, False)
    for k in range(4 * 1100):
        track.notes.append(symusic.Note(k * 480, 480, 72 + (0, 2, 4, 5)[k % 4], 80))
    score.tracks.append(track)
    melody = tmp_path / "long.mid"
    melody.write_bytes(bytes(score.dumps_midi()))
    assert "1100 bars long; cadenza harmonizes at most 1024 bars" in refused(
        capsys, ["harmonize", melody, "--out", tmp_path / "out"])


def test_jobs_above_the_core_count_are_clamped(tmp_path, capsys) -> None:
    import os

    from cadenza.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(4):
        (corpus / f"p{i}.mid").write_bytes(satb_midi_bytes(seed=i))
    cores = os.cpu_count()
    assert main(["prepare", "--corpus", str(corpus), "--out", str(tmp_path / "d"),
                 "--jobs", str(cores + 5), "--no-cache", "--quiet"]) == 0
    assert f"--jobs {cores + 5} is more than the {cores} cores; using {cores}" in \
        capsys.readouterr().err
