"""Robust, look-ahead-free baselines: smoothing, robust z, states, trend and change points.

Pure numpy functions over daily arrays (index ``t`` = day; ``NaN`` = no data that day).
Nothing here knows about dates, sources or indicators, so every rule is unit-tested on
synthetic series.

Notation: ``x_t`` the daily signal, ``S`` the smoothing window (days), ``W`` the baseline
window (days), ``s_t`` the smoothed signal, ``u_t`` the signal's *count unit* (the
value·days one counted item adds: 1 for an event, ``1000/n_t`` for one matching headline
among ``n_t`` items, 1 for a count spread evenly over its period).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: 1.4826 · MAD estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826
#: CUSUM allowance k and decision interval h, in units of the standardised innovation:
#: the textbook (k, h) = (0.5, 5) pair, ARL₀ ≈ 465 days for independent N(0, 1) input.
CUSUM_K = 0.5
CUSUM_H = 5.0
#: Innovations are winsorised at ±CLIP so one outlying day cannot raise an alarm alone
#: (a spike is not a change of level): it takes ≥ 2 unusual days to cross h.
CUSUM_CLIP = 3.0
#: Slopes smaller than this many z over the trend window are reported as flat.
FLAT_Z = 0.5


def smooth(x: np.ndarray, days: int) -> np.ndarray:
    r"""Trailing mean over ``days`` days, ignoring missing days.

    .. math:: s_t = \frac{1}{|A_t|}\sum_{u \in A_t} x_u, \quad
              A_t = \{u \in [t-S+1, t] : x_u \text{ observed}\}

    ``s_t`` is NaN when fewer than ``ceil(S/2)`` days of the window are observed, so a
    feed outage does not turn one lonely day into a week's worth of signal.
    """
    x = np.asarray(x, dtype=float)
    if days <= 1:
        return x.copy()
    pad = np.concatenate([np.full(days - 1, np.nan), x])
    win = sliding_window_view(pad, days)
    n = np.sum(~np.isnan(win), axis=1)
    total = np.nansum(win, axis=1)
    out = np.full(x.shape, np.nan)
    ok = n >= math.ceil(days / 2)
    out[ok] = total[ok] / n[ok]
    return out


@dataclass(frozen=True)
class Baseline:
    """Baseline statistics for the assessed days ``t`` (arrays aligned with ``days``)."""

    days: np.ndarray  #: indices t of the assessed days
    median: np.ndarray  #: m_t
    scale: np.ndarray  #: 1.4826 · MAD_t
    mean: np.ndarray  #: mean of the window (for the Poisson floor)
    n: np.ndarray  #: observed days in the window


def baseline(s: np.ndarray, days: np.ndarray, window: int, gap: int) -> Baseline:
    r"""Median and MAD of ``s`` over the trailing window of each assessed day.

    .. math:: B_t = \{ s_u : t - W \le u < t - G,\ s_u \text{ observed} \},\quad
              m_t = \operatorname{median} B_t,\quad
              \sigma_t = 1.4826\,\operatorname{median}_{u}|s_u - m_t|

    The gap ``G`` (≥ the smoothing window) keeps the days being assessed — and every day
    whose smoothed value shares data with them — out of their own baseline, and the window
    only looks back, so no statistic ever uses a day after ``t``.
    """
    s = np.asarray(s, dtype=float)
    days = np.asarray(days, dtype=int)
    span = window - gap
    if span <= 0:
        raise ValueError(f"baseline window {window} must exceed the gap {gap}")
    pad = np.concatenate([np.full(window, np.nan), s])
    # the window for t is pad[t : t + span] (pad offset = window, start = t - window)
    rows = sliding_window_view(pad, span)[days]
    n = np.sum(~np.isnan(rows), axis=1)
    median = _nan_median(rows, n)
    scale = MAD_SCALE * _nan_median(np.abs(rows - median[:, None]), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(rows, axis=1) / np.maximum(n, 1), np.nan)
    return Baseline(days, median, scale, mean, n)


def _nan_median(rows: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN (sorted last), vectorised; NaN for empty rows."""
    ordered = np.sort(rows, axis=1)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(n // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def poisson_floor(mean: np.ndarray, unit: np.ndarray, s_eff: float) -> np.ndarray:
    r"""Smallest credible spread of a smoothed count signal: its Poisson noise.

    A smoothed value is :math:`s = u\,C/S` with ``C`` the items counted in the ``S``-day
    window. If items arrive as a Poisson process at the baseline mean rate ``μ``,
    :math:`C \sim \mathrm{Poisson}(\Lambda)` with :math:`\Lambda = \mu S / u`, so

    .. math:: \sigma_{\min} = \frac{u}{S}\sqrt{\max(\Lambda, 1)}

    The ``max(Λ, 1)`` keeps a flat zero baseline finite: one extra item in the window then
    scores z = 1, two score 2 (elevated with the default thresholds), four score 4 (high).
    """
    mean = np.abs(np.asarray(mean, dtype=float))
    unit = np.asarray(unit, dtype=float)
    lam = np.where(unit > 0, mean * s_eff / np.where(unit > 0, unit, 1.0), 0.0)
    return unit / s_eff * np.sqrt(np.maximum(lam, 1.0))


def robust_z(value: np.ndarray, base: Baseline, floor: np.ndarray, min_days: int) -> np.ndarray:
    r"""Robust z-score :math:`z_t = (s_t - m_t) / \max(\sigma_t, \sigma_{\min,t})`.

    With a zero spread a rise is ``+inf`` and no change 0 (for :func:`closer_to_zero`).
    NaN where the value is missing or the window holds fewer than ``min_days`` observed
    days (*insufficient history* — not "normal").
    """
    value = np.asarray(value, dtype=float)
    spread = np.fmax(base.scale, floor)
    diff = value - base.median
    with np.errstate(invalid="ignore", divide="ignore"):
        flat = np.where(diff > 0, np.inf, np.where(diff < 0, -np.inf, 0.0))
        z = np.where(spread > 0, diff / np.where(spread > 0, spread, 1.0), flat)
    z[(base.n < min_days) | np.isnan(diff)] = np.nan
    return z


def window_sums(values: np.ndarray, days: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Sums of ``values`` (NaN as 0) over ``[t - lo, t - hi)`` for each ``t`` in ``days``."""
    cs = np.concatenate([[0.0], np.cumsum(np.nan_to_num(np.asarray(values, dtype=float)))])
    days = np.asarray(days, dtype=int)
    a = np.clip(days - lo, 0, len(values))
    b = np.clip(days - hi, 0, len(values))
    return cs[b] - cs[np.maximum(a, 0)]


def count_z(c_win: np.ndarray, e_win: np.ndarray, c_base: np.ndarray, e_base: np.ndarray):
    r"""z of a window's count under the gamma–Poisson predictive of its baseline.

    The baseline saw :math:`C_b` items in exposure :math:`E_b` (days, or thousands of feed
    items); with Jeffreys' prior the rate is :math:`\mathrm{Gamma}(C_b + \tfrac12, E_b)`
    and the count in a window of exposure :math:`E_w` is negative binomial,

    .. math:: X \sim \mathrm{NB}\!\left(r = C_b + \tfrac12,\;
              p = \frac{E_b}{E_b + E_w}\right),\qquad
              z = \Phi^{-1}\!\left(P(X < C) + \tfrac12 P(X = C)\right)

    (mid-p; a fractional, weighted count is interpolated between its neighbours). This
    is the exact Poisson noise of the baseline mean, valid for the small counts where the
    normal approximation fails: after a year with no item, one item in a week scores
    z ≈ 2.5, none scores ≈ 0; it saturates at ±:data:`Z_MAX`.
    """
    c_win, e_win = np.asarray(c_win, dtype=float), np.asarray(e_win, dtype=float)
    c_base, e_base = np.asarray(c_base, dtype=float), np.asarray(e_base, dtype=float)
    out = np.full(c_win.shape, np.nan)
    for i in range(len(out)):
        if e_win[i] > 0 and e_base[i] > 0 and c_win[i] >= 0 and c_base[i] >= 0:
            out[i] = _nb_mid_z(c_win[i], e_win[i], c_base[i], e_base[i])
    return out


Z_MAX = float(NormalDist().inv_cdf(1 - 1e-12))
_EXACT_UP_TO = 400


def _nb_mid_z(c: float, e_w: float, c_b: float, e_b: float) -> float:
    r = c_b + 0.5
    p = e_b / (e_b + e_w)
    mean = r * (1 - p) / p
    k_hi = math.ceil(c)
    if k_hi > _EXACT_UP_TO:  # large counts: the normal approximation of the NB is fine
        z = (c - mean) / math.sqrt(mean / p)
        return float(np.clip(z, -Z_MAX, Z_MAX))
    ks = np.arange(k_hi + 1, dtype=float)
    steps = np.log((ks[:-1] + r) / (ks[:-1] + 1)) + math.log1p(-p)
    logpmf = r * math.log(p) + np.concatenate([[0.0], np.cumsum(steps)])
    pmf = np.exp(logpmf)
    below = np.concatenate([[0.0], np.cumsum(pmf)[:-1]])
    mid = below + 0.5 * pmf  # mid-p F at k = 0..k_hi
    k_lo = math.floor(c)
    f = mid[k_lo] + (c - k_lo) * (mid[k_hi] - mid[k_lo])
    return float(np.clip(NormalDist().inv_cdf(min(max(f, 1e-12), 1 - 1e-12)), -Z_MAX, Z_MAX))


def scan_adjust(z: np.ndarray, tests: int) -> np.ndarray:
    r"""Bonferroni adjustment of a z found by scanning ``tests`` windows (upper tail).

    .. math:: z' = \Phi^{-1}\left(1 - \min\left(1,\ m\,(1 - \Phi(z))\right)\right)

    A longer window counts only when it is more unusual after paying for the extra looks;
    z ≤ 0 (nothing unusual upwards) is returned as NaN.
    """
    nd = NormalDist()
    out = np.full(np.shape(z), np.nan)
    for i, value in enumerate(np.asarray(z, dtype=float)):
        if np.isfinite(value) and value > 0:
            p = min(1.0, tests * (1.0 - nd.cdf(value)))
            out[i] = nd.inv_cdf(min(max(1.0 - p, 1e-12), 1 - 1e-12)) if p < 1 else -Z_MAX
    return out


def closer_to_zero(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise the less extreme of two z-scores (NaN if either is NaN)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.where(np.abs(a) <= np.abs(b), a, b)
    out[np.isnan(a) | np.isnan(b)] = np.nan
    return out


def state(z: float, elevated: float, high: float) -> str:
    """``high`` (z ≥ high), ``elevated`` (z ≥ elevated), ``normal``, or ``insufficient`` (NaN)."""
    if z is None or not np.isfinite(z):
        return "insufficient"
    if z >= high:
        return "high"
    if z >= elevated:
        return "elevated"
    return "normal"


def theil_sen(y: np.ndarray, min_points: int = 5) -> float:
    r"""Theil–Sen slope per step: :math:`\operatorname{median}_{i<j} (y_j - y_i)/(j - i)`.

    Robust to a single outlying day (breakdown point 29 %); missing points are skipped;
    NaN with fewer than ``min_points`` observed points.
    """
    y = np.asarray(y, dtype=float)
    idx = np.flatnonzero(~np.isnan(y))
    if len(idx) < min_points:
        return float("nan")
    i, j = np.triu_indices(len(idx), k=1)
    slopes = (y[idx[j]] - y[idx[i]]) / (idx[j] - idx[i])
    return float(np.median(slopes))


def trend_direction(slope: float, days: int) -> str:
    """``rising``/``falling`` if the slope moves the score ≥ FLAT_Z in ``days``, else ``flat``."""
    if not np.isfinite(slope):
        return "unknown"
    if abs(slope) * days < FLAT_Z:
        return "flat"
    return "rising" if slope > 0 else "falling"


def innovations(
    x: np.ndarray, base: Baseline, floor: np.ndarray, s_eff: float, block: int = 1
) -> np.ndarray:
    r"""Standardised per-block innovations for CUSUM (aligned with ``base.days``).

    The smoothed z is autocorrelated (neighbouring days share ``S - 1`` days of data), which
    would make CUSUM alarm on noise. Blocks of ``B`` days (1 for daily evidence, the period
    length for a monthly series, whose days repeat one value) are close to independent:

    .. math:: e_b = \frac{\bar x_b - m_b}{\max(\sigma_b, \sigma_{\min,b})\sqrt{S_{\mathrm{eff}}/B}}

    (the spread of an ``S``-day mean, scaled back to a ``B``-day mean). A block is
    represented by its last day; other days are NaN.
    """
    x = np.asarray(x, dtype=float)
    days = base.days
    spread = np.fmax(base.scale, floor) * math.sqrt(max(s_eff / block, 1.0))
    e = np.full(len(days), np.nan)
    if block <= 1:
        level = x[days]
    else:
        level = smooth(x, block)[days]
        keep = (days - days[-1]) % block == 0
        level = np.where(keep, level, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = (level - base.median) / spread
    return e


def cusum(e: np.ndarray, k: float = CUSUM_K, h: float = CUSUM_H) -> list[tuple[int, int, int]]:
    r"""Two-sided CUSUM change points on standardised innovations (NaN days are skipped).

    .. math:: S^+_t = \max(0, S^+_{t-1} + \tilde e_t - k),\quad
              S^-_t = \max(0, S^-_{t-1} - \tilde e_t - k),\quad
              \tilde e_t = \operatorname{clip}(e_t, \pm 3)

    An alarm is raised when :math:`S^\pm_t > h`; the change point (onset) is the first day
    after the sum last stood at zero. A sustained shift is one change: after an alarm the
    side's sum is held at ``h`` and the side re-arms only once it has come back to zero
    (the trailing baseline adapts slowly, so restarting the sum would report the same
    shift again and again; holding it at ``h`` lets ~h/k quiet days end the episode).

    Returns
    -------
    list of (onset, alarm, sign)
        Indices into ``e``; ``sign`` is +1 for a rise and -1 for a fall.
    """
    out: list[tuple[int, int, int]] = []
    sums = {1: 0.0, -1: 0.0}
    start = {1: 0, -1: 0}
    armed = {1: True, -1: True}
    for t, value in enumerate(np.asarray(e, dtype=float)):
        if not np.isfinite(value):
            continue
        v = min(max(value, -CUSUM_CLIP), CUSUM_CLIP)
        for sign in (1, -1):
            if sums[sign] == 0.0:
                start[sign], armed[sign] = t, True
            sums[sign] = max(0.0, sums[sign] + sign * v - k)
            if not armed[sign]:  # reported: hold at h, so ~h/k quiet days re-arm it
                sums[sign] = min(sums[sign], h)
            elif sums[sign] > h:
                out.append((start[sign], t, sign))
                armed[sign] = False
    return out


def last_change_point(e: np.ndarray, within: int) -> tuple[int, int] | None:
    """The most recent CUSUM onset among the last ``within`` entries: ``(onset, sign)``."""
    points = [(onset, sign) for onset, _alarm, sign in cusum(e) if onset >= len(e) - within]
    return points[-1] if points else None
