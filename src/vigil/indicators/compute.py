r"""Indicator values as of a date: states, scores, trends and change points, with evidence.

For one indicator and as-of date ``D`` (records with ``available_at < D + 1 day`` only):

1. :func:`vigil.indicators.series.daily_evidence` gives one daily series per evidence kind
   (``events``, ``text``, ``series:<name>``).
2. Each kind ``k`` is smoothed over :math:`S_k = \max(S, P_k)` days (``S`` the spec's
   ``smoothing_days``, :math:`P_k` the period length: 1 for daily kinds, ~30 for a
   monthly series) and standardised against its own trailing baseline
   (:mod:`vigil.indicators.baseline`) at its latest observed day :math:`t_k \le D`:
   :math:`z_k = (s_{t_k} - m) / \max(\sigma, \sigma_{\min})`. For counts (events,
   matched text, count series) the floor is the exact gamma–Poisson noise of the
   baseline: :math:`z_k` is the less extreme of the robust z and the count-model z
   (:func:`~vigil.indicators.baseline.count_z`), so a flat zero baseline gives a finite,
   calibrated z. A lagging kind (Frontex publishes ~6 weeks after the month) keeps its
   latest z until it is :data:`STALE_DAYS` + :math:`P_k` days old, then drops out.

   **Scan.** A build-up reported sparsely over two weeks is invisible in any single
   week. The same z is also computed for windows of :math:`2S_k` and :math:`4S_k` days
   (each against the baseline before its own window) and Bonferroni-adjusted for the
   three looks (:func:`~vigil.indicators.baseline.scan_adjust`); the kind's z is the
   largest of the primary and the adjusted longer ones (``KindStat.window_days`` says
   which).
3. The indicator's score is the **maximum** over the kinds with a value:

   .. math:: z_D = \max_k z_k

   Kinds are separate windows on the same development with different lags and blind
   spots (a monthly series is weeks late, an event dataset covers some years and places,
   news covers what its feeds cover). An escalation usually shows in one window first;
   a (weighted) mean would let a blind or late window cancel a live one. The price is a
   higher false-alarm rate with more kinds (≈ k times one kind's), which the per-indicator
   thresholds absorb; the ``latest`` field shows which kind drives the score. Rule
   weights act inside a kind (events matching rules of different weight); a kind's
   overall scale cancels in its z.
4. State from the score and the thresholds (``insufficient`` when no kind has enough
   history); trend = Theil–Sen slope of the daily score over :data:`TREND_DAYS` days;
   change point = the most recent CUSUM onset, over all kinds, in the last
   :data:`CHANGE_DAYS` days.

The daily score series is "as known on D": each day's value uses the records available
by D, never later ones (:func:`indicator_history` recomputes it for every date).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from vigil.indicators import baseline as B  # noqa: N812
from vigil.indicators import series as S  # noqa: N812
from vigil.indicators.arrays import EvidenceArrays, Totals
from vigil.indicators.evidence import EvidenceItem, evidence_batch
from vigil.theatre import Indicator, TheatreSpec

STALE_DAYS = 100  #: a kind older than this (+ its period) no longer counts
ASSESS_DAYS = 60  #: days of z computed per kind (change points, trend, plots)
TREND_DAYS = 14
CHANGE_DAYS = 30
#: scan windows, in multiples of the smoothing window
SCAN = (1, 2, 4)


@dataclass(frozen=True)
class Trend:
    """Theil–Sen slope of the daily score (z per day) and its reading."""

    slope: float | None
    direction: str  #: rising, falling, flat or unknown
    days: int = TREND_DAYS


@dataclass(frozen=True)
class KindStat:
    """One evidence kind at its latest observed day (``day`` ≤ the as-of date)."""

    kind: str
    day: dt.date | None
    value: float | None  #: raw daily value that day
    smoothed: float | None
    median: float | None  #: baseline median
    spread: float | None  #: 1.4826·MAD of the baseline
    z: float | None
    state: str  #: normal, elevated, high, insufficient (history), stale (too old to count)
    baseline_days: int  #: observed days in the baseline window
    stale: bool
    z_count: float | None = None  #: count-model z (count kinds), see baseline.count_z
    window_days: int | None = None  #: length of the window that gave ``z`` (scan)


@dataclass(frozen=True)
class IndicatorValue:
    """An indicator as of a date, with the evidence and daily series behind it."""

    id: str
    name: str
    group: str
    direction: str
    as_of: dt.date
    state: str
    score: float | None
    trend: Trend
    change_point: dt.date | None
    latest: dict[str, KindStat]
    evidence: list[EvidenceItem]
    series: pd.DataFrame = field(repr=False, compare=False)  #: daily raw/smoothed/z, score
    weekly: pd.DataFrame = field(repr=False, compare=False)  #: 7-day sums of the raw kinds
    change_direction: str | None = None  #: rise or fall, with change_point


def lookback(ind: Indicator) -> int:
    """Days of evidence needed before ``as_of``: baseline, gap, assessment, staleness."""
    b = ind.baseline
    return b.window_days + ASSESS_DAYS + STALE_DAYS + 2 * b.smoothing_days + 2 * 31


def compute_indicators(
    con,
    theatre: TheatreSpec,
    as_of: dt.date,
    *,
    evidence_limit: int = 20,
    arrays: dict[str, EvidenceArrays] | None = None,
) -> list[IndicatorValue]:
    """Every indicator of ``theatre`` as of ``as_of`` (records available by its end).

    Reads ``events``, ``observations``, ``text_matches`` (filled by
    :func:`vigil.text.match.match_documents`) and, for rules with ``near_borders``, the
    table ``event_border_km`` (:func:`vigil.geo.refresh_border_distances`; a
    :class:`~vigil.errors.VigilError` says so when a border was never measured). Each
    value carries up to ``evidence_limit`` evidence items
    (:func:`~vigil.indicators.evidence.evidence_for`).
    ``arrays``: every indicator's evidence already loaded up to ``as_of`` from at least
    :func:`lookback` days before it (a :class:`~vigil.indicators.readings.Reader`'s), so a
    caller that also reads the indicators loads the store once.
    """
    if arrays is None:
        start = as_of - dt.timedelta(days=max(lookback(i) for i in theatre.indicators))
        vintages = load_vintages(con, theatre.theatre.id, theatre.indicators, start, as_of)
        arrays = as_arrays(vintages)
    values = [evaluate(ind, arrays[ind.id], as_of) for ind in theatre.indicators]
    # Evidence is taken from the window before the latest day the score rests on, so a
    # value carried from a kind whose data ended earlier still shows what produced it.
    # An earlier anchor only narrows what is visible: no look-ahead.
    anchors: dict[dt.date, list[Indicator]] = {}
    for ind, value in zip(theatre.indicators, values, strict=True):
        anchors.setdefault(_anchor(ind, value, as_of), []).append(ind)
    items: dict[str, list[EvidenceItem]] = {}
    for day, inds in anchors.items():
        items |= evidence_batch(con, theatre.theatre.id, tuple(inds), day, evidence_limit)
    return [replace(v, evidence=items[v.id]) for v in values]


def _anchor(ind: Indicator, value: IndicatorValue, as_of: dt.date) -> dt.date:
    """``as_of``, or the latest observed day of the live kinds when the evidence window
    before ``as_of`` (``smoothing_days``) would no longer reach it."""
    days = [k.day for k in value.latest.values() if k.day is not None and not k.stale]
    if not days or max(days) >= as_of - dt.timedelta(days=ind.baseline.smoothing_days):
        return as_of
    return max(days)


def indicator_history(
    con,
    theatre: TheatreSpec,
    indicator_id: str,
    start: dt.date,
    end: dt.date,
    step_days: int = 1,
) -> pd.DataFrame:
    """The indicator as of every ``step_days``-th date of ``[start, end]``.

    The evidence is read once (with each record's availability date) and every row uses
    only what was available by its own date, exactly as :func:`compute_indicators` would
    on that date. Columns: ``as_of, score, state, trend, trend_direction, change_point``
    and ``z:<kind>`` per evidence kind.
    """
    ind = theatre.indicator(indicator_id)
    first = start - dt.timedelta(days=lookback(ind))
    vint = as_arrays(load_vintages(con, theatre.theatre.id, (ind,), first, end))[ind.id]
    rows = []
    for as_of in pd.date_range(start, end, freq=f"{step_days}D").date:
        v = evaluate(ind, vint, as_of)
        row = {
            "as_of": as_of, "score": v.score, "state": v.state, "trend": v.trend.slope,
            "trend_direction": v.trend.direction, "change_point": v.change_point,
        }  # fmt: skip
        row.update({f"z:{k}": s.z for k, s in v.latest.items()})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- evidence aggregates
def load_vintages(
    con, theatre: str, indicators: tuple[Indicator, ...], start: dt.date, end: dt.date
) -> dict[str, S.Vintages]:
    """Every indicator's aggregates over ``[start, end]``, visible by ``end`` (one query per
    evidence kind for all indicators)."""
    S.check_border_table(con, indicators)
    ev = tuple(i for i in indicators if i.evidence.events)
    se = tuple(i for i in indicators if i.evidence.series)
    tx = tuple(i.id for i in indicators if i.evidence.text is not None)
    queries = {
        "events": ev and S.Query(S.spec_key("events", ev), lambda: S.events_expr(ev)),
        "coverage": ev and S.Query(S.spec_key("coverage", ev), lambda: S.coverage_expr(ev)),
        "series": se
        and S.Query(S.spec_key("series", se), lambda: S.series_expr(se), *S.PERIOD_COLUMNS),
        "text": tx and S.Query(f"text|{theatre}|{tx}", lambda: S.text_expr(theatre, tx)),
        "totals": tx and S.Query("totals", S.totals_expr),
    }
    frames = {name: fetch_frame(con, q, start, end) for name, q in queries.items() if q}
    if "text" in frames:  # when each match's feed total became known: one join for all
        frames["text"] = S.attach_totals(frames["text"], S.first_totals(frames["totals"]))
    return {ind.id: _vintages(ind, frames) for ind in indicators}


def as_arrays(vintages: dict[str, S.Vintages]) -> dict[str, EvidenceArrays]:
    """Each indicator's vintages as arrays (one shared copy of the feed totals), so that
    the series of many dates are rebuilt without pandas (:mod:`vigil.indicators.arrays`)."""
    totals = next((v.totals for v in vintages.values() if v.totals is not None), None)
    shared = Totals.from_frame(totals) if totals is not None else None
    return {i: EvidenceArrays.from_vintages(v, shared) for i, v in vintages.items()}


def fetch_frame(con, q: S.Query, start: dt.date, end: dt.date) -> pd.DataFrame:
    df = S.fetch(con, q, start, end)
    for col in ("day", "asof", "period_start", "period_end"):
        if col in df:
            df[col] = pd.to_datetime(df[col]).astype("datetime64[ns]")
    return df


def _vintages(ind: Indicator, frames: dict[str, pd.DataFrame]) -> S.Vintages:
    def mine(name: str) -> pd.DataFrame:
        df = frames[name]
        return df[df["indicator"] == ind.id]

    ev = ind.evidence
    series = {}
    if ev.series:
        rows = mine("series")
        series = {S.series_kind(r): rows[rows["kind"] == S.series_kind(r)] for r in ev.series}
    return S.Vintages(
        events=mine("events") if ev.events else None,
        coverage=mine("coverage") if ev.events else None,
        series=series,
        text=mine("text") if ev.text is not None else None,
        totals=frames["totals"] if ev.text is not None else None,
    )


def evaluate(ind: Indicator, vint: S.Vintages | EvidenceArrays, as_of: dt.date) -> IndicatorValue:
    """An indicator's value as of ``as_of`` from its vintages (no evidence items)."""
    arrays = vint if isinstance(vint, EvidenceArrays) else EvidenceArrays.from_vintages(vint)
    daily = S.as_frames(arrays, as_of, as_of - dt.timedelta(days=lookback(ind)))
    index = daily.values.index
    end = len(index) - 1
    frame, latest, changes, zs = {}, {}, [], []
    for kind in daily.values.columns:
        res = _assess_kind(ind, kind, daily, end)
        latest[kind] = res.stat
        frame[kind] = daily.values[kind].to_numpy()
        frame[f"{kind}:smoothed"] = res.smoothed
        frame[f"{kind}:z"] = res.z
        zs.append(res.z)
        changes.extend(res.changes)
    score_series = np.full(len(index), np.nan)
    if zs:
        stacked = np.vstack(zs)
        seen = ~np.isnan(stacked).all(axis=0)
        score_series[seen] = np.nanmax(stacked[:, seen], axis=0)
    frame["score"] = score_series
    score = _num(score_series[-1]) if len(score_series) else None
    th = ind.thresholds
    slope = B.theil_sen(score_series[-TREND_DAYS:])
    recent = [c for c in changes if c[0] >= as_of - dt.timedelta(days=CHANGE_DAYS - 1)]
    change = max(recent) if recent else None
    return IndicatorValue(
        id=ind.id, name=ind.name, group=ind.group, direction=ind.direction, as_of=as_of,
        state=B.state(np.nan if score is None else score, th.elevated, th.high), score=score,
        trend=Trend(_num(slope), B.trend_direction(slope, TREND_DAYS)),
        change_point=change[0] if change else None, latest=latest, evidence=[],
        series=pd.DataFrame(frame, index=index), weekly=S.weekly_sums(daily.values, as_of),
        change_direction=("rise" if change[1] > 0 else "fall") if change else None,
    )  # fmt: skip


@dataclass(frozen=True)
class _KindResult:
    stat: KindStat
    smoothed: np.ndarray
    z: np.ndarray  #: z over the assessed days (NaN elsewhere), carried to the as-of date
    changes: list[tuple[dt.date, int]]


def _assess_kind(ind: Indicator, kind: str, daily: S.DailyEvidence, end: int) -> _KindResult:
    spec = ind.baseline
    x = daily.values[kind].to_numpy(dtype=float)
    unit = daily.units[kind].to_numpy(dtype=float)
    period = daily.periods.get(kind, 1)
    s_eff = max(spec.smoothing_days, period)
    index = daily.values.index
    seen = np.flatnonzero(~np.isnan(x))
    if len(seen) == 0:
        empty = KindStat(kind, None, None, None, None, None, None, "insufficient", 0, True)
        return _KindResult(empty, B.smooth(x, s_eff), np.full(len(x), np.nan), [])
    last = int(seen[-1])
    days = np.arange(max(0, last - ASSESS_DAYS + 1), last + 1)
    count = bool(daily.counts.get(kind))
    z, scan, primary = scan_z(x, unit, days, spec, s_eff, count)
    stale = end - last > STALE_DAYS + period
    z_series = np.full(len(x), np.nan)
    z_series[days] = z
    if not stale:  # carry the latest value up to the as-of date
        z_series[last + 1 : end + 1] = z[-1]
    base = primary.base
    e = B.innovations(x, base, primary.floor, s_eff, block=period)
    e[base.n < spec.min_days] = np.nan  # no change points against an unfounded baseline
    changes = [(index[days[onset]].date(), sign) for onset, _a, sign in B.cusum(e)]
    zl = np.nan if stale else z[-1]
    stat = KindStat(
        kind=kind, day=index[last].date(), value=_num(x[last]),
        smoothed=_num(primary.smoothed[last]), median=_num(base.median[-1]),
        spread=_num(base.scale[-1]), z=_num(zl),
        state="stale" if stale else B.state(zl, ind.thresholds.elevated, ind.thresholds.high),
        baseline_days=int(base.n[-1]), stale=bool(stale),
        z_count=None if primary.z_count is None else _num(primary.z_count[-1]),
        window_days=int(scan[-1]),
    )  # fmt: skip
    return _KindResult(stat, primary.smoothed, z_series, [] if stale else changes)


def scan_z(x, unit, days, spec, s_eff: int, count: bool):
    """z of each day of ``days``: the largest of the primary window's z and the
    Bonferroni-adjusted z of the longer scan windows (see the module docstring).

    Returns ``(z, window length that gave it, the primary window's statistics)``.
    """
    primary = _window_z(x, unit, days, spec, s_eff, count)
    z, scan = primary.z.copy(), np.full(len(days), s_eff)
    for mult in SCAN[1:]:
        longer = B.scan_adjust(_window_z(x, unit, days, spec, mult * s_eff, count).z, len(SCAN))
        better = longer > np.nan_to_num(z, nan=-np.inf)
        z, scan = np.where(better, longer, z), np.where(better, mult * s_eff, scan)
    return z, scan, primary


def z_at(x, unit, t: int, spec, s_eff: int, count: bool) -> tuple[float, int]:
    """:func:`scan_z` for the single day ``t`` (the reading of a date needs no other), from
    prefix sums shared by the three scan windows instead of a sliding window per array and
    window, so readings of many dates stay cheap. Returns the z and the primary baseline's
    observed days; equal to ``scan_z(x, unit, [t], ...)`` (``tests/test_indicator_compute.py``).
    """
    sums = _Prefix(x, unit, t, t - spec.window_days - SCAN[-1] * s_eff + 1)
    z, n = _z_one(sums, t, spec, s_eff, count)
    for mult in SCAN[1:]:
        longer = B.scan_adjust(np.array([_z_one(sums, t, spec, mult * s_eff, count)[0]]), 3)
        if longer[0] > (-np.inf if np.isnan(z) else z):
            z = float(longer[0])
    return z, n


class _Prefix:
    """Prefix sums of a kind's values, observed days, count units, counts and exposure over
    days ``first..t`` (days before the array's start count as unobserved, as
    :func:`~vigil.indicators.baseline.smooth` pads them)."""

    def __init__(self, x: np.ndarray, unit: np.ndarray, t: int, first: int) -> None:
        self.lo = max(first, 0)
        xs, us = x[self.lo : t + 1], unit[self.lo : t + 1]
        ok, uok, pos = ~np.isnan(xs), ~np.isnan(us), us > 0
        safe = np.where(pos, us, 1.0)

        def prefix(values) -> np.ndarray:
            return np.concatenate([[0.0], np.cumsum(values)])

        self.x, self.nx = prefix(np.where(ok, xs, 0.0)), prefix(ok)
        self.u, self.nu = prefix(np.where(uok, us, 0.0)), prefix(uok)
        self.counts = prefix(np.nan_to_num(np.where(pos, xs / safe, np.nan)))
        self.exposure = prefix(np.where(~ok | ~pos, 0.0, 1.0 / safe))

    def total(self, values: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Sum over days ``[lo, hi)`` (absolute indices), clipped to the data, as an array."""
        top = len(values) - 1
        a = min(max(lo - self.lo, 0), top)
        b = min(max(hi - self.lo, a), top)
        return np.array([values[b] - values[a]])

    def smooth(self, values, counts, first: int, last: int, length: int) -> np.ndarray:
        top = len(values) - 1
        a = np.minimum(np.maximum(np.arange(first, last + 1) - length + 1 - self.lo, 0), top)
        b = np.minimum(np.maximum(np.arange(first, last + 1) + 1 - self.lo, a), top)
        total, n = values[b] - values[a], counts[b] - counts[a]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n >= math.ceil(length / 2), total / np.maximum(n, 1), np.nan)


def _z_one(sums: _Prefix, t: int, spec, length: int, count: bool) -> tuple[float, int]:
    w, gap = spec.window_days, min(length, spec.window_days - 1)
    smoothed = sums.smooth(sums.x, sums.nx, t - w, t, length)  # days t - w .. t
    value, past = smoothed[-1:], smoothed[: w - gap]
    n = int((~np.isnan(past)).sum())
    if n == 0:
        return float("nan"), 0
    m = float(np.nanmedian(past))
    base = B.Baseline(
        np.array([t]), np.array([m]), np.array([B.MAD_SCALE * np.nanmedian(np.abs(past - m))]),
        np.array([np.nanmean(past)]), np.array([n]),
    )  # fmt: skip
    floor = B.poisson_floor(base.mean, sums.smooth(sums.u, sums.nu, t, t, length), length)
    if not count:
        return float(B.robust_z(value, base, floor, spec.min_days)[0]), n
    z_count = B.count_z(
        sums.total(sums.counts, t - length + 1, t + 1),
        sums.total(sums.exposure, t - length + 1, t + 1),
        sums.total(sums.counts, t - w, t - gap),
        sums.total(sums.exposure, t - w, t - gap),
    )
    if n < spec.min_days:
        z_count[:] = np.nan
    robust = B.robust_z(value, base, 0.0, spec.min_days)
    return float(B.closer_to_zero(robust, z_count)[0]), n


@dataclass(frozen=True)
class _WindowZ:
    z: np.ndarray
    smoothed: np.ndarray
    base: B.Baseline
    floor: np.ndarray
    z_count: np.ndarray | None


def _window_z(x, unit, days, spec, length: int, count: bool) -> _WindowZ:
    """z of the mean over the last ``length`` days against the baseline before them."""
    smoothed = B.smooth(x, length)
    gap = min(length, spec.window_days - 1)
    base = B.baseline(smoothed, days, spec.window_days, gap)
    floor = B.poisson_floor(base.mean, B.smooth(unit, length)[days], length)
    if not count:
        return _WindowZ(B.robust_z(smoothed[days], base, floor, spec.min_days), smoothed, base,
                        floor, None)  # fmt: skip
    # counts: the less extreme of the robust z and the exact count-model z, whose
    # Poisson-gamma noise is the floor (baseline.count_z)
    counts = np.where(unit > 0, x / np.where(unit > 0, unit, 1.0), np.nan)
    exposure = np.where(np.isnan(x) | ~(unit > 0), 0.0, 1.0 / np.where(unit > 0, unit, 1.0))
    z_count = B.count_z(
        B.window_sums(counts, days, length - 1, -1), B.window_sums(exposure, days, length - 1, -1),
        B.window_sums(counts, days, spec.window_days, gap),
        B.window_sums(exposure, days, spec.window_days, gap),
    )  # fmt: skip
    z_count[base.n < spec.min_days] = np.nan
    z = B.closer_to_zero(B.robust_z(smoothed[days], base, 0.0, spec.min_days), z_count)
    return _WindowZ(z, smoothed, base, floor, z_count)


def _num(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None
