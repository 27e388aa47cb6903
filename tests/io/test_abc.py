"""ABC melodies keep every note: each case against pitches and lengths written by hand.

Notes are (MIDI pitch, onset, length) with times in quarter notes; C = 60, c = 72.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from cadenza.errors import ReadError
from cadenza.io.read import read

HEAD = "X:1\nT:case\nM:4/4\nL:1/4\nK:C\n"


def notes(tmp_path: Path, body: str, head: str = HEAD, part: int = 0, tune: int = 0):
    path = tmp_path / "melody.abc"
    path.write_text(head + body)
    score = read(path)[tune]
    tpq = score.tpq
    return [(int(n["pitch"]), Fraction(int(n["onset"]), tpq), Fraction(int(n["duration"]), tpq))
            for n in score.notes if n["part"] == part]


def flags(tmp_path: Path, body: str, name: str, head: str = HEAD) -> list[bool]:
    path = tmp_path / "melody.abc"
    path.write_text(head + body)
    return [bool(n[name]) for n in read(path)[0].notes]


def line(*pitches_and_lengths, start=0):
    """(pitch, length) pairs laid end to end from ``start``."""
    out, time = [], Fraction(start)
    for pitch, length in pitches_and_lengths:
        out.append((pitch, time, Fraction(length)))
        time += Fraction(length)
    return out


CDEF_G = line((60, 1), (62, 1), (64, 1), (65, 1), (67, 4))


@pytest.mark.parametrize("body", [
    "C D HE F|G4|]\n",  # the fermata shorthand (music21 drops the E)
    "C D !fermata!E F|G4|]\n",
    "C D +fermata+E F|G4|]\n",  # ABC 2.0 (music21 reads the word as notes)
    "C D !invertedfermata!E F|G4|]\n",
])
def test_fermatas_keep_their_note_and_mark_it(tmp_path, body):
    assert notes(tmp_path, body) == CDEF_G
    assert flags(tmp_path, body, "fermata") == [False, False, True, False, False]


@pytest.mark.parametrize("body", [
    "!p!C !trill!D !<(!E !<)!F|!fine!G4|]\n",
    ".C ~D uE vF|TG4|]\n",
    "LC MD OE PF|SG4|]\n",
    "!segno!C !D.C.!D !>!E !accent!F|!f!G4|]\n",
    "U:W=!trill!\nC WD E F|G4|]\n",
])
def test_decorations_keep_every_note(tmp_path, body):
    assert notes(tmp_path, body) == CDEF_G
    assert not any(flags(tmp_path, body, "fermata"))


def test_grace_notes_take_no_time_from_the_notes(tmp_path):
    assert notes(tmp_path, "{g}C D {/e}E {gag}F|{B}G4|]\n") == CDEF_G


def test_slurs_and_chord_symbols_are_ignored(tmp_path):
    assert notes(tmp_path, '"C"(C D) ("F"E F)|"G7"G4|]\n') == CDEF_G


def test_ties_across_bar_lines_keep_the_accidental(tmp_path):
    got = notes(tmp_path, "C D E ^F-|F G2 F|]\n")
    assert got == line((60, 1), (62, 1), (64, 1), (66, 1), (66, 1), (67, 2), (65, 1))
    assert flags(tmp_path, "C D E ^F-|F G2 F|]\n", "tied") == [False] * 4 + [True, False, False]


def test_accidentals_last_to_the_bar_line(tmp_path):
    head = "X:1\nM:4/4\nL:1/4\nK:G\n"
    got = notes(tmp_path, "^C C F =F|_B B c F|]\n", head)
    assert [p for p, _, _ in got] == [61, 61, 66, 65, 70, 70, 72, 66]


def test_broken_rhythm(tmp_path):
    got = notes(tmp_path, "C>D E<F|G>>A B<<c|]\n")
    assert got == line((60, "3/2"), (62, "1/2"), (64, "1/2"), (65, "3/2"),
                       (67, "7/4"), (69, "1/4"), (71, "1/4"), (72, "7/4"))


def test_triplets(tmp_path):
    head = "X:1\nM:4/4\nL:1/8\nK:C\n"
    got = notes(tmp_path, "(3CDE F2 (3:2:2G2A z2 c2|c8|]\n", head)
    third = Fraction(1, 3)
    assert got == [
        (60, 0, third), (62, third, third), (64, 2 * third, third), (65, Fraction(1), 1),
        (67, Fraction(2), Fraction(2, 3)), (69, Fraction(8, 3), third),
        (72, Fraction(4), 1), (72, Fraction(5), 4),
    ]


def test_a_pickup_bar_starts_the_score(tmp_path):
    head = "X:1\nM:3/4\nL:1/8\nK:C\n"
    assert notes(tmp_path, "GA|c2 d2 e2|f6|]\n", head) == line(
        (67, "1/2"), (69, "1/2"), (72, 1), (74, 1), (76, 1), (77, 3))


def test_repeats_are_written_out(tmp_path):
    got = notes(tmp_path, "|:C D E F:|G4|]\n")
    assert got == line((60, 1), (62, 1), (64, 1), (65, 1), (60, 1), (62, 1), (64, 1), (65, 1),
                       (67, 4))


@pytest.mark.parametrize("body", [
    "|:C D E F|1 G4:|2 c4|]\n",
    "|:C D E F|[1 G4:|[2 c4|]\n",
    "|:C D E F|[1 G4 :| [2 c4||\n",
])
def test_first_and_second_endings(tmp_path, body):
    assert notes(tmp_path, body) == line((60, 1), (62, 1), (64, 1), (65, 1), (67, 4),
                                         (60, 1), (62, 1), (64, 1), (65, 1), (72, 4))


def test_a_repeat_from_the_start_and_a_later_section(tmp_path):
    body = "C2 E2:|G4|:A2 B2|1 c4:|2 d4|]\n"
    assert notes(tmp_path, body) == line((60, 2), (64, 2), (60, 2), (64, 2), (67, 4),
                                         (69, 2), (71, 2), (72, 4), (69, 2), (71, 2), (74, 4))


def test_several_voices_become_parts(tmp_path):
    head = 'X:1\nM:4/4\nL:1/4\nV:S name="Soprano"\nV:B name="Bass"\nK:C\n'
    body = "V:S\nC D E F|G4|]\nV:B\nC, [V:B]D, E, F,|G,4|]\n"
    assert notes(tmp_path, body, head, part=0) == CDEF_G
    assert notes(tmp_path, body, head, part=1) == line((48, 1), (50, 1), (52, 1), (53, 1),
                                                       (55, 4))
    path = tmp_path / "melody.abc"
    assert read(path)[0].parts == ["Soprano", "Bass"]


def test_several_tunes_become_scores(tmp_path):
    text = HEAD + "C D E F|G4|]\n\nX:2\nT:second\nM:4/4\nL:1/8\nK:D\nF2 G2 A4|d8|]\n"
    assert notes(tmp_path, "", text, tune=0) == CDEF_G
    assert notes(tmp_path, "", text, tune=1) == line((66, 1), (67, 1), (69, 2), (74, 4))
    assert [s.title for s in read(tmp_path / "melody.abc")] == ["melody#1", "melody#2"]


def test_chords_lengths_rests_and_keys(tmp_path):
    head = "X:1\nM:4/4\nL:1/8\nK:Dm\n"
    got = notes(tmp_path, "[DFA]2 z B3/2c/ d//e//f/ | A4 z4 | Z2 | [K:A] c8 |]\n", head)
    assert got == [
        (69, 0, 1), (65, 0, 1), (62, 0, 1),  # D minor: B is flat
        (70, Fraction(3, 2), Fraction(3, 4)), (72, Fraction(9, 4), Fraction(1, 4)),
        (74, Fraction(5, 2), Fraction(1, 8)), (76, Fraction(21, 8), Fraction(1, 8)),
        (77, Fraction(11, 4), Fraction(1, 4)),
        (69, Fraction(3), 2),
        (73, Fraction(15), 4),  # after two whole bars of rest, in A major: c is sharp
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("X:1\nT:no key\nC D E F|\n", "holds no ABC tune"),
    (HEAD + "C D & E F|\n", "voice overlay"),
    (HEAD + '"C D E F|\n', "without its closing"),
    (HEAD + "z4|z4|]\n", "holds no notes"),
])
def test_unreadable_abc_is_one_clear_line(tmp_path, text, message):
    path = tmp_path / "bad.abc"
    path.write_text(text)
    with pytest.raises(ReadError, match=message) as caught:
        read(path)
    assert "\n" not in str(caught.value)
