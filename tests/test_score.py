"""Unit tests for the Score type: sorting, quantize, transpose, merge_ties, select_parts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.score import (
    NOTE_DTYPE,
    Key,
    Score,
    TimeSignature,
    make_notes,
)


def score_of(rows, parts=("Soprano", "Alto"), **kwargs) -> Score:
    """rows: (onset, duration, pitch, part[, tied[, fermata]])."""
    rows = [tuple(r) + (False,) * (6 - len(r)) for r in rows]
    onset, duration, pitch, part, tied, fermata = zip(*rows)
    notes = make_notes(onset=onset, duration=duration, pitch=pitch, part=part, tied=tied,
                       fermata=fermata)
    return Score(notes=notes, parts=list(parts), **kwargs)


def test_make_notes_defaults_and_sorting():
    s = score_of([(480, 480, 60, 0), (0, 480, 55, 1), (0, 480, 67, 0), (0, 480, 72, 0)])
    assert s.notes.dtype == NOTE_DTYPE
    assert s.notes["velocity"].tolist() == [80] * 4
    # sorted by onset, then part, then pitch descending
    assert s.notes[["onset", "part", "pitch"]].tolist() == [
        (0, 0, 72), (0, 0, 67), (0, 1, 55), (480, 0, 60)
    ]
    assert len(s) == 4
    assert s.end == 960
    assert s.meter == "4/4"
    assert s.part_notes(1)["pitch"].tolist() == [55]


def test_empty_score_facts():
    s = Score(notes=np.zeros(0, dtype=NOTE_DTYPE), parts=[])
    assert s.end == 0 and len(s) == 0
    assert s.transpose(5).notes.size == 0
    assert s.quantize().notes.size == 0


def test_quantize_rounds_onsets_and_keeps_short_notes():
    s = score_of([
        (130, 20, 60, 0),  # 20 ticks: shorter than a 16th (120) -> keeps one step
        (59, 100, 62, 0),  # onset 59 rounds down to 0, end 159 -> 120
        (60, 420, 64, 1),  # onset 60 rounds half up to 120, end 480 stays
        (1000, 455, 65, 1),  # onset 1000 -> 960, end 1455 -> 1440
    ])
    q = s.quantize(4)
    got = {int(n["pitch"]): (int(n["onset"]), int(n["duration"])) for n in q.notes}
    assert got == {60: (120, 120), 62: (0, 120), 64: (120, 360), 65: (960, 480)}
    assert (q.notes["onset"] % 120 == 0).all() and (q.notes["duration"] % 120 == 0).all()
    assert (q.notes["duration"] >= 120).all()
    assert len(q) == len(s)  # no note lost
    # the original is untouched
    assert s.notes["onset"].tolist() == sorted([130, 59, 60, 1000])


def test_quantize_grid_options_and_time_signatures():
    s = score_of([(170, 100, 60, 0)], time_signatures=[TimeSignature(0, 4, 4),
                                                       TimeSignature(1930, 3, 4)])
    q = s.quantize(2)  # eighths: grid 240
    assert q.notes["onset"].tolist() == [240]
    assert q.notes["duration"].tolist() == [240]
    assert [ts.tick for ts in q.time_signatures] == [0, 1920]
    with pytest.raises(ValueError, match="not divisible"):
        s.quantize(7)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 2000), st.integers(0, 127)),
                min_size=1, max_size=30),
       st.sampled_from([1, 2, 4, 8, 12]))
def test_quantize_properties(rows, steps):
    s = score_of([(o, d, p, 0) for o, d, p in rows], parts=["P"])
    q = s.quantize(steps)
    grid = 480 // steps
    assert len(q) == len(s)
    assert (q.notes["onset"] % grid == 0).all()
    assert (q.notes["duration"] >= grid).all()
    assert sorted(q.notes["pitch"].tolist()) == sorted(s.notes["pitch"].tolist())
    q2 = q.quantize(steps)
    assert q2.notes.tolist() == q.notes.tolist()  # idempotent


def test_quantize_moves_onsets_at_most_half_a_step():
    s = score_of([(o, 50, 60 + i % 10, 0) for i, o in enumerate(range(0, 2000, 37))],
                 parts=["P"])
    q = s.quantize(4)
    before = np.sort(s.notes["onset"])
    after = np.sort(q.notes["onset"])
    assert (np.abs(after - before) <= 60).all()


def test_transpose_moves_pitches_and_key():
    s = score_of([(0, 480, 60, 0), (0, 480, 48, 1)], key=Key(7, "minor"))
    t = s.transpose(2)
    assert sorted(t.notes["pitch"].tolist()) == [50, 62]
    assert t.key == Key(9, "minor")
    assert str(t.key) == "A minor"
    assert s.transpose(-8).key == Key(11, "minor")
    assert s.notes["pitch"].tolist() == [60, 48]  # original untouched
    assert score_of([(0, 1, 60, 0)]).transpose(3).key is None


def test_transpose_out_of_range_raises():
    s = score_of([(0, 480, 120, 0), (0, 480, 5, 1)])
    with pytest.raises(ValueError, match="MIDI pitch range"):
        s.transpose(8)
    with pytest.raises(ValueError, match="MIDI pitch range"):
        s.transpose(-6)
    assert s.transpose(7).notes["pitch"].max() == 127
    assert s.transpose(-5).notes["pitch"].min() == 0


def test_merge_ties_joins_touching_tied_notes():
    s = score_of([
        (0, 480, 60, 0),
        (480, 480, 60, 0, True),  # continues the first
        (960, 240, 60, 0, True, True),  # continues again, carries the fermata
        (0, 960, 55, 1),
        (1200, 480, 55, 1, True),  # tied but not touching: stays
        (480, 480, 62, 1, True),  # tied with nothing of its pitch before: stays
    ])
    m = s.merge_ties()
    rows = sorted(m.notes[["onset", "duration", "pitch", "part", "tied", "fermata"]].tolist())
    assert rows == [
        (0, 960, 55, 1, False, False),
        (0, 1200, 60, 0, False, True),
        (480, 480, 62, 1, True, False),
        (1200, 480, 55, 1, True, False),
    ]


def test_merge_ties_keeps_parts_apart():
    s = score_of([(0, 480, 60, 0), (480, 480, 60, 1, True)])
    assert len(s.merge_ties()) == 2


def test_select_parts_reorders_and_renames():
    s = score_of([(0, 480, 72, 0), (0, 480, 48, 1), (0, 480, 60, 2)],
                 parts=["Bass", "Soprano", "Tenor"])
    t = s.select_parts([1, 2])
    assert t.parts == ["Soprano", "Tenor"]
    assert sorted(t.notes[["pitch", "part"]].tolist()) == [(48, 0), (60, 1)]
    u = s.select_parts([2, 0], names=["T", "B"])
    assert u.parts == ["T", "B"]
    assert sorted(u.notes[["pitch", "part"]].tolist()) == [(60, 0), (72, 1)]
