"""The piano-roll system end to end: store, frame model, loop, continuation, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cadenza.cli import main
from cadenza.corpus.benchmarks import rolls
from cadenza.data.dataset import PreparedDataset
from cadenza.generate.pianoroll import frame_scores, repeat_last, silence
from cadenza.models import FrameRNN, FrameRNNConfig


def test_store_round_trips_fields_across_jobs(roll_dataset) -> None:
    for layout in ("roll", "tokens"):
        one, two = PreparedDataset(roll_dataset(layout, 1)), PreparedDataset(roll_dataset(
            layout, 2))
        assert one.main == two.main
        assert one.main.kind == ("frames" if layout == "roll" else "tokens")
        assert np.array_equal(np.asarray(one.ids), np.asarray(two.ids))
        assert [p["split"] for p in one.pieces] == [p["split"] for p in two.pieces]
    roll = PreparedDataset(roll_dataset("roll"))
    assert roll.ids.dtype == np.uint8 and roll.ids.shape[1:] == (88,)
    assert sorted({p["split"] for p in roll.pieces}) == ["test", "train", "validation"]
    assert sum(p["split"] == "train" for p in roll.pieces) == 8  # the folder's split.json


def test_benchmark_corpus_comes_back_exactly(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CADENZA_CACHE", str(tmp_path / "cache"))
    assert main(["prepare", "--corpus", "jsb", "--out", str(tmp_path / "jsb"), "--quiet",
                 "--no-cache"]) == 0
    dataset = PreparedDataset(tmp_path / "jsb")
    published = rolls("jsb")
    for split in ("train", "validation", "test"):
        ours = [np.asarray(dataset.tokens(i)) for i in dataset.indices(split)]
        assert len(ours) == len(published[split])
        assert all(np.array_equal(a, b) for a, b in zip(ours, published[split]))


def test_frame_model_is_causal_and_steps_match_forward() -> None:
    torch.manual_seed(0)
    model = FrameRNN(88, FrameRNNConfig(layers=2, hidden=16, dropout=0.0)).eval()
    x = (torch.rand(2, 10, 88) < 0.1).float()
    full, _ = model(x)
    changed = x.clone()
    changed[:, 6:] = 1 - changed[:, 6:]
    assert torch.allclose(model(changed)[0][:, :6], full[:, :6])
    state = model.init_state(2)
    steps = []
    for t in range(10):
        logits, state = model.step(x[:, t], state)
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5)


def test_baselines_on_a_hand_made_piece() -> None:
    primer = np.zeros((2, 88), np.uint8)
    primer[1, [10, 14]] = 1
    truth = np.zeros((3, 88), np.uint8)
    truth[:, 10] = 1
    truth[2, 17] = 1
    held = repeat_last(primer, 3)
    assert held[:, 10].all() and held[:, 14].all() and held.sum() == 6
    # held: TP 3 (pitch 10), FP 3 (pitch 14), FN 1 (pitch 17)
    assert frame_scores(held, truth) == {"mae": pytest.approx(4 / (3 * 88)),
                                         "f1": pytest.approx(6 / 10)}
    assert frame_scores(silence(primer, 3), truth)["f1"] == 0.0
    assert frame_scores(silence(primer, 3), silence(primer, 3))["f1"] == 1.0


@pytest.fixture(scope="module")
def tiny_roll_run(roll_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "roll"
    assert main(["train", "--preset", "tiny", "--data", str(roll_dataset("roll")),
                 "--out", str(run), "--set", "model.name=frame-rnn", "--set", "model.hidden=8",
                 "--set", "train.max_steps=4", "--quiet"]) == 0
    return run


def test_training_resumes_exactly_through_the_loop(roll_dataset, tiny_roll_run, tmp_path):
    from safetensors.torch import load_file

    from cadenza.train.checkpoint import last_weights

    data = str(roll_dataset("roll"))
    common = ["--preset", "tiny", "--data", data, "--set", "model.name=frame-rnn",
              "--set", "model.hidden=8", "--quiet"]
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    assert main(["train", *common, "--out", str(straight), "--set", "train.max_steps=6"]) == 0
    assert main(["train", *common, "--out", str(halves), "--set", "train.max_steps=3"]) == 0
    assert main(["train", "--out", str(halves), "--resume", "--set", "train.max_steps=6",
                 "--quiet"]) == 0
    a, b = load_file(last_weights(straight)), load_file(last_weights(halves))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_continue_writes_every_output_with_an_overlay(tiny_roll_run, roll_folder, tmp_path):
    piece = roll_folder / "piece10.mid"
    out = tmp_path / "out"
    assert main(["continue", str(tiny_roll_run), str(piece), "--bars", "2", "--length", "2",
                 "--n", "2", "--seed", "1", "--out", str(out),
                 "--formats", "mid,musicxml,png"]) == 0
    for i in (1, 2):
        for suffix in (".mid", ".musicxml", ".png", "-overlay.png"):
            assert (out / f"piece10-continued-{i:03d}{suffix}").stat().st_size > 0
    assert main(["generate", str(tiny_roll_run), "--n", "1", "--length", "2",
                 "--out", str(tmp_path / "new"), "--formats", "mid"]) == 0
    assert (tmp_path / "new" / "pianoroll-001.mid").exists()


def test_bad_input_gets_one_clear_line(tiny_roll_run, roll_folder, tmp_path, capsys):
    import symusic

    empty = tmp_path / "empty.mid"
    empty.write_bytes(bytes(symusic.Score(480).dumps_midi()))
    assert main(["continue", str(tiny_roll_run), str(empty), "--out", str(tmp_path)]) == 2
    assert "no notes" in capsys.readouterr().err
    piece = roll_folder / "piece10.mid"
    assert main(["continue", str(tiny_roll_run), str(piece), "--bars", "400",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cadenza: error:") and "does not fit" in err and err.count("\n") == 1
    assert main(["harmonize", str(tiny_roll_run), str(piece), "--method", "greedy",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cadenza: error:") and err.count("\n") == 1


def test_sampled_token_frames_always_rise(roll_dataset) -> None:
    """Whatever the model's logits, the pitches of every sampled frame rise, and the
    frame budget stops each row after the frames asked for."""
    from cadenza.generate.decode import sample
    from cadenza.generate.pianoroll import FrameBudget, RisingPitches
    from cadenza.models import build_model_for

    dataset = PreparedDataset(roll_dataset("tokens"))
    vocab, codec = dataset.vocab, dataset.codec
    frame = vocab.role_id("frame")
    for seed in range(3):
        torch.manual_seed(seed)
        model = build_model_for("rnn", codec.spec, len(vocab), layers=1, hidden=8,
                                embedding=4, dropout=0.0).eval()
        with torch.no_grad():
            model.head.bias.normal_(0, 5)  # strong, arbitrary preferences
        rows = sample(model, vocab, n=4, seed=seed, grammar=None, max_tokens=2000,
                      processors=[RisingPitches(vocab, codec), FrameBudget(frame, 12)])
        for ids in rows:
            assert ids[0] == vocab.role_id("bos") and ids.count(frame) == 12
            pitches: list[int] = []
            for token in ids[1:]:
                if token == frame:
                    assert pitches == sorted(set(pitches))
                    pitches = []
                else:
                    pitches.append(codec.pitch_of_code(int(vocab.codes[token])))


def test_the_shipped_piano_model_extends_the_example(tmp_path) -> None:
    from importlib import resources

    from cadenza.train.checkpoint import load_run

    root = resources.files("cadenza")
    run = load_run(str(root / "runs" / "piano-default"))
    assert run.codec.spec.ordered_frames and run.config.objective.name == "next_token"
    out = tmp_path / "piano"
    assert main(["continue", str(root / "runs" / "piano-default"),
                 str(root / "examples" / "piano-midi-test-0000.mid"), "--bars", "4",
                 "--length", "1", "--n", "1", "--seed", "1", "--out", str(out),
                 "--formats", "mid"]) == 0
    assert (out / "piano-midi-test-0000-continued-001.mid").exists()
    assert (out / "piano-midi-test-0000-continued-001-overlay.png").exists()
