"""Robust baselines on synthetic series: step, spike, flat zero, missing days, counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vigil.indicators import baseline as bl

W, G, MIN = 365, 7, 56


def poisson(lam: float, n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).poisson(lam, n).astype(float)


def zs(x: np.ndarray, days: np.ndarray, smoothing: int = 7, min_days: int = MIN) -> np.ndarray:
    s = bl.smooth(x, smoothing)
    base = bl.baseline(s, days, W, smoothing)
    floor = bl.poisson_floor(base.mean, np.ones(len(days)), smoothing)
    return bl.robust_z(s[days], base, floor, min_days)


# ---------------------------------------------------------------- smoothing and window
def test_smooth_is_a_trailing_mean_that_skips_missing_days():
    x = np.array([1.0, 2, 3, np.nan, 5, np.nan, np.nan, np.nan])
    s = bl.smooth(x, 3)
    assert s[2] == pytest.approx(2.0)  # (1 + 2 + 3) / 3
    assert s[4] == pytest.approx(4.0)  # (3 + 5) / 2: the missing day is skipped, not zero
    assert np.isnan(s[7])  # nothing observed in days 5..7
    # a window with fewer than ceil(S/2) observed days is missing
    assert np.isnan(s[0]) and s[1] == pytest.approx(1.5)
    assert np.isnan(bl.smooth(np.array([np.nan, np.nan, 4.0, np.nan, np.nan]), 4)[4])


def test_baseline_window_excludes_the_assessed_days_and_never_looks_ahead():
    s = np.arange(500, dtype=float)
    t = 450
    base = bl.baseline(s, np.array([t]), window=100, gap=10)
    # window [t-100, t-10) = values 350..439
    assert base.n[0] == 90
    assert base.median[0] == pytest.approx(np.median(np.arange(350, 440)))
    # changing the assessed day, the gap, or the future leaves the baseline unchanged
    changed = s.copy()
    changed[t - 9 :] = 1e6
    same = bl.baseline(changed, np.array([t]), window=100, gap=10)
    assert same.median[0] == base.median[0] and same.scale[0] == base.scale[0]
    # ... while a change inside the window moves it (the test can fail)
    changed[t - 11] = -1e6
    changed[t - 12] = -1e6
    changed[t - 13] = -1e6
    assert bl.baseline(changed, np.array([t]), 100, 10).median[0] < base.median[0]


def test_mad_scale_estimates_the_standard_deviation():
    x = np.random.default_rng(1).normal(10, 3, 2000)
    base = bl.baseline(x, np.array([1999]), window=1900, gap=1)
    assert base.scale[0] == pytest.approx(3.0, rel=0.1)


# ---------------------------------------------------------------- synthetic episodes
def test_step_change_is_high_and_its_change_point_is_found():
    x = np.concatenate([poisson(5, 400), poisson(15, 60, seed=3)])
    days = np.arange(400, 460)
    z = zs(x, days)
    assert z[:1].item() < 2  # the first day after the step: one day in seven is new
    assert bl.state(z[10], 2, 4) == "high"  # ten days into the new level
    s = bl.smooth(x, 7)
    base = bl.baseline(s, days, W, G)
    floor = bl.poisson_floor(base.mean, np.ones(len(days)), 7)
    e = bl.innovations(x, base, floor, 7)
    points = bl.cusum(e)
    assert len(points) == 1 and points[0][2] == 1  # one shift, one change point
    assert abs(days[points[0][0]] - 400) <= 3  # onset within three days of the step
    assert bl.last_change_point(e, within=30) is None  # the step is > 30 entries back
    assert bl.last_change_point(e, within=60) == (points[0][0], 1)


def test_cusum_re_arms_after_the_level_returns():
    e = np.concatenate([np.zeros(10), np.full(10, 3.0), np.zeros(30), np.full(10, 3.0)])
    onsets = [(onset, sign) for onset, _alarm, sign in bl.cusum(e)]
    assert onsets == [(10, 1), (50, 1)]
    down = [sign for _o, _a, sign in bl.cusum(-e)]
    assert down == [-1, -1]


def test_a_single_spike_raises_z_but_is_not_a_change_point():
    x = poisson(5, 460)
    x[440] = 60
    days = np.arange(400, 460)
    z = zs(x, days)
    assert z[40] >= 4  # the smoothed week containing the spike is high
    assert z[59] < 2  # and back to normal once it has left the window
    s = bl.smooth(x, 7)
    base = bl.baseline(s, days, W, G)
    e = bl.innovations(x, base, bl.poisson_floor(base.mean, np.ones(60), 7), 7)
    assert e[40] > bl.CUSUM_CLIP  # the raw innovation is extreme ...
    assert bl.cusum(e) == []  # ... but one day alone cannot cross h


def test_no_change_point_in_stationary_noise():
    x = poisson(5, 460, seed=11)
    days = np.arange(400, 460)
    s = bl.smooth(x, 7)
    base = bl.baseline(s, days, W, G)
    e = bl.innovations(x, base, bl.poisson_floor(base.mean, np.ones(60), 7), 7)
    assert bl.cusum(e) == []


def test_flat_zero_baseline_gives_finite_z():
    x = np.zeros(400)
    x[399] = 1.0  # one event on the last day
    days = np.array([399])
    z = zs(x, days)
    assert np.isfinite(z[0])
    assert z[0] == pytest.approx(1.0)  # the Poisson floor: one item per window = one z
    assert zs(np.zeros(400), days)[0] == 0.0
    # the count model: one item in a week after a year of none is unusual but not "high"
    zc = bl.count_z([1.0], [7.0], [0.0], [358.0])[0]
    assert 2.0 < zc < 3.0
    assert abs(bl.count_z([0.0], [7.0], [0.0], [358.0])[0]) < 0.05
    # robust z without a floor is infinite here, and the count z bounds it
    base = bl.baseline(bl.smooth(x, 7), days, W, G)
    raw = bl.robust_z(bl.smooth(x, 7)[days], base, 0.0, MIN)
    assert raw[0] == np.inf
    assert bl.closer_to_zero(raw, [zc])[0] == zc


def test_missing_days_make_history_insufficient_not_normal():
    x = poisson(5, 400)
    x[: 400 - 40] = np.nan  # only 40 observed days, fewer than min_days
    days = np.array([399])
    z = zs(x, days)
    assert np.isnan(z[0])
    assert bl.state(z[0], 2, 4) == "insufficient"
    # with min_days 20 the same series is assessable
    assert np.isfinite(zs(x, days, min_days=20)[0])


def test_missing_days_are_skipped_not_counted_as_zero():
    x = poisson(5, 460)
    holes = x.copy()
    holes[np.arange(0, 400, 3)] = np.nan  # every third day missing
    days = np.arange(440, 460)
    zeros = np.nan_to_num(holes)
    base_full = bl.baseline(bl.smooth(x, 7), days, W, G)
    base_holes = bl.baseline(bl.smooth(holes, 7), days, W, G)
    base_zeros = bl.baseline(bl.smooth(zeros, 7), days, W, G)
    assert base_holes.median[-1] == pytest.approx(base_full.median[-1], rel=0.1)
    assert base_zeros.median[-1] < 0.8 * base_full.median[-1]  # what counting them would do


# ---------------------------------------------------------------- count model
def nb_mid_p(c: int, e_w: float, c_b: float, e_b: float) -> float:
    """Independent mid-p of the gamma-Poisson predictive, by direct summation."""
    r, p = c_b + 0.5, e_b / (e_b + e_w)

    def pmf(k: int) -> float:
        log = math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1)
        return math.exp(log + r * math.log(p) + k * math.log(1 - p))

    return sum(pmf(k) for k in range(c)) + 0.5 * pmf(c)


@pytest.mark.parametrize(("c", "c_b"), [(0, 0), (1, 0), (3, 2), (10, 400), (25, 600)])
def test_count_z_is_the_negative_binomial_mid_p(c, c_b):
    from statistics import NormalDist

    expected = NormalDist().inv_cdf(nb_mid_p(c, 7.0, c_b, 300.0))
    assert bl.count_z([c], [7.0], [c_b], [300.0])[0] == pytest.approx(expected, abs=1e-9)


def test_count_z_interpolates_weighted_counts_and_saturates():
    lo, mid, hi = bl.count_z([1.0, 1.5, 2.0], [7.0] * 3, [3.0] * 3, [300.0] * 3)
    assert lo < mid < hi
    assert bl.count_z([5000.0], [7.0], [0.0], [300.0])[0] == bl.Z_MAX
    assert np.isnan(bl.count_z([1.0], [0.0], [1.0], [10.0])[0])  # no exposure: no z


def test_poisson_floor_formula():
    # mean 2/day over a 7-day window: Λ = 14, σ = sqrt(14)/7
    assert bl.poisson_floor(np.array([2.0]), np.array([1.0]), 7)[0] == pytest.approx(
        math.sqrt(14) / 7
    )
    # empty baseline: one item per window, u/S
    assert bl.poisson_floor(np.array([0.0]), np.array([10.0]), 7)[0] == pytest.approx(10 / 7)


def test_scan_adjust_pays_for_the_extra_windows():
    z = np.array([1.0, 3.0, 5.0, -1.0])
    adj = bl.scan_adjust(z, 3)
    assert adj[1] < 3.0 and adj[2] < 5.0
    from statistics import NormalDist

    nd = NormalDist()
    assert adj[1] == pytest.approx(nd.inv_cdf(1 - 3 * (1 - nd.cdf(3.0))))
    assert np.isnan(adj[3])


# ---------------------------------------------------------------- trend and state
def test_theil_sen_slope_and_direction():
    y = 0.5 * np.arange(14) + 3
    assert bl.theil_sen(y) == pytest.approx(0.5)
    y[5] = 100  # one outlier does not move the median slope
    assert bl.theil_sen(y) == pytest.approx(0.5)
    assert bl.trend_direction(0.5, 14) == "rising"
    assert bl.trend_direction(-0.5, 14) == "falling"
    assert bl.trend_direction(0.01, 14) == "flat"
    assert np.isnan(bl.theil_sen(np.array([1.0, np.nan, np.nan])))
    assert bl.trend_direction(float("nan"), 14) == "unknown"


@pytest.mark.parametrize(
    ("z", "expected"),
    [(0.0, "normal"), (1.99, "normal"), (2.0, "elevated"), (4.0, "high"), (np.nan, "insufficient")],
)
def test_state_thresholds(z, expected):
    assert bl.state(z, 2.0, 4.0) == expected
