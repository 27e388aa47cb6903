"""Writing generated scores: MIDI, MusicXML, WAV (when FluidSynth is there), PNG."""

from __future__ import annotations

import shutil

import pytest

from cadenza.errors import ConfigError
from cadenza.generate.outputs import write_outputs
from cadenza.io import audio


@pytest.fixture
def score(vocab, codec):
    names = ["START", "(.)", "72", "64", "55", "48", "|||", "72~", "64~", "55", "|||",
             "71", "62", "55~", "43", "|||", "END"]
    return codec.decode(vocab.decode([vocab.id(n) for n in names]))


def test_writes_side_by_side(score, tmp_path, capsys) -> None:
    written = write_outputs(score, tmp_path / "out", "chorale-001")
    assert {"mid", "musicxml", "png"} <= set(written)
    for kind, path in written.items():
        assert path.name == f"chorale-001.{kind}" and path.stat().st_size > 0
    assert written["png"].read_bytes().startswith(b"\x89PNG")
    xml = written["musicxml"].read_text()
    for name in ("Soprano", "Alto", "Tenor", "Bass"):
        assert f"<part-name>{name}</part-name>" in xml
    assert "<fermata" in xml
    if shutil.which("fluidsynth") and audio.SOUNDFONT.exists():
        assert written["wav"].read_bytes()[:4] == b"RIFF"
    else:
        assert "wav" not in written and "notice" in capsys.readouterr().err


def test_missing_fluidsynth_is_one_notice(score, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(audio, "_noticed", False)
    for stem in ("a", "b"):
        written = write_outputs(score, tmp_path, stem, formats=("wav", "mid"))
        assert set(written) == {"mid"}
    err = capsys.readouterr().err
    assert err.count("notice") == 1 and "fluidsynth" in err


def test_bad_format(score, tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown output format"):
        write_outputs(score, tmp_path, "x", formats=("mp3",))
