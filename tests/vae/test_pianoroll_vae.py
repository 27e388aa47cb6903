"""The piano-roll VAE end to end: segments, the loop, monitors, and the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cadenza.cli import main
from cadenza.codecs.pianoroll import PianoRollCodec
from cadenza.data.dataset import PreparedDataset
from cadenza.data.segments import Segments, heldout_segments
from cadenza.models import build_model

TINY = ["--set", "model.name=vae-conv", "--set", "model.steps=8", "--set", "model.latent=4",
        "--set", "model.channels=16", "--set", "model.downsample=1",
        "--set", "objective.name=elbo", "--set", "train.seq_len=8",
        "--set", "train.batch_size=4", "--set", "train.eval_every=3", "--quiet"]


@pytest.fixture(scope="module")
def tiny_vae_run(roll_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("vae") / "run"
    assert main(["train", "--preset", "tiny", "--data", str(roll_dataset("roll")),
                 "--out", str(run), *TINY, "--set", "train.max_steps=6"]) == 0
    return run


def test_a_roll_segment_decodes_and_encodes_to_itself(roll_dataset) -> None:
    dataset = PreparedDataset(roll_dataset("roll"))
    codec: PianoRollCodec = dataset.codec
    segments = heldout_segments(dataset, "train", 8)
    assert segments.shape[1:] == (8, 88) and len(segments) > 10
    for segment in segments.astype(np.uint8):
        again = codec.roll(codec.roll_to_score(segment))
        padded = np.zeros_like(segment)
        padded[:len(again)] = again  # a roll ends at its last note: silence comes back
        assert np.array_equal(padded, segment)


def test_training_segments_are_a_pure_function_of_position(roll_dataset) -> None:
    dataset = PreparedDataset(roll_dataset("roll"))
    windows = Segments(dataset, "train", batch_size=3, steps=8, seed=5)
    a, b = windows.batch(2, 1), windows.batch(2, 1)
    assert torch.equal(a.inputs, b.inputs) and a.inputs.shape == (3, 8, 88)
    assert a.step == 2 * windows.windows_per_epoch + 1
    assert set(a.inputs.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a.inputs, windows.batch(2, 2).inputs)


def test_vae_models_keep_shapes_and_refuse_bad_sizes() -> None:
    from cadenza.models import ModelConfigError

    x = torch.zeros(2, 16, 88)
    for name, options in (("vae-conv", {"steps": 16, "channels": 8, "latent": 3}),
                          ("vae-report", {"steps": 16, "latent": 3, "dense": 8})):
        model = build_model(name, 88, **options)
        out, mu, logvar = model(x)
        assert out.shape == x.shape and mu.shape == logvar.shape == (2, 3)
        assert model.contract == "whole-sequence"
    with pytest.raises(ModelConfigError):
        build_model("vae-conv", 88, steps=10, downsample=2)
    with pytest.raises(ModelConfigError):
        build_model("vae-report", 88, steps=12)


def test_training_writes_monitors_every_evaluation(tiny_vae_run) -> None:
    lines = (tiny_vae_run / "monitors.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [3, 6]
    record = json.loads(lines[-1])
    assert len(record["kl_per_dim"]) == 4
    assert {"active_units", "kl_nats", "f1", "f1_shuffled", "shuffle_drop"} <= set(record)


def test_sample_reconstruct_interpolate_end_to_end(tiny_vae_run, roll_folder, tmp_path,
                                                    capsys) -> None:
    out = tmp_path / "out"
    assert main(["sample", str(tiny_vae_run), "--n", "2", "--out", str(out)]) == 0
    assert {p.name for p in out.glob("sample-00*.*")} >= {
        "sample-001.mid", "sample-001.png", "sample-002.mid", "sample-002.png"}
    piece = roll_folder / "piece00.mid"
    assert main(["reconstruct", str(tiny_vae_run), str(piece), "--out", str(out)]) == 0
    assert (out / "piece00-reconstructed.mid").exists()
    assert "note F1 of the reconstruction" in capsys.readouterr().out
    assert main(["interpolate", str(tiny_vae_run), str(piece), str(roll_folder / "piece01.mid"),
                 "--steps", "4", "--out", str(out)]) == 0
    assert (out / "piece00-to-piece01-strip.png").exists()
    assert (out / "piece00-to-piece01.mid").exists()


def test_bad_input_gets_one_clear_line(tiny_vae_run, tmp_path, capsys) -> None:
    empty = tmp_path / "empty.mid"
    from cadenza.io.write import midi_bytes
    from cadenza.score import Score, empty_notes

    empty.write_bytes(midi_bytes(Score(notes=empty_notes(), parts=["Piano"])))
    assert main(["reconstruct", str(tiny_vae_run), str(empty), "--out", str(tmp_path)]) == 2
    assert main(["interpolate", str(tiny_vae_run), str(empty), str(empty), "--steps", "1",
                 "--out", str(tmp_path)]) == 2
    assert main(["sample", str(tmp_path), "--out", str(tmp_path)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3 and all(e.startswith("cadenza: error: ") for e in errors)
