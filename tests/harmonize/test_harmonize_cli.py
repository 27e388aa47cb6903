"""End to end: prepare a tiny corpus, train both kinds of harmonizer briefly, harmonize
the shipped example melody with every method, evaluate, and fail clearly on bad input."""

from pathlib import Path

import pytest

from cadenza.cli import main
from cadenza.io import read

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "cadenza" / "examples" / "twinkle.musicxml"


@pytest.fixture
def runs(tmp_path, satb_folder):
    corpus = satb_folder(6)
    data = tmp_path / "data"
    assert main(["prepare", "--corpus", str(corpus), "--out", str(data), "--no-cache",
                 "--quiet", "--jobs", "1"]) == 0
    infill = tmp_path / "infill"
    assert main(["train", "--preset", "harmonizer", "--data", str(data), "--out", str(infill),
                 "--set", "train.max_steps=4", "--set", "train.eval_every=2", "--set",
                 "model.layers=1", "--set", "model.dim=32", "--set", "train.threads=1",
                 "--set", "objective.frames=32", "--quiet"]) == 0
    lm = tmp_path / "lm"
    assert main(["train", "--preset", "tiny", "--data", str(data), "--out", str(lm), "--quiet",
                 "--set", "train.max_steps=2"]) == 0
    return {"data": data, "infill": infill, "lm": lm, "chorale": corpus / "piece00.mid"}


def test_harmonize_with_every_method(runs, tmp_path, capsys):
    # the tiny language model only knows the pitches of its tiny corpus: give it one of
    # those pieces (its soprano is found by part name); the infilling model takes any melody
    for run, method, melody in (("infill", "infill", EXAMPLE), ("infill", "gibbs", EXAMPLE),
                                ("lm", "greedy", runs["chorale"]), ("lm", "beam", runs["chorale"]),
                                ("lm", "sample", runs["chorale"])):
        out = tmp_path / f"out-{method}"
        assert main(["harmonize", str(runs[run]), str(melody), "--method", method,
                     "--width", "2", "--out", str(out), "--formats", "mid,musicxml"]) == 0
        result = read(out / f"{melody.stem}-harmonized.musicxml")[0]
        assert result.parts == ["Soprano", "Alto", "Tenor", "Bass"]
        soprano = result.select_parts([0]).merge_ties().notes
        given = read(melody)[0].select_parts([0]).merge_ties().notes
        assert soprano["pitch"].tolist() == given["pitch"].tolist()
        assert soprano["onset"].tolist() == given["onset"].tolist()
        if melody == EXAMPLE:
            assert soprano["fermata"].sum() == 3  # phrase ends kept
    assert "harmonized twinkle.musicxml" in capsys.readouterr().out


def test_a_note_the_model_never_saw_is_a_clear_error(runs, tmp_path, capsys):
    code = main(["harmonize", str(runs["lm"]), str(EXAMPLE), "--method", "greedy",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no token for the given note" in err[0]


def test_evaluate_harmony_cli(runs, capsys):
    assert main(["evaluate-harmony", str(runs["infill"]), "--data", str(runs["data"]),
                 "--split", "validation", "--tasks", "S,ATB"]) == 0
    out = capsys.readouterr().out
    assert "ATB" in out and "Bach" in out


@pytest.mark.parametrize("argv, message", [
    (["--method", "beam"], "needs a different run"),
    (["--given", "SX"], "voices must be letters"),
])
def test_bad_options_give_one_line(runs, tmp_path, capsys, argv, message):
    code = main(["harmonize", str(runs["infill"]), str(EXAMPLE), "--out", str(tmp_path / "o"),
                 *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


def test_without_a_run_each_method_finds_its_shipped_model(tmp_path, capsys):
    out = tmp_path / "greedy"
    assert main(["harmonize", str(EXAMPLE), "--method", "greedy", "--out", str(out),
                 "--formats", "mid"]) == 0  # the shipped chorale language model
    assert (out / "twinkle-harmonized.mid").exists()
    assert "method greedy" in capsys.readouterr().out


def test_harmonize_refuses_a_bad_transposition_count(tmp_path, capsys):
    code = main(["harmonize", "--transpositions", "9", "--out", str(tmp_path), str(EXAMPLE)])
    assert code == 2
    assert "--transpositions: must be in [0, 6], got 9" in capsys.readouterr().err
