"""Statistics for listening tests (BENCHMARKS.md §8), in plain Python.

Accuracy against chance with a Wilson 95% interval and an exact two-sided binomial
test; Holm's step-down correction over a family of tests; d′ for yes/no (single
excerpt) designs, where listeners are biased; and a bootstrap that resamples
participants, since responses cluster within participants.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there is no data."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p(successes: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test: the probability, under ``p``, of every outcome
    no likelier than the one observed (the rule R's ``binom.test`` uses)."""
    if n == 0:
        return 1.0
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    observed = pmf[successes]
    total = sum(q for q in pmf if q <= observed * (1 + 1e-7))
    return min(1.0, total)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input's order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class DPrime:
    d_prime: float
    criterion: float  # c > 0: a bias towards answering "machine"
    hit_rate: float
    false_alarm_rate: float


def d_prime(hits: int, signals: int, false_alarms: int, noises: int) -> DPrime:
    """d′ = z(H) − z(F) with the log-linear correction (Hautus 1995): 0.5 added to each
    count and 1 to each total, so that rates of 0 or 1 stay finite.

    Here the signal is a Bach excerpt and "yes" is the answer "human": a hit calls
    Bach human, a false alarm calls a machine excerpt human.
    """
    h = (hits + 0.5) / (signals + 1)
    f = (false_alarms + 0.5) / (noises + 1)
    z = NormalDist().inv_cdf
    return DPrime(z(h) - z(f), -(z(h) + z(f)) / 2, h, f)


def cluster_bootstrap(clusters: Sequence[Sequence[bool]], reps: int = 2000, seed: int = 0,
                      statistic: Callable[[list[bool]], float] | None = None,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``statistic`` (default: the pooled proportion correct)
    when whole participants, not single responses, are drawn with replacement."""
    clusters = [list(c) for c in clusters if len(c)]
    if not clusters:
        return 0.0, 1.0
    statistic = statistic or (lambda xs: sum(xs) / len(xs))
    rng = random.Random(seed)
    values = []
    for _ in range(reps):
        drawn: list[bool] = []
        for _ in clusters:
            drawn.extend(clusters[rng.randrange(len(clusters))])
        values.append(statistic(drawn))
    values.sort()
    tail = (1 - level) / 2
    low = values[int(math.floor(tail * (reps - 1)))]
    high = values[int(math.ceil((1 - tail) * (reps - 1)))]
    return low, high
