"""Outcome resolvers: whether an outcome happened in a window, and whether it is under way.

An outcome's resolver (``outcomes[].resolve``, :class:`vigil.scenarios.spec.Resolver`)
counts events matching an event rule (the indicators' own rule matching) and documents its
text rule matched as occurrences (claims, denials and hypotheticals do not count; table
``text_matches``, rows ``resolve:<outcome>``). It serves twice:

* **after the fact** (the scenario backtest): the outcome is true in a window ``(lo, hi]``
  when the events reach ``min_events`` or the documents reach ``min_documents`` from
  ``min_outlets`` outlets; false only where the resolver's sources *cover* every month the
  window touches (an event source reported on at least :data:`ACTIVE_DAYS` days of the
  month from the rule's countries; the feeds carried the topic's ``min_documents``
  documents in the month); otherwise it is not settled;
* **as it happens** (an assessment): on the as-of date ``D`` the outcome is *under way*
  when the same test holds over the last ``recent_days`` days on what was available by
  ``D``; the episode runs back, week by week, as long as the test held, and its first
  counted item dates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from vigil.indicators import series as S  # noqa: N812
from vigil.indicators.arrays import ordinals
from vigil.query import tables as T  # noqa: N812
from vigil.query.engine import run
from vigil.scenarios.bayes import Observed, reach_probability
from vigil.scenarios.spec import RESOLVE, Outcome, ScenarioLibrary, ScenarioSet
from vigil.theatre import TOPIC, TheatreSpec

#: days with reports in a month for an event source to cover that month
ACTIVE_DAYS = 4
EVIDENCE_ITEMS = 3


@dataclass(frozen=True)
class Items:
    """What a resolver counts: each item's day, the day it became available, who reported
    it (the outlet or source) and its evidence (title, link), sorted by day."""

    day: np.ndarray
    available: np.ndarray
    who: np.ndarray
    evidence: tuple[dict, ...]

    @classmethod
    def from_frame(cls, df: pd.DataFrame, kind: str) -> Items:
        df = df.sort_values(["day", "source", "source_id"]).reset_index(drop=True)
        evidence = tuple(
            {
                "kind": kind, "source": r.source, "source_id": r.source_id,
                "date": dt.date.fromordinal(int(d)).isoformat(), "title": r.title or "",
                "url": r.url, "outlet": r.who if kind == "document" else None,
            }
            for r, d in zip(df.itertuples(), ordinals(df["day"]), strict=True)
        )  # fmt: skip
        return cls(ordinals(df["day"]), ordinals(df["available"]), df["who"].to_numpy(), evidence)

    def window(self, lo: int, hi: int, known: int | None) -> np.ndarray:
        """Indices of the items of days ``(lo, hi]`` available by ``known`` (None: ever)."""
        m = (self.day > lo) & (self.day <= hi)
        if known is not None:
            m &= self.available <= known
        return np.flatnonzero(m)


@dataclass(frozen=True)
class OutcomeResolver:
    """One outcome's resolver over the store, ready to settle windows and dates."""

    outcome: Outcome
    set_id: str
    rung: int
    events: Items | None
    text: Items | None
    months: frozenset[int]  #: covered months (year * 12 + month - 1)

    def _hits(self, lo: int, hi: int, known: int | None) -> list[tuple[Items, np.ndarray]]:
        spec, out = self.outcome.resolve, []
        if self.events is not None:
            idx = self.events.window(lo, hi, known)
            if len(idx) >= spec.min_events:
                out.append((self.events, idx))
        if self.text is not None:
            idx = self.text.window(lo, hi, known)
            outlets = len(set(self.text.who[idx]))
            if len(idx) >= spec.text.min_documents and outlets >= spec.text.min_outlets:
                out.append((self.text, idx))
        return out

    def fired(self, lo: int, hi: int, known: int | None = None) -> bool:
        """Whether the outcome happened in days ``(lo, hi]`` (on what was available by
        ``known``, or on everything)."""
        return bool(self._hits(lo, hi, known))

    def covered(self, lo: int, hi: int) -> bool:
        """Whether the resolver's sources cover every month of days ``(lo, hi]``."""
        return all(m in self.months for m in months_between(lo + 1, hi))

    def under_way(self, as_of: dt.date, horizon_days: int) -> Observed | None:
        """The outcome as observed under way on ``as_of``, or None."""
        d, recent = as_of.toordinal(), self.outcome.resolve.recent_days
        hits = self._hits(d - recent, d, d)
        if not hits:
            return None
        first, back = min(int(items.day[idx].min()) for items, idx in hits), 7
        while earlier := self._hits(d - back - recent, d - back, d):
            first = min(first, min(int(items.day[idx].min()) for items, idx in earlier))
            back += 7
        latest = sorted(
            (items.evidence[i] for items, idx in hits for i in idx), key=lambda e: e["date"]
        )[::-1][:EVIDENCE_ITEMS]
        return Observed(
            outcome=self.outcome.id,
            rung=self.rung,
            probability=reach_probability(self.outcome.resolve.recurrence_rate, horizon_days),
            since=dt.date.fromordinal(first),
            evidence=tuple(latest),
        )


def months_between(lo: int, hi: int) -> list[int]:
    """Month keys of the days ``lo..hi`` (ordinals)."""
    a, b = dt.date.fromordinal(lo), dt.date.fromordinal(max(hi, lo))
    return list(range(a.year * 12 + a.month - 1, b.year * 12 + b.month))


def load_resolvers(
    con, theatre: TheatreSpec, library: ScenarioLibrary
) -> dict[str, OutcomeResolver]:
    """Every outcome with a resolver, loaded from the store (events, matched documents,
    coverage): one query per outcome and source kind. Border distances must be registered
    when a resolver names borders (as for the indicators)."""
    out = {}
    topic_months = _topic_months(con, theatre)
    documents = _text_items(con, theatre, [o.id for _, o in library.outcomes()])
    for sset, outcome in library.outcomes():
        spec = outcome.resolve
        if spec is None:
            continue
        events = text = None
        months: set[int] = set()
        if spec.events is not None:
            events = Items.from_frame(_event_items(con, spec.events), "event")
            months |= _event_months(con, spec.events)
        if spec.text is not None:
            mine = documents[documents["indicator"] == f"{RESOLVE}{outcome.id}"]
            text = Items.from_frame(mine, "document")
            need = next(t.min_documents for t in theatre.theatre.topics if t.id == spec.text.topic)
            months |= {m for m, n in topic_months.get(spec.text.topic, {}).items() if n >= need}
        out[outcome.id] = OutcomeResolver(
            outcome, sset.id, sset.index(outcome.at_least), events, text, frozenset(months)
        )
    return out


def occurred_in(resolvers: dict[str, OutcomeResolver], scenario_set: ScenarioSet) -> Callable:
    """``f(lo, hi, known)``: whether any outcome of the set happened in days ``(lo, hi]``
    on what was available by ``known`` (the history of false alarms needs it)."""
    mine = [r for r in resolvers.values() if r.set_id == scenario_set.id]

    def occurred(lo: int, hi: int, known: int) -> bool:
        return any(r.fired(lo, hi, known) for r in mine)

    return occurred


def observed_on(
    resolvers: dict[str, OutcomeResolver], scenario_set: ScenarioSet, as_of: dt.date, horizon: int
) -> list[Observed]:
    """The set's outcomes under way on ``as_of``."""
    found = [r.under_way(as_of, horizon) for r in resolvers.values() if r.set_id == scenario_set.id]
    return [o for o in found if o is not None]


# ---------------------------------------------------------------------------- queries
# Ibis over the store's tables (vigil.query): they run on the store or on Spark alike.
def _event_items(con, rule) -> pd.DataFrame:
    hits = S.rule_events_expr(rule)
    about = T.EVENTS.select("source", "source_id", title=T.EVENTS.summary, url=T.EVENTS.url)
    j = hits.join(about, ["source", "source_id"])
    return run(con, j.select(
        day=j.occurred_on, available=j.available_at, source=j.source, source_id=j.source_id,
        who=j.source, title=j.title, url=j.url,
    ))  # fmt: skip


def _text_items(con, theatre: TheatreSpec, outcome_ids: list[str]) -> pd.DataFrame:
    """The documents each outcome's text rule matched as occurrences (one query for all)."""
    tm = T.TEXT_MATCHES
    tm = tm.filter(
        tm.theatre == theatre.theatre.id,
        tm.indicator.isin([f"{RESOLVE}{o}" for o in outcome_ids] or [""]),
        tm.kind == "occurrence",
    )
    docs = tm.group_by(["indicator", "source", "source_id"]).agg(
        day=tm.published_at.min(), available=tm.available_at.min(), outlet=tm.outlet.max()
    )
    about = T.DOCUMENTS.select("source", "source_id", "title", "url")
    j = docs.join(about, ["source", "source_id"])
    return run(con, j.select(
        "indicator", "day", "available", "source", "source_id",
        who=j.outlet.coalesce(j.source), title=j.title, url=j.url,
    ))  # fmt: skip


def _month(day) -> ibis.Value:
    return day.year() * 12 + day.month() - 1


def _event_months(con, rule) -> set[int]:
    """Months in which one of the rule's sources reported on ``ACTIVE_DAYS`` days or more
    from the rule's countries (any category)."""
    ev = T.EVENTS
    if rule.sources:
        ev = ev.filter(ev.source.isin(list(rule.sources)))
    if rule.countries:
        ev = ev.filter(ev.country.isin(list(rule.countries)))
    per = ev.group_by([_month(ev.occurred_on).name("m"), "source"]).agg(
        days=ev.occurred_on.nunique()
    )
    rows = run(con, per)
    return {int(m) for m, days in zip(rows["m"], rows["days"], strict=True) if days >= ACTIVE_DAYS}


def _topic_months(con, theatre: TheatreSpec) -> dict[str, dict[int, int]]:
    """Documents per month on each topic."""
    tm = T.TEXT_MATCHES
    tm = tm.filter(tm.theatre == theatre.theatre.id, tm.indicator.startswith(TOPIC))
    per = tm.group_by(["indicator", _month(tm.published_at).name("m")]).agg(
        n=tm.source_id.nunique()
    )
    out: dict[str, dict[int, int]] = {}
    for indicator, m, n in run(con, per).itertuples(index=False):
        out.setdefault(indicator.removeprefix(TOPIC), {})[int(m)] = int(n)
    return out
