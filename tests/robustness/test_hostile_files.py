"""A table of hostile inputs, made here: each ends in exit 2 and one line naming the problem.

Each case builds its file (a MIDI header with extreme values, a fake MusicXML, an .mxl
bomb, a damaged run or dataset, a preset that is not UTF-8) and the command that meets
it; the CLI must refuse with ``cadenza: error: ...`` and nothing else.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tests.robustness.conftest import midi_file, refused


def _melody(tmp: Path, name: str, data: bytes) -> list:
    path = tmp / name
    path.write_bytes(data)
    return ["harmonize", path, "--out", tmp / "out", "--formats", "mid"]


def _bomb(tmp: Path) -> list:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("score.xml", b"\0" * (20 * 2**20))  # 20 MB of zeros, 20 kB packed
    return _melody(tmp, "bomb.mxl", buffer.getvalue())


def _run_with(copy_run, tmp: Path, change) -> list:
    run = copy_run("chorale-default")
    change(run)
    return ["generate", run, "--n", "1", "--max-tokens", "64", "--out", tmp / "out",
            "--formats", "mid"]


def _edit_json(name: str, edit):
    def change(run: Path) -> None:
        data = json.loads((run / name).read_text())
        edit(data)
        (run / name).write_text(json.dumps(data))
    return change


def _truncate(name: str, keep: float = 0.5):
    def change(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[:int(len(data) * keep)])
    return change


def _write(name: str, data: bytes):
    return lambda run: (run / name).write_bytes(data)


def _hidden(value):
    def edit(data):
        data["model"]["hidden"] = value
    return edit


def _dataset(tmp: Path, bach_prepared, damage) -> list:
    import shutil

    folder = tmp / "data"
    shutil.copytree(bach_prepared[0], folder)
    damage(folder)
    return ["train", "--preset", "tiny", "--data", folder, "--out", tmp / "run", "--quiet"]


CASES = {
    # MIDI headers and meta events no music has
    "midi ticks per quarter 0": (lambda t, c: _melody(t, "a.mid", midi_file(tpq=0, step=120)),
                                 "ticks per quarter 0"),
    "midi smpte division": (lambda t, c: _melody(t, "a.mid", midi_file(tpq=0xE728, step=40)),
                            "ticks per quarter"),
    "midi 32767 tpq, notes of a few ticks": (
        lambda t, c: _melody(t, "a.mid", midi_file(tpq=32767, step=120)), "too fine"),
    "midi time signature 0/0": (
        lambda t, c: _melody(t, "a.mid", midi_file(numerator=0, denominator_power=0)),
        "time signature 0/1"),
    "midi time signature 255/255": (
        lambda t, c: _melody(t, "a.mid", midi_file(numerator=255, denominator_power=255)),
        "is not a meter"),
    "midi tempo 0": (lambda t, c: _melody(t, "a.mid", midi_file(tempo_us=0)), "not a tempo"),
    "midi truncated": (lambda t, c: _melody(t, "a.mid", midi_file()[:30]), "a.mid"),
    "not midi at all": (lambda t, c: _melody(t, "a.mid", b"hello world"), "no MThd"),
    # MusicXML that is not
    "musicxml that is html": (
        lambda t, c: _melody(t, "a.musicxml", b"<html><body>hi</body></html>"), "a.musicxml"),
    "musicxml binary junk": (
        lambda t, c: _melody(t, "a.musicxml", bytes(range(256)) * 8), "a.musicxml"),
    "mxl bomb": (lambda t, c: _bomb(t), "zip bomb"),
    "mxl that is no zip": (lambda t, c: _melody(t, "a.mxl", b"PK\x03\x04junk"), "not an .mxl"),
    # damaged runs
    "run config.json malformed": (
        lambda t, c: _run_with(c, t, _write("config.json", b"{not json")), "malformed JSON"),
    "run vocab.json malformed": (
        lambda t, c: _run_with(c, t, _write("vocab.json", b"[1, 2")), "vocab.json"),
    "run codec.json malformed": (
        lambda t, c: _run_with(c, t, _write("codec.json", b"{\"name\": ")), "codec.json"),
    "run sampling.json malformed": (
        lambda t, c: _run_with(c, t, _write("sampling.json", b"{\"temperature\": NaN}")),
        "sampling.json"),
    "run sampling.json out of range": (
        lambda t, c: _run_with(c, t, _write("sampling.json", b"{\"temperature\": -1}")),
        "temperature"),
    "run weights truncated": (
        lambda t, c: _run_with(c, t, _truncate("model.safetensors")), "truncated"),
    "run weights header only": (
        lambda t, c: _run_with(c, t, _truncate("model.safetensors", 0.0001)), "model.safetensors"),
    "run hidden=20000": (
        lambda t, c: _run_with(c, t, _edit_json("config.json", _hidden(20000))),
        "does not fit the model"),
    "run hidden=1e9": (
        lambda t, c: _run_with(c, t, _edit_json("config.json", _hidden(1e9))), "config.json"),
    "run config not utf-8": (
        lambda t, c: _run_with(c, t, _write("config.json", b"{\"a\": \"\xff\xfe\"}")),
        "not UTF-8"),
    "out is a file": (
        lambda t, c: ["generate", "--n", "1", "--out", _file(t / "taken"), "--formats", "mid"],
        "is a file"),
}


def _file(path: Path) -> Path:
    path.write_text("x")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_ends_in_one_line(case, tmp_path, copy_run, capsys) -> None:
    make, expected = CASES[case]
    line = refused(capsys, make(tmp_path, copy_run))
    assert expected in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_truncated_harmonizer_run(tmp_path, copy_run, capsys) -> None:
    run = copy_run("harmonizer-default")
    data = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(data[:len(data) // 3])
    melody = tmp_path / "a.mid"
    melody.write_bytes(midi_file())
    line = refused(capsys, ["harmonize", run, melody, "--out", tmp_path / "out"])
    assert "model.safetensors" in line and "truncated" in line


def test_harmonizer_run_with_a_huge_model_config(tmp_path, copy_run, capsys) -> None:
    run = copy_run("harmonizer-default")
    config = json.loads((run / "config.json").read_text())
    config["model"]["dim"] = 60000
    (run / "config.json").write_text(json.dumps(config))
    melody = tmp_path / "a.mid"
    melody.write_bytes(midi_file())
    assert "does not fit the model" in refused(
        capsys, ["harmonize", run, melody, "--out", tmp_path / "out"])


DATASET_DAMAGE = {
    "ids.bin truncated": (lambda d: (d / "ids.bin").write_bytes((d / "ids.bin").read_bytes()[:99]),
                          "ids.bin: damaged"),
    "offsets.npy junk": (lambda d: (d / "offsets.npy").write_bytes(b"\x93NUMPY junk"),
                         "offsets.npy"),
    "offsets.npy falling": (lambda d: np.save(d / "offsets.npy",
                                              -np.arange(len(json.loads(
                                                  (d / "pieces.json").read_text())) + 1)),
                            "offsets.npy: damaged"),
    "offsets.npy floats": (lambda d: np.save(d / "offsets.npy", np.zeros(3)),
                           "offsets.npy: damaged"),
    "pieces.json malformed": (lambda d: (d / "pieces.json").write_text("[{"), "pieces.json"),
    "manifest.json is a list": (lambda d: (d / "manifest.json").write_text("[]"),
                                "manifest.json"),
}


@pytest.mark.parametrize("case", sorted(DATASET_DAMAGE))
def test_damaged_dataset(case, tmp_path, bach_prepared, capsys) -> None:
    damage, expected = DATASET_DAMAGE[case]
    assert expected in refused(capsys, _dataset(tmp_path, bach_prepared, damage))


def test_preset_that_is_not_utf8(tmp_path, capsys) -> None:
    preset = tmp_path / "p.toml"
    preset.write_bytes(b"[train]\nlr = 1e-3 # \xff\xfe\n")
    line = refused(capsys, ["train", "--preset", preset, "--data", tmp_path, "--out",
                            tmp_path / "run"])
    assert "p.toml" in line and "not UTF-8" in line


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError(
    "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"),
    ZeroDivisionError("division by zero"), OverflowError("cannot convert float infinity"),
    KeyError("x"), OSError(28, "No space left on device", "/out/x.mid")])
def test_anything_that_escapes_still_ends_in_one_line(error, tmp_path, monkeypatch,
                                                      capsys) -> None:
    """The last-resort boundary: whatever a reader missed prints one line, exit 2."""
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("cadenza.harmonize.melody.read", fail)
    melody = tmp_path / "a.mid"
    melody.write_bytes(midi_file())
    line = refused(capsys, ["harmonize", melody, "--out", tmp_path / "out"])
    if isinstance(error, MemoryError | RuntimeError):
        assert "out of memory" in line
    if isinstance(error, OSError):
        assert line == "cadenza: error: /out/x.mid: No space left on device"


def test_argparse_errors_are_one_line(capsys) -> None:
    assert "unrecognized arguments: --bogus" in refused(capsys, ["generate", "--out", "x",
                                                                 "--bogus"])
    assert "invalid choice" in refused(capsys, ["no-such-command"])
    assert "--n: expected a whole number" in refused(capsys, ["generate", "--n", "x",
                                                              "--out", "y"])


def test_a_32767_tpq_file_is_read_exactly() -> None:
    """The largest resolution MIDI allows is read correctly, not refused: quarter notes
    at 32767 ticks stay sixteen quarter notes."""
    from cadenza.io.read import read_midi_bytes

    score = read_midi_bytes(midi_file(tpq=32767, step=32767))
    assert len(score.notes) == 16
    assert list(score.notes["onset"][:3]) == [0, 480, 960]
    assert set(score.notes["duration"].tolist()) == {480}
