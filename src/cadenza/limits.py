"""Limits shared by the decoders and the CLI (a module of its own: no torch import)."""

# Longer than the longest chorale (3,875 tokens): a piece is cut only when it has
# clearly lost its way, never in the middle of a normal-length chorale.
MAX_TOKENS = 4096

# Input files: far above any real piece, far below what would exhaust memory. music21
# builds many Python objects per note, so its formats stop sooner (the uncompressed size
# of an .mxl archive's members counts against the same cap).
MAX_MIDI_BYTES = 64 * 2**20
MAX_MUSIC21_BYTES = 16 * 2**20

# Caps on counts given on the command line: each is far above any useful value and
# far below what would exhaust memory or the process table.
MAX_PIECES = 1000  # --n
MAX_BEAM_WIDTH = 256  # --width

# The infilling harmonizer's longest melody: 1,024 bars of 4/4 (16,384 frames). A
# 1,000-bar melody peaks at 832 MB of resident memory and took 6 to 13 minutes on one
# thread of a shared machine (benchmarks/bench_hostile.py); memory and time grow with
# the length, so longer melodies are refused rather than let them pass 2 GB.
MAX_MELODY_FRAMES = 16 * 1024
