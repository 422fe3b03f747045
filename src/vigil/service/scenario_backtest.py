"""The scenario model backtested like the forecaster: replayed, then scored where data settles it.

``vigil backtest --model scenarios --theatre belarus`` replays the assessment every ``step``
days (each as known on its date, :func:`vigil.service.assess.replay`) and scores every outcome that
has a resolver (``outcomes[].resolve``, :mod:`vigil.scenarios.resolve`) on the windows its
own resolver's sources cover whole, so which windows count never depends on what happened
in them; there an outcome of a ladder is true when its own resolver or the resolver of a
higher outcome of the same set fires (reaching a rung implies the rungs below). Other
windows are neither hits nor misses.

Scores, each with a 90 % moving-block bootstrap interval (blocks as long as the windows
overlap, ``ceil(H / step)`` rows; the same rows for every forecast):

* Brier score and log loss of the model, of its **prior** (the set's reference-class
  probability for the horizon, no evidence: the scenario model's "no change") and of the
  **climatology** of the scored windows (the share resolved true; in-sample, so a
  flattering bar), and the Brier skill of the model against both;
* the same on the **onsets**: windows whose outcome was not already observed under way on
  the date (an outcome under way is seen, not foreseen, and is easy to score well on);
* **warnings**: hits, misses and false alarms at :data:`WARN` (a probability an analyst
  would act on), against how often the prior alone reaches it;
* a **reliability** table of every scored forecast, pooled over the outcomes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from vigil.errors import InputError
from vigil.forecast import scores
from vigil.scenarios.bayes import prior
from vigil.scenarios.resolve import OutcomeResolver, load_resolvers
from vigil.scenarios.spec import ScenarioLibrary
from vigil.service import assess as A  # noqa: N812
from vigil.theatre import TheatreSpec

#: a forecast at or above this is a warning (the yardstick's "unlikely" starts at 25 %)
WARN = 0.25
RELIABILITY_BINS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def backtest_scenarios(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    horizon_days: int,
    step_days: int,
    first: dt.date | None = None,
    last: dt.date | None = None,
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """Replay and score every resolvable outcome (see the module doc)."""
    resolvers = load_resolvers(con, theatre, library)
    unresolvable = [
        {"id": o.id, "why": _why_not(library, o.id)}
        for _, o in library.outcomes()
        if o.id not in resolvers
    ]
    if not resolvers:
        return {"model": "scenarios", "outcomes": [], "unresolvable": unresolvable}
    months = sorted(set().union(*(r.months for r in resolvers.values())))
    if not months:
        raise InputError(
            "the resolvers' sources cover no month of the store",
            "load the event and text sources the outcomes' resolvers name (`vigil status`)",
        )
    lo = max(first or dt.date.min, _month_start(months[0]))
    hi = min(last or dt.date.max, _month_end(months[-1])) - dt.timedelta(days=horizon_days)
    if hi < lo:
        raise InputError(
            f"no {horizon_days}-day window lies inside the resolvers' coverage {lo}–{hi}",
            "use a shorter --horizon-days or a store with longer event or text coverage",
        )
    days = [lo + dt.timedelta(days=i) for i in range(0, (hi - lo).days + 1, step_days)]
    assessed = A.replay(con, theatre, library, days, horizon_days, with_evidence=False)
    block = math.ceil(horizon_days / step_days)
    results = [
        _score(sset, outcome, resolvers, assessed, horizon_days, block, resamples, seed)
        for sset, outcome in library.outcomes()
        if outcome.id in resolvers
    ]
    results = [r for r in results if r["windows"]]
    pooled = [(row["probability"], row["resolved"]) for r in results for row in r["rows"]]
    return {
        "model": "scenarios",
        "theatre": theatre.theatre.id,
        "horizon_days": horizon_days,
        "step_days": step_days,
        "from": str(days[0]),
        "to": str(days[-1]),
        "bootstrap": {"resamples": resamples, "block_rows": block, "level": 0.9},
        "warn_at": WARN,
        "outcomes": results,
        "unresolvable": unresolvable,
        "reliability": _reliability(pooled),
    }


def _why_not(library: ScenarioLibrary, outcome_id: str) -> str:
    folder = library.folder.split("theatres/")[-1] if "theatres/" in library.folder else ""
    return (
        "no resolver in the spec: the data holds no source that settles it (the spec's "
        f"comment at this outcome says why{f', in theatres/{folder}' if folder else ''})"
    )


def _month_start(m: int) -> dt.date:
    return dt.date(m // 12, m % 12 + 1, 1)


def _month_end(m: int) -> dt.date:
    return _month_start(m + 1) - dt.timedelta(days=1)


def settle(sset, outcome, resolvers: dict[str, OutcomeResolver], lo: int, hi: int) -> int | None:
    """The outcome in days ``(lo, hi]``: None unless its own resolver's sources cover the
    whole window (which windows are scored never depends on what happened in them); then
    1 if it or a higher outcome of the ladder happened, else 0."""
    own = resolvers[outcome.id]
    if not own.covered(lo, hi):
        return None
    k = sset.index(outcome.at_least)
    higher = [
        resolvers[o.id]
        for o in sset.outcomes
        if o.id in resolvers and sset.index(o.at_least) >= k and o.id != outcome.id
    ]
    return int(own.fired(lo, hi) or any(r.fired(lo, hi) for r in higher))


def _score(sset, outcome, resolvers, assessed: Sequence[A.Assessment], horizon: int, block: int,
           resamples: int, seed: int) -> dict:  # fmt: skip
    k = sset.index(outcome.at_least)
    p_prior = float(prior(sset, horizon)[k:].sum())
    rows, exact = [], []
    for a in assessed:
        d = a.as_of.toordinal()
        y = settle(sset, outcome, resolvers, d, d + horizon)
        if y is None:
            continue
        o = next(x for x in a.outcomes if x.id == outcome.id)
        exact.append(o.probability)  # scored unrounded: rare outcomes live in the 4th decimal
        rows.append(
            {
                "as_of": str(a.as_of),
                "probability": round(o.probability, 6),
                "prior": round(p_prior, 6),
                "resolved": y,
                "under_way": o.observed is not None,
            }
        )
    out = {
        "id": outcome.id,
        "windows": len(rows),
        "positives": sum(r["resolved"] for r in rows),
        "prior": round(p_prior, 4),
        "resolver": outcome.resolve.why.strip(),
    }
    if not rows:
        return out
    y = np.array([r["resolved"] for r in rows], dtype=float)
    p = np.array(exact)
    onset = np.array([not r["under_way"] for r in rows])
    out |= _scores(y, p, p_prior, block, resamples, seed)
    out["onsets"] = {
        "windows": int(onset.sum()),
        "positives": int(y[onset].sum()),
        **(_scores(y[onset], p[onset], p_prior, block, resamples, seed) if onset.any() else {}),
    }
    out["warnings"] = _warnings(y, p, p_prior)
    out["rows"] = rows
    return out


def _scores(y, p, p_prior: float, block: int, resamples: int, seed: int) -> dict:
    clim = float(y.mean())
    forecasts = {
        "model": p,
        "prior": np.full_like(p, p_prior),
        "climatology": np.full_like(p, clim),
    }
    boot = scores.block_bootstrap(y, forecasts, block, resamples=resamples, seed=seed)
    brier = {name: scores.brier(y, f) for name, f in forecasts.items()}

    def r(x: float | None) -> float | None:  # six decimals: rare outcomes score ~1e-5
        return None if x is None else round(float(x), 6)

    return {
        "brier": r(brier["model"]),
        "brier_prior": r(brier["prior"]),
        "brier_climatology": r(brier["climatology"]),
        "interval": scores.interval(boot["brier:model"]),
        "brier_prior_interval": scores.interval(boot["brier:prior"]),
        "brier_climatology_interval": scores.interval(boot["brier:climatology"]),
        "log_loss": r(scores.log_loss(y, p)),
        "log_loss_prior": r(scores.log_loss(y, forecasts["prior"])),
        "log_loss_climatology": r(scores.log_loss(y, forecasts["climatology"])),
        "log_loss_interval": scores.interval(boot["log_loss:model"]),
        "log_loss_prior_interval": scores.interval(boot["log_loss:prior"]),
        "log_loss_climatology_interval": scores.interval(boot["log_loss:climatology"]),
        "bss_vs_prior": r(scores.skill(brier["model"], brier["prior"])),
        "bss_vs_prior_interval": scores.interval(boot["bss:prior"]),
        "bss_vs_climatology": r(scores.skill(brier["model"], brier["climatology"])),
        "bss_vs_climatology_interval": scores.interval(boot["bss:climatology"]),
        "climatology": r(clim),
    }


def _warnings(y: np.ndarray, p: np.ndarray, p_prior: float) -> dict:
    warned = p >= WARN
    return {
        "hits": int((warned & (y == 1)).sum()),
        "misses": int((~warned & (y == 1)).sum()),
        "false_alarms": int((warned & (y == 0)).sum()),
        "quiet": int((~warned & (y == 0)).sum()),
        "prior_warns": bool(p_prior >= WARN),
    }


def _reliability(pooled: list[tuple[float, int]]) -> list[dict]:
    """Forecasts pooled over the outcomes, in bins: the mean forecast beside the observed
    frequency (a calibrated model lies on the diagonal)."""
    if not pooled:
        return []
    p = np.array([x for x, _ in pooled])
    y = np.array([v for _, v in pooled], dtype=float)
    edges = np.array(RELIABILITY_BINS)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        hit = index == b
        n = int(hit.sum())
        out.append(
            {
                "bin": [float(edges[b]), float(edges[b + 1])],
                "n": n,
                "mean_forecast": round(float(p[hit].mean()), 4) if n else None,
                "observed": round(float(y[hit].mean()), 4) if n else None,
                "positives": int(y[hit].sum()),
            }
        )
    return out
