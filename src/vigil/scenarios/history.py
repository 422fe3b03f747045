r"""What an indicator's own past says about its false alarms, as known on the as-of date.

A likelihood ratio is only as good as the bottom rung's row: if an indicator read ``high``
in one reading of five while nothing happened, a spec that puts P(high | bottom rung) at
0.03 overstates its warning value tenfold. So before each assessment the bottom row is
bounded by the indicator's history:

* the indicator's readings every :data:`STEP_DAYS` days (on a fixed calendar grid, so
  replays share them) over the :data:`HISTORY_DAYS` before the as-of date ``D``, each as it
  was read on its own date (nothing later than that date was used, nor anything later
  than ``D``), keeping those whose horizon had ended by ``D``;
* of those, the *observed* readings at dates ``t`` after which no outcome of the set
  happened within the horizon, as the resolvers knew on ``D`` (outcomes no resolver can
  settle count as not having happened, which can only overstate false alarms);
* the false-alarm rate of state ``s`` is the share of those readings in ``s``, shrunk
  toward the spec's quiet row with a weight of :data:`PSEUDO` readings:

.. math:: \hat f_s = \frac{k_s + m\,P_{\text{spec}}(s \mid h_0)}{n + m}

and the bottom row uses :math:`\max(P_{\text{spec}}(s \mid h_0), \hat f_s)` for elevated and
high (:func:`vigil.scenarios.bayes.rows`). The spec's number is the prior, the history
only ever weakens it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vigil.scenarios.bayes import Reading
from vigil.scenarios.spec import STATES, ScenarioSet

HISTORY_DAYS = 730  #: how far back the false alarms are counted
STEP_DAYS = 28  #: readings four weeks apart share little data (smoothing and scan ≤ 28 days)
PSEUDO = 10  #: the spec's quiet row counts as this many readings


@dataclass(frozen=True)
class FalseAlarms:
    """An indicator's history under the bottom rung, as known on the as-of date."""

    n: int  #: observed readings whose horizon passed with no outcome of the set
    elevated: int
    high: int
    rates: dict[str, float]  #: shrunk rates of elevated and high (the bound)

    def as_json(self) -> dict:
        return {
            "readings": self.n,
            "elevated": self.elevated,
            "high": self.high,
            "rates": {s: round(v, 4) for s, v in self.rates.items()},
        }


def history_dates(as_of: dt.date, horizon_days: int) -> list[dt.date]:
    """Grid dates whose horizon ended by ``as_of``, over the last :data:`HISTORY_DAYS`."""
    first = as_of.toordinal() - HISTORY_DAYS
    last = as_of.toordinal() - horizon_days
    start = first + (-first) % STEP_DAYS
    return [dt.date.fromordinal(o) for o in range(start, last + 1, STEP_DAYS)]


def false_alarms(
    scenario_set: ScenarioSet,
    readings: Mapping[str, Sequence[Reading]],
    as_of: dt.date,
    horizon_days: int,
    occurred: Callable[[int, int, int], bool],
    indicators: set[str] | None = None,
) -> dict[str, FalseAlarms]:
    """Each indicator's false alarms (of ``indicators``, default all of the set's) as known
    on ``as_of``; ``occurred(lo, hi, known)`` says whether an outcome of the set happened
    in days ``(lo, hi]`` on what was available by ``known``."""
    d = as_of.toordinal()
    quiet = [
        t for t in history_dates(as_of, horizon_days)
        if not occurred(t.toordinal(), t.toordinal() + horizon_days, d)
    ]  # fmt: skip
    bottom = scenario_set.scenario_ids()[0]
    out = {}
    for lk in scenario_set.evidence:
        if indicators is not None and lk.indicator not in indicators:
            continue
        by_day = {r.day: r for r in readings.get(lk.indicator, ())}
        seen = [by_day[t].state for t in quiet if t in by_day and by_day[t].state in STATES]
        if not seen:
            continue
        counts = {s: seen.count(s) for s in STATES[1:]}
        spec = dict(zip(STATES, lk.given[bottom], strict=True))
        rates = {s: (counts[s] + PSEUDO * spec[s]) / (len(seen) + PSEUDO) for s in STATES[1:]}
        out[lk.indicator] = FalseAlarms(len(seen), counts["elevated"], counts["high"], rates)
    return out
