"""Delivering alerts to sinks, with every attempt recorded and failures retried later.

Each (alert, sink) pair has one row in ``alert_deliveries``: ``sent``, or ``failed`` with
the attempts so far and the last error. A later call retries every ``failed`` pair whose
sink is still configured, so an alert raised while the mail server was down still reaches
it. One sink failing never stops the others: each send is caught and recorded on its own.
A sink added later does not receive the old alerts (only new ones and pending retries).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.alerts import store
from vigil.alerts.evaluate import Alert, evaluate, utc_now
from vigil.alerts.rules import load_rules
from vigil.alerts.sinks import SinkError, Sinks, load_sinks

if TYPE_CHECKING:
    import duckdb

    from vigil.theatre import TheatreSpec

#: longest error text stored per delivery
_ERROR_CHARS = 500


def deliver(
    con: duckdb.DuckDBPyConnection,
    alerts: Sequence[Alert],
    sinks: Sinks | Sequence,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict]:
    """Send each alert to each sink not yet sent to, and retry the failed deliveries of
    earlier calls; record every attempt. Returns one dict per attempt (alert_id, sink,
    status, attempts, error)."""
    sinks = sinks if isinstance(sinks, Sinks) else Sinks(sinks)
    if not sinks:
        return []
    names = [s.label for s in sinks]
    rows = con.execute(
        "SELECT alert_id, sink, status, attempts FROM alert_deliveries "
        "WHERE sink IN (SELECT unnest($names))",
        {"names": names},
    ).fetchall()
    done = {(a, s): (status, n) for a, s, status, n in rows}
    # the alerts to work on: the given ones, then those with a failed delivery pending
    work = {a.alert_id: a for a in alerts}
    pending = [a for (a, _), (status, _n) in done.items() if status == "failed" and a not in work]
    for a in store.load(con, sorted(set(pending))):
        work[a.alert_id] = a
    results = []
    for alert in work.values():
        for sink in sinks:
            status, attempts = done.get((alert.alert_id, sink.label), (None, 0))
            if status == "sent":
                continue
            error = _send(sink, alert, sinks.base, sleep)
            results.append(_note(con, alert.alert_id, sink.label, error, attempts + 1))
    return results


def _send(sink, alert: Alert, base: Path, sleep) -> str | None:
    """None when sent, else the error as text (any exception: one broken sink must not
    stop the loop over the others)."""
    try:
        sink.send(alert, base=base, sleep=sleep)
    except SinkError as exc:
        return str(exc)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _note(con, alert_id: str, sink: str, error: str | None, attempts: int) -> dict:
    status = "failed" if error else "sent"
    error = error[:_ERROR_CHARS] if error else None
    con.execute(
        "INSERT INTO alert_deliveries (alert_id, sink, status, attempts, last_error, delivered_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (alert_id, sink) DO UPDATE SET "
        "status = excluded.status, attempts = excluded.attempts, "
        "last_error = excluded.last_error, delivered_at = excluded.delivered_at",
        [alert_id, sink, status, attempts, error, None if error else utc_now()],
    )
    return {"alert_id": alert_id, "sink": sink, "status": status, "attempts": attempts,
            "error": error}  # fmt: skip


def check_and_send(
    con: duckdb.DuckDBPyConnection,
    spec: TheatreSpec,
    result: dict,
    previous: dict | None,
    sinks: Sinks | Sequence | str | Path | None,
    *,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Alert]:
    """The theatre's rules evaluated on ``result`` after ``previous``; the new alerts stored
    and delivered to ``sinks`` (a sinks file, loaded sinks, or None), with pending failed
    deliveries retried. Returns the new alerts."""
    if isinstance(sinks, str | Path):
        sinks = load_sinks(sinks)
    rules = load_rules(spec)
    raised = evaluate(con, spec, rules, result, previous, now=now or utc_now())
    new = store.record(con, raised)
    if sinks:
        deliver(con, new, sinks, sleep=sleep)
    return new
