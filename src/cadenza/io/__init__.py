"""File formats at the edges: readers and writers around the Score type."""

from cadenza.io.read import SUFFIXES, from_music21, read, read_midi_bytes
from cadenza.io.write import midi_bytes, to_music21, write_midi, write_musicxml

__all__ = [
    "SUFFIXES",
    "from_music21",
    "midi_bytes",
    "read",
    "read_midi_bytes",
    "to_music21",
    "write_midi",
    "write_musicxml",
]
