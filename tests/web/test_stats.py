"""The listening-test statistics against values worked out by hand."""

import math

import pytest

from cadenza.web.stats import Z95, binomial_p, cluster_bootstrap, d_prime, holm, wilson


def test_wilson_seven_of_ten():
    # p = .7, z^2 = 3.8415: centre (.7 + .19207) / 1.38415 = .64449,
    # half 1.96 * sqrt(.021 + .0096037) / 1.38415 = .24772
    low, high = wilson(7, 10)
    assert low == pytest.approx(0.39678, abs=1e-5)
    assert high == pytest.approx(0.89221, abs=1e-5)


def test_wilson_edges():
    # 0 of 10: centre = half = (z^2/20) / (1 + z^2/10) = .19207 / 1.38415 = .13877
    assert wilson(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 1.0)
    assert Z95 == pytest.approx(1.959964, abs=1e-6)


def test_binomial_p_by_counting():
    # 7 of 10: P(X >= 7) = (120 + 45 + 10 + 1) / 1024 = 176/1024; two-sided, symmetric
    assert binomial_p(7, 10) == pytest.approx(352 / 1024)
    # 10 of 10: 2 / 1024
    assert binomial_p(10, 10) == pytest.approx(2 / 1024)
    assert binomial_p(5, 10) == pytest.approx(1.0)
    # 1 of 4 at p = .25 is the likeliest outcome: everything counts
    assert binomial_p(1, 4, 0.25) == pytest.approx(1.0)
    # 3 of 4 at p = .25: P(3) = 4 * .25^3 * .75 = .046875, P(4) = .00390625; P(2) = .2109 > P(3)
    assert binomial_p(3, 4, 0.25) == pytest.approx(0.046875 + 0.00390625)


def test_binomial_p_matches_bachbot_scale():
    # 59% of 759 (the BachBot draft's numbers) is far from chance
    assert binomial_p(448, 759) < 1e-5


def test_holm_step_down():
    # sorted .01 .03 .04 -> 3*.01 = .03, 2*.03 = .06, 1*.04 -> max(.06, .04) = .06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_d_prime_log_linear():
    # H = 30.5/41 = .743902, F = 10.5/41 = .256098 = 1 - H, so z(F) = -z(H);
    # z(H) from the table: Phi(.65) = .742154, phi(.655) = .32197, so
    # z(H) = .65 + (.743902 - .742154) / .32197 = .65543

    result = d_prime(30, 40, 10, 40)
    assert result.hit_rate == pytest.approx(30.5 / 41)
    assert result.d_prime == pytest.approx(2 * 0.65543, abs=1e-4)
    assert result.criterion == pytest.approx(0.0, abs=1e-12)


def test_d_prime_bias_without_sensitivity():
    # Bach called human 75% of the time, machine too: no sensitivity, a liberal bias
    result = d_prime(75, 100, 75, 100)
    assert result.d_prime == pytest.approx(0.0, abs=1e-12)
    assert result.criterion < 0
    assert math.isfinite(d_prime(40, 40, 0, 40).d_prime)


def test_cluster_bootstrap_resamples_participants():
    # every participant perfectly consistent: any resample's mean is a share of
    # whole participants, so the interval is wide; equal participants give a point
    mixed = [[True] * 10, [False] * 10, [True] * 10, [False] * 10]
    low, high = cluster_bootstrap(mixed, reps=500, seed=1)
    assert low <= 0.25 and high >= 0.75
    same = [[True, False]] * 6
    assert cluster_bootstrap(same, reps=200) == pytest.approx((0.5, 0.5))
    assert cluster_bootstrap([], reps=10) == (0.0, 1.0)


def test_rate_limiter_window():
    from cadenza.web.security import RateLimiter

    limiter = RateLimiter(limit=2, window=0.2)
    assert limiter.allow("x") and limiter.allow("x") and not limiter.allow("x")
    assert limiter.allow("y")  # keys are counted apart
    import time

    time.sleep(0.25)
    assert limiter.allow("x")
