"""Analysis of competing hypotheses (ACH) and sensitivity of a set's call.

**ACH matrix.** Heuer's matrix of evidence against hypotheses: for each indicator with
likelihoods in the set, its state in use and, per scenario, how consistent that state is
with it — the centred log-likelihood :math:`c_h(s)` read on a five-step scale (``CC`` at
least 2.5 times as likely as under the average rung, ``C`` 1.4 times, ``N`` neutral,
``I`` and ``II`` the inverses). ACH ranks hypotheses by how much evidence is
*inconsistent* with them, so each scenario also gets its inconsistency score: the sum of
its negative weighted contributions.

**Sensitivity.** Which indicators, if their state changed, would change the leading
scenario: each indicator is set, in turn, to each state it is not in (as a fresh reading
on the as-of date) and the posterior recomputed with everything else fixed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vigil.scenarios.bayes import (
    Contribution,
    Observed,
    Reading,
    contributions,
    posterior,
    prior,
    under_way,
)
from vigil.scenarios.spec import STATES, ScenarioSet

#: ratios that separate the ACH marks
STRONG, WEAK = math.log(2.5), math.log(1.4)


def mark(centred: float) -> str:
    if centred >= STRONG:
        return "CC"
    if centred >= WEAK:
        return "C"
    if centred <= -STRONG:
        return "II"
    if centred <= -WEAK:
        return "I"
    return "N"


@dataclass(frozen=True)
class AchRow:
    indicator: str
    state: str | None  #: None: no usable reading (no evidence either way)
    marks: tuple[str, ...]
    llr: tuple[float, ...]


def ach_matrix(
    scenario_set: ScenarioSet, contribs: Sequence[Contribution]
) -> tuple[list[AchRow], tuple[float, ...]]:
    """Rows per indicator of the set (and extra evidence), and inconsistency per scenario."""
    by_ind = {c.indicator: c for c in contribs}
    k = len(scenario_set.scenarios)
    rows = []
    for lk in scenario_set.evidence:
        c = by_ind.pop(lk.indicator, None)
        rows.append(_row(c) if c else AchRow(lk.indicator, None, ("",) * k, (0.0,) * k))
    rows += [_row(c) for c in by_ind.values()]  # extra evidence (e.g. a forecaster)
    inconsistency = tuple(
        float(sum(min(0.0, r.llr[j]) for r in rows)) for j in range(k)
    )  # fmt: skip
    return rows, inconsistency


def _row(c: Contribution) -> AchRow:
    return AchRow(c.indicator, c.state, tuple(mark(x) for x in c.centred), c.llr)


@dataclass(frozen=True)
class Sensitivity:
    indicator: str
    state_now: str | None
    state_if: str
    leading_now: str
    leading_if: str
    shift: float  #: largest change of any rung's probability

    @property
    def changes_leading(self) -> bool:
        return self.leading_if != self.leading_now


def sensitivity(
    scenario_set: ScenarioSet,
    readings: Mapping[str, Sequence[Reading]],
    as_of: dt.date,
    horizon_days: int,
    extra: Sequence[Contribution] = (),
    bounds: Mapping[str, Mapping[str, float]] | None = None,
    observed: Sequence[Observed] = (),
) -> list[Sensitivity]:
    """Every indicator × other state; those that change the leading scenario first (the
    false-alarm ``bounds`` and the outcomes ``observed`` under way held as assessed)."""
    ids = scenario_set.scenario_ids()
    p0 = prior(scenario_set, horizon_days)

    def final(contribs) -> np.ndarray:
        p = posterior(p0, [*contribs, *extra])
        for obs in sorted(observed, key=lambda o: o.rung):
            p = under_way(p, obs.rung, obs.probability)
        return p

    base_c = contributions(scenario_set, readings, as_of, bounds)
    base = final(base_c)
    lead = ids[int(np.argmax(base))]
    now = {c.indicator: c.state for c in base_c}
    out = []
    for lk in scenario_set.evidence:
        for state in STATES:
            if state == now.get(lk.indicator):
                continue
            changed = {**readings, lk.indicator: [Reading(lk.indicator, as_of, state)]}
            p = final(contributions(scenario_set, changed, as_of, bounds))
            out.append(
                Sensitivity(
                    indicator=lk.indicator,
                    state_now=now.get(lk.indicator),
                    state_if=state,
                    leading_now=lead,
                    leading_if=ids[int(np.argmax(p))],
                    shift=float(np.abs(p - base).max()),
                )
            )
    out.sort(key=lambda s: (not s.changes_leading, -s.shift))
    return out
