"""Codecs turn Scores into codes and back; a registry picks one by name."""

from cadenza.codecs import chorale  # noqa: F401  (registers the codec)
from cadenza.codecs.base import CODECS, Codec, Vocab, build_codec, codec_from_config

__all__ = ["CODECS", "Codec", "Vocab", "build_codec", "codec_from_config"]
