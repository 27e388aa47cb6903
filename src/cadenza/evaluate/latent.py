"""Is a VAE's latent space in use? Collapse monitors and the measures of issue 15.

Pure functions over tensors and arrays (BENCHMARKS.md §6):

- :func:`kl_per_dim`: KL(q(z|x) || N(0, I)) per latent dimension, averaged over examples;
- :func:`active_units`: dimensions whose posterior mean varies over the data,
  Cov_x(E[z|x]) > 0.01 (Burda et al., 2016);
- :func:`shuffled`: the z-shuffle test's partner order (every example gets another's z);
- :func:`note_f1`: note-cell F1 of a binary reconstruction against the truth, and
  :func:`onset_f1` over notes (pitch and onset);
- :func:`roll_features`, :func:`overlapping_area`: five per-segment features of rolls
  and the overlap of their distributions (Yang and Lerch, 2020: the area shared by two
  kernel density estimates; exact for a feature of a few values), for prior samples
  against held-out segments;
- :func:`monotonic_fraction`: of an interpolation's steps, the share whose Hamming
  distance from the first end does not fall.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

ACTIVE = 0.01  # Burda et al.'s threshold on Cov_x(E[z|x])
FEATURES = ("polyphony", "pitch_range", "pitch_class_entropy", "note_density",
            "empty_beat_rate")


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """[N, D] posterior means and log-variances -> [D] mean KL to N(0, 1), in nats."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def active_units(mu: Tensor, threshold: float = ACTIVE) -> int:
    """How many dimensions have Var over examples of the posterior mean above
    ``threshold`` (``mu`` [N, D], N >= 2)."""
    if len(mu) < 2:
        return 0
    return int((mu.float().var(0) > threshold).sum())


def shuffled(n: int, seed: int = 0) -> np.ndarray:
    """A permutation of range(n) that moves every index (n >= 2): example i is decoded
    from the z of example ``order[i]``, never its own."""
    order = np.random.default_rng(seed).permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, 1)  # a cycle through a random order: no fixed point
    return partner


def note_f1(guess: np.ndarray | Tensor, truth: np.ndarray | Tensor) -> float:
    """Micro F1 over all cells of binary rolls (1.0 when both are empty)."""
    g, t = np.asarray(guess, dtype=bool), np.asarray(truth, dtype=bool)
    tp = int((g & t).sum())
    fp, fn = int((g & ~t).sum()), int((~g & t).sum())
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def onset_f1(guess: np.ndarray, truth: np.ndarray) -> float:
    """F1 of notes as (segment, pitch, onset step) of binary rolls ``[N, T, P]``: a note
    starts where a pitch sounds and did not sound the step before (or at step 0)."""
    def onsets(rolls: np.ndarray) -> np.ndarray:
        rolls = np.asarray(rolls, dtype=bool)
        before = np.concatenate([np.zeros_like(rolls[:, :1]), rolls[:, :-1]], 1)
        return rolls & ~before

    return note_f1(onsets(guess), onsets(truth))


def roll_features(rolls: np.ndarray, steps_per_beat: int = 2) -> dict[str, np.ndarray]:
    """Five features of each binary roll ``[N, T, P]``: mean polyphony of sounding steps,
    pitch range (semitones), pitch-class entropy (bits, of sounding cells), note density
    (onsets per step) and the share of beats (``steps_per_beat`` steps) with no note."""
    rolls = np.asarray(rolls, dtype=bool)
    n, steps, pitches = rolls.shape
    sounding = rolls.sum(-1)  # [N, T]
    busy = sounding > 0
    polyphony = np.where(busy.any(1), sounding.sum(1) / np.maximum(busy.sum(1), 1), 0.0)
    used = rolls.any(1)  # [N, P]
    low = np.argmax(used, 1)
    high = pitches - 1 - np.argmax(used[:, ::-1], 1)
    span = np.where(used.any(1), high - low, 0).astype(float)
    classes = np.zeros((n, 12))
    for c in range(12):
        classes[:, c] = rolls[:, :, c::12].sum((1, 2))
    share = classes / np.maximum(classes.sum(1, keepdims=True), 1)
    entropy = -(share * np.log2(np.where(share > 0, share, 1))).sum(1)
    onsets = rolls & ~np.concatenate([np.zeros_like(rolls[:, :1]), rolls[:, :-1]], 1)
    density = onsets.sum((1, 2)) / steps
    beats = busy[:, :steps - steps % steps_per_beat].reshape(n, -1, steps_per_beat).any(-1)
    empty = 1.0 - beats.mean(1) if beats.shape[1] else np.zeros(n)
    return dict(zip(FEATURES, (polyphony, span, entropy, density, empty)))


def overlapping_area(a: np.ndarray, b: np.ndarray, points: int = 2048,
                     discrete: int = 16) -> float:
    """Area shared by the distributions of two samples of a feature (1: the same, 0:
    disjoint): by Gaussian KDEs (Yang and Lerch, 2020), or, where the pooled samples
    take at most ``discrete`` distinct values (the empty-beat rate of a segment is a
    multiple of 1/beats), exactly as the sum over values of the smaller probability --
    a KDE of a sample that is all zeros is a spike no smooth estimate overlaps."""
    from scipy.stats import gaussian_kde

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    values = np.unique(np.concatenate([a, b]))
    if len(values) <= discrete:
        pa = (a[:, None] == values).mean(0)
        pb = (b[:, None] == values).mean(0)
        return float(np.minimum(pa, pb).sum())
    both = np.concatenate([a, b])
    spread = max(float(both.std()), 0.01 * float(np.abs(both).mean()), 0.01)
    rng = np.random.default_rng(0)
    if a.std() < 1e-9:  # a KDE of a constant is singular: widen it a little
        a = a + rng.normal(0, 0.05 * spread, len(a))
    if b.std() < 1e-9:
        b = b + rng.normal(0, 0.05 * spread, len(b))
    both = np.concatenate([a, b])
    grid = np.linspace(both.min() - spread, both.max() + spread, points)
    pa, pb = gaussian_kde(a)(grid), gaussian_kde(b)(grid)
    return float(np.trapezoid(np.minimum(pa, pb), grid))


def feature_overlap(samples: np.ndarray, reference: np.ndarray,
                    steps_per_beat: int = 2) -> dict[str, float]:
    """Overlapping area per feature of two sets of binary rolls, and their ``mean``."""
    fa, fb = roll_features(samples, steps_per_beat), roll_features(reference, steps_per_beat)
    areas = {name: overlapping_area(fa[name], fb[name]) for name in FEATURES}
    areas["mean"] = float(np.mean(list(areas.values())))
    return areas


def monotonic_fraction(path: np.ndarray) -> float:
    """Share of an interpolation's steps ``path`` [S, ...] (binary) whose Hamming
    distance from ``path[0]`` is at least the previous step's; 0 for a path that never
    leaves its first end (a collapsed decoder's, whose steps are all the same)."""
    flat = np.asarray(path, dtype=bool).reshape(len(path), -1)
    distance = (flat != flat[0]).sum(1)
    if len(path) < 2 or distance[-1] == 0:
        return 0.0
    return float((np.diff(distance) >= 0).mean())


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    """``steps`` points from ``a`` to ``b`` [D] on the great circle (norms interpolated
    linearly), the usual path between Gaussian latents (White, 2016)."""
    t = torch.linspace(0, 1, steps)[:, None]
    na, nb = a.norm(), b.norm()
    ua, ub = a / na.clamp(min=1e-8), b / nb.clamp(min=1e-8)
    omega = torch.arccos((ua * ub).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if float(omega) < 1e-4:
        return a + t * (b - a)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    return direction * (na + t * (nb - na))
