"""Score <-> symusic, both ways: tracks with their program and drum flag, velocities,
tempo changes, time signatures, the first key signature and the sustain pedal.

symusic is the fast MIDI layer (C++) under cadenza's MIDI reader and writer and under
MidiTok, so this is the one place the two kinds of score meet. Times are rescaled to
cadenza's 480 ticks per quarter on the way in and kept there on the way out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cadenza.score import DEFAULT_TPQ, Key, Score, TimeSignature, empty_notes, make_notes

SUSTAIN = 64  # the MIDI controller number of the sustain pedal


def from_symusic(midi: Any, title: str = "") -> Score:
    """A symusic Score (tick time) as a cadenza Score at 480 ticks per quarter.

    Every track with notes becomes a part (drum tracks too, flagged in
    ``Score.drums``); a note of zero length keeps one tick, so no note is lost.
    """
    tpq = midi.ticks_per_quarter
    columns: list[np.ndarray] = []
    parts: list[str] = []
    programs: list[int] = []
    drums: list[bool] = []
    for track in midi.tracks:
        if not len(track.notes):
            continue
        arrays = track.notes.numpy()
        # ends are rescaled, not lengths: rounding both separately at a resolution
        # other than 480 could make a note overlap the next one it touched
        onset = rescale(arrays["time"], tpq)
        end = rescale(arrays["time"].astype(np.int64) + arrays["duration"], tpq)
        columns.append(make_notes(
            onset=onset,
            duration=np.maximum(end - onset, 1),
            pitch=arrays["pitch"],
            velocity=np.clip(arrays["velocity"].astype(np.int16), 1, 127),
            part=len(parts),
        ))
        parts.append(track.name.strip() or f"Part {len(parts) + 1}")
        programs.append(int(track.program) & 127)
        drums.append(bool(track.is_drum))
    notes = np.concatenate(columns) if columns else empty_notes()
    signatures = [
        TimeSignature(int(rescale(np.int64(ts.time), tpq)), ts.numerator, ts.denominator)
        for ts in midi.time_signatures
    ] or [TimeSignature(0, 4, 4)]
    tempos = [(int(rescale(np.int64(t.time), tpq)), float(t.qpm)) for t in midi.tempos]
    key = None
    if len(midi.key_signatures):
        ks = midi.key_signatures[0]
        key = key_from_sharps(ks.key, "minor" if ks.tonality else "major")
    return Score(notes=notes, parts=parts, key=key, time_signatures=signatures,
                 tempos=tempos or [(0, 120.0)], title=title, pedals=_pedals(midi, tpq),
                 programs=programs, drums=drums)


def to_symusic(score: Score) -> Any:
    """The score as a symusic Score at its own resolution: one track per part with its
    program and drum flag; the sustain pedal on the first pitched track, written as
    controller 64 (symusic writes controllers, not its pedal objects)."""
    import symusic

    merged = score.merge_ties()
    midi = symusic.Score(score.tpq)
    for ts in score.time_signatures:
        midi.time_signatures.append(symusic.TimeSignature(ts.tick, ts.numerator, ts.denominator))
    for tick, qpm in score.tempos:
        midi.tempos.append(symusic.Tempo(tick, qpm))
    if score.key is not None:
        midi.key_signatures.append(symusic.KeySignature(
            0, sharps(score.key), 1 if score.key.mode == "minor" else 0))
    pedal_track = next((p for p in range(len(score.parts)) if not score.is_drum(p)), None)
    for index, name in enumerate(score.parts):
        track = symusic.Track(name, score.program(index), score.is_drum(index))
        notes = merged.part_notes(index)
        if len(notes):
            track.notes = symusic.Note.from_numpy(
                notes["onset"].astype(np.int32), notes["duration"].astype(np.int32),
                notes["pitch"].astype(np.int8), notes["velocity"].astype(np.int8))
        if index == pedal_track and score.pedals is not None and len(score.pedals):
            down, up = score.pedals[:, 0], score.pedals[:, 1]
            track.pedals = symusic.Pedal.from_numpy(down.astype(np.int32),
                                                    (up - down).astype(np.int32))
            times = np.stack([down, up], axis=1).ravel().astype(np.int32)
            values = np.tile(np.array([127, 0], dtype=np.int8), len(down))
            track.controls = symusic.ControlChange.from_numpy(
                times, np.full(len(times), SUSTAIN, dtype=np.int8), values)
        midi.tracks.append(track)
    return midi


def _pedals(midi: Any, tpq: int) -> np.ndarray | None:
    """Sustain-pedal spans of every pitched track, merged: [k, 2] (down, up) ticks."""
    spans = [track.pedals.numpy() for track in midi.tracks
             if not track.is_drum and len(track.pedals)]
    if not spans:
        return None
    down = np.concatenate([rescale(s["time"], tpq) for s in spans])
    up = down + np.concatenate([rescale(s["duration"], tpq) for s in spans])
    order = np.argsort(down, kind="stable")
    return np.stack([down[order], up[order]], axis=1)


def rescale(ticks: np.ndarray, tpq: int) -> np.ndarray:
    """Ticks at ``tpq`` per quarter as ticks at 480, rounded to the nearest."""
    ticks = np.asarray(ticks, dtype=np.int64)
    if tpq == DEFAULT_TPQ:
        return ticks
    return (ticks * DEFAULT_TPQ + tpq // 2) // tpq


def key_from_sharps(count: int, mode: str) -> Key:
    """The key of a signature with ``count`` sharps (negative: flats) in ``mode``."""
    major_tonic = (7 * count) % 12
    return Key(major_tonic if mode == "major" else (major_tonic + 9) % 12, mode)


def sharps(key: Key) -> int:
    """Sharps (negative: flats) of the signature of ``key``, -5..6."""
    major = key.tonic if key.mode == "major" else (key.tonic + 3) % 12
    count = (major * 7) % 12  # position on the circle of fifths
    return count - 12 if count > 6 else count
