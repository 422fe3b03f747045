"""Rolling-origin backtest with an availability cut-off, forward-only folds and a gap.

For each test year Y (``first`` … ``last``) and horizon h:

- **test rows**: every (country, origin) with its origin in Y;
- **training rows**: every row whose *label* was available (``label_available_at``) at least
  ``gap_days`` before Y's first origin. A label is known only when its last target month has
  been published, so a row from December with a three-month horizon cannot train a model
  that forecasts January: the cut-off is on availability, not on the origin, and the gap
  keeps the last, most autocorrelated months out as well. Folds only move forward.
- each model is fitted on the training rows (calibrated inside them, see
  :mod:`vigil.forecast.models`) and predicts the test rows.

**Look-ahead audit.** The features are built by a function of the store (``features``); for a
sample of origins the audit rebuilds them from the store as it was on the origin
(``as_of=origin``: only rows available by then) and requires the same values. A feature
that peeks at later months differs and fails the backtest with :class:`LookAheadError`
naming the columns, before any score is reported.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vigil.errors import VigilError
from vigil.forecast.models import EPS, MODELS, clone

#: the store as of a date (None: all) → the panel for these origins (labels True: drop rows
#: whose targets are unknown; False: keep them, unlabelled); see vigil.forecast.predict
Features = Callable[[dt.date | None, Sequence[dt.date], bool], pd.DataFrame]


class LookAheadError(VigilError):
    """A feature used information that was not available on its origin."""


@dataclass(frozen=True)
class BacktestConfig:
    first_year: int
    last_year: int
    horizons: tuple[int, ...] = (1, 3)
    models: tuple[str, ...] = ("base_rate", "no_change", "logistic", "boosting", "ensemble")
    gap_days: int = 31
    #: origins audited for look-ahead (spread over the test years)
    audit_origins: int = 4
    random_state: int = 0


@dataclass
class BacktestResult:
    config: BacktestConfig
    predictions: pd.DataFrame  #: country, origin, horizon, kind, year, y, p_<model>
    folds: list[dict] = field(default_factory=list)
    audited: list[dt.date] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def feature_columns(panel: pd.DataFrame) -> list[str]:
    return [c for c in panel.columns if c.startswith("f_")]


def run_backtest(panel: pd.DataFrame, config: BacktestConfig, features: Features) -> BacktestResult:
    """Audit the features, then fit and predict fold by fold (see the module doc)."""
    unknown = set(config.models) - set(MODELS)
    if unknown:
        raise VigilError(
            f"unknown model(s) {sorted(unknown)}", f"choose from: {', '.join(sorted(MODELS))}"
        )
    t0 = time.perf_counter()
    result = BacktestResult(config, pd.DataFrame())
    result.audited = audit_look_ahead(panel, features, config)
    result.seconds["audit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    parts = []
    for h in config.horizons:
        rows = panel[panel["horizon"] == h]
        for year in range(config.first_year, config.last_year + 1):
            part, fold = _fold(rows, year, h, config)
            if part is not None:
                parts.append(part)
                result.folds.append(fold)
    result.seconds["fit_predict"] = time.perf_counter() - t0
    result.predictions = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return result


def _fold(rows: pd.DataFrame, year: int, horizon: int, config: BacktestConfig):
    origins = pd.to_datetime(rows["origin"])
    test = rows[origins.dt.year == year]
    if test.empty:
        return None, None
    start = pd.Timestamp(test["origin"].min())
    cut = start - pd.Timedelta(days=config.gap_days)
    train = rows[pd.to_datetime(rows["label_available_at"]) <= cut]
    if train.empty or train["y"].nunique() < 2:
        return None, None
    if pd.to_datetime(train["label_available_at"]).max() > cut:  # the guarantee, checked
        raise LookAheadError(f"fold {year}: a training label is newer than the cut-off {cut}")
    cols = feature_columns(rows)
    out = test[["country", "origin", "horizon", "kind", "y"]].copy()
    out["year"] = year
    for name in config.models:
        members = getattr(MODELS[name](), "members", None)
        if members and all(f"p_{m}" in out for m in members):
            # an ensemble of members already fitted on this fold with the same random_state:
            # Ensemble.fit would refit them identically, so average their predictions
            out[f"p_{name}"] = np.clip(out[[f"p_{m}" for m in members]].mean(axis=1), EPS, 1 - EPS)
            continue
        model = clone(MODELS[name](), random_state=config.random_state)
        model.fit(train[cols], train["y"].to_numpy(), origin=train["origin"].to_numpy())
        out[f"p_{name}"] = model.predict_proba(test[cols])
    fold = {
        "year": year,
        "horizon": horizon,
        "train_rows": len(train),
        "test_rows": len(test),
        "train_until": str(pd.Timestamp(train["label_available_at"].max()).date()),
        "cut_off": str(cut.date()),
    }
    return out, fold


def audit_look_ahead(
    panel: pd.DataFrame, features: Features, config: BacktestConfig
) -> list[dt.date]:
    """Rebuild sampled origins' features from the store as of each origin; any difference
    (a row the cut store cannot make counts as one) is look-ahead. Returns the origins."""
    origins = sorted(
        {o for o in pd.to_datetime(panel["origin"]).dt.date
         if config.first_year <= o.year <= config.last_year}
    )  # fmt: skip
    if not origins:
        return []
    picks = sorted(
        {origins[int(i)] for i in np.linspace(0, len(origins) - 1, config.audit_origins)}
    )
    cols = feature_columns(panel)
    for origin in picks:
        full = _features_at(panel, origin, cols)
        past = _features_at(features(origin, [origin], False), origin, cols).reindex(full.index)
        bad = [
            c
            for c in cols
            if not np.allclose(full[c].to_numpy(float), past[c].to_numpy(float), equal_nan=True)
        ]
        if bad:
            raise LookAheadError(
                f"features of origin {origin} change when the store is cut at that date: "
                f"{', '.join(bad)}",
                "a feature uses information published after its origin; fix the panel",
            )
    return picks


def _features_at(frame: pd.DataFrame, origin: dt.date, cols: list[str]) -> pd.DataFrame:
    at = frame[pd.to_datetime(frame["origin"]).dt.date == origin]
    at = at.drop_duplicates(["country"]).set_index("country")
    return at[cols]
