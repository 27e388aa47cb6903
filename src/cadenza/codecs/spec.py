"""What a codec produces, declared once so that data, models and decoding read it.

A codec produces one or more per-step *fields*, each an array whose first axis is time:
1-D token ids, ``[N, 88]`` piano-roll frames, ``[N, F]`` note features. The store writes
each field as its own memmap; a model is built from the field it reads (a vocabulary
size for tokens, a width for frames); decoding takes the roles BOS/EOS/PAD (and, for
frame-structured tokens, the frame delimiter) from here instead of assuming names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    """One per-step array: ``shape`` is the shape of one step (``()`` for token ids),
    ``dtype`` a numpy dtype name, ``kind`` ``"tokens"`` (ids into the vocabulary) or
    ``"frames"`` (values as they are)."""

    name: str
    kind: str
    dtype: str
    shape: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype,
                "shape": list(self.shape)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldSpec:
        return cls(data["name"], data["kind"], data["dtype"], tuple(data["shape"]))


@dataclass(frozen=True)
class CodecSpec:
    """The fields a codec produces and the token names that play a role.

    ``roles`` maps ``bos``/``eos``/``frame`` to token names (absent where the codec has
    none); padding is always id 0 of a vocabulary. ``ordered_frames`` says that within a
    frame the pitch tokens rise strictly, so a model's distribution can be restricted to
    valid frames exactly (see :mod:`cadenza.codecs.pianoroll`).
    """

    fields: tuple[FieldSpec, ...]
    roles: dict[str, str] = field(default_factory=dict)
    ordered_frames: bool = False

    @property
    def main(self) -> FieldSpec:
        """The field a model reads and predicts (the first)."""
        return self.fields[0]

    @property
    def tokens(self) -> bool:
        return self.main.kind == "tokens"

    def to_json(self) -> dict[str, Any]:
        return {"fields": [f.to_json() for f in self.fields], "roles": dict(self.roles),
                "ordered_frames": self.ordered_frames}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodecSpec:
        return cls(tuple(FieldSpec.from_json(f) for f in data["fields"]),
                   dict(data.get("roles", {})), bool(data.get("ordered_frames", False)))


TOKENS = FieldSpec("ids", "tokens", "uint16")
"""The field every token codec produces: codes in its code space, ids after the vocab."""
