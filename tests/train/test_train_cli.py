"""End to end: prepare a tiny corpus, `cadenza train --preset tiny`, `cadenza evaluate`."""

from __future__ import annotations

import json

from cadenza.cli import main


def test_prepare_train_evaluate(satb_folder, tmp_path, capsys) -> None:
    midi = satb_folder(4, bars=2)  # tests/conftest.py
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", "--corpus", str(midi), "--out", str(data), "--jobs",
                 "1", "--no-cache", "--quiet", "--set", "split=0.5,0.25,0.25"]) == 0
    assert main(["train", "--preset", "tiny", "--data", str(data), "--out", str(run),
                 "--set", "train.max_steps=3", "--set", "model.hidden=16"]) == 0
    assert "stopped (max_steps) after 3 steps" in capsys.readouterr().out
    assert main(["train", "--out", str(run), "--resume", "--set", "train.max_steps=5"]) == 0
    assert "after 5 steps" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--split", "test"]) == 0
    out = capsys.readouterr().out
    for label in ("nats/token", "bits/token", "perplexity", "token accuracy"):
        assert label in out
    assert main(["evaluate", str(run), "--json", "--data", str(data)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pieces"] == 1 and 0 < result["nats"] < 6


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--data", str(tmp_path), "--out",
                 str(tmp_path / "r"), "--set", "model.bogus=1"]) == 2
    assert "unknown option of model 'rnn'" in capsys.readouterr().err
