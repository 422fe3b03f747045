"""Context features of the forecast panel: country GPR and Frontex border pressure, as of D.

Two slow-moving signals that ACLED's own counts do not carry:

* **GPR** (Caldara & Iacoviello): ``gpr.country`` / geo ISO3 is the monthly share (percent)
  of newspaper articles that mention the country together with geopolitical-risk terms
  (44 countries; Belarus and the Baltic states are not covered: NaN there). Attention of
  the international press often rises before violence does (troop build-ups, threats).
* **Frontex** detections of illegal border crossings, ``frontex.ibc.<route>``, summed over
  nationality and Sea/Land type: pressure on the EU border routes a country is on (the
  2021 Belarus-instrumentalised crossings into POL, LTU and LVA are on the Eastern
  Borders route).

Frontex publishes one total per route, not per country, so a country gets the sum of the
routes at its border (:data:`ROUTES`); it is "pressure on a route this state guards",
shared by all the states of the route, not that state's own detections. The mapping
follows Frontex's route definitions (frontex.europa.eu, "Migratory routes", and the
route notes of its Risk Analysis reports), kept to the member states whose external
border a route crosses:

* Eastern Borders (the EU's land borders with Belarus, Moldova, Russia and Ukraine):
  FIN, EST, LVA, LTU, POL, SVK, HUN, ROU;
* Central Mediterranean (sea crossings to Italy and Malta): ITA, MLT;
* Eastern Mediterranean (sea to Greece and Cyprus, land from Türkiye into Greece and
  Bulgaria): GRC, CYP, BGR;
* Western Mediterranean (sea to mainland Spain, land at Ceuta and Melilla) and Western
  African (sea to the Canary Islands): ESP;
* Western Balkans (land borders with the Western Balkan states; Slovenia's border with
  Croatia was a Schengen external border until 2023): HRV, HUN, ROU, BGR, SVN;
* Circular route from Albania to Greece: GRC; Black Sea: ROU, BGR;
* "Other" goes to no state. Every other country gets NaN (not an EU border state).

As of an origin D, a series contributes its last month whose rows were available by the
end of day D (``available_at < D + 1 day``, as everywhere in vigil), and only when that
month is at most :data:`MAX_AGE_MONTHS` before D's month: GPR normally lags one month and
Frontex two, so a value older than that means the source stopped (the GPR file here ends
in 2024-07, Frontex in 2025-04) and a stale value would be passed off as current.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

GPR_SERIES = "gpr.country"
FRONTEX_PREFIX = "frontex.ibc."
#: A context month more than this many months before the origin's month is not used.
MAX_AGE_MONTHS = 4
#: Added to the GPR share before the log: some months have 0 % (1 in 10,000 articles).
GPR_FLOOR = 0.01
#: Months of GPR averaged for f_gpr_change (all must be present).
GPR_WINDOW = 12
#: EU border state → the Frontex routes (series suffixes) at its external border.
ROUTES: dict[str, tuple[str, ...]] = {
    "FIN": ("eastern_borders",),
    "EST": ("eastern_borders",),
    "LVA": ("eastern_borders",),
    "LTU": ("eastern_borders",),
    "POL": ("eastern_borders",),
    "SVK": ("eastern_borders",),
    "HUN": ("eastern_borders", "western_balkan"),
    "ROU": ("eastern_borders", "western_balkan", "black_sea"),
    "BGR": ("eastern_mediterranean", "western_balkan", "black_sea"),
    "GRC": ("eastern_mediterranean", "circular_route_from_albania_to_greece"),
    "CYP": ("eastern_mediterranean",),
    "ITA": ("central_mediterranean",),
    "MLT": ("central_mediterranean",),
    "ESP": ("western_mediterranean", "western_african"),
    "HRV": ("western_balkan",),
    "SVN": ("western_balkan",),
}
CONTEXT_FEATURES = ("f_gpr", "f_gpr_change", "f_border_pressure")
_NAT = np.datetime64("NaT", "ns")


@dataclass(frozen=True, eq=False)
class Monthly:
    """A monthly panel: ``matrix`` (keys × months, NaN = unknown), per-month availability.

    ``available[m]`` is the latest ``available_at`` of month m's rows (NaT: no rows).
    """

    matrix: np.ndarray
    keys: tuple[str, ...]
    months: pd.DatetimeIndex
    available: np.ndarray


@dataclass(frozen=True, eq=False)
class Context:
    """GPR by country (keys ISO3) and Frontex detections by route (keys route slugs)."""

    gpr: Monthly | None
    frontex: Monthly | None


def visible_before(as_of: dt.date | None) -> dt.datetime | None:
    """The cut-off of "as of D": rows with ``available_at`` strictly before D + 1 day."""
    if as_of is None:
        return None
    return dt.datetime(as_of.year, as_of.month, as_of.day) + dt.timedelta(days=1)


def known_at(available: np.ndarray) -> np.ndarray:
    """Per month, when it was known: the first publication of it or of any later month.

    A sparse source has no rows for a month with nothing to report; that month is known
    (as empty) once a later month is published. ``available`` is per month (datetime64,
    NaT: no rows); the result is non-decreasing, NaT where no later month was published.
    """
    ns = available.astype("datetime64[ns]").view(np.int64)
    ns = np.where(np.isnat(available), np.iinfo(np.int64).max, ns)
    first = np.minimum.accumulate(ns[::-1])[::-1]
    return np.where(first == np.iinfo(np.int64).max, _NAT, first.view("datetime64[ns]"))


def last_known(
    available: np.ndarray, origins: np.ndarray, usable: np.ndarray | None = None
) -> np.ndarray:
    """Per origin, the index of the last month known by the end of that day (-1: none).

    ``available`` is per month (datetime64, NaT: no rows; see :func:`known_at`),
    ``origins`` datetime64[D]; with ``usable`` (bool per month) only those months count.
    """
    cutoff = (origins.astype("datetime64[D]") + np.timedelta64(1, "D")).astype("datetime64[ns]")
    ok = known_at(available)[None, :] < cutoff[:, None]  # NaT compares False
    if usable is not None:
        ok &= usable[None, :]
    n = len(available)
    if n == 0:
        return np.full(len(origins), -1)
    return np.where(ok.any(axis=1), n - 1 - np.argmax(ok[:, ::-1], axis=1), -1)


def month_number(months: pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``): differences count months."""
    index = pd.DatetimeIndex(months)
    return np.asarray(index.year * 12 + index.month - 1, dtype=np.int64)


def monthly_frame(frame: pd.DataFrame, *, zero_fill: bool) -> Monthly:
    """A :class:`Monthly` from rows (key, month, value, available_at), one row per cell.

    With ``zero_fill``, a key's absent months after its first row are 0 (a sparse count
    file omits zero months); before its first row they stay NaN (not yet observed).
    """
    keys = tuple(sorted(frame["key"].unique()))
    month = pd.DatetimeIndex(frame["month"])
    months = pd.date_range(month.min(), month.max(), freq="MS")
    ki = pd.Index(keys).get_indexer(frame["key"])
    mi = month_number(month) - month_number(months[:1])[0]
    matrix = np.full((len(keys), len(months)), np.nan)
    matrix[ki, mi] = frame["value"].to_numpy(dtype=float)
    if zero_fill:
        first = np.full(len(keys), len(months))
        np.minimum.at(first, ki, mi)
        after = np.arange(len(months))[None, :] >= first[:, None]
        matrix = np.where(after & np.isnan(matrix), 0.0, matrix)
    available = np.full(len(months), np.datetime64("NaT"), dtype="datetime64[ns]")
    latest = frame.assign(mi=mi).groupby("mi")["available_at"].max()
    available[latest.index.to_numpy()] = latest.to_numpy(dtype="datetime64[ns]")
    return Monthly(matrix, keys, months, available)


def load_context(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Context:
    """GPR country indices and Frontex route totals in the store, as of ``as_of``.

    Only rows with ``available_at`` before the end of day ``as_of`` (all when None). A
    source that is not in the store is None: its features are then NaN.
    """
    cut = visible_before(as_of)
    gpr = con.execute(
        """
        SELECT geo AS key, period_start AS month, avg(value) AS value,
               max(available_at) AS available_at
        FROM observations
        WHERE source = 'gpr' AND series = ? AND freq = 'M' AND value IS NOT NULL
          AND (?::TIMESTAMP IS NULL OR available_at < ?::TIMESTAMP)
        GROUP BY ALL""",
        [GPR_SERIES, cut, cut],
    ).df()
    frontex = con.execute(
        """
        SELECT substr(series, ?) AS key, period_start AS month, sum(value) AS value,
               max(available_at) AS available_at
        FROM observations
        WHERE source = 'frontex' AND starts_with(series, ?) AND freq = 'M'
          AND value IS NOT NULL AND (?::TIMESTAMP IS NULL OR available_at < ?::TIMESTAMP)
        GROUP BY ALL""",
        [len(FRONTEX_PREFIX) + 1, FRONTEX_PREFIX, cut, cut],
    ).df()
    return Context(
        gpr=monthly_frame(gpr, zero_fill=False) if len(gpr) else None,
        frontex=monthly_frame(frontex, zero_fill=True) if len(frontex) else None,
    )


def context_features(
    context: Context | None, countries: tuple[str, ...], origins: np.ndarray
) -> dict[str, np.ndarray]:
    """f_gpr, f_gpr_change, f_border_pressure, each shaped (countries, origins)."""
    shape = (len(countries), len(origins))
    out = {name: np.full(shape, np.nan) for name in CONTEXT_FEATURES}
    if context is None:
        return out
    if context.gpr is not None:
        out["f_gpr"], out["f_gpr_change"] = _gpr(context.gpr, countries, origins)
    if context.frontex is not None:
        out["f_border_pressure"] = _border_pressure(context.frontex, countries, origins)
    return out


def _as_of_month(panel: Monthly, origins: np.ndarray) -> np.ndarray:
    """Per origin, the index of the month the series contributes (-1: none or too old)."""
    idx = last_known(panel.available, origins)
    age = month_number(origins.astype("datetime64[ns]")) - month_number(panel.months)[idx]
    return np.where((idx >= 0) & (age <= MAX_AGE_MONTHS), idx, -1)


def _rows_for(keys: tuple[str, ...], countries: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(positions in ``countries``, positions in ``keys``) of the countries the panel has."""
    at = {k: i for i, k in enumerate(keys)}
    pairs = [(ci, at[c]) for ci, c in enumerate(countries) if c in at]
    if not pairs:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    ci, ki = zip(*pairs, strict=True)
    return np.array(ci), np.array(ki)


def _gpr(
    gpr: Monthly, countries: tuple[str, ...], origins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    level = np.full((len(countries), len(origins)), np.nan)
    change = level.copy()
    ci, ki = _rows_for(gpr.keys, countries)
    idx = _as_of_month(gpr, origins)
    ok = idx >= 0
    if not len(ci) or not ok.any():
        return level, change
    pad = np.concatenate([np.full((len(gpr.keys), GPR_WINDOW - 1), np.nan), gpr.matrix], axis=1)
    window = pad[:, idx[ok, None] + np.arange(GPR_WINDOW)]  # keys × origins × months
    logged = np.log(window[:, :, -1] + GPR_FLOOR)
    level[np.ix_(ci, ok)] = logged[ki]
    change[np.ix_(ci, ok)] = (logged - np.log(window.mean(axis=2) + GPR_FLOOR))[ki]
    return level, change


def _border_pressure(
    frontex: Monthly, countries: tuple[str, ...], origins: np.ndarray
) -> np.ndarray:
    out = np.full((len(countries), len(origins)), np.nan)
    idx = _as_of_month(frontex, origins)
    ok = idx >= 0
    at = {k: i for i, k in enumerate(frontex.keys)}
    for ci, country in enumerate(countries):  # ≤ 16 border states: a loop over countries only
        rows = [at[r] for r in ROUTES.get(country, ()) if r in at]
        if rows and ok.any():
            values = frontex.matrix[np.ix_(rows, idx[ok])]
            known = ~np.isnan(values).all(axis=0)
            total = np.where(known, np.nansum(values, axis=0), np.nan)
            out[ci, ok] = np.log1p(total)
    return out
