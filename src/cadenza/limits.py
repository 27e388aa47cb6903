"""Limits shared by the decoders and the CLI (a module of its own: no torch import)."""

# Longer than the longest chorale (3,875 tokens): a piece is cut only when it has
# clearly lost its way, never in the middle of a normal-length chorale.
MAX_TOKENS = 4096
