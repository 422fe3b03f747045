"""Merge a staged batch into a record table: the store's idempotency rules in one place.

Keys are ``(source, source_id)``. **Within one file** (one batch) the rule is the same
for every source, applied by the reader (:func:`vigil.sources.tabular.settle_keys`)
before the merge sees the rows:

* rows with one key and identical content (same ``record_hash``) are copies: one is
  merged, the others are counted as **duplicates**;
* rows with one key and *different* content are all **rejected**, with a reason naming
  the key and the lines ("GLOBALEVENTID 123 appears on lines 4 and 9 with different
  content"): the file contradicts itself and neither row can be trusted over the other;
* unless the source documents which copy is right (CIR's copies of one incident under
  different links): the reader then keeps one, marks the others ``_dup`` (counted as
  duplicates) and names the keys and its rule in the batch notes.

So ``rows_in = loaded + duplicates + rejected + deleted`` stays exact, and a batch that
still holds one key with two contents is a reader bug: the merge refuses it rather than
pick one silently. Across files the same key legitimately returns with new content (a
GDELT event revised in a later 15-minute export, an ACLED revision); against the store:

* a key not stored is **new**; a stored key with the same content is a **duplicate**;
* a changed row replaces the stored one (**update**) only if it is at least as recent;
  an older version is a duplicate, so loading an old file after a new one changes nothing;
* a **tombstone** (staged ``_delete``: the source withdrew the record) removes the stored
  record if that is not newer, and is itself kept in ``tombstones`` so that a later load
  of the withdrawn record, from an older file, does not bring it back (**withdrawn**).

**What a merge costs.** There is no index on the keys (an ART index costs ~2 GB of RAM per
1.5 M rows, SOURCES.md §3), so the stored rows a batch is compared with are found by
scanning, and the merge makes that scan as small as the batch allows:

* only the stored rows whose ``source_id`` lies between the batch's smallest and largest
  key (string order, the column's order) are read, passed as parameters, so DuckDB
  skips every row group and column segment whose min/max (zone map) lies outside;
* that scan reads the key columns only and keeps the row ids that match a staged key;
  the wide columns the decision needs (``record_hash``, ``available_at``) are then
  fetched for those rows alone, and a replaced row is deleted by its row id, so neither
  is a second pass over the table.

Where this is flat: a batch whose keys are recent in the stored order. GDELT's
GLOBALEVENTIDs grow with time and exports are appended in time order, so a 15-minute
export (new ids just above the stored maximum, plus revisions of recent ids) reads a few
row groups whatever the table holds: 1 M or 10 M stored rows cost the same (measured,
docs/BENCHMARKS.md, "Merge"). Where it is not: a batch whose keys spread across the
stored range (an old file reloaded among new ones, a revision of a year-old record, or a
source whose ids carry no time order) cannot skip the row groups its keys fall in; with
keys in every row group it reads all of the source's ``source_id``, which grows with the
store: about half what the earlier plan cost (it joined every stored row of the source,
reading each row's hash and time too). A batch whose ids change length (9 to 10 digits)
spans nearly all of the string order once, and pays the same.

Row ids are only stable within one transaction (a checkpoint may compact a table), so a
merge runs inside the ingest's transaction, and the deletions are counted against the
plan: a mismatch fails the batch instead of leaving two versions of a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vigil.errors import ReconciliationError

if TYPE_CHECKING:
    import duckdb

_ACTION = """CASE
    WHEN is_dup OR rn > 1 THEN 'dup'
    WHEN is_delete AND tomb_known THEN 'dup'
    WHEN is_delete THEN 'delete'
    WHEN tomb_known THEN 'withdrawn'
    WHEN NOT stored THEN 'new'
    WHEN same OR NOT newer THEN 'dup'
    ELSE 'update' END"""


@dataclass(frozen=True)
class MergeCounts:
    """What a merge did; ``loaded`` = new + updated rows written."""

    new: int
    updated: int
    duplicates: int
    deleted: int

    @property
    def loaded(self) -> int:
        return self.new + self.updated


def merge_staged(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    table: str,
    source: str,
    batch_id: int,
    *,
    keep_raw: bool = True,
) -> MergeCounts:
    """Merge TEMP table ``stage`` into ``table`` for ``source``; see the module docstring.

    ``keep_raw=False`` stores NULL for ``raw`` (``VIGIL_KEEP_RAW=no``); the staged
    ``record_hash`` still decides what is new, the same or revised."""
    staged = {r[0] for r in con.execute(f"DESCRIBE {stage}").fetchall()}
    delete_expr = "coalesce(s._delete, FALSE)" if "_delete" in staged else "FALSE"
    dup_expr = "coalesce(s._dup, FALSE)" if "_dup" in staged else "FALSE"
    params = {"src": source, "kind": table}
    _refuse_conflicts(con, stage, delete_expr, dup_expr)
    # string bounds: the stored column is VARCHAR, and so is its zone-map order
    lo, hi = con.execute(
        f"SELECT min(source_id::VARCHAR), max(source_id::VARCHAR) FROM {stage}"
    ).fetchone()
    _match_stored(con, stage, table, {"src": source, "lo": lo, "hi": hi})
    # One small table of keys and decisions, so the wide staged rows are read once more.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _vigil_plan AS
        SELECT rid, trid, source_id, {_ACTION} AS action, stored, newer FROM (
            SELECT s.rowid AS rid, t.trid, s.source_id, {delete_expr} AS is_delete,
                   {dup_expr} AS is_dup,
                   -- identical copies (the only ones left): any one stands for them all;
                   -- a reader's resolved losers (_dup) sort last so they never win
                   row_number() OVER (PARTITION BY s.source_id
                                      ORDER BY {dup_expr}, s.available_at DESC,
                                               s.record_hash DESC) AS rn,
                   t.source_id IS NOT NULL AS stored,
                   coalesce(t.record_hash = s.record_hash, FALSE) AS same,
                   coalesce(s.available_at >= t.available_at, FALSE) AS newer,
                   coalesce(d.deleted_at >= s.available_at, FALSE) AS tomb_known
            FROM {stage} s
            LEFT JOIN _vigil_stored t USING (source_id)
            LEFT JOIN (SELECT source_id, deleted_at FROM tombstones
                       WHERE source = $src AND kind = $kind) d USING (source_id))
        """,
        params,
    )
    plan = dict(con.execute("SELECT action, count(*) FROM _vigil_plan GROUP BY 1").fetchall())
    if plan.get("update") or plan.get("delete"):
        _delete_replaced(con, table)
    if plan.get("delete"):
        _record_tombstones(con, stage, params, batch_id)
    _insert(con, stage, table, staged, source, batch_id, keep_raw)
    con.execute("DROP TABLE _vigil_plan")
    con.execute("DROP TABLE _vigil_stored")
    return MergeCounts(
        new=plan.get("new", 0),
        updated=plan.get("update", 0),
        duplicates=plan.get("dup", 0),
        deleted=plan.get("delete", 0) + plan.get("withdrawn", 0),
    )


def _match_stored(con, stage: str, table: str, params: dict) -> None:
    """TEMP ``_vigil_stored``: the stored rows of the source that share a staged key, with
    their row id (``trid``), ``record_hash`` and ``available_at``.

    Two steps, so that the wide columns are never read for rows the batch does not touch:
    the key columns are scanned within the batch's key range (zone maps skip the rest,
    see the module docstring) and matched against the staged keys; the hash and time are
    then fetched by row id, which DuckDB turns into a filter on those row groups alone.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vigil_stored AS
            SELECT rowid AS trid FROM {table}
            WHERE source = $src AND source_id BETWEEN $lo AND $hi
              AND source_id IN (SELECT source_id::VARCHAR FROM {stage})""",
        params,
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vigil_stored AS
            SELECT rowid AS trid, source_id, record_hash, available_at FROM {table}
            WHERE rowid IN (SELECT trid FROM _vigil_stored)"""
    )


def _delete_replaced(con, table: str) -> None:
    """Delete, by row id, the stored rows an update or a tombstone replaces.

    The row ids come from :func:`_match_stored` in this transaction; the count deleted
    must equal the plan's, or the batch fails (see the module docstring)."""
    chosen = "action = 'update' OR (action = 'delete' AND stored AND newer)"
    expected = con.execute(f"SELECT count(*) FROM _vigil_plan WHERE {chosen}").fetchone()[0]
    deleted = con.execute(
        f"DELETE FROM {table} WHERE rowid IN (SELECT trid FROM _vigil_plan WHERE {chosen})"
    ).fetchone()[0]
    if deleted != expected:
        raise ReconciliationError(
            f"the merge meant to replace {expected} stored row(s) of {table} but deleted "
            f"{deleted}: the table changed under the merge",
            "nothing was written; this is a bug (the merge runs inside the ingest's one "
            "transaction): please report it with the file",
        )


def _refuse_conflicts(con, stage: str, delete_expr: str, dup_expr: str) -> None:
    """Fail when one key holds two contents in the batch (see the module docstring)."""
    found = con.execute(
        f"""SELECT count(*), min(source_id) FROM (
                SELECT source_id FROM {stage} s WHERE NOT {delete_expr} AND NOT {dup_expr}
                GROUP BY source_id HAVING count(DISTINCT record_hash) > 1)"""
    ).fetchone()
    if found[0]:
        raise ReconciliationError(
            f"{found[0]} key(s) appear in this batch with different content (first: "
            f"{found[1]}); the reader should have rejected them (settle_keys)",
            "this is a bug in the adapter; nothing was written — please report it with the file",
        )


def _record_tombstones(con, stage: str, params: dict, batch_id: int) -> None:
    con.execute(
        """DELETE FROM tombstones WHERE source = $src AND kind = $kind AND source_id IN (
               SELECT source_id FROM _vigil_plan WHERE action = 'delete')""",
        params,
    )
    con.execute(
        f"""INSERT INTO tombstones
            SELECT $src, $kind, s.source_id, s.available_at, $batch
            FROM {stage} s JOIN _vigil_plan p ON s.rowid = p.rid WHERE p.action = 'delete'""",
        {**params, "batch": batch_id},
    )


def _insert(
    con, stage: str, table: str, staged: set[str], source: str, batch_id: int, keep_raw: bool
) -> None:
    cols = [
        r[0]
        for r in con.execute(f"DESCRIBE {table}").fetchall()
        if r[0] not in ("source", "batch_id")
    ]
    # A column added by a later migration may be absent from older readers' staging: it
    # is stored as NULL (NOT NULL columns then fail loudly at insert, as they should).
    # An unkept raw line is NULL too; its md5 (record_hash) is staged and kept.
    kept = staged - ({"raw"} if not keep_raw else set())
    scols = ", ".join(f"s.{c}" if c in kept else f"NULL AS {c}" for c in cols)
    con.execute(
        f"""INSERT INTO {table} (source, {", ".join(cols)}, batch_id)
            SELECT $src, {scols}, $batch FROM {stage} s JOIN _vigil_plan p ON s.rowid = p.rid
            WHERE p.action IN ('new', 'update')""",
        {"src": source, "batch": batch_id},
    )
