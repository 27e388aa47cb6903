"""Preprocessing: key analysis against music21, key shifts, SATB selection, filters."""

from __future__ import annotations

import numpy as np
import pytest

from cadenza.corpus.preprocess import (
    PreprocessConfig,
    analyze_key,
    key_shift,
    preprocess,
    select_satb,
)
from cadenza.errors import SkipPiece
from cadenza.score import Key, Score, TimeSignature, make_notes


def chorale_sources(n: int):
    from cadenza.corpus.sources import bach_chorale_files

    files = bach_chorale_files()
    step = max(1, len(files) // n)
    return files[::step][:n]


def test_bach_chorale_files_listed():
    from cadenza.corpus.sources import bach_chorale_files, list_sources

    files = bach_chorale_files()
    assert len(files) == 353
    assert len({f.piece_id for f in files}) == len(files)
    assert list_sources("bach-chorales") == files


def test_analyze_key_agrees_with_music21():
    from music21 import converter

    from cadenza.io import from_music21

    agree, checked = 0, []
    for source in chorale_sources(25):
        parsed = converter.parse(source.path)
        theirs = parsed.analyze("key")
        ours = analyze_key(from_music21(parsed))
        checked.append((source.piece_id, str(ours), str(theirs)))
        agree += (ours.tonic, ours.mode) == (theirs.tonic.pitchClass, theirs.mode)
    assert len(checked) == 25
    assert agree == 25, checked


def test_analyze_key_simple_scales():
    def scale(pitches, weights=None):
        weights = weights or [1] * len(pitches)
        onsets = np.cumsum([0] + [480 * w for w in weights[:-1]])
        return Score(notes=make_notes(onset=onsets, duration=[480 * w for w in weights],
                                      pitch=pitches), parts=["P"])

    assert analyze_key(scale([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60],
                             [4, 1, 2, 1, 3, 1, 1, 4, 2, 2, 4])) == Key(0, "major")
    assert analyze_key(scale([57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57],
                             [4, 1, 2, 1, 3, 1, 1, 4, 2, 2, 4])) == Key(9, "minor")
    assert analyze_key(scale([67, 69, 70, 72, 74, 75, 78, 79, 74, 70, 67],
                             [4, 1, 2, 1, 3, 1, 1, 4, 2, 2, 4])) == Key(7, "minor")
    with pytest.raises(SkipPiece, match="no notes"):
        analyze_key(Score(notes=make_notes(pitch=[]), parts=[]))


@pytest.mark.parametrize("key, shift", [
    (Key(7, "minor"), 2),  # G minor -> A minor
    (Key(9, "minor"), 0),
    (Key(0, "major"), 0),
    (Key(7, "major"), 5),  # G major up a fourth to C
    (Key(2, "major"), -2),
    (Key(6, "major"), -6),  # F# major: the tie-breaking end of -6..5
    (Key(3, "minor"), -6),  # Eb minor -> A minor: -6
    (Key(4, "minor"), 5),
    (Key(11, "major"), 1),
])
def test_key_shift(key, shift):
    assert key_shift(key) == shift
    moved = key.transpose(key_shift(key))
    assert moved == (Key(0, "major") if key.mode == "major" else Key(9, "minor"))


def test_key_shift_range():
    for tonic in range(12):
        for mode in ("major", "minor"):
            assert -6 <= key_shift(Key(tonic, mode)) <= 5


def parts_score(names, pitches=None) -> Score:
    pitches = pitches or [60 + i for i in range(len(names))]
    return Score(notes=make_notes(onset=[0] * len(names), duration=[480] * len(names),
                                  pitch=pitches, part=list(range(len(names)))),
                 parts=list(names))


def test_select_satb_by_name_in_order():
    s = parts_score(["Bass", "Tenor", "Alto", "Soprano", "Continuo"], [40, 50, 60, 70, 30])
    out = select_satb(s)
    assert out.parts == ["Soprano", "Alto", "Tenor", "Bass"]
    assert sorted(out.notes[["part", "pitch"]].tolist()) == [(0, 70), (1, 60), (2, 50), (3, 40)]


@pytest.mark.parametrize("names", [
    ["S.", "A.", "T.", "B."],
    ["soprano", "ALTO", "Tenore", "Basso"],
    ["Canto", "Contralto", "T", "B"],
    ["Sopran", "Alt", "Tenor", "Bass"],
])
def test_select_satb_name_variants(names):
    out = select_satb(parts_score(names))
    assert out.parts == ["Soprano", "Alto", "Tenor", "Bass"]
    assert out.notes["part"].tolist() == [0, 1, 2, 3]


def test_select_satb_explains_what_is_missing():
    with pytest.raises(SkipPiece) as info:
        select_satb(parts_score(["Soprano", "Violin", "Bass"]))
    text = str(info.value)
    assert "not a four-part SATB score: 3 parts (Soprano, Violin, Bass)" in text
    assert "missing Alto, Tenor" in text
    with pytest.raises(SkipPiece, match="0 parts \\(none\\)"):
        select_satb(Score(notes=make_notes(pitch=[]), parts=[]))


def chorale_like(meter=(4, 4)) -> Score:
    # G minor material, off the 16th grid by a few ticks
    pitches = [[67, 70, 74, 79], [62, 65, 67, 62], [58, 62, 58, 55], [43, 46, 43, 50]]
    rows = []
    for part, line in enumerate(pitches):
        for i, p in enumerate(line):
            rows.append((i * 480 + (7 if part == 1 else 0), 480, p, part))
    onset, duration, pitch, part = zip(*rows)
    return Score(notes=make_notes(onset=onset, duration=duration, pitch=pitch, part=part),
                 parts=["Soprano", "Alto", "Tenor", "Bass"], key=Key(7, "minor"),
                 time_signatures=[TimeSignature(0, *meter)])


def test_preprocess_normalizes_quantizes_and_reports_facts():
    score, facts = preprocess(chorale_like(), PreprocessConfig())
    assert facts["original_key"] == "G minor"
    assert facts["analyzed_key"] == "G minor"
    assert facts["shift"] == 2
    assert score.key == Key(9, "minor")
    assert (score.notes["onset"] % 120 == 0).all()
    assert sorted(score.notes["pitch"].tolist()) == sorted(
        p + 2 for p in chorale_like().notes["pitch"].tolist())


def test_preprocess_filters():
    with pytest.raises(SkipPiece, match="meter 3/4, not 4/4"):
        preprocess(chorale_like((3, 4)), PreprocessConfig())
    score, _ = preprocess(chorale_like((3, 4)), PreprocessConfig(meter="3/4"))
    assert score.meter == "3/4"
    score, facts = preprocess(chorale_like((3, 4)),
                              PreprocessConfig(meter=None, normalize_key=False, quantize=0))
    assert facts == {"original_key": "G minor", "shift": 0}
    assert score.notes.tolist() == chorale_like().notes.tolist()
    with pytest.raises(SkipPiece, match="no notes"):
        preprocess(Score(notes=make_notes(pitch=[]), parts=["Soprano"]), PreprocessConfig())
    with pytest.raises(SkipPiece, match="not a four-part SATB"):
        preprocess(parts_score(["Flute", "Oboe"]), PreprocessConfig())
    kept, _ = preprocess(parts_score(["Flute", "Oboe"]), PreprocessConfig(satb=False))
    assert kept.parts == ["Flute", "Oboe"]
