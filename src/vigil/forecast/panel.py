"""The forecast panel: one row per (country, origin, horizon), labels and ``f_*`` features.

The task (``acled-escalation``) asks, at an origin date D, whether a country's monthly
political-violence events (ACLED, ``acled.pv_events``) will reach an escalation threshold
in the next ``h`` months, using only what was published by D.

Counts
------
:func:`load_counts` reads the store into a countries × months matrix. ACLED's country-month
file is sparse (a month with no events has no row), so an absent month is 0 — but only
from the country's **coverage start** (its first month in the file): ACLED extended its
coverage region by region (Africa 1997, Europe 2018-2020…), and the years before a region
was covered are unobserved, not peaceful. Reading them as 0 would make the first covered
months of Ukraine or Poland look like sudden escalations from a quiet baseline.

Origins and the last known month
--------------------------------
A row is visible as of D when ``available_at < D + 1 day`` (the end of day D, as in the
rest of vigil). At origin D the **last known month** L(D) is the last month whose rows
are visible by then (ACLED: month end + 15 days, so on the 15th it is the previous
month). A month with no row at all is known, as empty, once a later month is visible
(:func:`vigil.forecast.context.known_at`); a month flagged ``partial`` (the file's as-of
month, cut short) is never L(D) nor a target. Features use months ≤ L(D) only.

Labels (:data:`MIN_EVENTS`, :data:`MULTIPLIER`, :data:`WINDOW`)
------------------------------------------------------------------
* threshold ``thr = max(10, 2 × mean(events of months L-11 … L))``: the floor of 10 keeps
  a country going from 1 to 3 events from counting as an escalation, the doubling makes
  the bar relative to each country's own recent level. All 12 months must be observed
  (after coverage start), otherwise the row is dropped: a baseline with holes is no
  baseline.
* ``y = 1`` when any month of L+1 … L+h has ``events ≥ thr``. A row whose target months
  are not all known (beyond the data, or the partial last month) is dropped (kept with
  ``y`` NaN with ``keep_unlabelled=True``: the live forecast and the look-ahead audit).
  ``label_available_at`` is when month L+h (and so every month before it) was known.
* ``kind``: ``onset`` when every month L-11 … L had fewer than 10 events (a quiet
  baseline), else ``escalation``; the two are scored apart because onsets are rarer and
  harder, and a model good at persistence can look good on escalations alone.

Features (all computed from the months L-60 … L and the context as of D)
-------------------------------------------------------------------------
With x the events and ``lag k`` the month L-k+1 (lag 1 = L):

* ``f_log_lag1..3``, ``f_log_lag6``, ``f_log_lag12``: log1p(x) of those months;
* ``f_mean3/6/12``: log1p of the mean of the last 3/6/12 months;
* ``f_trend6``: OLS slope of log1p(x) on the month over the last 6 months (per month);
* ``f_vol12``: standard deviation (population, ddof 0) of log1p(x) over the last 12;
* ``f_months_since_10``: months since the last month with x ≥ 10 (0 when L itself),
  capped at :data:`SINCE_CAP` (also when no such month is observed);
* ``f_above_thr_now`` (1.0 when x_L ≥ thr) and ``f_ratio_last_to_thr`` (x_L / thr);
* neighbours (land adjacency, :mod:`vigil.forecast.adjacency`), over the neighbours that
  are in the counts and observed: ``f_nb_log_mean1`` (mean of log1p(x_L)),
  ``f_nb_log_mean3`` (mean of log1p of each neighbour's 3-month mean), ``f_nb_max_ratio``
  (max of ``(x_L + 1) / (12-month mean + 1)``: a neighbour's own surge; the +1 keeps a
  quiet neighbour at ratio 1 instead of 0/0), ``f_n_neighbours`` (land neighbours in the
  Natural Earth file; NaN for a country absent from it or when no adjacency is given);
* ``f_gpr``, ``f_gpr_change``, ``f_border_pressure``: :mod:`vigil.forecast.context`.

No look-ahead: every feature is a function of the matrix columns ≤ L(D) and of context
rows visible by D, and L(D) depends only on which months were published by D; so a panel
built from the whole store and one built from the store as of D agree on origin D
(tested). The whole panel is built with array operations over (countries, origins,
months): no Python loop over countries × origins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from vigil.errors import InputError
from vigil.forecast.context import (
    CONTEXT_FEATURES,
    Context,
    context_features,
    known_at,
    last_known,
    monthly_frame,
    visible_before,
)

MIN_EVENTS = 10
MULTIPLIER = 2.0
WINDOW = 12
HORIZONS = (1, 3)
#: f_months_since_10 is capped here; the history gathered per origin is SINCE_CAP + 1 months.
SINCE_CAP = 60
SERIES = "acled.pv_events"
OWN_FEATURES = (
    "f_log_lag1",
    "f_log_lag2",
    "f_log_lag3",
    "f_log_lag6",
    "f_log_lag12",
    "f_mean3",
    "f_mean6",
    "f_mean12",
    "f_trend6",
    "f_vol12",
    "f_months_since_10",
    "f_above_thr_now",
    "f_ratio_last_to_thr",
)
NEIGHBOUR_FEATURES = ("f_nb_log_mean1", "f_nb_log_mean3", "f_nb_max_ratio", "f_n_neighbours")
#: Every feature column of :func:`build_panel`, in order.
FEATURES = OWN_FEATURES + NEIGHBOUR_FEATURES + CONTEXT_FEATURES
#: The non-feature columns of :func:`build_panel`, in order.
COLUMNS = (
    "country",
    "origin",
    "horizon",
    "last_month",
    "threshold",
    "kind",
    "y",
    "label_available_at",
)
_NAT = np.datetime64("NaT", "ns")


@dataclass(frozen=True, eq=False)
class Counts:
    """ACLED political-violence events per country and month.

    ``matrix`` is countries × months (float; 0 where a covered month has no row, NaN
    before the country's coverage start); ``countries`` the ISO3 codes (sorted);
    ``months`` the month starts (contiguous); ``available`` per month the latest
    ``available_at`` of its rows (datetime64[ns], NaT: no rows); ``partial`` per month
    True when its rows are flagged partial (the month of the file's as-of date).
    """

    matrix: np.ndarray
    countries: tuple[str, ...]
    months: pd.DatetimeIndex
    available: np.ndarray
    partial: np.ndarray


def load_counts(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Counts:
    """The store's ACLED country-month political-violence counts, as of ``as_of``.

    Only rows with ``available_at`` before the end of day ``as_of`` (all when None).

    Raises
    ------
    InputError
        If the store holds no such rows (the country-month file is not loaded).
    """
    cut = visible_before(as_of)
    frame = con.execute(
        """
        SELECT geo AS key, period_start AS month, sum(value) AS value,
               max(available_at) AS available_at,
               bool_or(coalesce(json_extract_string(attrs, '$.partial') = 'true', false))
                   AS partial
        FROM observations
        WHERE source = 'acled' AND series = ? AND freq = 'M' AND value IS NOT NULL
          AND (?::TIMESTAMP IS NULL OR available_at < ?::TIMESTAMP)
        GROUP BY ALL""",
        [SERIES, cut, cut],
    ).df()
    if frame.empty:
        when = "" if as_of is None else f" available by {as_of}"
        raise InputError(
            f"the store holds no ACLED country-month series {SERIES}{when}",
            "load it: vigil ingest acled "
            "acled_aggregates/acled_political_violence_events_country_month_asof_<date>.csv",
        )
    panel = monthly_frame(frame, zero_fill=True)
    flagged = frame.loc[frame["partial"], "month"]
    partial = np.asarray(panel.months.isin(pd.DatetimeIndex(flagged)), dtype=bool)
    return Counts(panel.matrix, panel.keys, panel.months, panel.available, partial)


def monthly_origins(first: dt.date, last: dt.date) -> list[dt.date]:
    """The 15th of every month from ``first`` to ``last`` (both included when a 15th)."""
    starts = pd.date_range(first.replace(day=1), last.replace(day=1), freq="MS")
    days = [d.date().replace(day=15) for d in starts]
    return [d for d in days if first <= d <= last]


def build_panel(
    counts: Counts,
    origins: Iterable[dt.date],
    horizons: Sequence[int] = HORIZONS,
    *,
    context: Context | None = None,
    neighbours: Mapping[str, Sequence[str]] | None = None,
    keep_unlabelled: bool = False,
) -> pd.DataFrame:
    """Rows (country, origin, horizon) with labels and features, sorted in that order.

    Parameters
    ----------
    counts : Counts
        From :func:`load_counts` (the whole store, or the store as of an origin).
    origins : iterable of date
        Forecast dates (duplicates are dropped); :func:`monthly_origins` gives the usual.
    horizons : sequence of int
        Months ahead (1 and 3).
    context : Context, optional
        GPR and Frontex from :func:`vigil.forecast.context.load_context`; their features
        are NaN without it.
    neighbours : mapping, optional
        ISO3 → land neighbours (:func:`vigil.forecast.adjacency.neighbours`); the
        neighbour features are NaN without it.
    keep_unlabelled : bool
        Keep rows whose target months are not known yet, with ``y`` NaN (float) and
        ``label_available_at`` NaT; by default they are dropped and ``y`` is int 0/1.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` then :data:`FEATURES` (module docstring). ``origin``
        holds dates, ``last_month`` and ``label_available_at`` Timestamps.
    """
    days = np.array(sorted(set(origins)), dtype="datetime64[D]")
    horizons = tuple(horizons)
    last = last_known(counts.available, days, usable=~counts.partial)
    hist = _history(counts.matrix, last)
    thr, onset = _threshold(hist)
    features = {
        **_own_features(hist, thr),
        **_neighbour_features(hist, counts.countries, neighbours),
        **context_features(context, counts.countries, days),
    }
    labels = [_labels(counts, last, thr, h) for h in horizons]
    grid = _Grid(len(days), len(horizons), len(counts.countries))
    y = np.stack([lab[0].T for lab in labels], axis=1)  # origins × horizons × countries
    keep = grid.of(~np.isnan(thr)) & (keep_unlabelled | ~np.isnan(y))
    months = counts.months.to_numpy().astype("datetime64[ns]")[np.maximum(last, 0)]
    columns = {
        "country": np.array(counts.countries, dtype=object)[None, None, :],
        "origin": np.array([d.item() for d in days], dtype=object)[:, None, None],
        "horizon": np.array(horizons, dtype=np.int64)[None, :, None],
        "last_month": months[:, None, None],
        "threshold": grid.of(thr),
        "kind": grid.of(np.where(onset, "onset", "escalation")),
        "y": y,
        "label_available_at": np.stack([lab[1] for lab in labels], axis=1)[:, :, None],
        **{name: grid.of(features[name]) for name in FEATURES},
    }
    frame = pd.DataFrame({name: grid.pick(a, keep) for name, a in columns.items()})
    if not keep_unlabelled:
        frame["y"] = frame["y"].astype(np.int64)
    return frame


@dataclass(frozen=True)
class _Grid:
    """The output's (origins, horizons, countries) layout, flattened in that order."""

    n_origins: int
    n_horizons: int
    n_countries: int

    def of(self, a: np.ndarray) -> np.ndarray:
        """A (countries × origins) array laid out as origins × horizons × countries."""
        return np.broadcast_to(a.T[:, None, :], self.shape)

    def pick(self, a: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return np.broadcast_to(a, self.shape)[keep]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.n_origins, self.n_horizons, self.n_countries


def _history(matrix: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Countries × origins × months L-SINCE_CAP … L (NaN before the data or with no L)."""
    pad = np.concatenate([np.full((matrix.shape[0], SINCE_CAP), np.nan), matrix], axis=1)
    # month m sits at pad column m + SINCE_CAP, so L-SINCE_CAP … L are columns L … L+SINCE_CAP
    hist = pad[:, np.maximum(last, 0)[:, None] + np.arange(SINCE_CAP + 1)]
    hist[:, last < 0, :] = np.nan
    return hist


def _threshold(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The escalation threshold (NaN when the 12-month window has a hole) and onset flag."""
    window = hist[..., -WINDOW:]
    thr = np.maximum(MIN_EVENTS, MULTIPLIER * window.mean(axis=-1))
    return thr, (window < MIN_EVENTS).all(axis=-1)


def _own_features(hist: np.ndarray, thr: np.ndarray) -> dict[str, np.ndarray]:
    raw = hist[..., -WINDOW:]
    logged = np.log1p(raw)
    t = np.arange(6) - 2.5
    reached = (hist >= MIN_EVENTS)[..., ::-1]  # newest first; NaN compares False
    last = raw[..., -1]
    return {
        **{f"f_log_lag{k}": logged[..., -k] for k in (1, 2, 3, 6, 12)},
        **{f"f_mean{k}": np.log1p(raw[..., -k:].mean(axis=-1)) for k in (3, 6, 12)},
        "f_trend6": logged[..., -6:] @ (t / (t @ t)),
        "f_vol12": logged.std(axis=-1),
        "f_months_since_10": np.where(
            reached.any(axis=-1), reached.argmax(axis=-1), SINCE_CAP
        ).astype(float),
        "f_above_thr_now": np.where(np.isnan(thr), np.nan, last >= thr),
        "f_ratio_last_to_thr": last / thr,
    }


def _neighbour_features(
    hist: np.ndarray, countries: tuple[str, ...], neighbours: Mapping[str, Sequence[str]] | None
) -> dict[str, np.ndarray]:
    shape = hist.shape[:2]
    if neighbours is None:
        return {name: np.full(shape, np.nan) for name in NEIGHBOUR_FEATURES}
    at = {c: i for i, c in enumerate(countries)}
    edges = np.array(
        [(at[c], at[n]) for c in countries for n in neighbours.get(c, ()) if n in at],
        dtype=np.int64,
    ).reshape(-1, 2)
    adjacent = np.zeros((len(countries), len(countries)))
    adjacent[edges[:, 0], edges[:, 1]] = 1.0
    surge = (hist[..., -1] + 1) / (hist[..., -WINDOW:].mean(axis=-1) + 1)
    n_nb = [float(len(neighbours[c])) if c in neighbours else np.nan for c in countries]
    return {
        "f_nb_log_mean1": _mean_over(adjacent, np.log1p(hist[..., -1])),
        "f_nb_log_mean3": _mean_over(adjacent, np.log1p(hist[..., -3:].mean(axis=-1))),
        "f_nb_max_ratio": _max_over(edges, surge),
        "f_n_neighbours": np.broadcast_to(np.array(n_nb)[:, None], shape).copy(),
    }


def _mean_over(adjacent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per country, the mean of ``values`` (countries × origins) over its observed neighbours."""
    seen = ~np.isnan(values)
    total = adjacent @ np.where(seen, values, 0.0)
    n = adjacent @ seen
    return np.divide(total, n, out=np.full(total.shape, np.nan), where=n > 0)


def _max_over(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per country, the max of ``values`` over its observed neighbours (NaN: none)."""
    out = np.full(values.shape, np.nan)
    if not len(edges):
        return out
    edges = edges[np.argsort(edges[:, 0], kind="stable")]
    own, starts = np.unique(edges[:, 0], return_index=True)
    theirs = values[edges[:, 1]]
    top = np.maximum.reduceat(np.where(np.isnan(theirs), -np.inf, theirs), starts, axis=0)
    out[own] = np.where(np.isneginf(top), np.nan, top)
    return out


def _labels(
    counts: Counts, last: np.ndarray, thr: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """y (countries × origins; NaN when unknown) and label_available_at (per origin)."""
    n_months = len(counts.months)
    target = last[:, None] + np.arange(1, horizon + 1)  # origins × horizon
    clipped = np.minimum(target, n_months - 1)
    # known_at is non-decreasing: month L+h known means L+1 … L+h are
    at = known_at(counts.available)[clipped[:, -1]]
    known = (
        (last >= 0)
        & (target < n_months).all(axis=1)
        & ~counts.partial[clipped].any(axis=1)
        & ~np.isnat(at)
    )
    values = counts.matrix[:, clipped]  # countries × origins × horizon
    hit = (values >= thr[..., None]).any(axis=-1)
    seen = known[None, :] & ~np.isnan(values).any(axis=-1)
    return np.where(seen, hit, np.nan), np.where(known, at, _NAT)
