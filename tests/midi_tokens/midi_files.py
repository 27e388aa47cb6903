"""MIDI files made by the tests: a byte-level writer (so a file can hold what no library
would write: an out-of-range controller value, a zero-length note, type 0) and random
multi-track pieces through symusic."""

from __future__ import annotations

import struct

import numpy as np


def varlen(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def track(events: list[tuple[int, bytes]]) -> bytes:
    """An MTrk chunk from (absolute tick, event bytes), with its end-of-track."""
    body, now = b"", 0
    for tick, data in sorted(events, key=lambda e: e[0]):
        body += varlen(tick - now) + data
        now = tick
    body += varlen(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(tracks: list[bytes], fmt: int = 1, tpq: int = 480) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), tpq) + b"".join(tracks)


def note(tick: int, length: int, pitch: int, velocity: int = 80,
         channel: int = 0) -> list[tuple[int, bytes]]:
    return [(tick, bytes([0x90 | channel, pitch, velocity])),
            (tick + length, bytes([0x80 | channel, pitch, 0]))]


def tempo(tick: int, qpm: float) -> tuple[int, bytes]:
    return tick, b"\xff\x51\x03" + int(60_000_000 / qpm).to_bytes(3, "big")


def meter(tick: int, numerator: int, denominator_power: int) -> tuple[int, bytes]:
    return tick, b"\xff\x58\x04" + bytes([numerator, denominator_power, 24, 8])


def program(tick: int, number: int, channel: int = 0) -> tuple[int, bytes]:
    return tick, bytes([0xC0 | channel, number])


def control(tick: int, number: int, value: int, channel: int = 0) -> tuple[int, bytes]:
    return tick, bytes([0xB0 | channel, number, value])


def melody(channel: int = 0, base: int = 60, notes: int = 8,
           step: int = 240) -> list[tuple[int, bytes]]:
    events: list[tuple[int, bytes]] = []
    for i in range(notes):
        events += note(i * step, step, base + (i * 2) % 12, 60 + i, channel)
    return events


SHAPES = {
    # name: the file's bytes; every one is read (or skipped with a reason)
    "type0": smf([track([tempo(0, 100), meter(0, 3, 2), program(0, 40),
                         *melody(0), *melody(9, base=36)])], fmt=0),
    "type1_drums_ch10": smf([track([tempo(0, 120)]), track(melody(0)),
                             track(melody(9, base=36))]),
    "program_changes": smf([track([program(0, 0), *melody(0, notes=4),
                                   program(960, 24), *[(t + 960, e) for t, e in
                                                       melody(0, notes=4)]])]),
    "tempo_changes": smf([track([tempo(0, 90), tempo(960, 140), tempo(1440, 60)]),
                          track(melody(0))]),
    "sustain_pedal": smf([track([control(0, 64, 127), control(960, 64, 0),
                                 control(1200, 64, 100), control(1900, 64, 0), *melody(0)])]),
    "zero_length_notes": smf([track([*melody(0), *note(480, 0, 72), *note(720, 0, 73)])]),
    "overlapping_same_pitch": smf([track([*note(0, 960, 60), *note(240, 960, 60),
                                          *note(480, 240, 60), *melody(0, base=64)])]),
    "controller_out_of_range": smf([track([(0, bytes([0xB0, 7, 0xC8])), *melody(0)])]),
    "empty_track": smf([track([]), track(melody(0)), track([tempo(0, 100)])]),
    "no_notes": smf([track([tempo(0, 120), meter(0, 4, 2), program(0, 5)])]),
}


def random_piece(rng: np.random.Generator, bars: int = 4, drums: bool = True) -> bytes:
    """A multi-track piece through symusic: piano chords with pedal and velocities,
    a bass, and drums on channel 10; a tempo change halfway."""
    import symusic

    midi = symusic.Score(480)
    midi.tempos.append(symusic.Tempo(0, float(rng.integers(80, 140))))
    midi.tempos.append(symusic.Tempo(bars * 960, float(rng.integers(80, 140))))
    midi.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    piano = symusic.Track("Piano", 0, False)
    bass = symusic.Track("Bass", 33, False)
    kit = symusic.Track("Drums", 0, True)
    for beat in range(bars * 4):
        tick = beat * 480
        for pitch in rng.choice(np.arange(55, 80), int(rng.integers(1, 4)), replace=False):
            piano.notes.append(symusic.Note(tick, int(rng.choice([240, 480, 960])),
                                            int(pitch), int(rng.integers(30, 127))))
        if beat % 2 == 0:
            bass.notes.append(symusic.Note(tick, 960, int(rng.integers(36, 48)), 90))
        if drums:
            kit.notes.append(symusic.Note(tick, 120, 36 if beat % 2 == 0 else 38, 100))
    for bar in range(bars):
        piano.controls.append(symusic.ControlChange(bar * 1920, 64, 127))
        piano.controls.append(symusic.ControlChange(bar * 1920 + 1800, 64, 0))
    midi.tracks.extend([piano, bass] + ([kit] if drums else []))
    return bytes(midi.dumps_midi())
