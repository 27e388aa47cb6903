"""Exact metric values on tiny hand-made scores."""

import math

import numpy as np
import pytest

from cadenza.evaluate import metrics
from cadenza.score import Key, Score, make_notes

Q = 480  # ticks per quarter


def score_of(pitches, onsets, durations, parts=None, key=None, n_parts=1):
    notes = make_notes(
        pitch=pitches, onset=np.array(onsets) * Q, duration=np.array(durations) * Q,
        part=parts if parts is not None else 0,
    )
    return Score(notes=notes, parts=[f"P{i}" for i in range(n_parts)], key=key)


def test_pitch_counts_and_range():
    s = score_of([60, 64, 67, 72], [0, 1, 2, 3], [1, 1, 1, 1])
    assert metrics.pitch_range(s) == 12
    assert metrics.pitches_used(s) == 4
    assert metrics.pitch_classes_used(s) == 3  # C, E, G


def test_entropies():
    s = score_of([60, 62, 64, 65], [0, 1, 2, 3], [1, 1, 1, 1])
    assert metrics.pitch_class_entropy(s) == pytest.approx(2.0)  # four equally likely classes
    assert metrics.pitch_entropy(s) == pytest.approx(2.0)
    same = score_of([60, 72], [0, 1], [1, 1])
    assert metrics.pitch_class_entropy(same) == 0.0
    assert metrics.pitch_entropy(same) == pytest.approx(1.0)


def test_scale_consistency_and_in_key():
    c_major = score_of([60, 62, 64, 65, 67, 69, 71, 61], range(8), [1] * 8,
                       key=Key(0, "major"))
    assert metrics.scale_consistency(c_major) == pytest.approx(7 / 8)
    assert metrics.in_key_rate(c_major) == pytest.approx(7 / 8)
    a_minor = score_of([69, 71, 72, 68], range(4), [1] * 4, key=Key(9, "minor"))
    assert metrics.in_key_rate(a_minor) == 1.0  # G# is the raised seventh


def test_polyphony_empty_beats_density():
    # two notes together for a beat, one beat of silence, one note for a beat
    s = score_of([60, 64, 67], [0, 0, 2], [1, 1, 1])
    assert metrics.polyphony(s) == pytest.approx((2 * 4 + 1 * 4) / 8)
    assert metrics.empty_beat_rate(s) == pytest.approx(1 / 3)
    assert metrics.note_density(s) == pytest.approx(3 / 3)


def test_intervals_and_ioi():
    s = score_of([60, 62, 59, 60], [0, 1, 2, 4], [1, 1, 2, 1])
    assert metrics.interval_mean(s) == pytest.approx((2 + 3 + 1) / 3)
    assert metrics.interval_spread(s) == pytest.approx(np.std([2, -3, 1]))
    assert metrics.mean_ioi(s) == pytest.approx((1 + 1 + 2) / 3)
    hist = metrics.ioi_histogram(s)
    assert hist.sum() == pytest.approx(1.0)
    assert hist[metrics.IOI_BINS.index(1.0)] == pytest.approx(2 / 3)
    lengths = metrics.note_length_histogram(s)
    assert lengths[metrics.IOI_BINS.index(2.0)] == pytest.approx(1 / 4)


def test_repetition_counts_repeated_two_bar_windows():
    bar = [60, 62, 64, 65]
    pitches = bar * 4  # four identical bars
    s = score_of(pitches, range(16), [1] * 16)
    # windows start at bars 0, 1, 2: all three hold the same two bars; two are repeats
    assert metrics.repetition(s) == pytest.approx(2 / 3)
    fresh = score_of(list(range(48, 64)), range(16), [1] * 16)
    assert metrics.repetition(fresh) == 0.0


def test_every_metric_is_a_float_on_an_empty_score():
    empty = Score(notes=make_notes(pitch=[]), parts=["P0"])
    for name, fn in metrics.METRICS.items():
        value = fn(empty)
        assert isinstance(value, float) and not math.isnan(value), name
