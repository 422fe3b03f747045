"""The scenario model backtested like the forecaster: replayed, then scored where data settles it.

``vigil backtest --model scenarios --theatre belarus`` replays the assessment every ``step``
days (each as known on its date, :func:`vigil.assess.replay`) and scores each outcome whose
spec says how the data resolves it (``outcomes[].resolve``,
:class:`vigil.scenarios.spec.Resolver`): true for an assessment on D when at least
``min_events`` matching events occurred in (D, D + H]. Only windows that the resolver's
sources cover entirely in the store count; the others are neither hits nor misses. Outcomes
without a resolver are listed as unresolvable, with the reason.

Scores: Brier score and log loss of the assessed probability, against two references — the
**prior** (the set's reference-class probability for the horizon, no evidence: the
scenario model's "no-change") and the **climatology** of the scored windows (the share
resolved true; in-sample, so a flattering bar) — as Brier skill scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from vigil import assess as A  # noqa: N812
from vigil.errors import InputError
from vigil.scenarios.bayes import prior
from vigil.scenarios.spec import Resolver, ScenarioLibrary
from vigil.specs import TheatreSpec


def coverage(con, resolver: Resolver) -> tuple[dt.date, dt.date] | None:
    """First and last event day of the resolver's sources in the store (None: no events)."""
    sources = list(resolver.events.sources) or None
    row = con.execute(
        "SELECT min(occurred_on), max(occurred_on) FROM events "
        "WHERE (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], source))",
        [sources, sources],
    ).fetchone()
    return None if row[0] is None else (row[0], row[1])


def resolved_count(con, resolver: Resolver, start: dt.date, end: dt.date) -> int:
    """Matching events with ``start < occurred_on <= end``."""
    rule = resolver.events
    params: list = [start, end]
    where = ["occurred_on > ?", "occurred_on <= ?"]
    for column, values in (
        ("source", rule.sources),
        ("category", rule.categories),
        ("country", rule.countries),
    ):
        if values:
            where.append(f"list_contains(?::VARCHAR[], {column})")
            params.append(list(values))
    if rule.near_borders:
        where.append(
            "EXISTS (SELECT 1 FROM event_border_km b WHERE b.source = e.source AND "
            "b.source_id = e.source_id AND list_contains(?::VARCHAR[], b.border) AND b.km <= ?)"
        )
        params += [list(rule.near_borders), rule.within_km]
    sql = f"SELECT count(*) FROM events e WHERE {' AND '.join(where)}"
    return int(con.execute(sql, params).fetchone()[0])


def backtest_scenarios(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    horizon_days: int,
    step_days: int,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> dict:
    """Replay and score every resolvable outcome (see the module doc)."""
    plans, unresolvable = {}, []
    for sset, outcome in library.outcomes():
        if outcome.resolve is None:
            unresolvable.append(
                {
                    "id": outcome.id,
                    "why": "no resolver in the spec: the data "
                    "holds no event-level source that settles it",
                }
            )
            continue
        span = coverage(con, outcome.resolve)
        if span is None:
            unresolvable.append({"id": outcome.id, "why": "the resolver's sources have no events"})
            continue
        plans[outcome.id] = (sset, outcome, span)
    if not plans:
        return {"model": "scenarios", "outcomes": [], "unresolvable": unresolvable}
    lo = max([first or dt.date.min] + [span[0] for _, _, span in plans.values()])
    hi = min([last or dt.date.max] + [span[1] for _, _, span in plans.values()])
    hi -= dt.timedelta(days=horizon_days)
    if hi < lo:
        raise InputError(
            f"no {horizon_days}-day window lies inside the resolvers' coverage {lo}–{hi}",
            "use a shorter --horizon or a store with longer event coverage",
        )
    days = [lo + dt.timedelta(days=i) for i in range(0, (hi - lo).days + 1, step_days)]
    assessed = A.replay(con, theatre, library, days, horizon_days)
    results = [
        _score(con, oid, sset, outcome, assessed, horizon_days)
        for oid, (sset, outcome, _) in plans.items()
    ]
    return {
        "model": "scenarios",
        "theatre": theatre.theatre.id,
        "horizon_days": horizon_days,
        "step_days": step_days,
        "from": str(days[0]),
        "to": str(days[-1]),
        "outcomes": results,
        "unresolvable": unresolvable,
    }


def _score(con, oid, sset, outcome, assessed: Sequence[A.Assessment], horizon: int) -> dict:
    k = sset.index(outcome.at_least)
    p_prior = float(prior(sset, horizon)[k:].sum())
    rows = []
    for a in assessed:
        p = next(o.probability for o in a.outcomes if o.id == oid)
        n = resolved_count(con, outcome.resolve, a.as_of, a.as_of + dt.timedelta(days=horizon))
        rows.append(
            {
                "as_of": str(a.as_of),
                "probability": round(p, 4),
                "events": n,
                "resolved": int(n >= outcome.resolve.min_events),
            }
        )
    y = np.array([r["resolved"] for r in rows], dtype=float)
    p = np.clip([r["probability"] for r in rows], 1e-6, 1 - 1e-6)
    brier = float(np.mean((p - y) ** 2))
    ref_prior = float(np.mean((p_prior - y) ** 2))
    ref_clim = float(np.mean((y.mean() - y) ** 2))
    return {
        "id": oid,
        "n": len(rows),
        "positives": int(y.sum()),
        "prior": round(p_prior, 4),
        "brier": round(brier, 4),
        "log_loss": round(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), 4),
        "brier_prior": round(ref_prior, 4),
        "bss_vs_prior": None if ref_prior == 0 else round(1 - brier / ref_prior, 4),
        "bss_vs_climatology": None if ref_clim == 0 else round(1 - brier / ref_clim, 4),
        "resolver": outcome.resolve.why.strip(),
        "rows": rows,
    }
