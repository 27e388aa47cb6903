"""Corpora for general MIDI: MAESTRO's layout and split, music21's folk collections, and
real-world MIDI shapes that are each read or skipped with a reason, never a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.midi_tokens.midi_files import SHAPES, random_piece

from cadenza.cli import main
from cadenza.corpus.sources import corpus_name, list_sources
from cadenza.data.dataset import PreparedDataset
from cadenza.errors import ConfigError, ReadError
from cadenza.io.read import read

MAESTRO_ROWS = [  # canonical_composer, canonical_title, split, year, midi_filename
    ("A", "One", "train", "2004", "2004/one.midi"),
    ("B", "Two", "train", "2004", "2004/two.midi"),
    ("C", "Three", "train", "2006", "2006/three.midi"),
    ("D", "Four", "validation", "2006", "2006/four.midi"),
    ("E", "Five", "test", "2008", "2008/five.midi"),
    ("F", "Six", "test", "2008", "2008/six.midi"),
]


@pytest.fixture
def maestro_folder(tmp_path):
    folder = tmp_path / "maestro-v3.0.0"
    rng = np.random.default_rng(3)
    lines = ["canonical_composer,canonical_title,split,year,midi_filename,audio_filename,"
             "duration"]
    for composer, title, split, year, name in MAESTRO_ROWS:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(random_piece(rng, bars=2, drums=False))
        lines.append(f"{composer},{title},{split},{year},{name},{name[:-5]}.wav,12.5")
    (folder / "maestro-v3.0.0.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_maestro_layout_gives_its_official_split(maestro_folder, tmp_path) -> None:
    out = tmp_path / "data"
    assert main(["prepare", "--corpus", "maestro", str(maestro_folder), "--codec", "miditok",
                 "--out", str(out), "--quiet", "--no-cache", "--jobs", "1"]) == 0
    split = json.loads((out / "split.json").read_text())
    assert split["train"] == ["2004/one.midi", "2004/two.midi", "2006/three.midi"]
    assert split["validation"] == ["2006/four.midi"]
    assert split["test"] == ["2008/five.midi", "2008/six.midi"]
    assert PreparedDataset(out).config["data"]["corpus"] == f"maestro:{maestro_folder}"


def test_maestro_missing_file_is_skipped_and_bad_csv_refused(maestro_folder, tmp_path) -> None:
    (maestro_folder / "2008" / "six.midi").unlink()
    out = tmp_path / "data"
    assert main(["prepare", "--corpus", "maestro", str(maestro_folder), "--codec", "miditok",
                 "--out", str(out), "--quiet", "--no-cache", "--jobs", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["source"].endswith("six.midi") for s in manifest["skipped"]] == [True]
    table = maestro_folder / "maestro-v3.0.0.csv"
    table.write_text(table.read_text().replace(",test,", ",holdout,"))
    with pytest.raises(ConfigError, match="split 'holdout'"):
        list_sources(f"maestro:{maestro_folder}")
    with pytest.raises(ConfigError, match="no maestro-v"):
        list_sources(f"maestro:{tmp_path}")


def test_corpus_option_takes_one_or_two_values(capsys) -> None:
    assert corpus_name(["piano-midi"]) == "piano-midi"
    assert corpus_name(["maestro", "/data/m"]) == "maestro:/data/m"
    assert main(["prepare", "--corpus", "lakh", "/x", "--out", "/tmp/never"]) == 2
    assert "--corpus takes a name or folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["essen", "oneills", "ryans"])
def test_folk_collections_are_listed_without_download(name) -> None:
    sources = list_sources(name)
    assert len(sources) > 20 and all(s.path.endswith(".abc") for s in sources)


def test_a_folk_collection_file_prepares_as_melodies(tmp_path) -> None:
    from pathlib import Path

    smallest = min((s.path for s in list_sources("essen")), key=lambda p: Path(p).stat().st_size)
    out = tmp_path / "essen"
    assert main(["prepare", "--corpus", smallest, "--codec", "miditok", "--out", str(out),
                 "--quiet", "--no-cache", "--jobs", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["pieces"] > 5  # an ABC file holds many tunes, one part each
    assert {p["facts"]["parts"] for p in json.loads((out / "pieces.json").read_text())} == {1}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_real_world_shapes_are_read(name, tmp_path) -> None:
    path = tmp_path / f"{name}.mid"
    path.write_bytes(SHAPES[name])
    if name == "controller_out_of_range":  # a data byte of 200 breaks the file: one reason
        with pytest.raises(ReadError, match="corrupt MIDI: .*200"):
            read(path, drums=True)
        return
    score = read(path, drums=True)[0]
    if name == "no_notes":
        assert len(score.notes) == 0
        return
    assert len(score.notes) >= 8 and (score.notes["duration"] >= 1).all()
    if name in ("type0", "type1_drums_ch10"):
        assert any(score.drums) and not all(score.drums)
    if name == "program_changes":
        assert 0 in score.programs
    if name == "tempo_changes":
        assert [round(q) for _, q in score.tempos] == [90, 140, 60]
    if name == "sustain_pedal":
        assert score.pedals.tolist() == [[0, 960], [1200, 1900]]
    if name == "overlapping_same_pitch":
        assert (score.notes["pitch"] == 60).sum() == 3


def test_a_folder_of_every_shape_prepares_with_reasons(tmp_path, capsys) -> None:
    folder = tmp_path / "shapes"
    folder.mkdir()
    for name, data in SHAPES.items():
        (folder / f"{name}.mid").write_bytes(data)
    for codec in ("miditok", "pianoroll", "chorale"):
        out = tmp_path / f"data-{codec}"
        code = main(["prepare", "--corpus", str(folder), "--codec", codec, "--out", str(out),
                     "--quiet", "--no-cache", "--jobs", "2"])
        manifest = json.loads((out / "manifest.json").read_text()) if code == 0 else None
        if codec == "miditok":
            assert code == 0
            skipped = {s["source"].rsplit("/", 1)[1]: s["reason"] for s in manifest["skipped"]}
            assert skipped.pop("no_notes.mid") == "no notes"
            assert "200" in skipped.pop("controller_out_of_range.mid") and not skipped
            assert manifest["counts"]["pieces"] == len(SHAPES) - 2
        else:  # chorale defaults keep SATB scores only: none here, and one clear line
            assert code == 2
            err = capsys.readouterr().err
            assert err.startswith("cadenza: error: ") and "no piece kept" in err
