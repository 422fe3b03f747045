"""Outcome resolvers on synthetic items: windows settled, coverage, outcomes under way."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from test_scenarios import LADDER
from vigil.scenarios.resolve import Items, OutcomeResolver, months_between
from vigil.scenarios.spec import Outcome, ScenarioSet
from vigil.service.scenario_backtest import settle
from vigil.theatre import EventRule

D = dt.date(2022, 6, 1)
DAY = D.toordinal()


def _items(days: list[int], lag: int = 2, who: list[str] | None = None) -> Items:
    """Items on the given day offsets from D, available ``lag`` days later."""
    day = np.array([DAY + d for d in days], dtype=np.int64)
    who = np.array(who or [f"outlet{i % 2}" for i in range(len(days))], dtype=object)
    evidence = tuple({"date": dt.date.fromordinal(int(x)).isoformat(), "title": f"item {i}",
                      "source": "s", "source_id": str(i)} for i, x in enumerate(day))  # fmt: skip
    return Items(day, day + lag, who, evidence)


def _resolver(outcome_id: str, at_least: str, rung: int, items: Items, months=None, rate=4.0):
    outcome = Outcome.model_validate({
        "id": outcome_id, "at_least": at_least, "question": "did it happen at all?",
        "resolve": {"events": EventRule(categories=("ASSAULT",)).model_dump(), "min_events": 2,
                    "why": "two events settle it, one does not", "recurrence_rate": rate,
                    "recurrence_why": "such things come in waves of a few"},
    })  # fmt: skip
    covered = frozenset(months_between(DAY - 400, DAY + 400) if months is None else months)
    return OutcomeResolver(outcome, "role", rung, items, None, covered)


def test_a_window_fires_when_enough_items_fall_in_it_and_is_covered_where_sources_report():
    r = _resolver("o", "tense", 1, _items([5, 9]))
    assert r.fired(DAY, DAY + 10) and not r.fired(DAY, DAY + 8)  # (lo, hi]: day 9 in, 10 not
    assert r.fired(DAY, DAY + 30) and not r.fired(DAY + 10, DAY + 40)
    assert r.covered(DAY, DAY + 30) and r.covered(DAY + 10, DAY + 40)
    blind = _resolver("o", "tense", 1, _items([5, 9]), months=set())
    assert blind.fired(DAY, DAY + 30) and not blind.covered(DAY, DAY + 30)
    # covered month by month: a window reaching one month the sources missed is not
    months = set(months_between(DAY - 400, DAY + 400)) - set(months_between(DAY + 35, DAY + 35))
    gap = _resolver("o", "tense", 1, _items([5, 9]), months=months)
    assert gap.covered(DAY, DAY + 20) and not gap.covered(DAY, DAY + 40)


def test_which_windows_are_scored_never_depends_on_what_happened():
    """A higher rung firing settles the lower outcome true, but only in windows the lower
    outcome's own sources cover: otherwise its quiet windows would be dropped and its
    fired ones kept, a sample chosen by the outcome."""
    s = ScenarioSet.model_validate({**LADDER, "outcomes": [
        {"id": "low", "at_least": "tense", "question": "does it get tense at all?"},
        {"id": "high", "at_least": "war", "question": "does war break out at all?"},
    ]})  # fmt: skip
    low_uncovered = _resolver("low", "tense", 1, _items([]), months=set())
    high = _resolver("high", "war", 2, _items([3, 4]))
    resolvers = {"low": low_uncovered, "high": high}
    assert settle(s, s.outcomes[0], resolvers, DAY, DAY + 30) is None
    resolvers["low"] = _resolver("low", "tense", 1, _items([]))
    assert settle(s, s.outcomes[0], resolvers, DAY, DAY + 30) == 1  # implied by the ladder
    assert settle(s, s.outcomes[0], resolvers, DAY + 10, DAY + 40) == 0


def test_under_way_uses_only_what_was_available_and_dates_the_episode():
    r = _resolver("o", "tense", 1, _items([-40, -33, -26, -12, -5], lag=2), rate=4.0)
    seen = r.under_way(D, 90)
    assert seen is not None and seen.rung == 1
    assert seen.probability == pytest.approx(1 - np.exp(-4 * 90 / 365))
    # the episode runs back week by week while the test held: it started 40 days ago
    assert seen.since == D - dt.timedelta(days=40)
    assert all(e["date"] <= D.isoformat() for e in seen.evidence) and len(seen.evidence) <= 3
    # items published but not yet available on the date do not count
    late = _resolver("o", "tense", 1, _items([-1, -2], lag=5))
    assert late.under_way(D, 90) is None
    assert late.under_way(D + dt.timedelta(days=5), 90) is not None
