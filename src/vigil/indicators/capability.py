"""Posture and capability as levels: where the war stands on a date, from the theatre's
``capability`` series (territory held, fire activity, claimed losses…).

Indicators report anomalies against a baseline; an analyst also needs the levels behind
them ("how much territory changed hands this quarter, and faster or slower than the one
before?"). Each figure is read as it was available on the date (``available_at``), so a
briefing for a past date shows what was knowable then, and names whose figure it is.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vigil.theatre import CapabilitySeries, TheatreSpec

WINDOW_DAYS = 90  #: one quarter: long enough to smooth daily noise, short enough to move


def capability_notes(
    con, theatre: TheatreSpec, as_of: dt.date, window_days: int = WINDOW_DAYS
) -> list[dict]:
    """One row per capability series: ``latest`` (value and date); ``recent`` and
    ``previous``, the window ending at the latest value and the window before it (the mean
    per day for a rate, the change for a level or a running tally); ``change`` (recent −
    previous). None where the data does not reach."""
    return [_note(con, c, as_of, window_days) for c in theatre.theatre.capability]


def _note(con, c: CapabilitySeries, as_of: dt.date, window: int) -> dict:
    rows = con.execute(
        """SELECT period_end, value FROM observations
           WHERE series = ? AND geo = ? AND value IS NOT NULL AND period_end <= ?
             AND available_at < ? + INTERVAL 1 DAY
           QUALIFY row_number() OVER (PARTITION BY period_end ORDER BY available_at DESC) = 1
           ORDER BY period_end""",
        [c.series, c.geo, as_of, as_of],
    ).fetchall()
    note = {
        "series": c.series, "geo": c.geo, "label": c.label, "measure": c.measure,
        "unit": c.unit, "attribution": c.attribution, "window_days": window,
        "latest": None, "latest_date": None, "recent": None, "previous": None, "change": None,
    }  # fmt: skip
    if not rows:
        return note
    end, value = rows[-1]
    note |= {"latest": value, "latest_date": end.isoformat()}
    one, two = end - dt.timedelta(days=window), end - dt.timedelta(days=2 * window)
    if c.measure == "rate":  # a mean only over a window the series covers from its start
        recent = _mean([v for d, v in rows if one < d <= end], _at(rows, one) is not None)
        previous = _mean([v for d, v in rows if two < d <= one], _at(rows, two) is not None)
    else:  # a level's or a running tally's change in each window
        start, before = _at(rows, one), _at(rows, two)
        recent = None if start is None else value - start
        previous = None if start is None or before is None else start - before
    note |= {"recent": recent, "previous": previous}
    if recent is not None and previous is not None:
        note["change"] = recent - previous
    return note


def _at(rows: list[tuple[dt.date, float]], day: dt.date) -> float | None:
    """The value on ``day`` or the latest before it, if one lies within a week."""
    found = [v for d, v in rows if day - dt.timedelta(days=7) <= d <= day]
    return found[-1] if found else None


def _mean(values: list[float], covered: bool) -> float | None:
    return sum(values) / len(values) if values and covered else None
