"""Preprocessing steps between reading and encoding, each switched by a config field.

Key analysis is music21's default (``Stream.analyze('key')``: Krumhansl-Schmuckler
correlation with the Aarden-Essen profiles over a duration-weighted pitch-class
histogram), ported to numpy so MIDI and MusicXML pieces go through one fast path.
``tests/corpus/test_preprocess.py`` checks it against music21 itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from cadenza.errors import SkipPiece
from cadenza.score import Key, Score

# Aarden-Essen key profiles, as music21.analysis.discrete.AardenEssen.getWeights.
AARDEN_MAJOR = np.array(
    [17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
     0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122]
)
AARDEN_MINOR = np.array(
    [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
     0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623]
)

VOICES = ("Soprano", "Alto", "Tenor", "Bass")
# Names BachBot-era chorale files use for the four voices, matched on lower-case prefixes.
_VOICE_PATTERNS = {
    "Soprano": re.compile(r"^(soprano|sopran|s\b|s\.|canto|cantus|discant)"),
    "Alto": re.compile(r"^(alto|alt\b|a\b|a\.|contralto)"),
    "Tenor": re.compile(r"^(tenor|tenore|t\b|t\.)"),
    "Bass": re.compile(r"^(bass|basso|b\b|b\.)"),
}


@dataclass
class PreprocessConfig:
    """What happens to each piece before it is encoded."""

    meter: str | None = "4/4"  # keep only pieces whose first time signature is this; None keeps all
    satb: bool = True  # keep only scores with Soprano, Alto, Tenor and Bass parts (by name)
    normalize_key: bool = True  # transpose to C major / A minor by key analysis
    quantize: int = 4  # grid steps per quarter note (4 = 16ths); 0 leaves times as read
    augment: list[int] = field(default_factory=list)  # semitone shifts, training split only


def _profiles() -> np.ndarray:
    """The 24 key profiles (12 major tonics, then 12 minor), centred, one per row."""
    rows = [np.roll(p, tonic) for p in (AARDEN_MAJOR, AARDEN_MINOR) for tonic in range(12)]
    profiles = np.array(rows)
    return profiles - profiles.mean(axis=1, keepdims=True)


_PROFILES = _profiles()
_PROFILE_NORMS = np.sqrt((_PROFILES**2).sum(axis=1))


def analyze_key(score: Score) -> Key:
    """The most likely key, as music21's ``analyze('key')`` finds it.

    Pearson correlation of the duration-weighted pitch-class histogram with each
    of the 24 rotated profiles; the best wins (music21 breaks exact ties towards the
    higher tonic and minor, which the reversed search order below reproduces).
    """
    notes = score.notes[~score.drum_notes()] if score.drums else score.notes
    if not len(notes):
        raise SkipPiece("no notes to analyze the key of")
    histogram = np.bincount(notes["pitch"] % 12, weights=notes["duration"] / score.tpq,
                            minlength=12)
    centred = histogram - histogram.mean()
    norm = np.sqrt((centred**2).sum())
    if norm == 0:
        correlations = np.zeros(24)
    else:
        correlations = _PROFILES @ centred / (_PROFILE_NORMS * norm)
    # music21 sorts (coefficient, tonic, mode) descending: scan from the back so that
    # argmax's first-hit rule picks the same winner among exact ties
    order = [12 * m + t for t in range(11, -1, -1) for m in (1, 0)]
    best = order[int(np.argmax(correlations[order]))]
    return Key(best % 12, "minor" if best >= 12 else "major")


def key_shift(key: Key) -> int:
    """Semitones (-6..5) that move ``key`` to C major or A minor."""
    target = 0 if key.mode == "major" else 9
    return (target - key.tonic + 6) % 12 - 6


def select_satb(score: Score) -> Score:
    """Keep the Soprano, Alto, Tenor and Bass parts in that order, found by part name."""
    found: dict[str, int] = {}
    for index, name in enumerate(score.parts):
        label = name.strip().lower()
        for voice, pattern in _VOICE_PATTERNS.items():
            if voice not in found and pattern.match(label):
                found[voice] = index
                break
    missing = [v for v in VOICES if v not in found]
    if missing:
        names = ", ".join(score.parts) or "none"
        raise SkipPiece(
            f"not a four-part SATB score: {len(score.parts)} parts ({names}); "
            f"missing {', '.join(missing)}"
        )
    return score.select_parts([found[v] for v in VOICES], names=list(VOICES))


def preprocess(score: Score, config: PreprocessConfig) -> tuple[Score, dict]:
    """Filter and normalize one piece; returns it and facts for the manifest.

    Raises :class:`SkipPiece` with the reason when the piece is filtered out.
    """
    if not len(score.notes):
        raise SkipPiece("no notes")
    if config.meter and score.meter != config.meter:
        raise SkipPiece(f"meter {score.meter}, not {config.meter}")
    if config.satb:
        score = select_satb(score)
        if not len(score.notes):
            raise SkipPiece("SATB parts hold no notes")
    facts: dict = {"original_key": str(score.key) if score.key else None, "shift": 0}
    if config.normalize_key:
        key = analyze_key(score)
        shift = key_shift(key)
        score = score.replace(key=key).transpose(shift)
        facts.update(analyzed_key=str(key), shift=shift)
    if config.quantize:
        score = quantize_whole(score, config.quantize)
    return score, facts


def quantize_whole(score: Score, steps_per_quarter: int) -> Score:
    """``score`` on the grid, refused (SkipPiece) when the grid would merge most of its
    notes: timing far finer than the grid (say, sixteen notes in a 32767-ticks-per-quarter
    file that last a few ticks each) is not music the grid can hold, and merging it would
    silently turn a melody into two notes. A few short notes (grace-like 32nds) may merge."""
    quantized = score.quantize(steps_per_quarter)
    before, after = _onsets(score), _onsets(quantized)
    if before >= 4 and after * 2 < before:
        raise SkipPiece(f"its timing is too fine for a grid of {steps_per_quarter} steps per "
                        f"quarter: {before} note onsets would merge into {after}")
    return quantized


def _onsets(score: Score) -> int:
    """Distinct (part, onset) pairs."""
    return len(np.unique(score.notes["onset"] * 4096 + score.notes["part"]))
