"""The two shipped VAEs load, and the demo's commands run on the shipped examples."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cadenza.cli import main

RUNS = Path(str(resources.files("cadenza") / "runs"))
EXAMPLES = Path(str(resources.files("cadenza") / "examples"))


def test_the_shipped_pianoroll_vae_samples_and_interpolates(tmp_path, capsys) -> None:
    run = RUNS / "pianoroll-vae"
    assert main(["sample", str(run), "--n", "2", "--seed", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "sample-002.mid").exists()
    assert main(["interpolate", str(run), str(EXAMPLES / "nottingham-test-0000.mid"),
                 str(EXAMPLES / "nottingham-test-0001.mid"), "--steps", "8",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "nottingham-test-0000-to-nottingham-test-0001-strip.png").exists()
    assert "moving away from the first" in capsys.readouterr().out


def test_the_shipped_mel_vae_reconstructs_the_example_clip(tmp_path, capsys) -> None:
    run = RUNS / "mel-vae"
    assert main(["reconstruct", str(run), str(EXAMPLES / "jsb-test-0000-strings.wav"),
                 "--out", str(tmp_path)]) == 0
    line = capsys.readouterr().out
    l1 = float(line.split("reconstruction ")[1].split(" dB")[0])
    assert l1 < 11.0  # better than the mean-spectrogram predictor's ~11 dB on held-out data
    assert (tmp_path / "jsb-test-0000-strings.png").exists()
