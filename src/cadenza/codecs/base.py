"""The codec contract, the codec registry and the vocabulary.

A codec turns a Score into *codes* in a fixed code space of its own (the same for
every corpus, so workers can encode in parallel without agreeing on anything) and
back. A :class:`Vocab` then maps the codes a corpus actually uses onto dense ids
0..V-1 for the model; it is built once per prepared dataset and saved as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from cadenza.codecs.spec import CodecSpec
from cadenza.errors import ConfigError
from cadenza.score import Score


class Codec(Protocol):
    """What every codec provides."""

    name: ClassVar[str]
    produces: ClassVar[str]  # "tokens" or "frames" (the kind of its main field)
    code_space: int  # codes are 0..code_space-1
    specials: tuple[str, ...]  # token names always kept in the vocabulary

    def encode(self, score: Score) -> np.ndarray:
        """Codes (uint16) for one piece."""
        ...

    def decode(self, codes: Iterable[int]) -> Score:
        """The Score the codes describe."""
        ...

    def token_name(self, code: int) -> str: ...

    def code_of(self, name: str) -> int: ...

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this codec (saved with datasets and runs)."""
        ...

    @property
    def spec(self) -> CodecSpec:
        """What it produces: fields, shapes, dtypes, and the tokens that play roles."""
        ...


CODECS: dict[str, Callable[..., Codec]] = {}


def register_codec(name: str) -> Callable[[type], type]:
    """Class decorator adding a codec to the registry under ``name``."""

    def add(cls: type) -> type:
        cls.name = name
        CODECS[name] = cls
        return cls

    return add


def build_codec(name: str, **options: Any) -> Codec:
    """Instantiate a registered codec by name."""
    if name not in CODECS:
        raise ConfigError(f"unknown codec {name!r}; choose from: {', '.join(sorted(CODECS))}")
    try:
        return CODECS[name](**options)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"codec {name!r}: {err}") from None


def codec_from_config(config: dict[str, Any]) -> Codec:
    options = {k: v for k, v in config.items() if k != "name"}
    return build_codec(config["name"], **options)


class Vocab:
    """Dense ids for the codes a corpus uses. Id 0 is always padding."""

    PAD = "<pad>"

    def __init__(self, tokens: list[str], codes: list[int],
                 roles: dict[str, str] | None = None):
        if len(tokens) != len(codes):
            raise ValueError("tokens and codes differ in length")
        self.tokens = list(tokens)
        # role (bos, eos, frame) -> token name, from the codec's spec; decoding reads these
        self.roles = {r: t for r, t in (roles or {}).items() if t in tokens}
        self.codes = np.asarray(codes, dtype=np.int64)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        # code -> id lookup table; -1 marks codes outside this vocabulary
        size = int(self.codes.max()) + 1 if len(self.codes) else 1
        self._code_to_id = np.full(size, -1, dtype=np.int64)
        valid = self.codes >= 0
        self._code_to_id[self.codes[valid]] = np.nonzero(valid)[0]

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    @property
    def pad_id(self) -> int:
        return 0

    def role(self, spec: CodecSpec, role: str) -> int | None:
        """The id of the token that plays ``role`` (bos, eos, frame) in ``spec``, if any."""
        name = spec.roles.get(role)
        return self.index.get(name) if name is not None else None

    def role_id(self, role: str) -> int | None:
        """The id of the token playing ``role`` in this vocabulary's codec, if any."""
        name = self.roles.get(role)
        return self.index[name] if name is not None else None

    def adopt_roles(self, spec: CodecSpec) -> Vocab:
        """Take the roles from ``spec`` where this vocabulary (an older file) has none."""
        if not self.roles:
            self.roles = {r: t for r, t in spec.roles.items() if t in self.index}
        return self

    def id(self, token: str) -> int:
        return self.index[token]

    @classmethod
    def build(cls, codec: Codec, used_codes: Iterable[int]) -> Vocab:
        """Padding, the codec's specials, then every used code in code order."""
        special_codes = [codec.code_of(s) for s in codec.specials]
        codes = sorted(set(int(c) for c in used_codes) | set(special_codes))
        tokens = [cls.PAD] + [codec.token_name(c) for c in codes]
        return cls(tokens, [-1] + codes, dict(codec.spec.roles))

    def encode(self, codes: np.ndarray, where: str = "piece") -> np.ndarray:
        """Map codes to ids; a code outside the vocabulary is a clear error."""
        codes = np.asarray(codes, dtype=np.int64)
        table = self._code_to_id
        inside = codes < len(table)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        ids[inside] = table[codes[inside]]
        if (ids < 0).any():
            bad = int(codes[np.argmax(ids < 0)])
            raise ConfigError(f"{where}: code {bad} is not in this vocabulary")
        return ids

    def decode(self, ids: Iterable[int]) -> np.ndarray:
        """Map ids back to codes (padding is dropped)."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        ids = ids[ids != self.pad_id]
        return self.codes[ids]

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "codes": [int(c) for c in self.codes],
                "roles": self.roles}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocab:
        return cls(data["tokens"], data["codes"], data.get("roles"))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls.from_json(json.loads(Path(path).read_text()))
