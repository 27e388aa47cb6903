"""Objective metrics: pure functions ``metric(score) -> float`` (or a histogram).

Each docstring gives the formula and its source. "MusPy" is Dong et al., *MusPy:
A Toolkit for Symbolic Music Generation*, ISMIR 2020 (``muspy.metrics``);
"Yang & Lerch" is *On the evaluation of generative models in music*, Neural
Computing and Applications, 2020. Aggregation over sets lives elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cadenza.corpus.preprocess import analyze_key
from cadenza.score import Score

MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)
METRICS: dict[str, Callable[[Score], float]] = {}


def metric(function: Callable[[Score], float]) -> Callable[[Score], float]:
    """Register a scalar metric under its function name."""
    METRICS[function.__name__] = function
    return function


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


@metric
def pitch_range(score: Score) -> float:
    """max(pitch) − min(pitch) in semitones (MusPy ``pitch_range``)."""
    p = score.notes["pitch"]
    return float(p.max() - p.min()) if len(p) else 0.0


@metric
def pitches_used(score: Score) -> float:
    """Number of distinct MIDI pitches (MusPy ``n_pitches_used``)."""
    return float(len(np.unique(score.notes["pitch"])))


@metric
def pitch_classes_used(score: Score) -> float:
    """Number of distinct pitch classes (MusPy ``n_pitch_classes_used``)."""
    return float(len(np.unique(score.notes["pitch"] % 12)))


def pitch_class_histogram(score: Score) -> np.ndarray:
    """Note counts per pitch class, normalized to sum 1 (Yang & Lerch PCH)."""
    counts = np.bincount(score.notes["pitch"] % 12, minlength=12).astype(float)
    return counts / counts.sum() if counts.sum() else counts


@metric
def pitch_class_entropy(score: Score) -> float:
    """Shannon entropy in bits of the pitch-class histogram of note counts:
    −Σ p_i log2 p_i over 12 classes (MusPy ``pitch_class_entropy``)."""
    return _entropy(np.bincount(score.notes["pitch"] % 12, minlength=12).astype(float))


@metric
def pitch_entropy(score: Score) -> float:
    """Shannon entropy in bits of the histogram of the 128 MIDI pitches
    (MusPy ``pitch_entropy``)."""
    return _entropy(np.bincount(score.notes["pitch"], minlength=128).astype(float))


@metric
def scale_consistency(score: Score) -> float:
    """Largest share of notes lying in one major scale, over the 12 transpositions
    (MusPy ``scale_consistency``; minor scales are rotations of major ones)."""
    if not len(score.notes):
        return 0.0
    counts = np.bincount(score.notes["pitch"] % 12, minlength=12)
    best = max(counts[np.roll(MAJOR_SCALE, root)].sum() for root in range(12))
    return float(best / len(score.notes))


@metric
def in_key_rate(score: Score) -> float:
    """Share of notes in the score's key: its major scale (for a minor key, the
    relative major's, plus the raised seventh of harmonic minor). A score without
    a key gets the one music21's key analysis finds (:func:`analyze_key`)."""
    if not len(score.notes):
        return 0.0
    key = score.key or analyze_key(score)
    tonic = key.tonic if key.mode == "major" else (key.tonic + 3) % 12
    scale = np.roll(MAJOR_SCALE, tonic).copy()
    if key.mode == "minor":
        scale[(key.tonic + 11) % 12] = True  # raised seventh
    return float(scale[score.notes["pitch"] % 12].mean())


@metric
def polyphony(score: Score) -> float:
    """Mean number of sounding notes over the 16th-note frames where at least one
    sounds (MusPy ``polyphony``, at a 16th-note grid)."""
    counts = _sounding_counts(score)
    active = counts[counts > 0]
    return float(active.mean()) if len(active) else 0.0


@metric
def empty_beat_rate(score: Score) -> float:
    """Share of beats (quarter notes) in which no note sounds (MusPy ``empty_beat_rate``)."""
    counts = _sounding_counts(score, steps_per_quarter=1)
    return float((counts == 0).mean()) if len(counts) else 0.0


@metric
def note_density(score: Score) -> float:
    """Note onsets per beat: number of notes / length in quarter notes."""
    beats = score.end / score.tpq
    return float(len(score.notes) / beats) if beats else 0.0


def _melodic_intervals(score: Score) -> np.ndarray:
    """Intervals between consecutive notes of each part, in semitones (signed)."""
    steps = []
    for part in range(len(score.parts)):
        p = score.part_notes(part)
        p = p[~p["tied"]]
        if len(p) > 1:
            steps.append(np.diff(p["pitch"].astype(int)))
    return np.concatenate(steps) if steps else np.zeros(0, dtype=int)


@metric
def interval_mean(score: Score) -> float:
    """Mean absolute melodic interval in semitones within each part
    (Yang & Lerch "average pitch interval")."""
    steps = _melodic_intervals(score)
    return float(np.abs(steps).mean()) if len(steps) else 0.0


@metric
def interval_spread(score: Score) -> float:
    """Standard deviation of the signed melodic intervals within each part."""
    steps = _melodic_intervals(score)
    return float(steps.std()) if len(steps) else 0.0


@metric
def mean_ioi(score: Score) -> float:
    """Mean inter-onset interval in quarter notes over the distinct onsets of the
    piece (Yang & Lerch "average inter-onset interval")."""
    onsets = np.unique(score.notes["onset"])
    return float(np.diff(onsets).mean() / score.tpq) if len(onsets) > 1 else 0.0


IOI_BINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)  # quarter notes


def ioi_histogram(score: Score) -> np.ndarray:
    """Share of inter-onset intervals nearest each of ``IOI_BINS`` (Yang & Lerch IOI)."""
    onsets = np.unique(score.notes["onset"])
    return _nearest_bin_histogram(np.diff(onsets) / score.tpq, IOI_BINS)


def note_length_histogram(score: Score) -> np.ndarray:
    """Share of note lengths nearest each of ``IOI_BINS`` (Yang & Lerch NLH)."""
    merged = score.merge_ties().notes
    return _nearest_bin_histogram(merged["duration"] / score.tpq, IOI_BINS)


@metric
def repetition(score: Score, bar_quarters: int = 4) -> float:
    """Share of two-bar windows (stepping by a bar) whose content, as (onset in
    window, pitch, part) sets, occurs earlier in the piece."""
    length = 2 * bar_quarters * score.tpq
    bars = int(np.ceil(score.end / (bar_quarters * score.tpq)))
    seen: set[bytes] = set()
    repeats = windows = 0
    notes = score.notes
    for start_bar in range(max(bars - 1, 0)):
        start = start_bar * bar_quarters * score.tpq
        inside = notes[(notes["onset"] >= start) & (notes["onset"] < start + length)]
        if not len(inside):
            continue
        key = np.stack([inside["onset"] - start, inside["pitch"], inside["part"]]).tobytes()
        windows += 1
        repeats += key in seen
        seen.add(key)
    return float(repeats / windows) if windows else 0.0


def _nearest_bin_histogram(values: np.ndarray, bins: tuple[float, ...]) -> np.ndarray:
    centres = np.asarray(bins)
    if not len(values):
        return np.zeros(len(centres))
    nearest = np.abs(values[:, None] - centres[None, :]).argmin(axis=1)
    return np.bincount(nearest, minlength=len(centres)) / len(values)


def _sounding_counts(score: Score, steps_per_quarter: int = 4) -> np.ndarray:
    """Number of notes sounding in each grid frame."""
    grid = score.tpq // steps_per_quarter
    n_frames = -(-score.end // grid)
    delta = np.zeros(n_frames + 1, dtype=np.int64)
    first = score.notes["onset"] // grid
    last = np.maximum(-(-(score.notes["onset"] + score.notes["duration"]) // grid), first + 1)
    np.add.at(delta, first, 1)
    np.add.at(delta, np.minimum(last, n_frames), -1)
    return np.cumsum(delta)[:n_frames]


def compute_all(score: Score) -> dict[str, float]:
    """Every registered scalar metric of one score."""
    return {name: fn(score) for name, fn in METRICS.items()}
