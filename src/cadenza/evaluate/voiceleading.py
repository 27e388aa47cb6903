"""Voice-leading checks for four-part (SATB) writing, one implementation for all users.

All counts are taken on a grid of ``steps_per_quarter`` frames per quarter note
(16ths by default), over the parts of a Score in order soprano, alto, tenor, bass.
Rates are per 100 frames, so pieces of any length compare.

Definitions (after the common-practice rules in e.g. Aldwell & Schachter,
*Harmony and Voice Leading*, ch. 5–6):

- **parallel fifths / octaves**: two voices that both move, in the same direction,
  from a perfect fifth (or octave/unison) to another one, compound intervals
  included (interval mod 12 equal to 7, or to 0); checked between consecutive
  sonorities (frames where some voice starts a note).
- **voice crossing**: a lower voice above the voice written above it, per
  adjacent pair and frame.
- **spacing**: more than an octave between adjacent upper voices (S–A, A–T),
  per pair and frame.
- **out of range**: notes outside each voice's textbook range (S C4–G5, A G3–C5,
  T C3–G4, B E2–C4), per note.
"""

from __future__ import annotations

import numpy as np

from cadenza.score import Score

VOICE_RANGES = ((60, 79), (55, 72), (48, 67), (40, 60))  # S, A, T, B in MIDI pitch
CHECKS = ("parallel_fifths", "parallel_octaves", "voice_crossing", "spacing", "out_of_range")


def frame_grid(score: Score, steps_per_quarter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Per part and frame: the sounding pitch (-1 for a rest) and whether a note starts.

    Returns ``pitch[P, F]`` (int16) and ``starts[P, F]`` (bool). Where a part holds a
    chord, its top note counts.
    """
    grid = score.tpq // steps_per_quarter
    n_parts = len(score.parts)
    n_frames = -(-score.end // grid)
    pitch = np.full((n_parts, n_frames), -1, dtype=np.int16)
    starts = np.zeros((n_parts, n_frames), dtype=bool)
    notes = score.notes[np.argsort(score.notes["pitch"], kind="stable")]
    first = notes["onset"] // grid
    last = np.maximum(-(-(notes["onset"] + notes["duration"]) // grid), first + 1)
    for part, f0, f1, p, tied in zip(notes["part"], first, last, notes["pitch"], notes["tied"]):
        pitch[part, f0:f1] = p
        starts[part, f0] = not tied
    return pitch, starts


def voice_leading(score: Score, steps_per_quarter: int = 4) -> dict[str, float]:
    """Counts of each check and their rates per 100 frames (keys ``<check>`` and
    ``<check>_per_100``), plus ``frames``. Needs the parts in S, A, T, B order."""
    pitch, starts = frame_grid(score, steps_per_quarter)
    n_frames = pitch.shape[1]
    counts = {
        **_parallels(pitch, starts),
        "voice_crossing": _crossings(pitch),
        "spacing": _spacing(pitch),
        "out_of_range": _out_of_range(score),
    }
    result: dict[str, float] = {"frames": float(n_frames)}
    for name in CHECKS:
        result[name] = float(counts[name])
        result[f"{name}_per_100"] = 100.0 * counts[name] / n_frames if n_frames else 0.0
    return result


def parallel_motion(pitch: np.ndarray, starts: np.ndarray) -> list[tuple[int, int, int, str]]:
    """Every parallel fifth or octave as (frame it arrives in, upper voice, lower voice,
    ``"fifth"`` or ``"octave"``), from ``frame_grid``'s arrays."""
    slices = np.nonzero(starts.any(axis=0))[0]
    chords = pitch[:, slices].astype(int)  # [P, S]
    found = []
    for upper in range(len(pitch)):
        for lower in range(upper + 1, len(pitch)):
            a, b = chords[upper], chords[lower]
            sounding = (a >= 0) & (b >= 0)
            both = sounding[:-1] & sounding[1:]
            move_a, move_b = np.diff(a), np.diff(b)
            same_way = both & (move_a != 0) & (np.sign(move_a) == np.sign(move_b))
            interval = (a - b) % 12
            for kind, value in (("fifth", 7), ("octave", 0)):
                hits = same_way & (interval[:-1] == value) & (interval[1:] == value)
                found += [(int(slices[i + 1]), upper, lower, kind) for i in np.nonzero(hits)[0]]
    return found


def _parallels(pitch: np.ndarray, starts: np.ndarray) -> dict[str, int]:
    kinds = [kind for *_, kind in parallel_motion(pitch, starts)]
    return {"parallel_fifths": kinds.count("fifth"), "parallel_octaves": kinds.count("octave")}


def _crossings(pitch: np.ndarray) -> int:
    upper, lower = pitch[:-1], pitch[1:]
    return int(((upper >= 0) & (lower >= 0) & (lower > upper)).sum())


def _spacing(pitch: np.ndarray) -> int:
    upper_voices = pitch[: min(3, len(pitch))]
    upper, lower = upper_voices[:-1], upper_voices[1:]
    return int(((upper >= 0) & (lower >= 0) & (upper.astype(int) - lower > 12)).sum())


def _out_of_range(score: Score) -> int:
    count = 0
    for part, (low, high) in enumerate(VOICE_RANGES[: len(score.parts)]):
        p = score.part_notes(part)["pitch"]
        count += int(((p < low) | (p > high)).sum())
    return count
