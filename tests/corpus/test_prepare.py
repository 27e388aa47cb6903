"""prepare(): mixed good and bad files, deterministic splits, augmentation, the cache,
the refusal to overwrite another dataset, and the prepared folder's layout."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from cadenza.codecs.chorale import ChoraleCodec
from cadenza.config import DataConfig, apply_overrides
from cadenza.corpus.prepare import prepare
from cadenza.corpus.preprocess import PreprocessConfig
from cadenza.corpus.worker import Piece, Skip, Task, prepare_file
from cadenza.data.dataset import FILES, PreparedDataset
from cadenza.errors import ConfigError

SETTINGS = {"codec": ChoraleCodec().config(), "preprocess": asdict(PreprocessConfig())}

NO_NOTES_XML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1">
  <part-list><score-part id="P1"><part-name>Soprano</part-name></score-part></part-list>
  <part id="P1"><measure number="1">
    <attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time>
    </attributes>
    <note><rest/><duration>4</duration><type>whole</type></note>
  </measure></part>
</score-partwise>
"""

TWELVE = tuple(f"Violin {i}" for i in range(1, 13))


def run(corpus, out, *overrides, jobs=1, cache=None, **kwargs):
    config = apply_overrides(DataConfig(corpus=str(corpus)), list(overrides))
    return prepare(config, out, jobs=jobs, cache_dir=cache, progress=False, **kwargs)


def task_for(path: Path) -> Task:
    return Task(path.name, str(path), path.read_bytes())


# -- one file at a time -----------------------------------------------------------
def test_prepare_file_good(tmp_path, make_satb_midi):
    path = make_satb_midi(tmp_path / "good.mid", seed=1)
    [piece] = prepare_file(task_for(path), SETTINGS)
    assert isinstance(piece, Piece)
    assert piece.piece_id == "good.mid" and piece.source == str(path)
    codes = piece.codes[0]
    assert codes.dtype == np.uint16 and codes[0] == 0 and codes[-1] == 1  # START ... END
    assert (codes == 2).sum() == 2 * 16  # two bars of 16th-note frames
    assert piece.facts["parts"] == 4 and piece.facts["meter"] == "4/4"
    assert piece.facts["key"] in ("C major", "A minor")


@pytest.mark.parametrize("name, content, reason", [
    ("empty.mid", b"", "empty file"),
    ("noise.mid", bytes(np.random.default_rng(1).integers(0, 256, 400, dtype=np.uint8)),
     "not a MIDI file (no MThd header)"),
    ("cut.mid", "truncated", "corrupt MIDI"),
    ("silent.musicxml", NO_NOTES_XML.encode(), "no notes"),
    ("twelve.mid", "twelve", "not a four-part SATB score: 12 parts (Violin 1, "),
    ("waltz.mid", "waltz", "meter 3/4, not 4/4"),
])
def test_prepare_file_bad_gives_skip_reason(tmp_path, satb_bytes, name, content, reason):
    data = {
        "truncated": lambda: satb_bytes()[:60],
        "twelve": lambda: satb_bytes(names=TWELVE),
        "waltz": lambda: satb_bytes(meter=(3, 4)),
    }[content]() if isinstance(content, str) else content
    path = tmp_path / name
    path.write_bytes(data)
    [skip] = prepare_file(task_for(path), SETTINGS)
    assert isinstance(skip, Skip)
    assert skip.source == str(path)
    assert reason in skip.reason
    assert "\n" not in skip.reason
    assert not skip.reason.startswith(str(path))  # the record names the file already


def test_prepare_file_twelve_parts_reason_lists_missing(tmp_path, satb_bytes):
    path = tmp_path / "twelve.mid"
    path.write_bytes(satb_bytes(names=TWELVE))
    [skip] = prepare_file(task_for(path), SETTINGS)
    assert "missing Soprano, Alto, Tenor, Bass" in skip.reason


def test_prepare_file_abc_opus_numbers_pieces(tmp_path):
    path = tmp_path / "two.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC D E F|]\n\nX:2\nM:3/4\nL:1/4\nK:C\nC D E|]\n")
    settings = {**SETTINGS, "preprocess": asdict(PreprocessConfig(satb=False, meter=None))}
    first, second = prepare_file(task_for(path), settings)
    assert (first.piece_id, second.piece_id) == ("two.abc#1", "two.abc#2")
    assert second.source == f"{path}#2"
    [skip1, ok] = prepare_file(task_for(path), {
        **SETTINGS, "preprocess": asdict(PreprocessConfig(satb=False, meter="3/4"))})
    assert isinstance(skip1, Skip) and skip1.source == f"{path}#1"
    assert skip1.reason == "meter 4/4, not 3/4"
    assert isinstance(ok, Piece)


# -- a folder of good and bad files -------------------------------------------------
@pytest.fixture
def mixed_folder(tmp_path, make_satb_midi, satb_bytes) -> Path:
    folder = tmp_path / "mixed"
    for i in range(6):
        make_satb_midi(folder / f"good{i}.mid", seed=i)
    make_satb_midi(folder / "sub" / "nested.midi", seed=99)
    (folder / "empty.mid").write_bytes(b"")
    (folder / "noise.mid").write_bytes(bytes(range(256)))
    (folder / "cut.mid").write_bytes(satb_bytes()[:60])
    (folder / "silent.musicxml").write_text(NO_NOTES_XML)
    (folder / "twelve.mid").write_bytes(satb_bytes(names=TWELVE))
    (folder / "waltz.mid").write_bytes(satb_bytes(meter=(3, 4)))
    (folder / "readme.txt").write_text("not music")  # not listed at all
    return folder


EXPECTED_SKIPS = {
    "cut.mid": "corrupt MIDI",
    "empty.mid": "empty file",
    "noise.mid": "not a MIDI file",
    "silent.musicxml": "no notes",
    "twelve.mid": "not a four-part SATB score",
    "waltz.mid": "meter 3/4, not 4/4",
}


def test_prepare_mixed_folder_keeps_good_and_lists_bad(tmp_path, mixed_folder):
    out = tmp_path / "out"
    manifest = run(mixed_folder, out)
    counts = manifest["counts"]
    assert counts["files"] == 13 and counts["pieces"] == 7 and counts["skipped"] == 6
    skipped = {Path(s["source"]).name: s["reason"] for s in manifest["skipped"]}
    assert skipped.keys() == EXPECTED_SKIPS.keys()
    for name, reason in EXPECTED_SKIPS.items():
        assert reason in skipped[name], (name, skipped[name])
    ds = PreparedDataset(out)
    assert sorted(p["piece"] for p in ds.pieces) == sorted(
        [f"good{i}.mid" for i in range(6)] + ["sub/nested.midi"])
    assert json.loads((out / "manifest.json").read_text())["skipped"] == manifest["skipped"]
    assert sorted(f.name for f in out.iterdir()) == sorted(FILES)
    assert not list(tmp_path.glob(".out.partial-*"))  # the work folder is gone


def test_prepare_refuses_empty_corpus_and_missing_folder(tmp_path):
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "a.txt").write_text("x")
    with pytest.raises(ConfigError, match="no music files found"):
        run(tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(ConfigError, match="neither an embedded corpus"):
        run(tmp_path / "absent", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_prepare_that_keeps_no_piece_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"junk")
    with pytest.raises(ConfigError, match=r"no piece kept from 1 file\(s\) \(skipped: 1 x not a "
                                          r"MIDI file \(no MThd header\)\)"):
        run(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_out_folder_protection(tmp_path, satb_folder):
    corpus = satb_folder(4)
    out = tmp_path / "out"
    run(corpus, out)
    run(corpus, out)  # the same settings: fine
    with pytest.raises(ConfigError, match="already holds a different dataset") as info:
        run(corpus, out, "preprocess.quantize=8")
    assert "preprocess.quantize: 4 there, 8 asked" in str(info.value)
    assert json.loads((out / "config.json").read_text())["data"]["preprocess"]["quantize"] == 4
    run(corpus, out, "preprocess.quantize=8", force=True)
    assert json.loads((out / "config.json").read_text())["data"]["preprocess"]["quantize"] == 8
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no cadenza dataset"):
        run(corpus, other)
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        run(corpus, afile)


# -- splits -------------------------------------------------------------------------
def dataset_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in FILES if name != "manifest.json"}


def test_split_exact_counts_and_determinism(tmp_path, satb_folder):
    corpus = satb_folder(20)
    m1 = run(corpus, tmp_path / "a", jobs=1)
    m2 = run(corpus, tmp_path / "b", jobs=2)
    m3 = run(corpus, tmp_path / "c", jobs=1)
    assert m1["counts"] == m2["counts"] == m3["counts"]
    assert m1["counts"]["pieces_by_split"] == {"train": 16, "validation": 2, "test": 2}
    a, b, c = (dataset_bytes(tmp_path / n) for n in "abc")
    assert a == b == c  # ids.bin, offsets, pieces, split, vocab, config all identical
    split = json.loads(a["split.json"])
    assert len(split["train"]) == 16 and len(split["validation"]) == 2
    assert len(split["test"]) == 2
    assert set(split["train"]) | set(split["validation"]) | set(split["test"]) == {
        f"piece{i:02d}.mid" for i in range(20)}
    assert split["seed"] == 0 and split["ratios"] == [0.8, 0.1, 0.1]
    for name in ("train", "validation", "test"):
        assert m1["counts"]["tokens_by_split"][name] == sum(
            p["tokens"] for p in json.loads(a["pieces.json"]) if p["split"] == name)

    m4 = run(corpus, tmp_path / "d", "seed=1")
    other = json.loads((tmp_path / "d" / "split.json").read_text())
    assert m4["counts"]["pieces_by_split"] == m1["counts"]["pieces_by_split"]
    assert other["test"] != split["test"] or other["validation"] != split["validation"]


@pytest.mark.parametrize("ratios, expected", [
    ("0.5,0.25,0.25", (10, 5, 5)),
    ("1,0,0", (20, 0, 0)),
    ("0.9,0.05,0.05", (18, 1, 1)),
])
def test_split_ratios(ratios, expected):
    from cadenza.corpus.splits import assign_splits

    ids = [f"p{i}" for i in range(20)]
    split = assign_splits(ids, [float(x) for x in ratios.split(",")])
    got = tuple(sum(v == n for v in split.values()) for n in ("train", "validation", "test"))
    assert got == expected
    # the split depends on the set of ids, not their order
    assert assign_splits(list(reversed(ids)), [float(x) for x in ratios.split(",")]) == split


def test_small_corpus_gets_one_piece_per_nonempty_split():
    from cadenza.corpus.splits import assign_splits

    split = assign_splits(["a", "b", "c"], [0.8, 0.1, 0.1])
    assert sorted(split.values()) == ["test", "train", "validation"]


def test_augmentation_only_in_train(tmp_path, satb_folder):
    corpus = satb_folder(20)
    base = run(corpus, tmp_path / "base")
    manifest = run(corpus, tmp_path / "aug", "preprocess.augment=[-1, 1]")
    counts = manifest["counts"]
    assert counts["pieces"] == 20
    assert counts["augmented_copies"] == 32  # two shifts for each of the 16 train pieces
    assert counts["pieces_by_split"] == base["counts"]["pieces_by_split"]
    ds = PreparedDataset(tmp_path / "aug")
    assert len(ds) == 52
    shifted = [p for p in ds.pieces if p["augment_shift"]]
    assert {p["split"] for p in shifted} == {"train"}
    assert sorted({p["augment_shift"] for p in shifted}) == [-1, 1]
    for name in ("validation", "test"):
        assert ds.indices(name) == ds.indices(name, augmented=False)
        assert all(not ds.pieces[i]["augment_shift"] for i in ds.indices(name))
    assert len(ds.indices("train")) == 48 and len(ds.indices("train", augmented=False)) == 16
    # the held-out tokens are exactly those of the run without augmentation
    assert counts["tokens_by_split"]["test"] == base["counts"]["tokens_by_split"]["test"]
    assert json.loads((tmp_path / "aug" / "split.json").read_text()) == json.loads(
        (tmp_path / "base" / "split.json").read_text())
    # a copy is its original, transposed
    index = {p["id"]: i for i, p in enumerate(ds.pieces)}
    piece = next(p["piece"] for p in shifted)
    original = ds.codec.decode(ds.vocab.decode(ds.tokens(index[piece])))
    up = ds.codec.decode(ds.vocab.decode(ds.tokens(index[f"{piece}@+1"])))
    down = ds.codec.decode(ds.vocab.decode(ds.tokens(index[f"{piece}@-1"])))
    assert up.notes["pitch"].tolist() == (original.notes["pitch"] + 1).tolist()
    assert down.notes["pitch"].tolist() == (original.notes["pitch"] - 1).tolist()
    assert up.notes["onset"].tolist() == original.notes["onset"].tolist()


# -- the cache ----------------------------------------------------------------------
def test_cache_hits_and_misses(tmp_path, mixed_folder):
    cache = tmp_path / "cache"
    first = run(mixed_folder, tmp_path / "one", cache=cache)
    assert first["counts"]["cached_files"] == 0
    assert (cache / "prepare.sqlite").exists()
    second = run(mixed_folder, tmp_path / "two", cache=cache, jobs=2)
    assert second["counts"]["cached_files"] == second["counts"]["files"] == 13
    assert dataset_bytes(tmp_path / "one") == dataset_bytes(tmp_path / "two")
    assert second["skipped"] == first["skipped"]
    changed = run(mixed_folder, tmp_path / "three", "preprocess.quantize=8", cache=cache)
    assert changed["counts"]["cached_files"] == 0
    augment_changed = run(mixed_folder, tmp_path / "four", "preprocess.augment=2", cache=cache)
    assert augment_changed["counts"]["cached_files"] == 0
    augment_again = run(mixed_folder, tmp_path / "six", "preprocess.augment=2", cache=cache)
    assert augment_again["counts"]["cached_files"] == 13
    assert augment_again["counts"]["augmented_copies"] == augment_changed["counts"][
        "augmented_copies"] > 0
    assert dataset_bytes(tmp_path / "four") == dataset_bytes(tmp_path / "six")
    again = run(mixed_folder, tmp_path / "five", "preprocess.quantize=8", cache=cache)
    assert again["counts"]["cached_files"] == 13
    assert dataset_bytes(tmp_path / "three") == dataset_bytes(tmp_path / "five")


def test_cache_follows_content_not_path(tmp_path, satb_folder):
    import shutil

    cache = tmp_path / "cache"
    corpus = satb_folder(5)
    run(corpus, tmp_path / "one", cache=cache)
    moved = tmp_path / "moved"
    shutil.copytree(corpus, moved)
    manifest = run(moved, tmp_path / "two", cache=cache)
    assert manifest["counts"]["cached_files"] == 5
    sources = [p["source"] for p in PreparedDataset(tmp_path / "two").pieces]
    assert all(s.startswith(str(moved)) for s in sources)
    # changed content misses
    (moved / "piece00.mid").write_bytes(
        (corpus / "piece01.mid").read_bytes().replace(b"Soprano", b"Sopran."))
    manifest = run(moved, tmp_path / "three", cache=cache)
    assert manifest["counts"]["cached_files"] == 4


# -- the dataset folder ---------------------------------------------------------------
def test_prepared_dataset_layout(tmp_path, satb_folder):
    out = tmp_path / "out"
    manifest = run(satb_folder(6), out)
    ds = PreparedDataset(out)
    assert manifest["dtype"] == "uint8"
    assert ds.ids.dtype == np.uint8 and isinstance(ds.ids, np.memmap)
    assert ds.offsets.dtype == np.int64 and ds.offsets[0] == 0
    assert len(ds.offsets) == len(ds) + 1 == 7
    assert (np.diff(ds.offsets) > 0).all() and ds.offsets[-1] == len(ds.ids)
    assert (out / "ids.bin").stat().st_size == len(ds.ids)
    assert ds.summary()["tokens"] == len(ds.ids)
    start, end = ds.vocab.id("START"), ds.vocab.id("END")
    for i in range(len(ds)):
        t = ds.tokens(i)
        assert t[0] == start and t[-1] == end and len(t) == ds.pieces[i]["tokens"]
        assert ds.pieces[i]["facts"]["parts"] == 4
    assert ds.vocab.tokens[:5] == ["<pad>", "START", "END", "|||", "(.)"]
    assert ds.config["codec"] == ChoraleCodec().config()
    with pytest.raises(ConfigError, match="unknown split"):
        ds.indices("dev")
    with pytest.raises(ConfigError, match="not a prepared dataset"):
        PreparedDataset(tmp_path)
