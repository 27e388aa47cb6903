"""Voice-leading checks on hand-made four-part passages with known faults."""

import numpy as np

from cadenza.evaluate.voiceleading import frame_grid, voice_leading
from cadenza.score import Score, make_notes

Q = 480
SATB = ["Soprano", "Alto", "Tenor", "Bass"]


def chorale(chords, durations=None):
    """Four-part score from chords given top to bottom, one per quarter note."""
    durations = durations or [1] * len(chords)
    rows = []
    onset = 0
    for chord, d in zip(chords, durations):
        for part, pitch in enumerate(chord):
            rows.append((onset, d * Q, pitch, part))
        onset += d * Q
    onset, duration, pitch, part = map(np.array, zip(*rows))
    return Score(make_notes(onset=onset, duration=duration, pitch=pitch, part=part), SATB)


def test_clean_progression_has_no_faults():
    # I - IV - V - I in C, textbook voicing, contrary motion to the bass
    s = chorale([(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)])
    result = voice_leading(s)
    for check in ("parallel_fifths", "parallel_octaves", "voice_crossing", "spacing",
                  "out_of_range"):
        assert result[check] == 0, check


def test_parallel_fifths_and_octaves_are_counted():
    # every voice moves up a step: G/C/C/C -> A/D/D/D
    s = chorale([(67, 60, 60, 48), (69, 62, 62, 50)])
    result = voice_leading(s)
    assert result["parallel_fifths"] == 3  # S-A, S-T, and S-B (a compound fifth, 19)
    assert result["parallel_octaves"] == 3  # A-T (unison), A-B and T-B (octaves)
    assert result["frames"] == 8
    assert result["parallel_fifths_per_100"] == 37.5


def test_contrary_fifths_and_held_voices_are_not_parallel():
    # fifth to twelfth by contrary motion; then one voice holds
    s = chorale([(67, 64, 60, 48), (74, 65, 59, 43), (74, 65, 60, 43)])
    assert voice_leading(s)["parallel_fifths"] == 0


def test_crossing_spacing_and_range():
    # alto above soprano for one beat; soprano-alto more than an octave apart next beat
    s = chorale([(64, 67, 55, 48), (79, 60, 55, 48)])
    result = voice_leading(s)
    assert result["voice_crossing"] == 4  # one crossing in each of 4 sixteenth frames
    assert result["spacing"] == 4
    low_bass = chorale([(72, 67, 64, 30)])
    assert voice_leading(low_bass)["out_of_range"] == 1


def test_frame_grid_marks_starts_and_rests():
    s = chorale([(72, 67, 64, 48)], durations=[2])
    pitch, starts = frame_grid(s)
    assert pitch.shape == (4, 8)
    assert starts[:, 0].all() and not starts[:, 1:].any()
