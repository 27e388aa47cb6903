"""`cadenza prepare` and `cadenza corpus info` through cadenza.cli.main."""

from __future__ import annotations

import json

import pytest

from cadenza.cli import main


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("cadenza: error: ")
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.fixture
def corpus(tmp_path, make_satb_midi, satb_bytes):
    folder = tmp_path / "corpus"
    for i in range(5):
        make_satb_midi(folder / f"ok{i}.mid", seed=i)
    (folder / "broken.mid").write_bytes(b"MThd broken")
    (folder / "waltz.mid").write_bytes(satb_bytes(meter=(3, 4)))
    return folder


def test_prepare_with_bad_files_among_good(tmp_path, corpus, capsys):
    out = tmp_path / "out"
    rc = main(["prepare", "--corpus", str(corpus), "--out", str(out), "--no-cache", "--quiet",
               "--jobs", "1"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "prepared 5 pieces" in captured.out
    assert "from 7 files" in captured.out
    assert "skipped 2" in captured.out
    assert "meter 3/4, not 4/4" in captured.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["pieces"] == 5
    assert {s["source"].rsplit("/", 1)[-1] for s in manifest["skipped"]} == {
        "broken.mid", "waltz.mid"}


def test_prepare_overrides_and_cache_folder(tmp_path, corpus, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["prepare", "--corpus", str(corpus), "--out", str(out), "--cache", str(cache),
            "--quiet", "--jobs", "1", "--set", "preprocess.meter=3/4",
            "--set", "preprocess.satb=yes"]
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["pieces"] == 1  # only the waltz
    assert manifest["counts"]["cached_files"] == 0
    assert (cache / "prepare.sqlite").exists()
    assert main(argv) == 0  # same settings into the same folder: allowed, cached
    assert json.loads((out / "manifest.json").read_text())["counts"]["cached_files"] == 7
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["preprocess"]["meter"] == "3/4"
    capsys.readouterr()


@pytest.mark.parametrize("extra, message", [
    (["--set", "nope=1"], "--set nope: unknown key"),
    (["--set", "preprocess.quantize=abc"], "--set preprocess.quantize=abc: expected int"),
    (["--set", "split=0.5,0.5"], "split must be three ratios"),
    (["--set", "seed"], "expected key=value"),
    (["--codec", "nope"], "unknown codec 'nope'; choose from: chorale"),
])
def test_prepare_bad_options(tmp_path, corpus, capsys, extra, message):
    out = tmp_path / "out"
    rc = main(["prepare", "--corpus", str(corpus), "--out", str(out), "--no-cache",
               "--quiet"] + extra)
    assert rc == 2
    assert message in one_error_line(capsys)
    assert not out.exists()


def test_prepare_missing_corpus(tmp_path, capsys):
    rc = main(["prepare", "--corpus", str(tmp_path / "absent"), "--out", str(tmp_path / "o"),
               "--no-cache", "--quiet"])
    assert rc == 2
    line = one_error_line(capsys)
    assert "absent" in line and "neither an embedded corpus" in line


def test_prepare_into_folder_with_other_dataset(tmp_path, corpus, capsys):
    out = tmp_path / "out"
    base = ["prepare", "--corpus", str(corpus), "--out", str(out), "--no-cache", "--quiet",
            "--jobs", "1"]
    assert main(base) == 0
    before = (out / "ids.bin").read_bytes()
    capsys.readouterr()
    assert main(base + ["--set", "preprocess.quantize=8"]) == 2
    line = one_error_line(capsys)
    assert "already holds a different dataset" in line and "--force" in line
    assert (out / "ids.bin").read_bytes() == before
    assert main(base + ["--set", "preprocess.quantize=8", "--force"]) == 0


def test_corpus_info_json(corpus, capsys):
    assert main(["corpus", "info", "--corpus", str(corpus), "--json", "--quiet",
                 "--jobs", "1"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["files"] == 7 and info["pieces"] == 6
    assert info["parts"] == {"4": 6}  # JSON keys are text
    assert info["meters"] == {"4/4": 5, "3/4": 1}
    [unreadable] = info["unreadable"]
    assert unreadable["source"].endswith("broken.mid")
    assert unreadable["reason"].startswith("corrupt MIDI: ")
    assert info["part_names"]["Soprano"] == 6


def test_corpus_info_text(corpus, capsys):
    assert main(["corpus", "info", "--corpus", str(corpus), "--quiet", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "files    7" in out and "pieces   6" in out
    assert "unreadable 1:" in out and "broken.mid" in out


def test_corpus_info_missing_folder(tmp_path, capsys):
    assert main(["corpus", "info", "--corpus", str(tmp_path / "absent"), "--quiet"]) == 2
    one_error_line(capsys)


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "prepare" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["7", "-4"])
def test_prepare_rejects_impossible_quantize(tmp_path, corpus, capsys, value):
    rc = main(["prepare", "--corpus", str(corpus), "--out", str(tmp_path / "out"),
               "--no-cache", "--quiet", "--jobs", "1", "--set", f"preprocess.quantize={value}"])
    assert rc == 2
    assert "quantize" in one_error_line(capsys)
