"""The prepared dataset on disk, and its reader.

A dataset folder holds:

- ``ids.bin``: every piece's token ids back to back, in the smallest unsigned type
  that fits the vocabulary (read with ``np.memmap``; the type is in ``manifest.json``);
- ``offsets.npy``: int64 start of each piece in ``ids.bin``, plus the end;
- ``pieces.json``: per piece its id, source, split, transposition shift and facts;
- ``split.json``: which original piece is in train / validation / test;
- ``vocab.json``; ``config.json`` (data and codec config, package version);
- ``manifest.json``: counts and every skipped file with its reason.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.codecs import Codec, Vocab, codec_from_config
from cadenza.errors import ConfigError
from cadenza.safety import about, read_json

FILES = ("ids.bin", "offsets.npy", "pieces.json", "split.json", "vocab.json", "config.json",
         "manifest.json")


def smallest_dtype(vocab_size: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"vocabulary of {vocab_size} tokens is too large")


class PreparedDataset:
    """Read access to a prepared dataset folder; token ids stay on disk (memmap)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        missing = [f for f in FILES if not (self.folder / f).exists()]
        if missing:
            raise ConfigError(
                f"{self.folder} is not a prepared dataset (missing {', '.join(missing)}); "
                "make one with `cadenza prepare`"
            )
        self.manifest = self._json("manifest.json")
        self.config = self._json("config.json")
        self.pieces: list[dict[str, Any]] = self._json("pieces.json", list)
        self.split: dict[str, list[str]] = self._json("split.json")
        with about(self.folder / "vocab.json"):
            self.vocab = Vocab.from_json(self._json("vocab.json"))
        with about(self.folder / "offsets.npy"):
            self.offsets = np.load(self.folder / "offsets.npy", allow_pickle=False)
        with about(self.folder / "manifest.json", "bad dtype"):
            dtype = np.dtype(self.manifest["dtype"])
        self._check(dtype)
        size = int(self.offsets[-1])
        self.ids = (
            np.memmap(self.folder / "ids.bin", dtype=dtype, mode="r", shape=(size,))
            if size else np.zeros(0, dtype=dtype)
        )

    def _json(self, name: str, kind: type = dict) -> Any:
        return read_json(self.folder / name, kind)

    def _check(self, dtype: np.dtype) -> None:
        """The files agree with each other (a damaged or hand-edited folder stops here,
        with the file named, rather than deep inside training)."""
        offsets, where = self.offsets, self.folder / "offsets.npy"
        if (offsets.ndim != 1 or offsets.dtype.kind not in "iu"
                or len(offsets) != len(self.pieces) + 1 or offsets[0] != 0
                or (np.diff(offsets) < 0).any()):
            raise ConfigError(f"{where}: damaged (expected {len(self.pieces) + 1} rising "
                              f"whole-number offsets from 0, one per piece plus the end); "
                              "prepare the dataset again")
        if dtype.kind != "u" or dtype.itemsize > 4:
            raise ConfigError(f"{self.folder / 'manifest.json'}: damaged (dtype {dtype})")
        ids = self.folder / "ids.bin"
        expected = int(offsets[-1]) * dtype.itemsize
        found = ids.stat().st_size
        if found != expected:
            raise ConfigError(f"{ids}: damaged ({found} bytes, {expected} expected from "
                              "offsets.npy); prepare the dataset again")

    def __len__(self) -> int:
        return len(self.pieces)

    @cached_property
    def codec(self) -> Codec:
        return codec_from_config(self.config["codec"])

    def tokens(self, index: int) -> np.ndarray:
        """Token ids of piece ``index`` (a view into the memmap)."""
        return self.ids[self.offsets[index]:self.offsets[index + 1]]

    def indices(self, split: str, augmented: bool = True) -> list[int]:
        """Pieces in a split; ``augmented=False`` keeps only untransposed originals."""
        if split not in ("train", "validation", "test"):
            raise ConfigError(f"unknown split {split!r}; choose train, validation or test")
        return [
            i for i, p in enumerate(self.pieces)
            if p["split"] == split and (augmented or not p["augment_shift"])
        ]

    def summary(self) -> dict[str, Any]:
        return self.manifest["counts"]
