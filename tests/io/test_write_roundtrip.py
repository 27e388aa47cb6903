"""Write -> read round trips through MIDI and MusicXML."""

from __future__ import annotations

import pytest

from cadenza.io import midi_bytes, read, read_midi_bytes, to_music21, write_midi, write_musicxml
from cadenza.score import Key, Score, TimeSignature, make_notes


def quantized_score() -> Score:
    """Two parts over two 4/4 bars, with a tie and a fermata, on a 16th grid."""
    rows = [
        # onset, duration, pitch, part, tied, fermata
        (0, 480, 72, 0, False, False),
        (480, 240, 74, 0, False, False),
        (720, 240, 76, 0, False, False),
        (960, 960, 77, 0, False, False),
        (1920, 480, 77, 0, True, False),  # tied on from the previous F
        (2400, 360, 76, 0, False, False),
        (2760, 120, 74, 0, False, False),
        (2880, 960, 72, 0, False, True),  # fermata at the phrase end
        (0, 1440, 48, 1, False, False),  # crosses the half bar
        (1440, 1200, 55, 1, False, False),  # crosses the barline: MusicXML splits it
        (2640, 240, 53, 1, False, False),
        (2880, 960, 48, 1, False, True),
    ]
    onset, duration, pitch, part, tied, fermata = zip(*rows)
    notes = make_notes(onset=onset, duration=duration, pitch=pitch, part=part, tied=tied,
                       fermata=fermata)
    return Score(notes=notes, parts=["Soprano", "Bass"], key=Key(0, "major"),
                 time_signatures=[TimeSignature(0, 4, 4)], tempos=[(0, 90.0)], title="rt")


def music(score: Score) -> list[tuple]:
    return sorted(score.merge_ties().notes[["onset", "duration", "pitch", "part"]].tolist())


def test_midi_round_trip(tmp_path):
    score = quantized_score()
    path = write_midi(score, tmp_path / "rt.mid")
    [back] = read(path)
    assert music(back) == music(score)
    assert back.parts == score.parts
    assert back.time_signatures == score.time_signatures
    assert back.key == score.key
    assert back.tempos[0][1] == pytest.approx(90.0, abs=0.01)
    # MIDI has no ties: the tied note comes back joined
    assert not back.notes["tied"].any()
    assert len(back) == len(score) - 1


@pytest.mark.parametrize("key", [Key(7, "minor"), Key(2, "major"), Key(5, "major"),
                                 Key(3, "minor"), Key(6, "major")])
def test_midi_key_signature_round_trip(key):
    score = quantized_score().replace(key=key)
    assert read_midi_bytes(midi_bytes(score)).key == key


def test_musicxml_round_trip(tmp_path):
    score = quantized_score()
    path = write_musicxml(score, tmp_path / "rt.musicxml")
    [back] = read(path)
    assert music(back) == music(score)
    assert back.parts == score.parts
    assert back.meter == "4/4"
    assert back.key == score.key
    # the tie survives as a tie, and the barline split of the bass note adds one more
    tied = back.notes[back.notes["tied"]][["onset", "pitch"]].tolist()
    assert sorted(tied) == [(1920, 55), (1920, 77)]
    fermatas = back.notes[back.notes["fermata"]][["onset", "pitch"]].tolist()
    assert sorted(fermatas) == [(2880, 48), (2880, 72)]


def test_musicxml_round_trip_of_read_midi(tmp_path, satb_bytes):
    score = read_midi_bytes(satb_bytes(seed=3, bars=3))
    [back] = read(write_musicxml(score, tmp_path / "satb.musicxml"))
    assert back.parts == ["Soprano", "Alto", "Tenor", "Bass"]
    assert music(back) == music(score)


def test_to_music21_keeps_chords_and_ties():
    score = Score(
        notes=make_notes(onset=[0, 0, 480], duration=[480, 480, 480], pitch=[60, 64, 64],
                         part=[0, 0, 0], tied=[False, False, True]),
        parts=["Piano"],
    )
    m21 = to_music21(score)
    elements = list(m21.parts[0].flatten().notes)
    assert [type(e).__name__ for e in elements] == ["Chord", "Note"]
    assert elements[1].tie.type == "stop"


def test_ties_inside_chords_survive_musicxml(tmp_path):
    # a chord C-E-G whose E and G are held into the next chord (E-G-C'), one by one
    score = Score(
        notes=make_notes(onset=[0, 0, 0, 480, 480, 480], duration=[480] * 6,
                         pitch=[60, 64, 67, 64, 67, 72], part=[0] * 6,
                         tied=[False, False, False, True, True, False]),
        parts=["Piano"],
    )
    chords = list(to_music21(score).parts[0].flatten().notes)
    assert [n.tie.type if n.tie else None for n in chords[0].notes] == [None, "start", "start"]
    assert [n.tie.type if n.tie else None for n in chords[1].notes] == ["stop", "stop", None]
    [back] = read(write_musicxml(score, tmp_path / "chords.musicxml"))
    assert music(back) == music(score)
    assert sorted(back.merge_ties().notes[["onset", "duration", "pitch"]].tolist()) == [
        (0, 480, 60), (0, 960, 64), (0, 960, 67), (480, 480, 72)]
