"""Forecasts as of a date: the panel builder, and a model fitted on what was known then.

:func:`panel_builder` is the one function that turns the store into features (and labels):
the backtest audits it, ``vigil forecast`` and the scenario seam use it. :func:`fit_as_of`
fits a model the way a backtest fold does — on every label available a gap before the cut —
so a live forecast is made exactly like the backtested ones.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from vigil import settings
from vigil.errors import InputError
from vigil.forecast import panel as P  # noqa: N812
from vigil.forecast.adjacency import neighbours
from vigil.forecast.backtest import Features as Builder
from vigil.forecast.backtest import feature_columns
from vigil.forecast.context import load_context
from vigil.forecast.models import MODELS, Forecaster, clone

GAP_DAYS = 31


def panel_builder(con, data_dir: Path, cache_dir: Path | None = None) -> Builder:
    """The panel of :mod:`vigil.forecast.panel` from ``con``, with neighbours from the
    Natural Earth file in ``data_dir`` (adjacency cached in ``cache_dir``)."""
    near = neighbours(data_dir, cache_dir or Path(settings.get("cache")))

    def build(as_of, origins, labels=True):
        return P.build_panel(
            P.load_counts(con, as_of=as_of),
            origins,
            P.HORIZONS,
            context=load_context(con, as_of=as_of),
            neighbours=near,
            keep_unlabelled=not labels,
        )

    return build


def fit_as_of(
    build: Builder, con, cut: dt.date, horizon: int, model: str, gap_days: int = GAP_DAYS
) -> tuple[Forecaster, pd.DataFrame]:
    """``model`` fitted on every row of ``horizon`` whose label was available ``gap_days``
    before ``cut``; returns it with its training rows."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}", f"choose one of: {', '.join(MODELS)}")
    counts = P.load_counts(con, as_of=cut)
    origins = P.monthly_origins(counts.months[0].date().replace(day=15), cut)
    train = build(cut, origins, True)
    limit = pd.Timestamp(cut) - pd.Timedelta(days=gap_days)
    train = train[
        (train["horizon"] == horizon) & (pd.to_datetime(train["label_available_at"]) <= limit)
    ]
    if train.empty or train["y"].nunique() < 2:
        raise InputError(f"not enough ACLED history before {cut}", "pick a later date")
    cols = feature_columns(train)
    fitted = clone(MODELS[model]()).fit(
        train[cols], train["y"].to_numpy(), origin=train["origin"].to_numpy()
    )
    return fitted, train


def forecast_table(
    build: Builder, con, day: dt.date, horizon: int, model: str, fitted=None
) -> pd.DataFrame:
    """Every country's probability as of ``day`` (features as known that day), sorted;
    with ``base_rate``, the training rate of the row's kind. ``fitted``: a (model, training
    rows) pair from :func:`fit_as_of` to reuse, else one is fitted as of ``day``."""
    model_, train = fitted or fit_as_of(build, con, day, horizon, model)
    now = build(day, [day], False)
    now = now[now["horizon"] == horizon]
    if now.empty:
        raise InputError(
            f"no country has 12 months of ACLED data before {day}", "pick a later date"
        )
    cols = feature_columns(train)
    rates = train.groupby("kind")["y"].mean()
    now = now.assign(
        p=model_.predict_proba(now[cols]),
        base_rate=now["kind"].map(rates).fillna(float(train["y"].mean())).to_numpy(),
        last_events=np.expm1(now["f_log_lag1"]),  # the last known month's events
    )
    return now.sort_values("p", ascending=False).reset_index(drop=True)
