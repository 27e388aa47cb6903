"""Codecs turn Scores into codes and back; a registry picks one by name."""

from cadenza.codecs import (  # noqa: F401  (register the codecs)
    chorale,
    mel,
    midi_tokens,
    notes,
    pianoroll,
)
from cadenza.codecs.base import CODECS, Codec, Vocab, build_codec, codec_from_config

__all__ = ["CODECS", "Codec", "Vocab", "build_codec", "codec_from_config"]
