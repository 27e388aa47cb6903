"""The report renders on a tiny model and holds every section; compare lists runs."""

import json

import pytest

from cadenza.cli import main

SECTIONS = ("summary", "metrics", "set-comparison", "voice-leading", "copy-check",
            "training-curves", "pitch-class-histograms", "metric-distributions", "samples")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.conftest import satb_midi_bytes

    root = tmp_path_factory.mktemp("report")
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(12):
        (corpus / f"p{i:02d}.mid").write_bytes(satb_midi_bytes(seed=i, bars=2))
    data = root / "data"
    assert main(["prepare", "--corpus", str(corpus), "--out", str(data), "--no-cache",
                 "--quiet", "--jobs", "1"]) == 0
    run = root / "run"
    assert main(["train", "--preset", "tiny", "--data", str(data), "--out", str(run),
                 "--quiet", "--set", "train.max_steps=3"]) == 0
    return run


def test_report_holds_every_section(tiny_run, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(tiny_run), "--n", "4", "--samples", "1", "--out", str(out),
                 "--seed", "3"]) == 0
    page = (out / "report.html").read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert "data:image/png;base64" in page and "<svg" in page
    numbers = json.loads((out / "report.json").read_text())
    assert numbers["pieces"]["generated"] == 4
    assert 0 <= numbers["set_comparison"]["mean_overlap_generated"] <= 1
    assert len(numbers["copying"]["pieces"]) == 4
    assert numbers["test_nll"]["nats"] > 0
    assert "mean overlapping area" in capsys.readouterr().out


def test_compare_puts_runs_in_one_table(tiny_run, capsys):
    assert main(["compare", str(tiny_run), str(tiny_run)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].split()[3:6] == ["unit", "val", "test"]
    assert "nats/token" in lines[1]


def test_report_needs_at_least_two_pieces(tiny_run, tmp_path, capsys):
    assert main(["report", str(tiny_run), "--n", "1", "--out", str(tmp_path / "r")]) == 2
    assert "--n" in capsys.readouterr().err
