"""Limits shared by the decoders and the CLI (a module of its own: no torch import)."""

# Longer than the longest chorale (3,875 tokens): a piece is cut only when it has
# clearly lost its way, never in the middle of a normal-length chorale.
MAX_TOKENS = 4096

# Input files: a MIDI file of 64 MB holds some 10 million notes; music21 needs about
# 100 times a MusicXML file's size in memory, so its formats stop at 16 MB (uncompressed,
# for the members of an .mxl archive too). The Bach chorales are under 200 kB each.
MAX_MIDI_BYTES = 64 * 2**20
MAX_MUSIC21_BYTES = 16 * 2**20

# Caps on counts given on the command line: each is far above any useful value and
# far below what would exhaust memory or the process table.
MAX_PIECES = 1000  # --n
MAX_BEAM_WIDTH = 256  # --width
