"""The piano-roll codec: both layouts round-trip, the pedal holds notes, ranges hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.codecs import build_codec
from cadenza.codecs.pianoroll import PianoRollCodec, RollRangeError, sustained_durations
from cadenza.errors import ConfigError
from cadenza.score import Score, make_notes

rolls = st.integers(1, 24).flatmap(lambda n: st.lists(
    st.lists(st.booleans(), min_size=88, max_size=88), min_size=n, max_size=n))


def _quantized_score(roll: np.ndarray, spq: int = 4) -> Score:
    return PianoRollCodec(steps_per_quarter=spq).roll_to_score(roll)


@settings(max_examples=40, deadline=None)
@given(rolls)
def test_roll_and_tokens_round_trip(rows: list[list[bool]]) -> None:
    roll = np.asarray(rows, dtype=np.uint8)
    roll[-1, 0] = 1  # a MIDI file ends at its last note: keep the last frame sounding
    for layout in ("roll", "tokens"):
        codec = PianoRollCodec(layout=layout)
        score = codec.decode(codec.roll_to_codes(roll) if layout == "tokens" else roll)
        encoded = codec.encode(score)
        again = codec.encode(codec.decode(encoded))
        assert np.array_equal(np.asarray(again), np.asarray(encoded))
        assert np.array_equal(codec.roll(score), roll)


def test_tokens_rise_within_each_frame() -> None:
    codec = PianoRollCodec(layout="tokens")
    roll = np.zeros((3, 88), np.uint8)
    roll[0, [40, 3, 17]] = 1
    roll[2, 5] = 1
    codes = codec.roll_to_codes(roll)
    names = [codec.token_name(int(c)) for c in codes]
    assert names == ["BOS", "p24", "p38", "p61", "|", "|", "p26", "|"]


def test_velocity_values_and_128_pitches() -> None:
    notes = make_notes(onset=[0, 480], duration=[480, 480], pitch=[0, 127], velocity=[30, 90])
    score = Score(notes=notes, parts=["P"])
    codec = PianoRollCodec(pitches=128, steps_per_quarter=1, values="velocity")
    roll = codec.encode(score)
    assert roll.shape == (2, 128) and roll[0, 0] == 30 and roll[1, 127] == 90
    back = codec.decode(roll)
    assert back.notes["velocity"].tolist() == [30, 90]


def test_out_of_range_pitch_is_refused_and_options_checked() -> None:
    score = Score(notes=make_notes(onset=[0], duration=[480], pitch=[10]), parts=["P"])
    with pytest.raises(RollRangeError, match="pitch 10 is outside the 88-key roll"):
        PianoRollCodec().encode(score)
    with pytest.raises(ConfigError, match="pitches must be 88 or 128"):
        build_codec("pianoroll", pitches=61)
    with pytest.raises(ConfigError, match="binary"):
        build_codec("pianoroll", layout="tokens", values="velocity")


def test_sustain_pedal_extends_notes_until_it_lifts_or_the_pitch_returns() -> None:
    # C4 released at 480 under a pedal held 0..1440; E4 released after the pedal lifts;
    # C4 struck again at 960, which cuts the first C4's hold.
    notes = make_notes(onset=[0, 0, 960], duration=[480, 1920, 240], pitch=[60, 64, 60])
    pedals = np.array([[0, 1440]])
    notes = Score(notes=notes, parts=["P"]).notes
    held = sustained_durations(notes, pedals)
    by = {(int(p), int(o)): int(d) for p, o, d in zip(notes["pitch"], notes["onset"], held)}
    assert by == {(60, 0): 960, (64, 0): 1920, (60, 960): 480}
    score = Score(notes=notes, parts=["P"], pedals=pedals)
    roll_on = PianoRollCodec(steps_per_quarter=1).encode(score)
    roll_off = PianoRollCodec(steps_per_quarter=1, sustain=False).encode(score)
    assert roll_on[:, 60 - 21].tolist() == [1, 1, 1, 0]
    assert roll_off[:, 60 - 21].tolist() == [1, 0, 1, 0]


def test_steps_per_second_follow_the_tempo_map() -> None:
    # 480 ticks at 60 bpm = 1 s, then 480 ticks at 120 bpm = 0.5 s
    notes = make_notes(onset=[0, 480], duration=[480, 480], pitch=[60, 62])
    score = Score(notes=notes, parts=["P"], tempos=[(0, 60.0), (480, 120.0)])
    roll = PianoRollCodec(steps_per_second=10, sustain=False).encode(score)
    assert roll.shape[0] == 15
    assert roll[:10, 60 - 21].all() and roll[10:, 62 - 21].all()
