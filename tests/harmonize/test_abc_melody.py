"""`cadenza harmonize` on decorated ABC melodies with the shipped harmonizer: the output's
soprano is the melody written by hand below, note for note, or the command refuses."""

from __future__ import annotations

from cadenza.cli import main
from cadenza.io import read

TUNE = """X:1
T:decorated
M:4/4
L:1/8
K:F
%% a pickup, grace notes, slurs, !...! and H fermatas, a tie across the bar line,
%% broken rhythm and a repeat with first and second endings
C2|:{g}F2 (GA) !trill!B2 .A2|G2>F2 E2<D2|HC8|1 F2 A2 c4-|c2 B2 A4:|2 F2 E2 !fermata!F4|]
"""
Q = 480  # ticks per quarter
EIGHTH = Q // 2
# (pitch, length in eighths), laid end to end: as played, the repeat written out
PLAYED = [(60, 2)] + [
    (65, 2), (67, 1), (69, 1), (70, 2), (69, 2), (67, 3), (65, 1), (64, 1), (62, 3), (60, 8),
    (65, 2), (69, 2), (72, 6), (70, 2), (69, 4),  # first ending, c4-|c2 tied: one note
    (65, 2), (67, 1), (69, 1), (70, 2), (69, 2), (67, 3), (65, 1), (64, 1), (62, 3), (60, 8),
    (65, 2), (64, 2), (65, 4),  # second ending
]


def _expected() -> list[tuple[int, int, int]]:
    out, time = [], 0
    for pitch, length in PLAYED:
        out.append((time * EIGHTH, length * EIGHTH, pitch))
        time += length
    return out


def test_a_decorated_abc_melody_is_kept_note_for_note(tmp_path, capsys) -> None:
    melody = tmp_path / "decorated.abc"
    melody.write_text(TUNE)
    out = tmp_path / "out"
    assert main(["harmonize", str(melody), "--transpositions", "0", "--out", str(out),
                 "--formats", "mid"]) == 0
    assert f"kept the given S note for note ({len(PLAYED)} notes)" in capsys.readouterr().out
    score = read(out / "decorated-harmonized.mid")[0].merge_ties()
    assert len(score.parts) == 4
    soprano = score.part_notes(0)
    got = list(zip(soprano["onset"].tolist(), soprano["duration"].tolist(),
                   soprano["pitch"].tolist()))
    assert got == _expected()


def test_a_melody_the_grid_cannot_hold_is_refused_in_one_line(tmp_path, capsys) -> None:
    melody = tmp_path / "fast.abc"
    # four 64th notes fall into one 16th-note cell: the harmonizers' grid cannot keep them
    melody.write_text("X:1\nM:4/4\nL:1/4\nK:C\nc/16 d/16 e/16 f/16 c3 d3/4|c4|]\n")
    out = tmp_path / "out"
    assert main(["harmonize", str(melody), "--transpositions", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot keep the given notes note for note" in err[0]
    assert not out.exists() or not any(out.iterdir())
