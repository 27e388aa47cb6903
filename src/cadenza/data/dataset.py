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

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.codecs import Codec, Vocab, codec_from_config
from cadenza.errors import ConfigError

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
        self.pieces: list[dict[str, Any]] = self._json("pieces.json")
        self.split: dict[str, list[str]] = self._json("split.json")
        self.vocab = Vocab.load(self.folder / "vocab.json")
        self.offsets = np.load(self.folder / "offsets.npy", allow_pickle=False)
        dtype = np.dtype(self.manifest["dtype"])
        size = int(self.offsets[-1])
        self.ids = (
            np.memmap(self.folder / "ids.bin", dtype=dtype, mode="r", shape=(size,))
            if size else np.zeros(0, dtype=dtype)
        )
        self._id_map: np.ndarray | None = None  # set by ``map_onto``

    def _json(self, name: str) -> Any:
        return json.loads((self.folder / name).read_text())

    def __len__(self) -> int:
        return len(self.pieces)

    @cached_property
    def codec(self) -> Codec:
        return codec_from_config(self.config["codec"])

    def tokens(self, index: int) -> np.ndarray:
        """Token ids of piece ``index`` (a view into the memmap, or its ids in the
        vocabulary given to ``map_onto``)."""
        ids = self.ids[self.offsets[index]:self.offsets[index + 1]]
        return ids if self._id_map is None else self._id_map[ids]

    def map_onto(self, vocab: Vocab, what: str) -> PreparedDataset:
        """Read this dataset's pieces in ``vocab``'s ids (a model's), in place.

        A dataset whose tokens are a subset of ``vocab`` (the plain chorales against a
        model trained with transposed copies, which saw more pitches) is scored the
        same as the model's own dataset; a token ``vocab`` lacks is refused by name,
        as its id would mean nothing to the model.
        """
        if vocab == self.vocab:
            return self
        unseen = [t for t in self.vocab.tokens if t not in vocab.index]
        if unseen:
            shown = ", ".join(repr(t) for t in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
            raise ConfigError(f"{what}: the dataset holds {len(unseen)} token(s) the model has "
                              f"never seen ({shown}); use a dataset prepared like the model's")
        self._id_map = np.array([vocab.index[t] for t in self.vocab.tokens], dtype=np.int64)
        self.vocab = vocab
        return self

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
