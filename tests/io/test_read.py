"""Readers on tiny files written at run time: MIDI type 0/1, MusicXML, ABC, Humdrum."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cadenza.errors import ReadError
from cadenza.io import read, read_midi_bytes
from cadenza.score import Key, TimeSignature


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def type0_midi(tpq: int = 480) -> bytes:
    """One track, two channels, 3/4, written byte by byte."""
    q = tpq
    ev = _vlq(0) + b"\xff\x58\x04\x03\x02\x18\x08"  # 3/4
    ev += _vlq(0) + b"\xff\x51\x03\x07\xa1\x20"  # 500000 us per quarter = 120 qpm
    ev += _vlq(0) + bytes([0x90, 72, 90]) + _vlq(0) + bytes([0x91, 48, 70])
    ev += _vlq(q) + bytes([0x80, 72, 0]) + _vlq(0) + bytes([0x90, 74, 90])
    ev += _vlq(q // 2) + bytes([0x80, 74, 0])
    ev += _vlq(q // 2) + bytes([0x81, 48, 0])  # bass held two quarters
    ev += _vlq(0) + bytes([0x91, 50, 0x40]) + _vlq(q) + bytes([0x91, 50, 0])  # note-off as vel 0
    ev += _vlq(0) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq)
    return header + b"MTrk" + struct.pack(">I", len(ev)) + ev


def test_midi_type0_splits_channels_into_parts(tmp_path):
    path = tmp_path / "type0.mid"
    path.write_bytes(type0_midi())
    [score] = read(path)
    # symusic splits a type-0 track by channel: one part per channel, in channel order
    assert score.parts == ["Part 1", "Part 2"]
    assert score.title == "type0"
    assert score.time_signatures == [TimeSignature(0, 3, 4)]
    assert score.tempos[0][0] == 0 and score.tempos[0][1] == pytest.approx(120.0)
    rows = sorted(score.notes[["onset", "duration", "pitch", "part"]].tolist())
    assert rows == [(0, 480, 72, 0), (0, 960, 48, 1), (480, 240, 74, 0), (960, 480, 50, 1)]
    assert score.notes["velocity"].tolist() == [90, 70, 90, 64]


def test_midi_other_tpq_is_rescaled_to_480(tmp_path):
    score = read_midi_bytes(type0_midi(tpq=96))
    assert score.tpq == 480
    rows = sorted(score.notes[["onset", "duration", "pitch"]].tolist())
    assert rows == [(0, 480, 72), (0, 960, 48), (480, 240, 74), (960, 480, 50)]


def test_midi_type1_named_tracks(tmp_path):
    import symusic

    midi = symusic.Score(240)
    midi.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    midi.key_signatures.append(symusic.KeySignature(0, -2, 1))  # 2 flats, minor: G minor
    spec = {"Soprano": [(0, 240, 74), (240, 240, 72)], "Alto": [(0, 480, 67)],
            "Bass": [(0, 120, 43), (120, 360, 38)]}
    for name, notes in spec.items():
        track = symusic.Track(name, 0, False)
        for t, d, p in notes:
            track.notes.append(symusic.Note(t, d, p, 80))
        midi.tracks.append(track)
    drums = symusic.Track("Drums", 0, True)
    drums.notes.append(symusic.Note(0, 10, 36, 100))
    midi.tracks.append(drums)
    empty = symusic.Track("Empty", 0, False)
    midi.tracks.append(empty)
    path = tmp_path / "type1.midi"
    path.write_bytes(bytes(midi.dumps_midi()))

    [score] = read(path)
    assert score.parts == ["Soprano", "Alto", "Bass"]  # drum and empty tracks left out
    assert score.key == Key(7, "minor")
    assert score.meter == "4/4"
    rows = sorted(score.notes[["onset", "duration", "pitch", "part"]].tolist())
    assert rows == [(0, 240, 43, 2), (0, 480, 74, 0), (0, 960, 67, 1), (240, 720, 38, 2),
                    (480, 480, 72, 0)]
    assert not score.notes["tied"].any() and not score.notes["fermata"].any()


HAND_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN"
  "http://www.musicxml.org/dtds/partwise.dtd">
<score-partwise version="3.1">
  <part-list>
    <score-part id="P1"><part-name>Soprano</part-name></score-part>
    <score-part id="P2"><part-name>Bass</part-name></score-part>
  </part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>-1</fifths><mode>minor</mode></key>
        <time><beats>4</beats><beat-type>4</beat-type></time>
        <clef><sign>G</sign><line>2</line></clef></attributes>
      <note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration>
        <type>half</type></note>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>4</duration>
        <tie type="start"/><type>half</type><notations><tied type="start"/></notations></note>
    </measure>
    <measure number="2">
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>2</duration>
        <tie type="stop"/><type>quarter</type><notations><tied type="stop"/></notations></note>
      <note><pitch><step>E</step><alter>-1</alter><octave>5</octave></pitch>
        <duration>1</duration><type>eighth</type></note>
      <note><rest/><duration>1</duration><type>eighth</type></note>
      <note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration>
        <type>half</type><notations><fermata/></notations></note>
    </measure>
  </part>
  <part id="P2">
    <measure number="1">
      <attributes><divisions>1</divisions><key><fifths>-1</fifths><mode>minor</mode></key>
        <time><beats>4</beats><beat-type>4</beat-type></time>
        <clef><sign>F</sign><line>4</line></clef></attributes>
      <note><pitch><step>D</step><octave>3</octave></pitch><duration>4</duration>
        <type>whole</type></note>
    </measure>
    <measure number="2">
      <note><pitch><step>G</step><octave>2</octave></pitch><duration>2</duration>
        <type>half</type></note>
      <note><pitch><step>C</step><octave>3</octave></pitch><duration>2</duration>
        <type>half</type></note>
      <note><chord/><pitch><step>E</step><octave>3</octave></pitch><duration>2</duration>
        <type>half</type></note>
    </measure>
  </part>
</score-partwise>
"""


def test_hand_written_musicxml(tmp_path):
    path = tmp_path / "hand.musicxml"
    path.write_text(HAND_XML)
    [score] = read(path)
    assert score.parts == ["Soprano", "Bass"]
    assert score.title == "hand"
    assert score.meter == "4/4"
    assert score.key == Key(2, "minor")  # one flat, minor
    rows = score.notes[["onset", "duration", "pitch", "part", "tied", "fermata"]].tolist()
    assert sorted(rows) == sorted([
        (0, 960, 72, 0, False, False),
        (960, 960, 74, 0, False, False),
        (1920, 480, 74, 0, True, False),  # the continuation carries the tie
        (2400, 240, 75, 0, False, False),
        (2880, 960, 72, 0, False, True),  # fermata kept
        (0, 1920, 50, 1, False, False),
        (1920, 960, 43, 1, False, False),
        (2880, 960, 52, 1, False, False),  # a chord gives one note per pitch
        (2880, 960, 48, 1, False, False),
    ])
    merged = score.merge_ties()
    assert (0, 960, 72) in merged.notes[["onset", "duration", "pitch"]].tolist()
    assert (960, 1440, 74) in merged.notes[["onset", "duration", "pitch"]].tolist()


def test_musicxml_suffixes(tmp_path):
    for name in ("a.xml", "b.MUSICXML"):
        path = tmp_path / name
        path.write_text(HAND_XML)
        assert len(read(path)[0].notes) == 9


ABC = """X:1
T:First
M:4/4
L:1/4
K:C
C D E F | G4 |]

X:2
T:Second
M:3/4
L:1/4
K:G
G A B | d3 |]
"""


def test_abc_with_two_tunes_gives_two_scores(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text(ABC)
    first, second = read(path)
    assert (first.title, second.title) == ("tunes#1", "tunes#2")
    assert first.meter == "4/4" and second.meter == "3/4"
    assert first.key == Key(0, "major") and second.key == Key(7, "major")
    assert first.notes[["onset", "duration", "pitch"]].tolist() == [
        (0, 480, 60), (480, 480, 62), (960, 480, 64), (1440, 480, 65), (1920, 1920, 67)]
    assert second.notes[["onset", "duration", "pitch"]].tolist() == [
        (0, 480, 67), (480, 480, 69), (960, 480, 71), (1440, 1440, 74)]
    assert len(first.parts) == 1 and (first.notes["part"] == 0).all()


KERN = """**kern\t**kern
*staff2\t*staff1
*Ibass\t*Isoprn
*M4/4\t*M4/4
=1\t=1
4C\t4c
4D\t4d;
[2E\t2e
=2\t=2
2E]\t2f
2F\t2g
==\t==
*-\t*-
"""


def test_humdrum_kern_two_spines(tmp_path):
    path = tmp_path / "tiny.krn"
    path.write_text(KERN)
    [score] = read(path)
    # music21 lists the top staff (last spine) first
    assert score.parts == ["Soprano", "Bass"]
    assert score.meter == "4/4"
    rows = score.notes[["onset", "duration", "pitch", "part", "tied", "fermata"]].tolist()
    assert sorted(rows) == sorted([
        (0, 480, 60, 0, False, False), (480, 480, 62, 0, False, True),
        (960, 960, 64, 0, False, False), (1920, 960, 65, 0, False, False),
        (2880, 960, 67, 0, False, False),
        (0, 480, 48, 1, False, False), (480, 480, 50, 1, False, False),
        (960, 960, 52, 1, False, False), (1920, 960, 52, 1, True, False),
        (2880, 960, 53, 1, False, False),
    ])


# -- errors --------------------------------------------------------------------
def _one_line_naming(err: ReadError, path: Path) -> str:
    text = str(err)
    assert "\n" not in text
    assert str(path) in text
    return text


@pytest.mark.parametrize("name, data, reason", [
    ("empty.mid", b"", "empty file"),
    ("blank.musicxml", b"  \n\n ", "empty file"),
    ("noise.mid", bytes(np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8)),
     "not a MIDI file"),
    ("header_only_broken.mid", b"MThd" + bytes(range(50)), "corrupt MIDI"),
    ("bad.musicxml", b"<score-partwise><part", "cannot parse"),
    ("bad.krn", b"this is not humdrum\n", "cannot parse"),
])
def test_unreadable_files_raise_one_line_read_error(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ReadError, match=reason) as info:
        read(path)
    _one_line_naming(info.value, path)


@pytest.mark.parametrize("keep", [20, 30, 60, -1])
def test_truncated_midi_is_a_read_error(tmp_path, keep, satb_bytes):
    data = satb_bytes()
    path = tmp_path / "cut.mid"
    path.write_bytes(data[:keep])
    with pytest.raises(ReadError, match="corrupt MIDI") as info:
        read(path)
    _one_line_naming(info.value, path)


def test_missing_file_and_unsupported_suffix(tmp_path):
    with pytest.raises(ReadError, match="cannot open") as info:
        read(tmp_path / "nowhere.mid")
    _one_line_naming(info.value, tmp_path / "nowhere.mid")
    (tmp_path / "notes.txt").write_text("C D E")
    with pytest.raises(ReadError, match="unsupported file type '.txt'"):
        read(tmp_path / "notes.txt")


def test_read_uses_given_bytes(tmp_path, satb_bytes):
    [score] = read(tmp_path / "not_on_disk.mid", data=satb_bytes())
    assert score.parts == ["Soprano", "Alto", "Tenor", "Bass"]
