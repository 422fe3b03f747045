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

import ibis
import numpy as np

from vigil import assess as A  # noqa: N812
from vigil.errors import InputError
from vigil.forecast import scores
from vigil.indicators import series as S  # noqa: N812
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


def resolution_days(con, resolver: Resolver) -> np.ndarray:
    """Sorted days of the events the resolver counts (the indicators' own rule matching)."""
    sql = ibis.to_sql(S.rule_events_expr(resolver.events), dialect="duckdb")
    rows = con.execute(f"SELECT occurred_on FROM ({sql}) ORDER BY occurred_on").fetchall()
    return np.array([r[0] for r in rows], dtype="datetime64[D]")


def resolved_count(days: np.ndarray, start: dt.date, end: dt.date) -> int:
    """Events of ``days`` (from :func:`resolution_days`) with ``start < day <= end``."""
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    return int(np.searchsorted(days, hi, "right") - np.searchsorted(days, lo, "right"))


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
    assessed = A.replay(con, theatre, library, days, horizon_days, with_evidence=False)
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
    days = resolution_days(con, outcome.resolve)
    rows = []
    for a in assessed:
        p = next(o.probability for o in a.outcomes if o.id == oid)
        n = resolved_count(days, a.as_of, a.as_of + dt.timedelta(days=horizon))
        rows.append(
            {
                "as_of": str(a.as_of),
                "probability": round(p, 4),
                "events": n,
                "resolved": int(n >= outcome.resolve.min_events),
            }
        )
    y = np.array([r["resolved"] for r in rows], dtype=float)
    p = np.array([r["probability"] for r in rows])
    brier = scores.brier(y, p)
    ref_prior = scores.brier(y, np.full_like(p, p_prior))
    ref_clim = scores.brier(y, np.full_like(p, y.mean()))
    return {
        "id": oid,
        "n": len(rows),
        "positives": int(y.sum()),
        "prior": round(p_prior, 4),
        "brier": round(brier, 4),
        "log_loss": round(scores.log_loss(y, p), 4),
        "brier_prior": round(ref_prior, 4),
        "bss_vs_prior": _round(scores.skill(brier, ref_prior)),
        "bss_vs_climatology": _round(scores.skill(brier, ref_clim)),
        "resolver": outcome.resolve.why.strip(),
        "rows": rows,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
