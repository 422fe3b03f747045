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
    con: duckdb.DuckDBPyConnection, stage: str, table: str, source: str, batch_id: int
) -> MergeCounts:
    """Merge TEMP table ``stage`` into ``table`` for ``source``; see the module docstring."""
    staged = {r[0] for r in con.execute(f"DESCRIBE {stage}").fetchall()}
    delete_expr = "coalesce(s._delete, FALSE)" if "_delete" in staged else "FALSE"
    dup_expr = "coalesce(s._dup, FALSE)" if "_dup" in staged else "FALSE"
    params = {"src": source, "kind": table}
    _refuse_conflicts(con, stage, delete_expr, dup_expr)
    # One small table of keys and decisions, so the wide staged rows are read once more.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _vigil_plan AS
        SELECT rid, source_id, {_ACTION} AS action, stored, newer FROM (
            SELECT s.rowid AS rid, s.source_id, {delete_expr} AS is_delete,
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
            LEFT JOIN (SELECT source_id, record_hash, available_at FROM {table}
                       WHERE source = $src) t USING (source_id)
            LEFT JOIN (SELECT source_id, deleted_at FROM tombstones
                       WHERE source = $src AND kind = $kind) d USING (source_id))
        """,
        params,
    )
    plan = dict(con.execute("SELECT action, count(*) FROM _vigil_plan GROUP BY 1").fetchall())
    if plan.get("update") or plan.get("delete"):
        con.execute(
            f"""DELETE FROM {table} WHERE source = $src AND source_id IN (
                    SELECT source_id FROM _vigil_plan
                    WHERE action = 'update' OR (action = 'delete' AND stored AND newer))""",
            {"src": source},
        )
    if plan.get("delete"):
        _record_tombstones(con, stage, params, batch_id)
    _insert(con, stage, table, staged, source, batch_id)
    con.execute("DROP TABLE _vigil_plan")
    return MergeCounts(
        new=plan.get("new", 0),
        updated=plan.get("update", 0),
        duplicates=plan.get("dup", 0),
        deleted=plan.get("delete", 0) + plan.get("withdrawn", 0),
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


def _insert(con, stage: str, table: str, staged: set[str], source: str, batch_id: int) -> None:
    cols = [
        r[0]
        for r in con.execute(f"DESCRIBE {table}").fetchall()
        if r[0] not in ("source", "batch_id")
    ]
    # A column added by a later migration may be absent from older readers' staging: it
    # is stored as NULL (NOT NULL columns then fail loudly at insert, as they should).
    scols = ", ".join(f"s.{c}" if c in staged else f"NULL AS {c}" for c in cols)
    con.execute(
        f"""INSERT INTO {table} (source, {", ".join(cols)}, batch_id)
            SELECT $src, {scols}, $batch FROM {stage} s JOIN _vigil_plan p ON s.rowid = p.rid
            WHERE p.action IN ('new', 'update')""",
        {"src": source, "batch": batch_id},
    )
