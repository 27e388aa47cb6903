"""``cadenza generate`` and ``cadenza continue`` on a tiny saved run."""

from __future__ import annotations

import pytest
import torch

from cadenza.cli import main
from cadenza.models import build_model
from cadenza.train import checkpoint


@pytest.fixture
def run_dir(tmp_path, vocab, codec):
    from cadenza.train.config import ExperimentConfig, ModelSection

    options = {"layers": 1, "hidden": 16, "embedding": 8, "dropout": 0.0}
    config = ExperimentConfig(data="", model=ModelSection("rnn", options))
    out = tmp_path / "run"
    checkpoint.write_run_info(out, config, vocab, codec.config())
    torch.manual_seed(0)
    model = build_model("rnn", len(vocab), **options)
    checkpoint.save_weights(model, out / "model.safetensors")
    return out


def test_generate_writes_files(run_dir, tmp_path, capsys) -> None:
    out = tmp_path / "gen"
    args = ["generate", str(run_dir), "--n", "2", "--seed", "1", "--max-tokens", "60",
            "--top-k", "20", "--out", str(out), "--formats", "mid,png"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "chorale-001.mid", "chorale-001.png", "chorale-002.mid", "chorale-002.png"]
    printed = capsys.readouterr().out
    assert "chorale-001" in printed and "chorale-002.png" in printed
    first = (out / "chorale-001.mid").read_bytes()
    assert main(args) == 0 and (out / "chorale-001.mid").read_bytes() == first  # seeded


def test_continue_writes_files(run_dir, tmp_path, make_satb_midi) -> None:
    primer = make_satb_midi(tmp_path / "primer.mid", seed=3, bars=2)
    out = tmp_path / "cont"
    assert main(["continue", str(run_dir), str(primer), "--bars", "1", "--n", "1",
                 "--seed", "1", "--max-tokens", "120", "--out", str(out),
                 "--formats", "mid"]) == 0
    assert [p.name for p in out.iterdir()] == ["primer-continued-001.mid"]


def test_errors_are_one_line(tmp_path, capsys, monkeypatch) -> None:
    import cadenza.generate as generate

    monkeypatch.setattr(generate, "DEFAULT_RUN", tmp_path / "nowhere")
    assert main(["generate", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no default model is installed" in err and "\n" not in err
    assert main(["continue", str(tmp_path / "run"), str(tmp_path / "x.mid"), "--out",
                 str(tmp_path), "--formats", "mp3"]) == 2
    assert "unknown output format" in capsys.readouterr().err


def test_run_sampling_settings_apply_and_flags_win(run_dir, tmp_path) -> None:
    import json

    def generated(out: str, *flags: str) -> bytes:
        assert main(["generate", str(run_dir), "--n", "1", "--seed", "3", "--max-tokens",
                     "80", "--out", str(tmp_path / out), "--formats", "mid", *flags]) == 0
        return (tmp_path / out / "chorale-001.mid").read_bytes()

    plain = generated("plain")
    (run_dir / "sampling.json").write_text(json.dumps({"pitch_temperature": 0.05}))
    from_run = generated("from-run")
    assert from_run != plain  # the run's own setting is used
    assert generated("flag", "--pitch-temperature", "0.05") == from_run
    assert generated("override", "--pitch-temperature", "1.0") == plain  # the flag wins


def test_continue_says_it_kept_the_primer_or_refuses(run_dir, tmp_path, capsys) -> None:
    """A primer the encoding cannot hold (two notes at once in one voice) is refused in one
    line, nothing written, instead of continuing a primer with a note missing."""
    import symusic

    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    lines = {"Soprano": [72, 74, 76, 77], "Alto": [67, 67, 69, 69], "Tenor": [64, 62, 60, 60],
             "Bass": [48, 47, 45, 41]}
    for name, pitches in lines.items():
        track = symusic.Track(name, 0, False)
        for beat, pitch in enumerate(pitches):
            track.notes.append(symusic.Note(beat * 480, 480, pitch, 80))
        score.tracks.append(track)
    good = tmp_path / "good.mid"
    good.write_bytes(bytes(score.dumps_midi()))
    out = tmp_path / "out"
    assert main(["continue", str(run_dir), str(good), "--n", "1", "--seed", "1",
                 "--max-tokens", "120", "--out", str(out), "--formats", "mid"]) == 0
    assert "kept the primer note for note (16 notes)" in capsys.readouterr().out
    score.tracks[0].notes.append(symusic.Note(0, 480, 79, 80))  # a chord in the soprano
    bad = tmp_path / "bad.mid"
    bad.write_bytes(bytes(score.dumps_midi()))
    assert main(["continue", str(run_dir), str(bad), "--n", "1", "--seed", "1",
                 "--max-tokens", "120", "--out", str(tmp_path / "none"),
                 "--formats", "mid"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot keep the given notes note for note" in err[0]
    assert not (tmp_path / "none").exists()
