"""The embedded Bach chorales, prepared once per session (see conftest.bach_prepared)."""

from __future__ import annotations

import re

import numpy as np


def test_counts(bach_prepared):
    _, manifest = bach_prepared
    counts = manifest["counts"]
    assert counts["files"] == 353
    assert counts["pieces"] == 316
    assert counts["vocab_size"] == 109  # 108 BachBot tokens + padding
    assert 320_000 <= counts["tokens"] <= 345_000  # 333,908 with music21 10.x
    assert counts["augmented_copies"] == 0
    assert sum(counts["pieces_by_split"].values()) == 316
    assert counts["pieces_by_split"] == {"train": 252, "validation": 32, "test": 32}
    assert sum(counts["tokens_by_split"].values()) == counts["tokens"]


def test_skips_are_all_meters(bach_prepared):
    _, manifest = bach_prepared
    skipped = manifest["skipped"]
    assert len(skipped) == manifest["counts"]["skipped"] == 37
    for item in skipped:
        assert re.fullmatch(r"meter \d+/\d+, not 4/4", item["reason"]), item
    meters = {item["reason"].split(",")[0] for item in skipped}
    assert "meter 3/4" in meters


def test_dataset_shapes(bach_dataset, bach_prepared):
    ds = bach_dataset
    assert len(ds) == 316
    assert ds.manifest["dtype"] == "uint8" and ds.ids.dtype == np.uint8
    assert ds.offsets.dtype == np.int64
    assert ds.offsets[0] == 0 and (np.diff(ds.offsets) > 0).all()
    assert ds.offsets[-1] == len(ds.ids) == ds.manifest["counts"]["tokens"]
    assert (bach_prepared[0] / "ids.bin").stat().st_size == len(ds.ids)
    assert len(ds.vocab) == 109 and ds.vocab.tokens[0] == "<pad>"
    assert int(ds.ids.max()) < len(ds.vocab) and int(ds.ids.min()) >= 1  # no padding stored
    start, end = ds.vocab.id("START"), ds.vocab.id("END")
    starts = ds.ids[ds.offsets[:-1]]
    ends = ds.ids[ds.offsets[1:] - 1]
    assert (starts == start).all() and (ends == end).all()
    assert (ds.ids == start).sum() == len(ds) == (ds.ids == end).sum()
    split = ds.split
    assert sorted(split["train"] + split["validation"] + split["test"]) == sorted(
        p["piece"] for p in ds.pieces)
    for i in ds.indices("test"):
        assert ds.pieces[i]["piece"] in split["test"]


def test_pieces_are_normalized_to_c_major_or_a_minor(bach_dataset):
    keys = {p["facts"]["key"] for p in bach_dataset.pieces}
    assert keys == {"C major", "A minor"}
    for p in bach_dataset.pieces:
        f = p["facts"]
        assert f["parts"] == 4 and f["meter"] == "4/4" and -6 <= f["shift"] <= 5
