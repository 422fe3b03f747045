"""Stored assessments: save, load, history, and what changed between two of them.

An assessment is stored as its JSON (``assessments.result``) plus one row per
contribution (``assessment_contributions``), keyed by theatre, as-of date, horizon and the
model hash (specs + model version), so a replay can be compared with a later one and a
changed spec never overwrites the history made under the old one. Saving the same key
again replaces it, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC, datetime

from vigil.store import transaction


def assessment_id(theatre: str, as_of: str, horizon_days: int, model_hash: str) -> str:
    return f"{theatre}|{as_of}|{horizon_days}|{model_hash[:16]}"


def save(con, result: dict) -> str:
    """Store (or replace) an assessment JSON; returns its id."""
    aid = assessment_id(
        result["theatre"], result["as_of"], result["horizon_days"], result["model_hash"]
    )
    rows = [
        (
            aid,
            s["id"],
            sc["id"],
            c["indicator"],
            c["source"],
            c["state"],
            c["reading_date"],
            c["decay"],
            c["weight"],
            c["llr"],
        )
        for s in result["scenario_sets"]
        for sc in s["scenarios"]
        for c in sc["contributions"]
    ]
    with transaction(con):
        con.execute("DELETE FROM assessment_contributions WHERE assessment_id = ?", [aid])
        con.execute("DELETE FROM assessments WHERE assessment_id = ?", [aid])
        con.execute(
            "INSERT INTO assessments VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                aid,
                result["theatre"],
                result["as_of"],
                result["horizon_days"],
                result["model_hash"],
                datetime.now(UTC).replace(tzinfo=None),
                json.dumps(result),
            ],
        )
        if rows:
            con.executemany(
                "INSERT INTO assessment_contributions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
    return aid


def load(con, theatre: str, as_of: dt.date, horizon_days: int, model_hash: str) -> dict | None:
    row = con.execute(
        "SELECT result FROM assessments WHERE assessment_id = ?",
        [assessment_id(theatre, as_of.isoformat(), horizon_days, model_hash)],
    ).fetchone()
    return json.loads(row[0]) if row else None


def history(
    con, theatre: str, horizon_days: int, model_hash: str, start: dt.date, end: dt.date
) -> list[dict]:
    """Stored assessments of one model and horizon between two dates, oldest first."""
    rows = con.execute(
        """SELECT result FROM assessments WHERE theatre = ? AND horizon_days = ?
           AND model_hash = ? AND as_of BETWEEN ? AND ? ORDER BY as_of""",
        [theatre, horizon_days, model_hash, start, end],
    ).fetchall()
    return [json.loads(r[0]) for r in rows]


def diff(before: dict, after: dict, top: int | None = None) -> dict:
    """What changed from ``before`` to ``after`` and why.

    Per set: each scenario's probability change, and the contributions whose log-likelihood
    ratio changed (all, or the ``top`` largest), largest first, with the state and reading
    date before and after and the evidence of the new reading; outcomes' changes.
    """
    old_sets = {s["id"]: s for s in before["scenario_sets"]}
    sets = []
    for s in after["scenario_sets"]:
        old = old_sets.get(s["id"])
        if old is None:
            continue
        old_sc = {sc["id"]: sc for sc in old["scenarios"]}
        sets.append(
            {
                "id": s["id"],
                "leading_before": old["leading"],
                "leading_after": s["leading"],
                "scenarios": [
                    {
                        "id": sc["id"],
                        "before": old_sc[sc["id"]]["probability"],
                        "after": sc["probability"],
                        "change": round(sc["probability"] - old_sc[sc["id"]]["probability"], 4),
                    }
                    for sc in s["scenarios"]
                    if sc["id"] in old_sc
                ],
                "drivers": _drivers(old, s)[:top],
            }
        )
    old_out = {o["id"]: o["probability"] for o in before["outcomes"]}
    return {
        "from": before["as_of"],
        "to": after["as_of"],
        "same_model": before["model_hash"] == after["model_hash"],
        "sets": sets,
        "outcomes": [
            {
                "id": o["id"],
                "before": old_out[o["id"]],
                "after": o["probability"],
                "change": round(o["probability"] - old_out[o["id"]], 4),
            }
            for o in after["outcomes"]
            if o["id"] in old_out
        ],
    }


def _by_indicator(s: dict) -> dict[str, dict]:
    """indicator → {state, reading_date, evidence, llr: {scenario: llr}}."""
    out: dict[str, dict] = {}
    for sc in s["scenarios"]:
        for c in sc["contributions"]:
            item = out.setdefault(
                c["indicator"],
                {
                    "state": c["state"],
                    "reading_date": c["reading_date"],
                    "evidence": c["evidence"],
                    "llr": {},
                },
            )
            item["llr"][sc["id"]] = c["llr"]
    return out


def _drivers(old: dict, new: dict) -> list[dict]:
    before, after = _by_indicator(old), _by_indicator(new)
    ids = [sc["id"] for sc in new["scenarios"]]
    out = []
    for ind in sorted(set(before) | set(after)):
        b, a = before.get(ind), after.get(ind)
        change = {
            sid: round(
                (a["llr"].get(sid, 0.0) if a else 0.0) - (b["llr"].get(sid, 0.0) if b else 0.0), 4
            )
            for sid in ids
        }
        size = max(abs(x) for x in change.values())
        if size < 1e-4:
            continue
        out.append(
            {
                "indicator": ind,
                "state_before": b["state"] if b else None,
                "state_after": a["state"] if a else None,
                "reading_before": b["reading_date"] if b else None,
                "reading_after": a["reading_date"] if a else None,
                "llr_change": change,
                "size": round(size, 4),
                "evidence": a["evidence"] if a else [],
            }
        )
    out.sort(key=lambda d: -d["size"])
    return out
