"""The prepared dataset on disk, and its reader.

A dataset folder is a store of named per-step arrays. It holds:

- one ``<field>.bin`` per field the codec declares (:class:`cadenza.codecs.spec.CodecSpec`):
  every piece's steps back to back, first axis time, read with ``np.memmap``. Token ids
  live in ``ids.bin`` in the smallest unsigned type that fits the vocabulary; frames
  such as ``[N, 88]`` piano rolls in ``roll.bin`` in the codec's own dtype. Names,
  dtypes and shapes are in ``manifest.json`` (``fields``);
- ``offsets.npy``: int64 start of each piece (in steps, shared by every field), plus the
  end;
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
from cadenza.codecs.spec import TOKENS, FieldSpec
from cadenza.errors import ConfigError
from cadenza.safety import about, read_json

META_FILES = ("offsets.npy", "pieces.json", "split.json", "vocab.json", "config.json",
              "manifest.json")
FILES = ("ids.bin", *META_FILES)  # a token dataset (every dataset before named fields)


def field_file(spec: FieldSpec) -> str:
    return "ids.bin" if spec.kind == "tokens" else f"{spec.name}.bin"


def smallest_dtype(vocab_size: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"vocabulary of {vocab_size} tokens is too large")


class PreparedDataset:
    """Read access to a prepared dataset folder; token ids stay on disk (memmap)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        missing = [f for f in META_FILES if not (self.folder / f).exists()]
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
            self.vocab = Vocab.from_json(self._json("vocab.json")).adopt_roles(self.codec.spec)
        with about(self.folder / "offsets.npy"):
            self.offsets = np.load(self.folder / "offsets.npy", allow_pickle=False)
        with about(self.folder / "manifest.json", "bad fields"):
            self.fields = [FieldSpec.from_json(f) for f in self.manifest.get("fields", [])] or [
                FieldSpec(TOKENS.name, "tokens", self.manifest["dtype"])]
            dtypes = {spec.name: np.dtype(self.manifest["dtype"] if spec.kind == "tokens"
                                          else spec.dtype) for spec in self.fields}
        self._check(dtypes)
        declared = self.codec.spec.main  # config.json's codec must produce what is stored
        if self.manifest.get("fields") and (declared.name, declared.shape) != (
                self.fields[0].name, self.fields[0].shape):
            raise ConfigError(f"{self.folder / 'config.json'}: the codec settings make "
                              f"{declared.name} {list(declared.shape)} steps, but the dataset "
                              f"holds {self.fields[0].name} {list(self.fields[0].shape)}; "
                              "prepare the dataset again")
        self.arrays = {spec.name: self._memmap(spec, dtypes[spec.name]) for spec in self.fields}
        self.main = self.fields[0]
        self.ids = self.arrays[self.main.name]  # the field models read (token ids or frames)
        self._id_map: np.ndarray | None = None  # set by ``map_onto``

    def _memmap(self, spec: FieldSpec, dtype: np.dtype) -> np.ndarray:
        shape = (int(self.offsets[-1]), *spec.shape)
        path = self.folder / field_file(spec)
        return np.memmap(path, dtype=dtype, mode="r", shape=shape) if shape[0] else np.zeros(
            shape, dtype=dtype)

    def _json(self, name: str, kind: type = dict) -> Any:
        return read_json(self.folder / name, kind)

    def _check(self, dtypes: dict[str, np.dtype]) -> None:
        """The files agree with each other (a damaged or hand-edited folder stops here,
        with the file named, rather than deep inside training)."""
        offsets, where = self.offsets, self.folder / "offsets.npy"
        if (offsets.ndim != 1 or offsets.dtype.kind not in "iu"
                or len(offsets) != len(self.pieces) + 1 or offsets[0] != 0
                or (np.diff(offsets) < 0).any()):
            raise ConfigError(f"{where}: damaged (expected {len(self.pieces) + 1} rising "
                              f"whole-number offsets from 0, one per piece plus the end); "
                              "prepare the dataset again")
        for spec in self.fields:
            dtype, path = dtypes[spec.name], self.folder / field_file(spec)
            if dtype.kind != "u" or dtype.itemsize > 4:
                raise ConfigError(f"{self.folder / 'manifest.json'}: damaged (dtype {dtype})")
            if not path.is_file():
                raise ConfigError(f"{self.folder} is not a prepared dataset (missing "
                                  f"{path.name})")
            expected = int(offsets[-1]) * int(np.prod(spec.shape)) * dtype.itemsize
            found = path.stat().st_size
            if found != expected:
                raise ConfigError(f"{path}: damaged ({found} bytes, {expected} expected from "
                                  "offsets.npy); prepare the dataset again")

    def __len__(self) -> int:
        return len(self.pieces)

    @cached_property
    def codec(self) -> Codec:
        return codec_from_config(self.config["codec"])

    def tokens(self, index: int) -> np.ndarray:
        """The steps of piece ``index`` in the main field (token ids, or frames
        ``[N, *shape]``): a view into the memmap, or token ids in the vocabulary given
        to ``map_onto``."""
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
        if self.main.kind != "tokens":
            raise ConfigError(f"{what}: vocabulary differs, and the dataset holds no tokens")
        unseen = [t for t in self.vocab.tokens if t not in vocab.index]
        if unseen:
            shown = ", ".join(repr(t) for t in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
            raise ConfigError(f"{what}: the dataset holds {len(unseen)} token(s) the model has "
                              f"never seen ({shown}); use a dataset prepared like the model's")
        self._id_map = np.array([vocab.index[t] for t in self.vocab.tokens], dtype=np.int64)
        self.vocab = vocab
        return self

    def array(self, name: str, index: int) -> np.ndarray:
        """Piece ``index`` of the field ``name``."""
        return self.arrays[name][self.offsets[index]:self.offsets[index + 1]]

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
