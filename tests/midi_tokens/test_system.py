"""A MidiTok run end to end: prepare a folder of multi-track MIDI, train the transformer
with the one loop, evaluate (nats per token and per note), generate, continue, report."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from tests.midi_tokens.midi_files import random_piece

from cadenza.cli import main
from cadenza.codecs import build_codec
from cadenza.data.dataset import PreparedDataset
from cadenza.generate.event_tokens import TimeLimit, cut_score
from cadenza.generate.processors import Context
from cadenza.io.read import read

TINY = ["--set", "model.layers=1", "--set", "model.dim=16", "--set", "model.heads=2",
        "--set", "model.max_context=256", "--set", "train.batch_size=4",
        "--set", "train.seq_len=64", "--set", "train.max_steps=3", "--set",
        "train.eval_every=3", "--set", "train.warmup_steps=1", "--quiet"]


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for i in range(12):
        (folder / f"song{i:02d}.mid").write_bytes(random_piece(rng, bars=3, drums=i % 2 == 0))
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06junk")
    return folder


@pytest.fixture(scope="module")
def miditok_run(midi_folder, tmp_path_factory):
    data = tmp_path_factory.mktemp("data") / "tsd"
    assert main(["prepare", "--corpus", str(midi_folder), "--codec", "miditok",
                 "--set", "codec.tokenization=TSD", "--out", str(data), "--quiet",
                 "--no-cache", "--jobs", "1"]) == 0
    run = tmp_path_factory.mktemp("runs") / "tsd"
    assert main(["train", "--preset", "miditok-transformer", "--data", str(data),
                 "--out", str(run), *TINY]) == 0
    return data, run


def test_prepare_keeps_every_track_and_saves_the_options(miditok_run) -> None:
    data, run = miditok_run
    dataset = PreparedDataset(data)
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["counts"]["pieces"] == 12
    assert [s["source"].endswith("broken.mid") for s in manifest["skipped"]] == [True]
    assert dataset.config["codec"]["tokenization"] == "TSD"
    assert json.loads((run / "codec.json").read_text()) == dataset.config["codec"]
    assert any(t.startswith("PitchDrum_") for t in dataset.vocab.tokens)  # drums kept
    assert any(t.startswith("Program_33") for t in dataset.vocab.tokens)  # the bass


def test_evaluate_reports_nats_per_note(miditok_run, capsys) -> None:
    _, run = miditok_run
    assert main(["evaluate", str(run), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unit"] == "nats/token"
    per_note = result["nats"] * result["tokens"] / result["notes"]
    assert result["nats_per_note"] == pytest.approx(per_note)
    assert result["notes"] < result["tokens"]


def test_generate_and_continue_write_pieces(miditok_run, midi_folder, tmp_path, capsys) -> None:
    _, run = miditok_run
    out = tmp_path / "gen"
    assert main(["generate", str(run), "--n", "2", "--length", "2", "--seed", "1",
                 "--out", str(out), "--formats", "mid"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".mid") == [
        "miditok-tsd-001.mid", "miditok-tsd-002.mid"]
    for path in out.glob("*.mid"):  # at most 2 bars of 4/4 (8 quarters) of time shifts
        onsets = read(path, drums=True)[0].notes["onset"]  # (a 3-step model may write none)
        assert not len(onsets) or onsets.max() <= 8 * 480
    primer = midi_folder / "song00.mid"
    out = tmp_path / "cont"
    assert main(["continue", str(run), str(primer), "--notes", "5", "--length", "1",
                 "--n", "2", "--seed", "2", "--out", str(out), "--formats", "mid"]) == 0
    kept = int(re.search(r"kept (\d+) notes", capsys.readouterr().out).group(1))
    assert kept >= 5  # notes that start with the 5th stay with it
    for path in out.glob("*.mid"):  # the primer's tokens open every continuation
        assert len(read(path, drums=True)[0].notes) >= kept
    assert main(["continue", str(run), str(primer), "--bars", "1", "--n", "1",
                 "--out", str(out), "--formats", "mid"]) == 0
    assert main(["continue", str(run), str(primer), "--frames", "4", "--out",
                 str(out)]) == 2


def test_report_leaves_out_the_chorale_parts(miditok_run, tmp_path) -> None:
    _, run = miditok_run
    assert main(["report", str(run), "--n", "2", "--samples", "0", "--no-audio",
                 "--out", str(tmp_path / "report")]) == 0
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())
    assert numbers["voice_leading"] is None
    assert numbers["test_nll"]["nats_per_note"] > numbers["test_nll"]["nats"]
    assert len(numbers["copying"]["pieces"]) == 2
    assert "Voice leading" not in (tmp_path / "report" / "report.html").read_text()


def test_time_limit_hands_passing_tokens_to_end() -> None:
    from cadenza.codecs import Vocab

    codec = build_codec("miditok", tokenization="TSD", programs=False)
    score = read_score(codec)
    vocab = Vocab.build(codec, codec.encode(score))
    limit = TimeLimit(vocab, codec, 4.0)
    state = limit.init_state(2)
    state[0], state[1] = 3.5, 0.0
    logits = torch.zeros(2, len(vocab))
    out = limit(logits, Context(torch.zeros(2, 1, dtype=torch.long), 0, {limit.name: state}))
    long_shift = [i for i, t in enumerate(vocab.tokens) if t.startswith("TimeShift_1.0")][0]
    assert out[0, long_shift] == float("-inf") and out[1, long_shift] == 0
    # the mass taken from the shifts that pass the limit went to EOS: still a distribution
    assert torch.allclose(out.logsumexp(-1), logits.logsumexp(-1))
    assert out[0, vocab.role_id("eos")] > out[1, vocab.role_id("eos")]


def read_score(codec):
    from cadenza.io.read import read_midi_bytes

    return read_midi_bytes(random_piece(np.random.default_rng(5)))


def test_cut_score_keeps_whole_onsets() -> None:
    score = read_score(None)
    onsets = np.sort(score.notes["onset"])
    cut = cut_score(score, notes=3)
    assert len(cut.notes) >= 3 and cut.notes["onset"].max() == onsets[2]
    bars = cut_score(score, bars=1)
    assert (bars.notes["onset"] + bars.notes["duration"]).max() <= 1920


def test_copy_check_on_notes_flags_a_transposed_copy_of_any_part_layout() -> None:
    from cadenza.evaluate.copying import CopyDetector
    from cadenza.io.read import read_midi_bytes

    rng = np.random.default_rng(11)
    training = [read_midi_bytes(random_piece(rng, bars=8), drums=True) for _ in range(3)]
    detector = CopyDetector(training, max_bars=4, by_part=False)
    copy = training[1].transpose(2)
    pitched = copy.without_drums()  # drums never count: their numbers name instruments
    merged = pitched.notes.copy()
    merged["part"] = 0  # the same notes in one part: still a copy when parts do not count
    one_part = pitched.replace(notes=merged, parts=["All"], programs=[0], drums=[False])
    for piece in (copy, one_part):
        report = detector.check(piece)
        assert report.flagged and report.best_shift == -2 and report.ngram_share == 1.0
    fresh = detector.check(read_midi_bytes(random_piece(rng, bars=8)))
    assert not fresh.flagged and fresh.ngram_share < 0.2


def test_scale_over_miditok_tokens_bans_only_outside_pitches() -> None:
    from cadenza.codecs import Vocab
    from cadenza.generate.processors import Scale

    codec = build_codec("miditok")
    vocab = Vocab.build(codec, [])
    scale = Scale.for_vocab("D:minor", vocab, codec)
    banned = {vocab.tokens[i] for i in torch.nonzero(scale.outside).flatten().tolist()}
    d_minor = {2, 4, 5, 7, 9, 10, 0}
    assert banned == {f"Pitch_{p}" for p in range(128) if p % 12 not in d_minor}
    assert f"PitchDrum_{37}" not in banned and "Bar_None" not in banned  # drums, time stay
