"""The note-feature system: codec, six-head model and objective, generation, commands."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.cli import main
from cadenza.codecs import build_codec
from cadenza.codecs.notes import FEATURES, PITCH, POLYPHONY, STEP, polyphony_codes
from cadenza.data.dataset import PreparedDataset
from cadenza.data.windows import make_windows
from cadenza.errors import ConfigError
from cadenza.generate.notes import NoteSampling, generate_notes, sample_head
from cadenza.generate.processors import SCALES, Scale, parse_scale
from cadenza.models import build_model
from cadenza.objectives import build_objective
from cadenza.objectives.multihead import discretised_gaussian_nll, mse_with_positive_pressure
from cadenza.score import Score, make_notes
from cadenza.train.logs import read_log

torch.set_num_threads(1)


def chord_score() -> Score:
    """A C major chord, a gap longer than the step cap, a lone note, a zero-length note."""
    notes = make_notes(onset=[0, 0, 0, 480 * 20, 480 * 20 + 160, 480 * 21],
                       duration=[480, 480, 240, 120, 160, 0],
                       pitch=[64, 60, 67, 72, 71, 50], velocity=[90, 80, 70, 60, 50, 40])
    return Score(notes=notes, parts=["Piano"])


def test_codec_codes_by_hand() -> None:
    codes = build_codec("notes").encode(chord_score()).astype(int)
    assert codes[:, PITCH].tolist() == [60, 64, 67, 72, 71, 50]  # chords from low to high
    assert codes[:, STEP].tolist() == [0, 0, 0, 119, 4, 8]  # 12 per beat, capped at 119
    assert codes[:, 2].tolist() == [12, 12, 6, 3, 4, 1]  # duration at least one step
    assert codes[:, 3].tolist() == [127, 131, 130, 132, 126, 106]  # interval + 127
    assert codes[:, 4].tolist() == [80, 90, 70, 60, 50, 40]
    assert codes[:, POLYPHONY].tolist() == [2, 2, 2, 0, 0, 0]
    assert polyphony_codes(np.array([0] * 15)).tolist() == [12] * 15  # 13 classes


@pytest.mark.parametrize("options", [{}, {"time": "seconds"}, {"steps_per_beat": 4},
                                     {"time_classes": 500}])
def test_round_trip_is_the_identity(options) -> None:
    from cadenza.io.read import read

    codec = build_codec("notes", **options)
    for score in (chord_score(), read("src/cadenza/examples/piano-midi-test-0000.mid")[0]):
        codes = codec.encode(score)
        again = codec.encode(codec.decode(codes))
        assert np.array_equal(codes, again)


def test_bad_codec_option_is_one_error() -> None:
    with pytest.raises(ConfigError, match="time must be one of"):
        build_codec("notes", time="bars")


def test_positive_pressure_loss_by_hand() -> None:
    target, predicted = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.5, -1.0, -0.25])
    # (1 - .5)^2 + 0 = .25; (2 + 1)^2 + 10 * 1 = 19; (0 + .25)^2 + 10 * .25 = 2.5625
    loss = mse_with_positive_pressure(target, predicted)
    assert loss.tolist() == pytest.approx([0.25, 19.0, 2.5625])
    assert float(loss.mean()) == pytest.approx(21.8125 / 3)


def test_discretised_nll_by_hand() -> None:
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    got = discretised_gaussian_nll(torch.tensor([1.0, 9.0]), torch.tensor([0.8, 0.0]), 0.5,
                                   0.25)
    assert float(got[0]) == pytest.approx(-math.log(phi(0.65) - phi(0.15)), rel=1e-5)
    assert float(got[1]) == pytest.approx(-math.log(1e-12))  # floored, not infinite


def test_objective_weights_and_per_head_losses(notes_data) -> None:
    dataset = PreparedDataset(notes_data)
    objective = build_objective("multihead", dataset, weights=[1, 1, 1, 0.5, 0.1, 1])
    torch.manual_seed(0)
    model = build_model("note-rnn", 6, hidden=8, input="scaled", heads="tutorial")
    batch = make_windows(dataset, "train", 2, 10, 0, False).batch(0, 0)
    step = objective.loss(model, batch)
    parts = [float(step.metrics[f]) for f in FEATURES]
    assert float(step.loss.detach()) == pytest.approx(
        sum(w * p for w, p in zip((1, 1, 1, 0.5, 0.1, 1), parts)), rel=1e-5)
    result = objective.evaluate(model, "validation")
    assert result["nll"] == pytest.approx(sum(result[f] for f in FEATURES))
    assert {"step_rmse", "pitch_accuracy"} <= set(result)
    with pytest.raises(ConfigError, match="weights must be 6"):
        build_objective("multihead", dataset, weights=[1, 2])
    with pytest.raises(ConfigError, match="do not fit"):
        objective.loss(build_model("note-rnn", 6, hidden=8, time_classes=50), batch)


def test_loop_logs_per_head_losses_and_draws_them(notes_run) -> None:
    rows = read_log(notes_run / "log.csv")
    assert all(f"train_{f}" in rows[0] and f"val_{f}" in rows[0] for f in FEATURES)
    assert any(r["val_pitch"] for r in rows) and any(r["train_pitch"] for r in rows)
    assert (notes_run / "curves.png").stat().st_size > 0


class FixedHeads(torch.nn.Module):
    """A stand-in note model whose heads never change (known distributions)."""

    def __init__(self, logits: list[torch.Tensor]) -> None:
        super().__init__()
        self.head_sizes = tuple(len(x) for x in logits)
        self.out = torch.cat(logits)[None]

    def init_state(self, batch_size: int):
        return ()

    def step(self, codes, state):
        return self.out, state


def test_each_head_samples_with_its_own_temperature() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([0.1, 0.2, 0.7]))
    for t in (0.5, 1.0, 2.0):
        draws = torch.tensor([sample_head(logits, t, gen) for _ in range(3000)])
        expected = torch.softmax(logits / t, -1)
        assert (torch.bincount(draws, minlength=3) / 3000 - expected).abs().max() < 0.03
    codec = build_codec("notes", time_classes=4)
    torch.manual_seed(1)
    heads = [torch.randn(n) for n in codec.classes]
    model = FixedHeads(heads)
    sampling = NoteSampling(temperature=1.0, head_temperature={"pitch": 0.5, "duration": 3.0},
                            polyphony="mono")
    codes = generate_notes(model, codec, 3000, sampling, seed=2)[0].astype(np.int64)
    for f, t, allowed in ((PITCH, 0.5, slice(None)), (2, 3.0, slice(1, None)),
                          (4, 1.0, slice(1, None))):  # duration and velocity: code 0 masked
        logits = torch.full((codec.classes[f],), float("-inf"))
        logits[allowed] = heads[f][allowed] / t
        expected = torch.softmax(logits, -1).numpy()
        seen = np.bincount(codes[:, f], minlength=len(expected)) / len(codes)
        assert 0.5 * np.abs(seen - expected).sum() < 0.08, FEATURES[f]


@settings(max_examples=25, deadline=None)
@given(tonic=st.sampled_from(["C", "D", "Eb", "F#", "Bb", "G##"]),
       mode=st.sampled_from(sorted(SCALES)), seed=st.integers(0, 2**31 - 1),
       polyphony=st.sampled_from(["count", "step", "mono"]))
def test_scale_never_lets_an_out_of_scale_pitch_through(tonic, mode, seed, polyphony) -> None:
    classes = set(parse_scale(f"{tonic}:{mode}"))
    scale = Scale(classes, range(128))
    logits = torch.randn(3, 128, generator=torch.Generator().manual_seed(seed)) * 5
    kept = torch.isfinite(scale(logits))
    assert all((p % 12 in classes) == bool(kept[0, p]) for p in range(128))
    codec = build_codec("notes", time_classes=8)
    torch.manual_seed(seed % 1000)
    heads = [torch.randn(n) * 3 for n in codec.classes]
    codes = generate_notes(FixedHeads(heads), codec, 40,
                           NoteSampling(polyphony=polyphony, scale=scale), seed=seed)[0]
    assert {int(p) % 12 for p in codes[:, PITCH]} <= classes


def test_scale_parsing() -> None:
    assert parse_scale("D:minor") == (0, 2, 4, 5, 7, 9, 10)
    assert parse_scale("Bb:major") == (0, 2, 3, 5, 7, 9, 10)
    with pytest.raises(ConfigError, match="unknown mode"):
        parse_scale("D:lydian-ish")
    with pytest.raises(ConfigError, match="tonic"):
        parse_scale("H:minor")


class Recorder(torch.nn.Module):
    """Wraps a note model and records every row of codes it reads."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.seen = model, []
        self.head_sizes = model.head_sizes

    def init_state(self, batch_size: int):
        return self.model.init_state(batch_size)

    def step(self, codes, state):
        self.seen.append(codes[0].clone())
        out, self.last_state = self.model.step(codes, state)
        return out, self.last_state


@pytest.mark.parametrize("variant", [("scaled", "tutorial"), ("embed", "categorical")])
@pytest.mark.parametrize("polyphony", ["count", "step", "mono"])
def test_generation_feeds_what_training_saw(variant, polyphony, tmp_path) -> None:
    """Generation feeds the model the codec's encoding of the notes it writes, row for
    row, and ends in the state of reading that encoding in one pass; training windows
    are the same encoding of a file, through the same ``features`` (the source
    normalised its seed but fed generated pitches back raw)."""
    from cadenza.config import DataConfig
    from cadenza.corpus.prepare import prepare
    from cadenza.corpus.preprocess import PreprocessConfig
    from cadenza.io.write import midi_bytes

    codec = build_codec("notes")
    torch.manual_seed(3)
    model = build_model("note-rnn", 6, hidden=8, embedding=4, input=variant[0],
                        heads=variant[1]).eval()
    recorder = Recorder(model)
    rows = generate_notes(recorder, codec, 60, NoteSampling(polyphony=polyphony), seed=5)
    codes = rows[0].astype(np.float32)
    (tmp_path / "midi").mkdir()
    (tmp_path / "midi" / "one.mid").write_bytes(midi_bytes(codec.decode(rows[0])))
    prepare(DataConfig(corpus=str(tmp_path / "midi"), codec="notes", split=[1.0, 0.0, 0.0],
                       preprocess=PreprocessConfig(meter=None, satb=False, normalize_key=False,
                                                   quantize=0)),
            tmp_path / "data", jobs=1, cache_dir=None, progress=False)
    batch = make_windows(PreparedDataset(tmp_path / "data"), "train", 1, 64, 0,
                         True).batch(0, 0)
    inputs, targets = batch.inputs[0].numpy(), batch.targets[0].numpy()
    # training reads the codec's encoding of the file (MIDI pairs the note-offs of two
    # overlapping notes of one pitch its own way, so the file may differ from the codes)
    from cadenza.io.read import read

    from_file = codec.encode(read(tmp_path / "midi" / "one.mid")[0]).astype(np.float32)
    assert np.array_equal(targets[:60], from_file) and np.array_equal(inputs[1:60],
                                                                      from_file[:59])
    assert np.array_equal(inputs[0], np.zeros(6))  # the start frame
    # generation wrote codes that are the codec's encoding of the notes they decode to
    assert np.array_equal(codec.encode(codec.decode(rows[0])), rows[0])
    trained_on = np.concatenate([inputs[:1], codes])  # start, then every note
    # what generation fed: in count mode each row as it is, except a last chord that the
    # note budget cut short (fed again with its true size, as step mode does every chord)
    fed = torch.stack(recorder.seen).numpy()
    if polyphony != "step":
        last_chord = 1 + int(np.flatnonzero(codes[:, STEP] > 0).max(initial=0))
        assert np.array_equal(fed[:last_chord], trained_on[:last_chord])
        assert polyphony == "count" or np.array_equal(fed, trained_on)
    with torch.no_grad():
        _, (h, c) = model(torch.from_numpy(trained_on)[None])
    assert torch.allclose(recorder.last_state[0], h, atol=1e-5)  # where generation ended
    assert torch.allclose(recorder.last_state[1], c, atol=1e-5)


def test_count_mode_writes_the_chords_it_promised() -> None:
    codec = build_codec("notes", time_classes=8)
    torch.manual_seed(0)
    heads = [torch.randn(n) for n in codec.classes]
    heads[POLYPHONY] = torch.tensor([0.0] * 3 + [5.0] + [0.0] * 9)  # mostly 4-note chords
    codes = generate_notes(FixedHeads(heads), codec, 200, NoteSampling(polyphony="count"),
                           seed=0)[0].astype(int)
    assert (codes[:, POLYPHONY] == 3).mean() > 0.5
    assert np.array_equal(codes, codec.encode(codec.decode(codes)))


def test_commands_generate_and_continue(notes_run, tmp_path, capsys) -> None:
    out = tmp_path / "gen"
    assert main(["generate", str(notes_run), "--n", "2", "--length", "30", "--seed", "1",
                 "--scale", "D:minor", "--head-temperature", "pitch=0.8,step=1.0",
                 "--polyphony", "step", "--formats", "mid", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes-001.mid", "notes-002.mid"]
    from cadenza.io.read import read

    pitches = read(out / "notes-001.mid")[0].notes["pitch"]
    assert len(pitches) == 30 and {int(p) % 12 for p in pitches} <= {2, 4, 5, 7, 9, 10, 0}
    seed = "src/cadenza/examples/piano-midi-test-0000.mid"
    assert main(["continue", str(notes_run), seed, "--notes", "25", "--length", "20",
                 "--n", "1", "--seed", "1", "--formats", "mid", "--out", str(out)]) == 0
    continued = read(out / "piano-midi-test-0000-continued-001.mid")[0]
    assert len(continued.notes) == 45
    codec = build_codec("notes")
    given = codec.encode(read(seed)[0])[:25]
    assert np.array_equal(codec.encode(continued)[:25, :3], given[:, :3])


@pytest.mark.parametrize("argv, message", [
    (["--head-temperature", "interval=2"], "no sampled head 'interval'"),
    (["--head-temperature", "pitch"], "expected HEAD=NUMBER"),
    (["--scale", "D:nowhere"], "unknown mode"),
    (["--bars", "2"], "--notes N notes"),
    (["--notes", "100000"], "does not fit"),
])
def test_bad_options_are_one_clear_line(notes_run, tmp_path, capsys, argv, message) -> None:
    command = ["continue", str(notes_run), "src/cadenza/examples/piano-midi-test-0000.mid"]
    assert main([*command, *argv, "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("cadenza: error:")


def test_note_flags_on_a_chorale_run_are_refused(tmp_path, capsys) -> None:
    assert main(["generate", "--polyphony", "mono", "--out", str(tmp_path)]) != 0
    assert "for note-feature runs" in capsys.readouterr().err


def test_scale_on_a_token_vocabulary() -> None:
    from cadenza.codecs import Vocab
    from cadenza.codecs.chorale import note_code

    codec = build_codec("chorale")
    codes = [note_code(p, tied) for p in (60, 61, 62) for tied in (False, True)]
    vocab = Vocab.build(codec, codes)
    scale = Scale.for_vocab("C:major", vocab, codec)
    kept = torch.isfinite(scale(torch.zeros(len(vocab))))
    for token, keep in zip(vocab.tokens, kept.tolist()):
        pitch = codec.pitch_of_code(codec.code_of(token)) if token != Vocab.PAD else None
        assert keep == (pitch is None or pitch % 12 in (0, 2, 4, 5, 7, 9, 11)), token


def test_evaluate_reports_each_head(notes_run, notes_data, capsys) -> None:
    assert main(["evaluate", str(notes_run), "--data", str(notes_data),
                 "--split", "validation"]) == 0
    out = capsys.readouterr().out
    assert "nats/note" in out and all(f"  {f}" in out for f in FEATURES)


def test_report_refuses_a_note_run_in_one_line(notes_run, tmp_path, capsys) -> None:
    assert main(["report", str(notes_run), "--n", "2", "--out", str(tmp_path / "r")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("cadenza: error:") and "cadenza evaluate" in err
