r"""Bayesian updating of one scenario set by indicator states, with every step traceable.

For a set with rungs :math:`h_0 < h_1 < \dots < h_{K-1}` and horizon :math:`H` days:

1. **Prior.** Rung :math:`k \ge 1` states the yearly rate :math:`r_k` at which, in its
   reference class, at least that rung is reached. Then
   :math:`P(\ge k) = 1 - e^{-r_k H / 365}` and :math:`P(h_k) = P(\ge k) - P(\ge k+1)`: a
   longer horizon moves prior mass up the ladder.
2. **Readings.** An indicator is read on the as-of date and on earlier dates (``memory``:
   every ``step_days`` back to ``days``) by :mod:`vigil.indicators.readings`: each reading
   is *observed* (normal, elevated or high: the higher of its level and its change) or
   *blind* (its sources did not cover the topic), and a blind reading is no evidence.
3. **Likelihoods, bounded by false alarms.** Each state selects a column of the set's rows
   :math:`P(s \mid h)`. The bottom rung's row is bounded by the indicator's own history as
   known on the date: :math:`P(s \mid h_0) \ge \hat f_s`, the rate at which it read
   :math:`s` while no rung occurred (:mod:`vigil.scenarios.history`), so an indicator that
   cries wolf gets ratios closer to 1 (never past it; ``normal`` is not bounded:
   :func:`bounded`). The centred log-likelihood is
   :math:`c_h(s) = \log P(s \mid h) - \frac{1}{K}\sum_{h'} \log P(s \mid h')`.
4. **Decay, strength, groups.** A reading at age :math:`a` weighs
   :math:`d = 2^{-a / t_{1/2}}`; the latest observed reading is the evidence, unless an
   earlier one was a *more anomalous* state whose decayed strength
   :math:`d \cdot \lVert c(s) \rVert_1` is larger. A reading decided by text alone counts
   at the text rule's strength :math:`\sigma \le 1`. Indicators in a group with
   correlation :math:`\rho` that all give evidence (:math:`n` of them) are weighted
   :math:`w = 1 / (1 + (n - 1)\rho)` (Kish's design effect). Cheap signs and context
   (readings whose quiet row is ``pooled``) share one cause, so the :math:`m` of them that
   give evidence are averaged rather than multiplied: each weighs at most :math:`1 / m`
   (the smaller of that and its group weight), and together they move a rung's odds no
   more than the strongest of them alone.
5. **Posterior.** :math:`\log P(h \mid E) = \log P(h) + \sum_i d_i w_i \sigma_i c_h(s_i) + C`.
   The summands are the **contributions**, stored with the reading and its evidence, so
   every change of probability can be traced. Other evidence (the statistical forecaster)
   plugs in through :class:`ExtraEvidence` as further contributions.
6. **Outcomes under way.** When an outcome's resolver fires on the data available by the
   date (:mod:`vigil.scenarios.resolve`), its rung :math:`k` is *observed*: with
   :math:`\pi = 1 - e^{-\lambda H/365}` (:math:`\lambda` the resolver's recurrence rate)
   :math:`P(\ge k)` becomes :math:`\pi + (1 - \pi)\,P(\ge k)`, the mass taken from the
   rungs below (which are implied) and the rungs above unchanged (:func:`under_way`). The
   change is stored as one more contribution (source ``observed``), so the contributions
   still explain the posterior exactly.
7. **Uncertainty.** Rates are drawn log-normally within their 90 % ``rate_range``; each
   likelihood :math:`P(s \mid h)` is drawn as :math:`P \cdot e^{\varepsilon}`,
   :math:`\varepsilon \sim N(0, 1/c)` with :math:`c` the row's ``confidence``, and the row
   renormalised: each number is known to within a factor :math:`e^{\pm 1.645/\sqrt{c}}`
   (90 %; 1.7 for :math:`c = 10`, 1.3 for :math:`c = 40`), the same relative error for rare
   and common states (a Dirichlet would give a 0.03 entry a relative error above 100 % at
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
    ``state`` ``blind`` (or anything but normal, elevated, high) is no evidence.
    """

    indicator: str
    day: dt.date
    state: str
    observed: dt.date | None = None
    strength: float = 1.0  #: 1, or the text rule's strength when text alone decided it
    detail: str = ""  #: what decided it, e.g. "events level 27 … → high"
    reasons: tuple[str, ...] = ()  #: why its blind parts are blind
    note: str | None = None  #: the analyst note that decided it, if one did

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
    source: str = "indicator"  #: or the id of an :class:`ExtraEvidence`, or ``observed``
    note: str = ""
    observed: dt.date | None = None  #: the latest day of the data behind the reading
    strength: float = 1.0
    detail: str = ""
    #: the bottom rung's P(state) after the false-alarm bound, when the bound raised it
    bound: float | None = None
    basis: str | None = None  #: the analyst note that decided the reading, if one did


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
class Observed:
    """An outcome whose resolver fired on the data available by the as-of date."""

    outcome: str
    rung: int  #: index of the outcome's rung in the ladder
    probability: float  #: π: the rung is reached within the horizon at least this likely
    since: dt.date  #: the first day of the episode under way
    evidence: tuple[dict, ...] = ()  #: the items the resolver counted, latest first


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
    observed: tuple[Observed, ...] = ()

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
def rows(lk: Likelihood, scenario_ids: Sequence[str]) -> np.ndarray:
    """(K, 3) likelihood rows P(normal, elevated, high | rung), bottom rung first."""
    return np.array([lk.given[sid] for sid in scenario_ids], dtype=float)


def bounded(column: np.ndarray, state: str, bound: Mapping[str, float] | None) -> np.ndarray:
    """One state's likelihoods over the rungs (bottom first; rows of draws too), with the
    bottom rung's raised to the false-alarm rate ``bound[state]`` where that is larger.

    Only ratios between rungs matter, and the bound pulls them toward 1, never past it: a
    rung that made the state likelier than the bottom rung keeps at least the raised
    probability (its ratio becomes ``max(1, P(s | h) / b)``), one that made it less likely
    keeps its ratio. ``normal`` is never bounded: a history of false alarms says how cheap a
    raised reading is, not that a quiet one says more.
    """
    b = (bound or {}).get(state, 0.0)
    q = column[..., :1]
    if state == "normal" or not np.any(b > q):
        return column
    raised = np.maximum(q, b)
    above = column[..., 1:] > q
    rest = np.where(above, np.maximum(column[..., 1:], raised), column[..., 1:] * raised / q)
    return np.concatenate([raised, rest], axis=-1)


def centred(lk: Likelihood, scenario_ids: Sequence[str], state: str, bound=None) -> np.ndarray:
    """:math:`c_h(s)`: log P(state | h) minus its mean over the rungs (with the bound)."""
    column = rows(lk, scenario_ids)[:, STATES.index(state)]
    logs = np.log(bounded(column, state, bound))
    return logs - logs.mean()


def decay(age_days: int, half_life_days: float) -> float:
    return 0.5 ** (max(age_days, 0) / half_life_days)


def on_grid(scenario_set: ScenarioSet, readings: Sequence[Reading], as_of: dt.date) -> list:
    """The observed readings on the set's memory grid (``as_of`` and every ``step_days``
    before it, back to ``days``), latest first."""
    m = scenario_set.memory
    usable = [
        r
        for r in readings
        if r.state in STATES
        and 0 <= (as_of - r.day).days <= m.days
        and (as_of - r.day).days % m.step_days == 0
    ]
    return sorted(usable, key=lambda r: r.day, reverse=True)


def pick_reading(
    scenario_set: ScenarioSet,
    lk: Likelihood,
    readings: Sequence[Reading],
    as_of: dt.date,
    bound: Mapping[str, float] | None = None,
) -> tuple[Reading, float, np.ndarray] | None:
    """The reading to use, with its decay and centred log-likelihoods; None without one.

    Only observed readings on the set's memory grid count (:func:`on_grid`), so an
    assessment does not depend on which other dates were read alongside it (a replay reads
    many), and a blind reading is no evidence. The latest observed reading counts; an
    earlier one replaces it only when it was a more anomalous state (a spike: ``high`` over
    ``elevated`` over ``normal``) whose decayed, strength-weighted size still exceeds the
    latest's. An old quiet reading never outweighs a new signal. Age counts from the data
    behind a reading (:attr:`Reading.data_day`), so a value carried from old data decays.
    """
    ids = scenario_set.scenario_ids()
    usable = on_grid(scenario_set, readings, as_of)
    if not usable:
        return None
    latest = usable[0]
    best, best_strength = None, -1.0
    for r in usable:
        if r is not latest and STATES.index(r.state) <= STATES.index(latest.state):
            continue
        d = decay((as_of - r.data_day).days, scenario_set.memory.half_life_days)
        c = centred(lk, ids, r.state, bound)
        strength = d * r.strength * float(np.abs(c).sum())
        if strength > best_strength + 1e-12:
            best, best_strength = (r, d, c), strength
    return best


def contributions(
    scenario_set: ScenarioSet,
    readings: Mapping[str, Sequence[Reading]],
    as_of: dt.date,
    bounds: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Contribution]:
    """Each indicator's decayed, strength- and group-weighted contribution (indicators
    without an observed reading give none); ``bounds``: false-alarm rates per indicator."""
    bounds = bounds or {}
    ids = scenario_set.scenario_ids()
    picked = {}
    for lk in scenario_set.evidence:
        bound = bounds.get(lk.indicator)
        choice = pick_reading(scenario_set, lk, readings.get(lk.indicator, ()), as_of, bound)
        if choice is not None:
            picked[lk.indicator] = (lk, *choice)
    group_of = {i: g for g in scenario_set.groups for i in g.indicators}
    present: dict[str, int] = {}
    for ind in picked:
        if ind in group_of:
            present[group_of[ind].id] = present.get(group_of[ind].id, 0) + 1
    pooled = sum(1 for lk, *_ in picked.values() if lk.pooled)
    out = []
    for ind, (lk, reading, d, c) in picked.items():
        g = group_of.get(ind)
        w = 1.0 / (1.0 + (present[g.id] - 1) * g.rho) if g else 1.0
        if lk.pooled:  # cheap signs corroborate one another; they do not compound
            w = min(w, 1.0 / pooled)
        col = STATES.index(reading.state)
        raised = bounded(rows(lk, ids)[:, col], reading.state, bounds.get(ind))[0]
        out.append(
            Contribution(
                indicator=ind,
                state=reading.state,
                day=reading.day,
                age_days=(as_of - reading.data_day).days,
                decay=d,
                weight=w,
                centred=tuple(float(x) for x in c),
                llr=tuple(float(x) for x in d * w * reading.strength * c),
                group=g.id if g else None,
                observed=reading.data_day,
                strength=reading.strength,
                detail=reading.detail,
                bound=float(raised) if col and raised > lk.given[ids[0]][col] + 1e-12 else None,
                basis=reading.note,
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
    bounds: Mapping[str, Mapping[str, float]] | None = None,
    observed: Sequence[Observed] = (),
    samples: int = SAMPLES,
    seed: int = 0,
) -> SetAssessment:
    """The set's posterior as of ``as_of`` for ``horizon_days``, with its interval;
    ``bounds`` are the indicators' false-alarm rates, ``observed`` its outcomes under way."""
    ids = scenario_set.scenario_ids()
    contribs = contributions(scenario_set, readings, as_of, bounds) + list(extra)
    p0 = prior(scenario_set, horizon_days)
    post = posterior(p0, contribs)
    draws = _posterior_draws(scenario_set, contribs, horizon_days, samples, seed, bounds)
    for obs in sorted(observed, key=lambda o: o.rung):
        moved = under_way(post, obs.rung, obs.probability)
        logs = np.log(moved) - np.log(post)
        llr = tuple(float(x) for x in logs - logs.mean())
        contribs.append(
            Contribution(
                indicator=f"observed:{obs.outcome}", state="under way", day=as_of,
                age_days=(as_of - obs.since).days, decay=1.0, weight=1.0, centred=llr,
                llr=llr, source="observed", observed=obs.since,
                detail=f"{obs.outcome} under way since {obs.since}: P(≥ {ids[obs.rung]}) "
                f"≥ {obs.probability:.0%}",
            )
        )  # fmt: skip
        post, draws = moved, under_way(draws, obs.rung, obs.probability)
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
        observed=tuple(observed),
    )


def under_way(p: np.ndarray, rung: int, probability: float) -> np.ndarray:
    r"""Ladder probabilities once rung ``rung`` (:math:`k`) is observed under way (rows of
    draws too): :math:`P(\ge k)` becomes :math:`\pi + (1 - \pi)\,P(\ge k)`, taken from
    the rungs below (each scaled by :math:`1 - \pi`); the rungs above keep their
    probability. An observed rung implies the ones below it and says nothing new about
    climbing higher: that is for the evidence to say (conditioning the ladder on
    :math:`\ge k` would instead multiply every higher rung by :math:`1/P(\ge k)`, a ratio of
    the priors' rates that no one judged)."""
    p = np.asarray(p, dtype=float)
    out = p.copy()
    above = p[..., rung + 1 :].sum(axis=-1)
    out[..., :rung] *= 1 - probability
    out[..., rung] = probability * (1 - above) + (1 - probability) * p[..., rung]
    return out


#: an outcome under way is never certain to be seen again: the rungs below keep this much
#: (a probability of exactly 1 would have no finite log-likelihood ratio to explain it)
MAX_REACH = 0.999


def reach_probability(recurrence_rate: float, horizon_days: int) -> float:
    """π: the probability that an outcome under way is seen again within the horizon,
    1 − exp(−rate·H/365), at most :data:`MAX_REACH`."""
    return min(MAX_REACH, 1.0 - math.exp(-recurrence_rate * horizon_days / 365.0))


def _posterior_draws(
    scenario_set: ScenarioSet,
    contribs: Sequence[Contribution],
    horizon_days: int,
    n: int,
    seed: int,
    bounds: Mapping[str, Mapping[str, float]] | None = None,
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
        given = np.log(rows(lk, ids))  # (K, 3)
        noisy = given + rng.standard_normal((n, *given.shape)) / math.sqrt(lk.confidence)
        # renormalise each drawn row, keep the column of the observed state, bound it
        column = np.exp(noisy[:, :, col]) / np.exp(noisy).sum(axis=2)
        logs = np.log(bounded(column, c.state, (bounds or {}).get(c.indicator)))
        logp += c.decay * c.weight * c.strength * (logs - logs.mean(axis=1, keepdims=True))
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)
