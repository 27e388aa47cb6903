"""Set comparison: overlapping area and KL behave as distributions should."""

import numpy as np
import pytest

from cadenza.evaluate.distances import (
    compare_feature,
    compare_sets,
    inter_distances,
    intra_distances,
    kde,
    kl_divergence,
    mean_overlap,
    overlapping_area,
)


def test_kde_integrates_to_one():
    x = np.random.default_rng(0).normal(size=200)
    grid = np.linspace(-8, 8, 2000)
    assert np.trapezoid(kde(x, grid), grid) == pytest.approx(1.0, abs=1e-3)


def test_overlap_of_a_set_with_itself_is_one_and_falls_when_shifted():
    x = np.random.default_rng(1).normal(size=100)
    assert overlapping_area(x, x) == pytest.approx(1.0, abs=1e-6)
    shifted = [overlapping_area(x, x + d) for d in (0.5, 1.0, 2.0, 6.0)]
    assert all(a > b for a, b in zip(shifted, shifted[1:]))
    assert shifted[-1] < 0.05


def test_kl_is_zero_for_identical_sets_and_grows_with_shift():
    x = np.random.default_rng(2).normal(size=100)
    assert kl_divergence(x, x) == pytest.approx(0.0, abs=1e-9)
    assert 0 < kl_divergence(x, x + 0.5) < kl_divergence(x, x + 1.5)


def test_distances():
    assert sorted(intra_distances(np.array([0.0, 1.0, 3.0]))) == [1.0, 2.0, 3.0]
    assert sorted(inter_distances(np.array([0.0]), np.array([1.0, -2.0]))) == [1.0, 2.0]


def test_constant_features_do_not_break():
    same = compare_feature(np.full(10, 4.0), np.full(10, 4.0))
    assert same["overlapping_area"] == pytest.approx(1.0, abs=1e-3)
    apart = compare_feature(np.full(10, 4.0), np.full(10, 5.0))
    assert apart["overlapping_area"] < 0.01


def test_compare_sets_table():
    rng = np.random.default_rng(3)
    real = [{"a": v, "b": 2 * v} for v in rng.normal(size=50)]
    generated = [{"a": v, "b": 2 * v + 10} for v in rng.normal(size=50)]
    table = compare_sets(generated, real)
    assert set(table) == {"a", "b"}
    assert table["a"]["overlapping_area"] > 0.7
    assert table["b"]["overlapping_area"] < 0.05
    assert mean_overlap(table) == pytest.approx(
        (table["a"]["overlapping_area"] + table["b"]["overlapping_area"]) / 2
    )
