"""Score <-> symusic both ways keeps programs, drums, velocities, tempo changes, time and
key signatures and the sustain pedal."""

from __future__ import annotations

import numpy as np
from tests.midi_tokens.midi_files import SHAPES, random_piece

from cadenza.io.read import read_midi_bytes
from cadenza.io.symusic_score import from_symusic, to_symusic
from cadenza.io.write import midi_bytes
from cadenza.score import Key, Score, TimeSignature, make_notes


def _score() -> Score:
    notes = make_notes(onset=[0, 0, 480, 960, 960], duration=[480, 960, 480, 240, 120],
                       pitch=[60, 40, 64, 36, 67], velocity=[20, 90, 127, 100, 55],
                       part=[0, 1, 0, 2, 0])
    return Score(notes, ["Piano", "Bass", "Kit"], key=Key(2, "major"),
                 time_signatures=[TimeSignature(0, 3, 4), TimeSignature(1440, 4, 4)],
                 tempos=[(0, 90.0), (960, 150.0)], pedals=np.array([[0, 700], [900, 1400]]),
                 programs=[0, 33, 0], drums=[False, False, True])


def _same(a: Score, b: Score) -> None:
    assert np.array_equal(a.notes, b.notes)
    assert a.programs == b.programs and a.drums == b.drums
    assert a.time_signatures == b.time_signatures and a.key == b.key
    assert [(t, round(q, 3)) for t, q in a.tempos] == [(t, round(q, 3)) for t, q in b.tempos]
    assert np.array_equal(a.pedals, b.pedals)


def test_score_to_symusic_and_back_keeps_everything() -> None:
    score = _score()
    _same(score, from_symusic(to_symusic(score)))


def test_through_midi_bytes_too() -> None:
    score = _score()
    back = read_midi_bytes(midi_bytes(score), drums=True)
    _same(score, back)
    assert back.parts == ["Piano", "Bass", "Kit"]


def test_drums_left_out_unless_asked_and_never_transposed() -> None:
    data = random_piece(np.random.default_rng(0))
    assert not any(read_midi_bytes(data).drums)
    with_drums = read_midi_bytes(data, drums=True)
    assert with_drums.drums == [False, False, True] and with_drums.programs == [0, 33, 0]
    up = with_drums.transpose(2)
    kit = up.notes["part"] == 2
    assert np.array_equal(up.notes["pitch"][kit], with_drums.notes["pitch"][kit])
    assert np.array_equal(up.notes["pitch"][~kit], with_drums.notes["pitch"][~kit] + 2)


def test_program_of_a_type0_file_and_channel_10_drums() -> None:
    score = read_midi_bytes(SHAPES["type0"], drums=True)
    assert sorted(zip(score.programs, score.drums)) == [(0, True), (40, False)]
