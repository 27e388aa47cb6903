"""`cadenza continue` with a one-voice primer and the shipped chorale model: the melody is
harmonized first, kept note for note, and the continuation's soprano starts near it."""

from __future__ import annotations

from cadenza.cli import main
from cadenza.io import read

HYMN = """X:1
T:hymn
M:4/4
L:1/4
K:G
G G A B|c2 HB2|A G F G|HA4|]
"""
MELODY = [67, 67, 69, 71, 72, 71]  # the first two bars, hand-written (K:G)


def test_a_one_voice_primer_is_harmonized_then_continued(tmp_path, capsys) -> None:
    primer = tmp_path / "hymn.abc"
    primer.write_text(HYMN)
    out = tmp_path / "out"
    assert main(["continue", str(primer), "--bars", "2", "--n", "4", "--seed", "3",
                 "--max-tokens", "400", "--out", str(out), "--formats", "mid"]) == 0
    printed = capsys.readouterr().out
    assert "harmonized it as S with the shipped harmonizer first" in printed
    assert "kept the primer note for note" in printed
    end = 2 * 4 * 480  # two bars of 4/4
    continued = 0
    for index in range(1, 5):
        score = read(out / f"hymn-continued-{index:03d}.mid")[0].merge_ties()
        assert len(score.parts) == 4  # the primer was harmonized: four voices throughout
        soprano = score.part_notes(0)
        opening = soprano[soprano["onset"] < end]
        assert opening["pitch"].tolist() == MELODY
        assert opening["onset"].tolist() == [0, 480, 960, 1440, 1920, 2880]
        later = soprano[soprano["onset"] >= end]
        if len(later):  # the model may also end the piece at the primer's close
            assert abs(int(later["pitch"][0]) - MELODY[-1]) <= 7, index
            continued += 1
    assert continued >= 3
