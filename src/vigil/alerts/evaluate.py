"""Evaluating alert rules: an assessment against the previous one (and the store, for silence).

The inputs are the assessment JSON (:func:`vigil.service.assess.assessment_json`), so an
alert can be raised from a fresh assessment or from two stored ones alike, and a test can
hand-make both.

"An alert fires once per crossing": each alert's id is a hash of the theatre, the rule, the
subject and the crossing itself (the band pair and the date, the state pair and the date, the
date a resolver says the outcome has been under way since, the last record of a silent
source). The store keeps one row per id, so assessing the same date again raises nothing new,
while crossing back and crossing again are new crossings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from vigil.alerts.rules import (
    BLIND,
    STATES,
    BandRule,
    MoveRule,
    ObservedRule,
    SilentRule,
    StateRule,
    check_outcomes,
)
from vigil.briefing.yardstick import term
from vigil.store.status import DATE_COLUMN

if TYPE_CHECKING:
    import duckdb

    from vigil.theatre import TheatreSpec

#: evidence items kept per cause: enough to check the alert, short enough to send
ITEMS = 3


@dataclass(frozen=True)
class Alert:
    """One crossing of one rule, with the values before and after and the items behind it."""

    alert_id: str
    theatre: str
    rule: str
    kind: str
    subject: str
    as_of: dt.date
    raised_at: dt.datetime
    message: str
    evidence: dict = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["raised_at"] = self.raised_at.isoformat(timespec="seconds")
        return json.loads(json.dumps(d, default=str))  # a deep copy, JSON-ready


def alert_id(theatre: str, rule: str, subject: str, *crossing: object) -> str:
    """The hash that makes one crossing one alert."""
    text = json.dumps([theatre, rule, subject, *[str(c) for c in crossing]])
    return hashlib.sha256(text.encode()).hexdigest()


def utc_now() -> dt.datetime:
    """Now, as the store keeps times: UTC without a zone."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def evaluate(
    con: duckdb.DuckDBPyConnection | None,
    spec: TheatreSpec,
    rules,
    result: dict,
    previous: dict | None,
    *,
    now: dt.datetime,
) -> list[Alert]:
    """The alerts ``rules`` raise for the assessment ``result`` after ``previous`` (None:
    only ``observed`` and ``silent`` can fire, having nothing to cross from). ``con`` is
    read for ``silent`` rules only."""
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    theatre = spec.theatre.id
    as_of = dt.date.fromisoformat(result["as_of"])
    check_outcomes(rules, {o["id"] for o in result["outcomes"]})
    ctx = _Context(theatre, as_of, now, result, previous)
    alerts: list[Alert] = []
    for rule in rules:
        if isinstance(rule, BandRule | MoveRule) and previous is not None:
            alerts += _outcome_moves(ctx, rule)
        elif isinstance(rule, StateRule) and previous is not None:
            alerts += _state_changes(ctx, rule)
        elif isinstance(rule, ObservedRule):
            alerts += _observed(ctx, rule)
        elif isinstance(rule, SilentRule) and con is not None:
            alerts += _silent(ctx, rule, con)
    return alerts


@dataclass
class _Context:
    theatre: str
    as_of: dt.date
    now: dt.datetime
    result: dict
    previous: dict | None

    def alert(self, rule, subject: str, crossing: tuple, message: str, evidence: dict) -> Alert:
        return Alert(
            alert_id(self.theatre, rule.id, subject, *crossing),
            self.theatre, rule.id, rule.kind, subject, self.as_of, self.now,
            message, {"rule_why": rule.why.strip(), **evidence} if rule.why else evidence,
        )  # fmt: skip


# ---------------------------------------------------------------- outcomes: band and move
def _outcome_moves(ctx: _Context, rule: BandRule | MoveRule) -> list[Alert]:
    before = {o["id"]: o for o in ctx.previous["outcomes"]}
    found = []
    for o in ctx.result["outcomes"]:
        if (rule.outcomes and o["id"] not in rule.outcomes) or o["id"] not in before:
            continue
        p0, p1 = before[o["id"]]["probability"], o["probability"]
        values = {
            "before": {"as_of": ctx.previous["as_of"], "probability": p0, "band": term(p0),
                       "interval": before[o["id"]].get("interval")},
            "after": {"as_of": ctx.result["as_of"], "probability": p1, "band": term(p1),
                      "interval": o.get("interval")},
            # what moved the outcome's scenario set: the indicators that changed state
            "drivers": _drivers(ctx, o.get("set")),
        }  # fmt: skip
        change = f"{_pct(p0)} → {_pct(p1)}"
        if isinstance(rule, BandRule):
            if term(p0) == term(p1):
                continue
            crossing = (term(p0), term(p1), ctx.as_of)
            message = f"{o['id']}: {change}, from '{term(p0)}' to '{term(p1)}' (PHIA yardstick)"
        else:
            points = 100 * (p1 - p0)
            if abs(points) < rule.points - 1e-9 or not _direction_ok(rule.direction, points):
                continue
            crossing = (ctx.previous["as_of"], ctx.as_of, round(p0, 4), round(p1, 4))
            message = f"{o['id']}: {change} ({points:+.1f} points since {ctx.previous['as_of']})"
        found.append(ctx.alert(rule, o["id"], crossing, message, values))
    return found


def _direction_ok(direction: str, delta: float) -> bool:
    return direction == "any" or (delta > 0) == (direction == "up")


def _drivers(ctx: _Context, set_id: str | None) -> list[dict]:
    now, then = _readings(ctx.result, set_id), _readings(ctx.previous, set_id)
    changed = []
    for ind in sorted(set(now) | set(then)):
        a, b = then.get(ind, {"state": BLIND}), now.get(ind, {"state": BLIND})
        if a["state"] != b["state"]:
            changed.append({
                "indicator": ind, "state_before": a["state"], "state_after": b["state"],
                "evidence": b.get("evidence", []),
            })  # fmt: skip
    return changed


# ---------------------------------------------------------------- indicators: state
def _readings(result: dict, set_id: str | None = None) -> dict[str, dict]:
    """Each indicator's state in an assessment: its reading where it gave one (the same in
    every scenario of every set, so the first is taken), ``blind`` where the coverage says
    it was blind."""
    out: dict[str, dict] = {}
    for s in result.get("scenario_sets", []):
        if set_id is not None and s.get("id") != set_id:
            continue
        for c in s["scenarios"][0]["contributions"] if s.get("scenarios") else []:
            if c.get("source", "indicator") == "indicator" and c["indicator"] not in out:
                out[c["indicator"]] = {
                    "state": c["state"],
                    "reading_date": c.get("reading_date"),
                    "detail": c.get("detail"),
                    "evidence": list(c.get("evidence") or [])[:ITEMS],
                }
        for b in (s.get("coverage") or {}).get("blind") or []:
            out.setdefault(b["indicator"], {"state": BLIND, "reasons": b.get("reasons", [])})
    return out


def _state_changes(ctx: _Context, rule: StateRule) -> list[Alert]:
    now, then = _readings(ctx.result), _readings(ctx.previous)
    found = []
    for ind in sorted(set(now) | set(then)):
        if rule.indicators and ind not in rule.indicators:
            continue
        a = then.get(ind, {"state": BLIND})
        b = now.get(ind, {"state": BLIND})
        s0, s1 = a["state"], b["state"]
        if s0 == s1 or (rule.to and s1 not in rule.to):
            continue
        if BLIND in (s0, s1):
            if not rule.blind:
                continue  # feeds going quiet (or back) is not the situation changing
        elif not _direction_ok(rule.direction, STATES.index(s1) - STATES.index(s0)):
            continue
        message = f"{ind}: {s0} → {s1} (reading of {b.get('reading_date') or ctx.as_of})"
        evidence = {
            "before": {"as_of": ctx.previous["as_of"], **a},
            "after": {"as_of": ctx.result["as_of"], **b},
        }
        found.append(ctx.alert(rule, ind, (s0, s1, ctx.as_of), message, evidence))
    return found


# ---------------------------------------------------------------- outcomes: observed
def _observed(ctx: _Context, rule: ObservedRule) -> list[Alert]:
    before = {o["id"]: o.get("observed") for o in (ctx.previous or {}).get("outcomes", [])}
    found = []
    for o in ctx.result["outcomes"]:
        seen = o.get("observed")
        if not seen or (rule.outcomes and o["id"] not in rule.outcomes):
            continue
        earlier = before.get(o["id"])
        if earlier and earlier.get("since") == seen.get("since"):
            continue  # already under way at the previous assessment: not new
        since = seen.get("since") or ctx.result["as_of"]
        message = f"{o['id']}: observed under way since {since}"
        evidence = {
            "observed": {**seen, "evidence": list(seen.get("evidence") or [])[:ITEMS]},
            "probability": o["probability"],
        }
        # the episode, not the date: a resolver still firing a week later is the same one
        found.append(ctx.alert(rule, o["id"], ("observed", since), message, evidence))
    return found


# ---------------------------------------------------------------- sources: silent
def last_records(
    con: duckdb.DuckDBPyConnection, names: list[str], as_of: dt.date
) -> dict[str, dt.date | None]:
    """Each source's newest record dated on or before ``as_of`` (None: none), over events,
    observations and documents (the date columns of :mod:`vigil.store.status`)."""
    parts = " UNION ALL ".join(
        f"SELECT source, max({col})::DATE AS last FROM {kind} "
        f"WHERE source IN (SELECT unnest($names)) AND {col} <= $as_of GROUP BY source"
        for kind, col in DATE_COLUMN.items()
    )
    rows = con.execute(
        f"SELECT source, max(last) FROM ({parts}) GROUP BY source",
        {"names": names, "as_of": as_of},
    ).fetchall()
    found = dict(rows)
    return {n: found.get(n) for n in names}


def _silent(ctx: _Context, rule: SilentRule, con) -> list[Alert]:
    last = last_records(con, sorted(rule.sources), ctx.as_of)
    found = []
    for source, days in sorted(rule.sources.items()):
        day = last[source]
        age = None if day is None else (ctx.as_of - day).days
        if age is not None and age <= days:
            continue
        what = f"no record up to {ctx.as_of}" if day is None else f"last record {day}, {age} days"
        message = f"{source}: silent ({what}; allowed {days} days)"
        evidence = {"source": source, "last_record": day and day.isoformat(),
                    "silent_days": age, "allowed_days": days}  # fmt: skip
        # one alert per silence: the same last record is the same silence, however long
        found.append(ctx.alert(rule, source, ("silent", day or "never"), message, evidence))
    return found


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"
