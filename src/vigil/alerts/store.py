"""Alerts in the store (tables ``alerts`` and ``alert_deliveries``, migration 0008).

One row per ``alert_id``: the id hashes the crossing, so recording the same crossing twice
(a re-run assessment, a restarted watcher) stores it once and delivers it once.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from vigil.alerts.evaluate import Alert
from vigil.store import transaction

if TYPE_CHECKING:
    import duckdb

_COLUMNS = "alert_id, theatre, rule, kind, subject, as_of, raised_at, message, evidence"


def record(con: duckdb.DuckDBPyConnection, alerts: list[Alert]) -> list[Alert]:
    """Store the alerts not stored yet, in one transaction; return those (the new ones)."""
    unique = list({a.alert_id: a for a in alerts}.values())
    if not unique:
        return []
    with transaction(con):
        ids = [a.alert_id for a in unique]
        known = {
            r[0]
            for r in con.execute(
                "SELECT alert_id FROM alerts WHERE alert_id IN (SELECT unnest($ids))", {"ids": ids}
            ).fetchall()
        }
        new = [a for a in unique if a.alert_id not in known]
        if new:
            con.executemany(
                f"INSERT INTO alerts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (a.alert_id, a.theatre, a.rule, a.kind, a.subject, a.as_of, a.raised_at,
                     a.message, json.dumps(a.evidence, default=str))
                    for a in new
                ],
            )  # fmt: skip
    return new


def list_alerts(
    con: duckdb.DuckDBPyConnection,
    theatre: str,
    *,
    since: dt.date | None = None,
    limit: int = 50,
) -> list[dict]:
    """The theatre's stored alerts, newest first (by assessment date, then when raised), with
    their deliveries; ``since``: those of assessments on or after that date."""
    where, params = "theatre = ?", [theatre]
    if since is not None:
        where += " AND as_of >= ?"
        params.append(since)
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE {where} "
        f"ORDER BY as_of DESC, raised_at DESC, alert_id LIMIT {int(limit)}",
        params,
    ).fetchall()
    alerts = [from_row(r).to_dict() for r in rows]
    sent = deliveries(con, [a["alert_id"] for a in alerts])
    for a in alerts:
        a["deliveries"] = sent.get(a["alert_id"], [])
    return alerts


def from_row(row: tuple) -> Alert:
    """An :class:`Alert` from a row of ``SELECT`` :data:`_COLUMNS`."""
    *head, evidence = row
    return Alert(*head, evidence=json.loads(evidence) if evidence else {})


def load(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[Alert]:
    """The stored alerts with these ids (in as_of order)."""
    if not ids:
        return []
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE alert_id IN (SELECT unnest($ids)) "
        "ORDER BY as_of, raised_at, alert_id",
        {"ids": ids},
    ).fetchall()
    return [from_row(r) for r in rows]


def deliveries(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, list[dict]]:
    """Each alert's delivery rows: sink, status, attempts, last error, when delivered."""
    if not ids:
        return {}
    rows = con.execute(
        "SELECT alert_id, sink, status, attempts, last_error, delivered_at FROM alert_deliveries "
        "WHERE alert_id IN (SELECT unnest($ids)) ORDER BY alert_id, sink",
        {"ids": ids},
    ).fetchall()
    out: dict[str, list[dict]] = {}
    for aid, sink, status, attempts, error, at in rows:
        out.setdefault(aid, []).append({
            "sink": sink, "status": status, "attempts": attempts, "last_error": error,
            "delivered_at": at.isoformat(timespec="seconds") if at else None,
        })  # fmt: skip
    return out
