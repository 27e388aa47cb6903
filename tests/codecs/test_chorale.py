"""The BachBot chorale codec: token layout, decode, and encode -> decode -> encode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadenza.codecs import CODECS, Vocab, build_codec
from cadenza.codecs.chorale import ChoraleCodec, DecodeError, note_code
from cadenza.errors import CadenzaError, ConfigError
from cadenza.score import Score, make_notes

SATB = ["Soprano", "Alto", "Tenor", "Bass"]


def names(codec: ChoraleCodec, codes) -> list[str]:
    return [codec.token_name(int(c)) for c in codes]


def test_full_corpus_round_trip(bach_dataset):
    """encode(decode(codes)) == codes for every prepared 4/4 SATB chorale."""
    ds = bach_dataset
    codec = ds.codec
    assert isinstance(codec, ChoraleCodec)
    failures = []
    for i in range(len(ds)):
        codes = ds.vocab.decode(ds.tokens(i))
        again = codec.encode(codec.decode(codes))
        if not np.array_equal(again.astype(np.int64), codes):
            failures.append(ds.pieces[i]["id"])
    assert len(ds) == 316
    assert failures == []


def test_full_corpus_vocabulary_tokens(bach_dataset):
    tokens = bach_dataset.vocab.tokens
    assert len(tokens) == 109
    assert tokens[:5] == ["<pad>", "START", "END", "|||", "(.)"]
    notes = tokens[5:]
    assert len(notes) == 104
    assert any(t.endswith("~") for t in notes) and any(not t.endswith("~") for t in notes)


def test_encode_layout():
    codec = ChoraleCodec()
    score = Score(
        notes=make_notes(
            onset=[0, 0, 0, 0, 240, 240],
            duration=[240, 240, 240, 480, 240, 240],
            pitch=[72, 67, 64, 48, 74, 65],
            part=[0, 1, 2, 3, 0, 1],
            fermata=[False, False, False, False, True, False],
        ),
        parts=SATB,
    )
    assert names(codec, codec.encode(score)) == [
        "START",
        "72", "67", "64", "48", "|||",
        "72~", "67~", "64~", "48~", "|||",
        "(.)", "74", "65", "48~", "|||",  # the tenor rests: left out
        "74~", "65~", "48~", "|||",  # the fermata marks the onset frame only
        "END",
    ]


def test_encode_quantizes_and_keeps_top_note_of_a_chord():
    codec = ChoraleCodec()
    score = Score(notes=make_notes(onset=[5, 0], duration=[110, 120], pitch=[60, 64],
                                   part=[0, 0]), parts=["Soprano"])
    assert names(codec, codec.encode(score)) == ["START", "64", "|||", "END"]
    empty = Score(notes=make_notes(pitch=[]), parts=SATB)
    assert names(codec, codec.encode(empty)) == ["START", "END"]
    with pytest.raises(CadenzaError, match="at most 4 parts"):
        codec.encode(Score(notes=make_notes(pitch=[60]), parts=list("ABCDE")))


def test_decode_voices_ties_and_fermatas():
    codec = ChoraleCodec()
    codes = [codec.code_of(n) for n in [
        "START", "72", "67", "60", "48", "|||", "72~", "67", "60~", "48~", "|||",
        "(.)", "71", "62", "43", "|||", "END"]]
    s = codec.decode(codes)
    assert s.parts == SATB and s.meter == "4/4"
    rows = sorted(s.notes[["onset", "duration", "pitch", "part", "tied", "fermata"]].tolist())
    assert rows == sorted([
        (0, 240, 72, 0, False, False), (0, 120, 67, 1, False, False),
        (0, 240, 60, 2, False, False), (0, 240, 48, 3, False, False),
        (120, 120, 67, 1, False, False),
        # three notes: 62 goes to the tenor (nearest to its last pitch 60), the alto rests
        (240, 120, 71, 0, False, True), (240, 120, 62, 2, False, True),
        (240, 120, 43, 3, False, True),
    ])


def test_decode_rejects_bad_structure():
    codec = ChoraleCodec()
    with pytest.raises(DecodeError, match="illegal"):
        codec.decode([0, note_code(60, False)] * 3)  # START in the middle
    with pytest.raises(DecodeError, match="illegal"):
        codec.decode([0] + [note_code(60, False)] * 5 + [2, 1])  # five voices
    with pytest.raises(DecodeError, match="illegal"):
        codec.decode([0, note_code(60, False), 3, 2, 1])  # fermata after a note


def test_registry_and_vocab():
    assert "chorale" in CODECS
    codec = build_codec("chorale")
    assert codec.config() == {"name": "chorale", "steps_per_quarter": 4, "voices": 4}
    with pytest.raises(ConfigError):
        build_codec("nope")  # unknown name
    with pytest.raises(ConfigError):
        build_codec("chorale", bogus=1)
    vocab = Vocab.build(codec, [note_code(60, False), note_code(60, True)])
    assert vocab.tokens == ["<pad>", "START", "END", "|||", "(.)", "60", "60~"]
    ids = vocab.encode([0, note_code(60, True), 1])
    assert ids.tolist() == [1, 6, 2]
    assert vocab.decode([0, 1, 6, 2]).tolist() == [0, note_code(60, True), 1]
    with pytest.raises(ConfigError, match="code .* is not in this vocabulary"):
        vocab.encode([note_code(61, False)], where="x")
    assert Vocab.from_json(vocab.to_json()) == vocab


# -- property: random SATB scores ---------------------------------------------------
@st.composite
def satb_scores(draw):
    """Four monophonic voices on a 16th grid with rests, ties and fermatas."""
    rows = []
    ranges = [(60, 81), (53, 74), (46, 67), (36, 60)]
    n_steps = draw(st.integers(1, 48))
    for part, (low, high) in enumerate(ranges):
        step = 0
        while step < n_steps:
            length = draw(st.integers(1, 8))
            if draw(st.booleans()) or draw(st.booleans()):  # mostly notes, some rests
                rows.append((step * 120, length * 120, draw(st.integers(low, high)), part,
                             draw(st.booleans()) and draw(st.booleans()),
                             draw(st.integers(0, 9)) == 0))
            step += length
    if not rows:
        rows.append((0, 120, 60, 0, False, False))
    onset, duration, pitch, part, tied, fermata = zip(*rows)
    notes = make_notes(onset=onset, duration=duration, pitch=pitch, part=part, tied=tied,
                       fermata=fermata)
    return Score(notes=notes, parts=SATB)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(satb_scores())
def test_random_satb_encode_decode_encode(score):
    codec = ChoraleCodec()
    codes = codec.encode(score)
    decoded = codec.decode(codes)
    again = codec.encode(decoded)
    assert names(codec, again) == names(codec, codes)
    # the music survives: every sounding (step, pitch) pair is the same
    def sounding(s):
        return sorted(
            (int(n["onset"]) // 120 + k, int(n["pitch"]))
            for n in s.notes for k in range(int(n["duration"]) // 120)
        )

    assert sounding(decoded) == sounding(score)


@settings(max_examples=60, deadline=None)
@given(satb_scores())
def test_full_voices_decode_exactly(score):
    """With all four voices sounding in every frame, decode gives back each voice's notes."""
    codec = ChoraleCodec()
    # one held note per voice over the random score's span
    end = -(-score.end // 120) * 120
    filled = Score(notes=make_notes(onset=[0] * 4, duration=[end] * 4,
                                    pitch=[72, 64, 57, 48], part=[0, 1, 2, 3]),
                   parts=SATB)
    decoded = codec.decode(codec.encode(filled))
    assert decoded.notes[["onset", "duration", "pitch", "part"]].tolist() == (
        filled.notes[["onset", "duration", "pitch", "part"]].tolist())
