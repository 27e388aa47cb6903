"""Comparing a generated set with a real one, feature by feature (Yang & Lerch, 2020).

For each feature (a scalar metric per piece):

- **overlapping area** (OA) of the two sets' feature distributions, each smoothed
  by a Gaussian kernel density estimate: ∫ min(p_gen, p_real) dx, 1 for identical
  sets, 0 for disjoint ones;
- **intra-set distances** |x_i − x_j| (i < j) within each set, **inter-set**
  distances |x_i − y_j| across the sets, summarized by mean and std;
- as in Yang & Lerch, OA and KL divergence between the real set's intra-set
  distance distribution and the inter-set distance distribution (how far the
  generated pieces are from the real ones, measured in the real set's own spread).
"""

from __future__ import annotations

import numpy as np

GRID_POINTS = 512


def scott_bandwidth(samples: np.ndarray) -> float:
    """Scott's rule, σ·n^(−1/5), with a floor so constant features still smooth."""
    samples = np.asarray(samples, dtype=float)
    spread = samples.std() if len(samples) > 1 else 0.0
    scale = max(spread, 1e-3 * max(np.abs(samples).max(initial=0.0), 1.0))
    return float(scale * max(len(samples), 1) ** (-0.2))


def kde(samples: np.ndarray, points: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """Gaussian kernel density estimate of ``samples`` evaluated at ``points``."""
    samples = np.asarray(samples, dtype=float)
    h = bandwidth or scott_bandwidth(samples)
    z = (points[:, None] - samples[None, :]) / h
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(samples) * h * np.sqrt(2 * np.pi))


def _shared_bandwidth(a: np.ndarray, b: np.ndarray) -> float:
    """One kernel width for both sets (the mean of their own), so shapes compare and a
    set with a tiny spread does not turn into spikes that miss a similar set."""
    return 0.5 * (scott_bandwidth(a) + scott_bandwidth(b))


def _grid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pad = 4 * max(scott_bandwidth(a), scott_bandwidth(b))
    low = min(a.min(), b.min()) - pad
    high = max(a.max(), b.max()) + pad
    return np.linspace(low, high, GRID_POINTS)


def overlapping_area(a: np.ndarray, b: np.ndarray) -> float:
    """∫ min(p_a, p_b) dx of the two kernel density estimates (0..1)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(a) or not len(b):
        return 0.0
    x = _grid(a, b)
    h = _shared_bandwidth(a, b)
    area = np.trapezoid(np.minimum(kde(a, x, h), kde(b, x, h)), x)
    return float(min(area, 1.0))


def kl_divergence(a: np.ndarray, b: np.ndarray) -> float:
    """KL(p_a ‖ p_b) in nats between kernel density estimates, on a shared grid."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(a) or not len(b):
        return float("nan")
    x = _grid(a, b)
    h = _shared_bandwidth(a, b)
    p, q = kde(a, x, h), kde(b, x, h)
    p, q = p / np.trapezoid(p, x), q / np.trapezoid(q, x)
    eps = 1e-12
    return float(np.trapezoid(p * np.log((p + eps) / (q + eps)), x))


def intra_distances(x: np.ndarray) -> np.ndarray:
    """|x_i − x_j| for all i < j."""
    x = np.asarray(x, dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    return np.abs(x[i] - x[j])


def inter_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|x_i − y_j| for all pairs."""
    return np.abs(np.asarray(x, float)[:, None] - np.asarray(y, float)[None, :]).ravel()


def compare_feature(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Every set statistic of one feature."""
    generated, real = np.asarray(generated, float), np.asarray(real, float)
    intra_gen, intra_real = intra_distances(generated), intra_distances(real)
    inter = inter_distances(generated, real)
    return {
        "generated_mean": float(generated.mean()), "generated_std": float(generated.std()),
        "real_mean": float(real.mean()), "real_std": float(real.std()),
        "overlapping_area": overlapping_area(generated, real),
        "intra_generated_mean": _mean(intra_gen), "intra_real_mean": _mean(intra_real),
        "inter_mean": _mean(inter), "inter_std": float(inter.std()) if len(inter) else 0.0,
        "distance_oa": overlapping_area(intra_real, inter) if len(intra_real) else 0.0,
        "distance_kl": kl_divergence(intra_real, inter) if len(intra_real) else float("nan"),
    }


def compare_sets(
    generated: list[dict[str, float]], real: list[dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Per feature (keys of the metric dicts), the statistics of :func:`compare_feature`."""
    features = [k for k in generated[0] if k in real[0]] if generated and real else []
    return {
        f: compare_feature(np.array([g[f] for g in generated]), np.array([r[f] for r in real]))
        for f in features
    }


def mean_overlap(table: dict[str, dict[str, float]]) -> float:
    """Mean overlapping area across features: one summary number."""
    values = [row["overlapping_area"] for row in table.values()]
    return float(np.mean(values)) if values else 0.0


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else 0.0
