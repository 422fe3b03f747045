r"""An indicator's daily evidence as known on any date, from arrays built once.

:func:`vigil.indicators.series.daily_evidence` defines what an indicator's daily series
are as of a date ``D`` (only records with ``asof ≤ D``). Readings of many dates (a replay,
the memory of an assessment, an indicator's own history) rebuild those series again and
again, so :class:`EvidenceArrays` turns one load of vintages into flat numpy arrays of
day numbers once, and :meth:`EvidenceArrays.daily` rebuilds the series of any date with a
mask and a ``bincount`` per kind (no pandas in the loop). The semantics are those of
``series`` (see its module docstring); ``tests/test_indicator_compute.py`` checks both
agree on the real data.

Day numbers are proleptic ordinals (:meth:`datetime.date.toordinal`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vigil.indicators import series as S  # noqa: N812

NEVER = 10**7  #: a day number after any real date: a NaT is never visible


def ordinals(values) -> np.ndarray:
    """Day numbers of a datetime-like column (NaT → :data:`NEVER`)."""
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        arr = pd.to_datetime(pd.Series(values), errors="coerce").to_numpy()
    days = arr.astype("datetime64[D]")
    out = days.astype(np.int64) + _EPOCH
    out[np.isnat(days)] = NEVER
    return out


_EPOCH = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class _Rows:
    """Rows of one aggregate: the day (or period) they belong to, when they became visible,
    and their value."""

    day: np.ndarray
    asof: np.ndarray
    value: np.ndarray

    def visible(self, as_of: int, lo: int, hi: int) -> np.ndarray:
        """Mask of rows visible by ``as_of`` whose day lies in ``[lo, hi]``."""
        return (self.asof <= as_of) & (self.day >= lo) & (self.day <= hi)


@dataclass(frozen=True)
class _Series:
    """One series kind: rows of each frequency (period bounds, vintage, value, count unit)."""

    by_freq: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Daily:
    """One kind's daily series over ``[start, as_of]``: value and count unit per day."""

    x: np.ndarray
    unit: np.ndarray
    period: int
    count: bool


@dataclass
class EvidenceArrays:
    """One indicator's vintages as arrays; :meth:`daily` gives the series of any date."""

    events: _Rows | None = None
    coverage: _Rows | None = None  #: observed event days (value unused)
    series: dict[str, _Series] = field(default_factory=dict)
    hits: _Rows | None = None  #: matched documents per day (asof: later of match and total)
    totals: Totals | None = None

    @classmethod
    def from_vintages(cls, v: S.Vintages, totals: Totals | None = None) -> EvidenceArrays:
        out = cls()
        if v.events is not None:
            out.events = _rows(v.events, "day", "asof", "value")
            out.coverage = _rows(v.coverage, "day", "asof", None)
        for kind, rows in v.series.items():
            out.series[kind] = _series(rows)
        if v.text is not None:
            text = v.text if "items_asof" in v.text else S.attach_totals(v.text, v.totals)
            asof = np.maximum(ordinals(text["asof"]), ordinals(text["items_asof"]))
            out.hits = _Rows(ordinals(text["day"]), asof, text["matches"].to_numpy(float))
            out.totals = totals if totals is not None else Totals.from_frame(v.totals)
        return out

    def kinds(self) -> list[str]:
        return (
            (["events"] if self.events is not None else [])
            + list(self.series)
            + (["text"] if self.hits is not None else [])
        )

    def daily(self, as_of: int, start: int) -> dict[str, Daily]:
        """Every kind's daily series over ``[start, as_of]`` as known on ``as_of``."""
        n = as_of - start + 1
        out: dict[str, Daily] = {}
        if self.events is not None:
            m = self.events.visible(as_of, start, as_of)
            x = np.bincount(self.events.day[m] - start, self.events.value[m], n)
            c = self.coverage.visible(as_of, start, as_of)
            seen = np.zeros(n, bool)
            seen[self.coverage.day[c] - start] = True
            out["events"] = Daily(np.where(seen, x, np.nan), np.ones(n), 1, True)
        for kind, s in self.series.items():
            out[kind] = _series_daily(s, as_of, start, n)
        if self.hits is not None:
            m = self.hits.visible(as_of, start, as_of)
            hits = np.bincount(self.hits.day[m] - start, self.hits.value[m], n)
            items = self.totals.items(as_of, start, n)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = np.where(items > 0, 1000.0 * hits / items, np.nan)
                unit = np.where(items > 0, 1000.0 / items, np.nan)
            out["text"] = Daily(rate, unit, 1, True)
        return out


@dataclass(frozen=True)
class Totals:
    """Feed item totals (the text denominators) as arrays, shared by every text indicator:
    per row the day, when it became visible, the feed (a code) and the items."""

    day: np.ndarray
    asof: np.ndarray
    feed: np.ndarray
    n: np.ndarray
    feeds: tuple[str, ...]

    @classmethod
    def from_frame(cls, totals: pd.DataFrame) -> Totals:
        keep = totals[totals["items"] > 0]
        codes, feeds = pd.factorize(keep["feed"].fillna(""), sort=True)
        return cls(
            ordinals(keep["day"]), ordinals(keep["asof"]), codes.astype(np.int64),
            keep["items"].to_numpy(float), tuple(feeds),
        )  # fmt: skip

    def items(self, as_of: int, start: int, n: int) -> np.ndarray:
        """Items per day over ``[start, start + n)`` as known on ``as_of``."""
        m = (self.asof <= as_of) & (self.day >= start) & (self.day < start + n)
        return np.bincount(self.day[m] - start, self.n[m], n)

    def mix(self, as_of: int, lo: int, hi: int) -> np.ndarray:
        """Each feed's mean daily share of the items over ``[lo, hi]`` (days equally
        weighted, as the baseline's median weighs them), as known on ``as_of``."""
        m = (self.asof <= as_of) & (self.day >= lo) & (self.day <= hi)
        day, feed, n = self.day[m] - lo, self.feed[m], self.n[m]
        per_day = np.bincount(day, n, hi - lo + 1)
        days = int((per_day > 0).sum())
        if days == 0:
            return np.zeros(len(self.feeds))
        return np.bincount(feed, n / per_day[day], len(self.feeds)) / days


def _rows(df: pd.DataFrame, day: str, asof: str, value: str | None) -> _Rows:
    v = np.ones(len(df)) if value is None else df[value].to_numpy(float)
    return _Rows(ordinals(df[day]), ordinals(df[asof]), v)


def _series(rows: pd.DataFrame) -> _Series:
    by_freq = {}
    for freq, part in rows.groupby("freq", sort=True):
        is_count = part["unit"].isin(S.COUNT_UNITS).to_numpy()
        by_freq[str(freq)] = (
            ordinals(part["period_start"]), ordinals(part["period_end"]),
            ordinals(part["asof"]), part["value"].to_numpy(float), is_count,
        )  # fmt: skip
    return _Series(by_freq)


def _series_daily(s: _Series, as_of: int, start: int, n: int) -> Daily:
    """A series kind as a per-day rate: each visible period's value spread over its days;
    where the series mixes frequencies the finest (shortest median period) is used."""
    best, best_len = None, None
    for freq, (lo, hi, asof, _value, _is_count) in s.by_freq.items():
        m = asof <= as_of
        if m.any():
            length = float(np.median(hi[m] - lo[m] + 1))
            if best_len is None or length < best_len:
                best, best_len = freq, length
    if best is None:
        return Daily(np.full(n, np.nan), np.ones(n), 1, False)
    lo, hi, asof, value, is_count = s.by_freq[best]
    m = asof <= as_of
    count = bool(is_count[m].all() and (value[m][~np.isnan(value[m])] >= 0).all())
    keep = m & np.isfinite(value) & (hi >= start) & (lo <= as_of)
    rate = value[keep] / (hi[keep] - lo[keep] + 1)
    a = np.clip(lo[keep] - start, 0, n)
    b = np.clip(hi[keep] - start + 1, 0, n)
    # difference arrays: each period adds its daily rate (and one "seen") over [a, b)
    out = np.cumsum(np.bincount(a, rate, n + 1) - np.bincount(b, rate, n + 1))[:-1]
    seen = np.cumsum(np.bincount(a, None, n + 1) - np.bincount(b, None, n + 1))[:-1] > 0
    out[np.abs(out) < 1e-9 * max(1.0, np.abs(rate).max(initial=0.0))] = 0.0  # cumsum residue
    return Daily(np.where(seen, out, np.nan), np.ones(n), int(best_len), count)
