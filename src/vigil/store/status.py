"""What the store holds, per source: records, date range, rejects, last batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# The column that dates each record kind.
DATE_COLUMN = {
    "events": "occurred_on",
    "observations": "period_start",
    "documents": "published_at::DATE",
}


def store_status(con: duckdb.DuckDBPyConnection) -> dict:
    """A JSON-ready summary: ``{"sources": [...], "totals": {...}}`` with stable keys."""
    parts = " UNION ALL ".join(
        f"SELECT source, '{kind}' AS kind, count(*) AS records, min({col}) AS first, "
        f"max({col}) AS last, max(available_at) AS available_until FROM {kind} GROUP BY source"
        for kind, col in DATE_COLUMN.items()
    )
    rows = con.execute(f"SELECT * FROM ({parts}) ORDER BY source, kind").fetchall()
    batches = {
        r[0]: r[1:]
        for r in con.execute("""
            SELECT source, count(*), sum(rejected), max(finished_at),
                   arg_max(batch_id, batch_id), arg_max(input, batch_id)
            FROM batches GROUP BY source""").fetchall()
    }
    sources: dict[str, dict] = {}
    for source, kind, records, first, last, until in rows:
        entry = sources.setdefault(source, _empty(source, batches.get(source)))
        entry["kinds"][kind] = {
            "records": records,
            "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None,
            "available_until": until.isoformat() if until else None,
        }
        entry["records"] += records
    for source, info in batches.items():
        sources.setdefault(source, _empty(source, info))
    totals = {k: con.execute(f"SELECT count(*) FROM {k}").fetchone()[0] for k in DATE_COLUMN}
    totals["rejects"] = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
    totals["batches"] = con.execute("SELECT count(*) FROM batches").fetchone()[0]
    return {"sources": [sources[k] for k in sorted(sources)], "totals": totals}


def _empty(source: str, batch: tuple | None) -> dict:
    count, rejected, finished, batch_id, input_ = batch or (0, 0, None, None, None)
    return {
        "source": source,
        "records": 0,
        "kinds": {},
        "batches": count,
        "rejects": int(rejected or 0),
        "last_batch": None
        if batch_id is None
        else {
            "batch_id": batch_id,
            "input": input_,
            "finished_at": finished.isoformat() if finished else None,
        },
    }
