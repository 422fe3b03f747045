"""The statistical forecaster as evidence for the scenario sets: the ``ExtraEvidence`` seam.

A set that names countries in its ``forecast`` link (:class:`vigil.scenarios.spec.ForecastLink`)
receives one contribution: the forecaster's probability that political violence in those
countries reaches the escalation threshold within ``horizon_months`` (:mod:`vigil.forecast`),
against the training base rate of the row's kind, as a mean log-odds difference
:math:`\\bar d = \\frac{1}{n}\\sum_c [\\operatorname{logit} p_c - \\operatorname{logit} b_c]`.
It raises every rung above the bottom together and lowers the bottom, centred like an
indicator's contribution: :math:`llr_k = w \\bar d (\\mathbb{1}[k \\ge 1] - (K-1)/K)`, with the
link's ``weight`` :math:`w` justified by the backtest (docs/FORECAST.md).

The model is refitted once a year, on the labels available a gap before 15 January, exactly
as a backtest fold is, so an assessment replayed on any date uses a forecaster that could
have existed then; the fitted model is cached per year.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from vigil.forecast.predict import Builder, fit_as_of, forecast_table
from vigil.scenarios.bayes import Contribution
from vigil.scenarios.spec import ScenarioSet


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class ForecastEvidence:
    """:class:`vigil.scenarios.bayes.ExtraEvidence` from the forecaster (``model``)."""

    id = "forecaster"

    def __init__(self, build: Builder, con, model: str = "ensemble") -> None:
        self.build, self.con, self.model = build, con, model
        self._fitted: dict[tuple[dt.date, int], tuple] = {}
        self._tables: dict[tuple[dt.date, int], object] = {}  # one table serves every set

    def contributions(
        self, scenario_set: ScenarioSet, as_of: dt.date, horizon_days: int
    ) -> Sequence[Contribution]:
        link = scenario_set.forecast
        if link is None:
            return []
        table = self.table(as_of, link.horizon_months)
        rows = table[table["country"].isin(link.countries)].sort_values("country")
        if rows.empty:
            return []
        d = float(
            np.mean(
                [_logit(p) - _logit(b) for p, b in zip(rows["p"], rows["base_rate"], strict=True)]
            )
        )
        k = len(scenario_set.scenarios)
        shape = np.array([0.0] + [1.0] * (k - 1)) - (k - 1) / k
        state = ", ".join(
            f"{c} {p:.1%} (base {b:.1%})"
            for c, p, b in zip(rows["country"], rows["p"], rows["base_rate"], strict=True)
        )
        return [
            Contribution(
                indicator=f"forecaster:{'+'.join(rows['country'])}",
                state=state,
                day=as_of,
                age_days=0,
                decay=1.0,
                weight=link.weight,
                centred=tuple(float(x) for x in d * shape),
                llr=tuple(float(x) for x in link.weight * d * shape),
                source=self.id,
                note=f"{self.model}, {link.horizon_months}-month horizon",
            )
        ]

    def table(self, as_of: dt.date, horizon_months: int):
        if (as_of, horizon_months) in self._tables:
            return self._tables[as_of, horizon_months]
        cut = dt.date(as_of.year if as_of >= dt.date(as_of.year, 1, 15) else as_of.year - 1, 1, 15)
        key = (cut, horizon_months)
        if key not in self._fitted:
            self._fitted[key] = fit_as_of(self.build, self.con, cut, horizon_months, self.model)
        table = forecast_table(
            self.build, self.con, as_of, horizon_months, self.model, fitted=self._fitted[key]
        )
        self._tables[as_of, horizon_months] = table
        return table
