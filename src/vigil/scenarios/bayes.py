r"""Bayesian updating of one scenario set by indicator states, with every step traceable.

For a set with rungs :math:`h_0 < h_1 < \dots < h_{K-1}` and horizon :math:`H` days:

1. **Prior.** Rung :math:`k \ge 1` states the yearly rate :math:`r_k` at which, in its
   reference class, at least that rung is reached. Then
   :math:`P(\ge k) = 1 - e^{-r_k H / 365}` and :math:`P(h_k) = P(\ge k) - P(\ge k+1)`: a
   longer horizon moves prior mass up the ladder.
2. **Readings, with decay.** An indicator is read on the as-of date and on earlier dates
   (``memory``: every ``step_days`` back to ``days``). A reading at age :math:`a` weighs
   :math:`d = 2^{-a / t_{1/2}}`. The latest reading is the indicator's evidence, unless an
   earlier one was a *more anomalous* state (``high`` over ``elevated`` over ``normal``)
   whose decayed strength :math:`d \cdot \lVert c(s) \rVert_1` is larger, where
   :math:`c_h(s) = \log P(s \mid h) - \frac{1}{K}\sum_{h'} \log P(s \mid h')` is the
   centred log-likelihood of state :math:`s`. So a spike three weeks ago still counts, at
   half weight, while an old quiet reading never outweighs a new signal; ``insufficient``
   readings are no evidence.
3. **Correlated indicators.** Indicators in a group with correlation :math:`\rho` that
   all give evidence (:math:`n` of them) are weighted :math:`w = 1 / (1 + (n - 1)\rho)`
   (Kish's design effect): one story repeated by three sources counts as
   :math:`3 / (1 + 2\rho)` stories, not three.
4. **Posterior.** :math:`\log P(h \mid E) = \log P(h) + \sum_i d_i w_i c_h(s_i) + C`. The
   summands are the **contributions** (log-likelihood ratios against the set's average
   rung), stored with the reading and its evidence, so every change of probability can be
   traced to the readings that moved it. Other evidence (the statistical forecaster of a
   later issue) plugs in through :class:`ExtraEvidence` as further contributions.
5. **Uncertainty.** Rates are drawn log-normally within their 90 % ``rate_range``; each
   likelihood :math:`P(s \mid h)` is drawn as :math:`P \cdot e^{\varepsilon}`,
   :math:`\varepsilon \sim N(0, 1/c)` with :math:`c` the row's ``confidence``, and the row
   renormalised: each number is known to within a factor :math:`e^{\pm 1.645/\sqrt{c}}`
   (90 %; 1.7 for :math:`c = 10`, 1.3 for :math:`c = 40`), the same relative error for rare
   and common states (a Dirichlet would give a 0.07 entry a relative error above 100 % at
   :math:`c = 10`, and the intervals of a dozen such rows would say nothing). The 5–95 %
   quantiles of the resulting posteriors are the interval.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vigil.scenarios.spec import STATES, Likelihood, ScenarioSet

SAMPLES = 2000  #: Monte Carlo draws for the intervals
Z90 = 1.6448536269514722  #: standard normal 95th percentile: a 90 % range is ±Z90 sigma


@dataclass(frozen=True)
class Reading:
    """An indicator's state as known on ``day`` (no record available later was used).

    ``observed``: the latest day of the data behind it (``day`` unless the value is carried
    from data that ended earlier); a reading's age, and so its decay, counts from there.
    """

    indicator: str
    day: dt.date
    state: str
    observed: dt.date | None = None

    @property
    def data_day(self) -> dt.date:
        return self.observed or self.day


@dataclass(frozen=True)
class Contribution:
    """One piece of evidence's log-likelihood ratio for each rung of a set.

    ``llr[k] = decay * weight * centred[k]``: added to the log prior of rung ``k``.
    """

    indicator: str
    state: str
    day: dt.date | None  #: the reading's date (on the set's memory grid)
    age_days: int  #: days from the data behind the reading to the as-of date
    decay: float
    weight: float
    centred: tuple[float, ...]
    llr: tuple[float, ...]
    group: str | None = None
    source: str = "indicator"  #: or the id of an :class:`ExtraEvidence`
    note: str = ""
    observed: dt.date | None = None  #: the latest day of the data behind the reading


class ExtraEvidence(Protocol):
    """The seam for evidence that is not an indicator state (e.g. a statistical forecaster).

    ``contributions`` returns log-likelihood ratios for the set's rungs (or nothing when it
    has no bearing on the set); they are added like indicator contributions and stored in
    the audit trail with ``source`` = ``id``.
    """

    id: str

    def contributions(
        self, scenario_set: ScenarioSet, as_of: dt.date, horizon_days: int
    ) -> Sequence[Contribution]: ...


@dataclass(frozen=True)
class SetAssessment:
    """A set's prior, posterior, interval and the contributions behind them."""

    set_id: str
    name: str
    scenario_ids: tuple[str, ...]
    prior: tuple[float, ...]
    probability: tuple[float, ...]
    interval: tuple[tuple[float, float], ...]
    contributions: tuple[Contribution, ...]
    samples: np.ndarray = field(repr=False, compare=False)  #: (SAMPLES, K) posterior draws

    @property
    def leading(self) -> str:
        return self.scenario_ids[int(np.argmax(self.probability))]

    def at_least(self, scenario_id: str) -> tuple[float, tuple[float, float]]:
        """P(the highest rung reached is ``scenario_id`` or above), with its interval."""
        k = self.scenario_ids.index(scenario_id)
        p = float(sum(self.probability[k:]))
        draws = self.samples[:, k:].sum(axis=1)
        return p, (float(np.quantile(draws, 0.05)), float(np.quantile(draws, 0.95)))


# ------------------------------------------------------------------------------ prior
def prior(scenario_set: ScenarioSet, horizon_days: int, rates: np.ndarray | None = None):
    """P(highest rung = k within the horizon) from the rungs' yearly rates.

    ``rates``: optional (n, K-1) draws; returns (n, K) then, else (K,).
    """
    r = np.array([s.annual_rate for s in scenario_set.scenarios[1:]], dtype=float)
    r = r if rates is None else rates
    at_least = 1.0 - np.exp(-r * horizon_days / 365.0)
    at_least = np.maximum.accumulate(at_least[..., ::-1], axis=-1)[..., ::-1]  # monotone
    upper = np.concatenate([at_least, np.zeros_like(at_least[..., :1])], axis=-1)
    lower = np.concatenate([np.ones_like(at_least[..., :1]), at_least], axis=-1)
    return lower - upper


def rate_draws(scenario_set: ScenarioSet, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, K-1) yearly rates, log-normal with exactly the stated 90 % ``rate_range``
    (median its geometric midpoint; fixed at ``annual_rate`` without a range).

    The draws share one normal deviate across rungs (rates of one ladder are judged from
    one reference class, so they err together) and keep the ladder's order.
    """
    z = rng.standard_normal((n, 1))
    cols = []
    for s in scenario_set.scenarios[1:]:
        if s.rate_range is None:
            cols.append(np.full((n, 1), s.annual_rate))
            continue
        lo, hi = s.rate_range
        sigma = (math.log(hi) - math.log(lo)) / (2 * Z90)
        cols.append(math.sqrt(lo * hi) * np.exp(sigma * z))
    rates = np.hstack(cols)
    return np.minimum.accumulate(rates, axis=1)


# --------------------------------------------------------------------------- evidence
def centred(lk: Likelihood, scenario_ids: Sequence[str], state: str) -> np.ndarray:
    """:math:`c_h(s)`: log P(state | h) minus its mean over the rungs."""
    col = STATES.index(state)
    logs = np.log([lk.given[sid][col] for sid in scenario_ids])
    return logs - logs.mean()


def decay(age_days: int, half_life_days: float) -> float:
    return 0.5 ** (max(age_days, 0) / half_life_days)


def pick_reading(
    scenario_set: ScenarioSet, lk: Likelihood, readings: Sequence[Reading], as_of: dt.date
) -> tuple[Reading, float, np.ndarray] | None:
    """The reading to use, with its decay and centred log-likelihoods; None without one.

    Only readings on the set's memory grid count (``as_of`` and every ``step_days`` before
    it, back to ``days``), so an assessment does not depend on which other dates were read
    alongside it (a replay reads many). The latest usable reading counts; an earlier one
    replaces it only when it was a more anomalous state (a spike: ``high`` over
    ``elevated`` over ``normal``) whose decayed strength still exceeds the latest's. An
    old quiet reading never outweighs a new signal. Age counts from the data behind a
    reading (:attr:`Reading.data_day`), so a value carried from old data decays.
    """
    ids = scenario_set.scenario_ids()
    m = scenario_set.memory
    usable = [
        r
        for r in readings
        if r.state in STATES
        and 0 <= (as_of - r.day).days <= m.days
        and (as_of - r.day).days % m.step_days == 0
    ]
    if not usable:
        return None
    usable.sort(key=lambda r: r.day, reverse=True)
    latest = usable[0]
    best, best_strength = None, -1.0
    for r in usable:
        if r is not latest and STATES.index(r.state) <= STATES.index(latest.state):
            continue
        d = decay((as_of - r.data_day).days, m.half_life_days)
        c = centred(lk, ids, r.state)
        strength = d * float(np.abs(c).sum())
        if strength > best_strength + 1e-12:
            best, best_strength = (r, d, c), strength
    return best


def contributions(
    scenario_set: ScenarioSet,
    readings: Mapping[str, Sequence[Reading]],
    as_of: dt.date,
) -> list[Contribution]:
    """Each indicator's decayed, group-weighted contribution (indicators without a usable
    reading give none)."""
    picked = {}
    for lk in scenario_set.evidence:
        choice = pick_reading(scenario_set, lk, readings.get(lk.indicator, ()), as_of)
        if choice is not None:
            picked[lk.indicator] = choice
    group_of = {i: g for g in scenario_set.groups for i in g.indicators}
    present: dict[str, int] = {}
    for ind in picked:
        if ind in group_of:
            present[group_of[ind].id] = present.get(group_of[ind].id, 0) + 1
    out = []
    for ind, (reading, d, c) in picked.items():
        g = group_of.get(ind)
        w = 1.0 / (1.0 + (present[g.id] - 1) * g.rho) if g else 1.0
        out.append(
            Contribution(
                indicator=ind,
                state=reading.state,
                day=reading.day,
                age_days=(as_of - reading.data_day).days,
                decay=d,
                weight=w,
                centred=tuple(float(x) for x in c),
                llr=tuple(float(x) for x in d * w * c),
                group=g.id if g else None,
                observed=reading.data_day,
            )
        )
    return out


def posterior(prior_probs: np.ndarray, contribs: Sequence[Contribution]) -> np.ndarray:
    """Normalised prior × exp(sum of contributions), computed in log space."""
    logp = np.log(np.clip(prior_probs, 1e-300, None)).astype(float)
    for c in contribs:
        logp += np.array(c.llr)
    logp -= logp.max()
    p = np.exp(logp)
    return p / p.sum()


# --------------------------------------------------------------------------- the set
def assess_set(
    scenario_set: ScenarioSet,
    readings: Mapping[str, Sequence[Reading]],
    as_of: dt.date,
    horizon_days: int,
    *,
    extra: Sequence[Contribution] = (),
    samples: int = SAMPLES,
    seed: int = 0,
) -> SetAssessment:
    """The set's posterior as of ``as_of`` for ``horizon_days``, with its interval."""
    ids = scenario_set.scenario_ids()
    contribs = contributions(scenario_set, readings, as_of) + list(extra)
    p0 = prior(scenario_set, horizon_days)
    post = posterior(p0, contribs)
    draws = _posterior_draws(scenario_set, contribs, horizon_days, samples, seed)
    interval = tuple(
        (float(np.quantile(draws[:, k], 0.05)), float(np.quantile(draws[:, k], 0.95)))
        for k in range(len(ids))
    )
    return SetAssessment(
        set_id=scenario_set.id,
        name=scenario_set.name,
        scenario_ids=ids,
        prior=tuple(float(x) for x in p0),
        probability=tuple(float(x) for x in post),
        interval=interval,
        contributions=tuple(contribs),
        samples=draws,
    )


def _posterior_draws(
    scenario_set: ScenarioSet,
    contribs: Sequence[Contribution],
    horizon_days: int,
    n: int,
    seed: int,
) -> np.ndarray:
    """(n, K) posteriors with rates and likelihood rows drawn from their uncertainty."""
    rng = np.random.default_rng(seed)
    ids = scenario_set.scenario_ids()
    p0 = prior(scenario_set, horizon_days, rate_draws(scenario_set, n, rng))
    logp = np.log(np.clip(p0, 1e-300, None))
    by_ind = {lk.indicator: lk for lk in scenario_set.evidence}
    for c in contribs:
        lk = by_ind.get(c.indicator) if c.source == "indicator" else None
        if lk is None:  # extra evidence carries no likelihood rows: taken as given
            logp += np.array(c.llr)
            continue
        col = STATES.index(c.state)
        given = np.log(np.array([lk.given[sid] for sid in ids]))  # (K, 3)
        noisy = given + rng.standard_normal((n, *given.shape)) / math.sqrt(lk.confidence)
        # renormalise each drawn row, then keep the column of the observed state
        logs = noisy[:, :, col] - np.log(np.exp(noisy).sum(axis=2))
        logp += c.decay * c.weight * (logs - logs.mean(axis=1, keepdims=True))
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)
