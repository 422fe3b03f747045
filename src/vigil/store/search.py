"""A trigram index of the evidence texts, so that a text search reads its hits rather than
every headline.

The evidence explorer's search is a substring test, ``text ILIKE '%q%'``, over every
document title and every event summary. DuckDB's full-text extension cannot replace it:
it is not bundled with the DuckDB in use, cannot be installed without a network, and
ranks stemmed words with BM25, which finds other things than a substring does. This
module keeps the idea of PostgreSQL's pg_trgm instead, which finds *exactly* the scan's
hits:

* **what is indexed** — for each non-NULL text of three characters or more, the set of its
  trigrams (three consecutive code points) of DuckDB's ``lower(text)``, one row per
  (trigram, text) in ``search_postings``; a trigram is three code points packed in one
  BIGINT (21 bits each), so there are no collisions and nothing depends on a hash function
  that a DuckDB upgrade could change. ``search_trigrams`` counts the texts per trigram.
* **why lower() is enough** — DuckDB's ILIKE lower-cases both sides with the same
  code-point-by-code-point mapping as ``lower()`` (checked for every pair of case-related
  code points, Turkish dotted I, final sigma, Kelvin sign, sharp s… included:
  ``tests/test_search_index.py``), and that mapping never changes a text's length in code
  points. So ``text ILIKE '%q%'`` holds exactly when ``lower(q)`` is a substring of
  ``lower(text)``, and then every trigram of ``lower(q)`` is a trigram of ``lower(text)``:
  a text holding all of the query's trigrams is a *candidate*, and a text lacking one
  cannot be a hit. Candidates are verified with the very same ILIKE, so the index can add
  nothing and (by the argument above) miss nothing.
* **how a query runs** — the query's trigrams, rarest first (by ``search_trigrams``); a
  trigram no text has means no indexed hit, without reading any posting. Otherwise the
  postings of the rarest are intersected with those of the next ones (at most
  :data:`MAX_TRIGRAMS`: past that the candidates are few and the ILIKE is cheaper than
  another posting list). Queries of one or two characters have no trigram: the caller
  scans, as before.
* **kept incrementally** — documents and events carry the ``batch_id`` that wrote them, a
  revision replaces a record with a row of a newer batch, and a withdrawal deletes it; no
  row's text ever changes in place. ``search_state.covered_batch`` says up to which batch
  the index covers: :func:`refresh` indexes the texts of newer batches, drops the entries
  whose key a newer batch revised or withdrew, and moves the watermark to the newest
  batch, in one transaction, so the index is never half-written; what it reads is what
  was loaded since (the batch column's zone maps), not every record. Batch ids come from
  one sequence, taken inside the writing transaction of the only process that may write
  the store, so no row at or below the watermark appears after a refresh
  (:func:`rebuild` starts again from nothing, should one ever be written by hand).
* **never stale in results** — a reader of a store loaded since its last refresh (the
  read-only dashboard) still gets the exact hits: the indexed candidates joined to the
  *current* rows on (source, source_id, batch_id) — an entry whose row was revised or
  withdrawn joins nothing — plus a scan of only the rows above the watermark.
* **event summaries are indexed** — they are part of the search; only events with a
  summary cost anything (GDELT's have none), and leaving them out would mean scanning
  every summary on every query, the cost this index exists to remove. Measured sizes are
  in docs/BENCHMARKS.md ("Search").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from vigil.errors import StoreError
from vigil.store import ANALYST_SOURCE
from vigil.store.db import transaction

#: the shortest query the index answers; shorter ones have no trigram and are scanned
MIN_CHARS = 3
#: the rarest trigrams of a query that are intersected; verification does the rest
MAX_TRIGRAMS = 8
#: each record table with an indexed text: (kind in the evidence explorer, text column)
TEXTS = {"documents": ("document", "title"), "events": ("event", "summary")}
#: rewrite the postings in trigram order once this share of them was appended out of it
UNSORTED_SHARE = 0.25
#: …and at least this many (a few row groups of appended postings cost little)
UNSORTED_MIN = 1_000_000

_ESCAPE = "\\"
#: the watermark of an index that covers nothing: every row is above it
NOTHING = -(2**63)


class SearchIndexError(StoreError):
    """The search index is missing or inconsistent with its state."""


@dataclass(frozen=True)
class Refreshed:
    """What one :func:`refresh` did: texts indexed and dropped, the batch it now covers,
    and whether it rewrote the postings in trigram order."""

    added: int
    removed: int
    covered_batch: int
    postings: int
    compacted: bool


def contains_pattern(q: str) -> str:
    """``q`` as the ILIKE pattern of a substring search: ``%``, ``_`` and the escape
    character taken literally (with ``ESCAPE '\\'``)."""
    literal = q.replace(_ESCAPE, _ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{literal}%"


def pack(trigram: str) -> int:
    """Three code points as one BIGINT, as :data:`_PACK_SQL` packs them in the store."""
    a, b, c = (ord(ch) for ch in trigram)
    return (a << 42) | (b << 21) | c


def trigrams(lowered: str) -> set[int]:
    """The packed trigrams of an already lower-cased text (by DuckDB's ``lower``)."""
    return {pack(lowered[i : i + 3]) for i in range(len(lowered) - 2)}


# the packed trigrams of ``text`` (one list per row), as :func:`trigrams` computes them
_PACK_SQL = """list_distinct(list_transform(range(1, len(cp) - 1),
    lambda i: (cp[i]::BIGINT << 42) | (cp[i + 1]::BIGINT << 21) | cp[i + 2]))"""
_CODEPOINTS_SQL = "list_transform(string_split(lower({col}), ''), lambda ch: unicode(ch))"


# ---------------------------------------------------------------------------- refresh
def refresh(con) -> Refreshed:
    """Bring the index up to the store's newest batch, in one transaction of its own.

    Idempotent: a second call with no load in between changes nothing. Called after each
    load (:func:`vigil.service.load.load`); a store loaded by other means is still
    searched exactly (the rows above the watermark are scanned) until the next refresh.
    """
    with transaction(con):
        covered, postings, sorted_postings = _state(con)
        newest = _newest_batch(con)
        removed = _drop_dead(con, covered)
        added = _add_missing(con, covered)
        total = con.execute("SELECT count(*) FROM search_postings").fetchone()[0]
        sorted_postings = total if added and not postings else min(sorted_postings, total)
        compacted = total - sorted_postings > max(total * UNSORTED_SHARE, UNSORTED_MIN)
        if compacted:
            _compact(con)
            sorted_postings = total
        con.execute(
            "UPDATE search_state SET covered_batch = ?, postings = ?, sorted_postings = ?, "
            "refreshed_at = now()::TIMESTAMP",
            [max(covered, newest), total, sorted_postings],
        )
    return Refreshed(added, removed, max(covered, newest), total, compacted)


def _state(con) -> tuple[int, int, int]:
    """The watermark, the postings counted at the last refresh and how many are sorted."""
    rows = con.execute(
        "SELECT covered_batch, postings, sorted_postings FROM search_state"
    ).fetchall()
    if len(rows) != 1:
        raise SearchIndexError(
            f"search_state holds {len(rows)} rows, not one",
            "the store was edited by hand: delete the search_* rows and refresh "
            "(vigil.store.search.rebuild)",
        )
    return rows[0]


def _newest_batch(con) -> int:
    """The newest batch id any record or manifest row carries (0: none)."""
    return con.execute(
        """SELECT greatest(coalesce((SELECT max(batch_id) FROM batches), 0),
                           coalesce((SELECT max(batch_id) FROM documents), 0),
                           coalesce((SELECT max(batch_id) FROM events), 0))"""
    ).fetchone()[0]


def _drop_dead(con, covered: int) -> int:
    """Drop the entries whose row is gone: revised (its key now has a row of a newer
    batch) or withdrawn (a tombstone of a newer batch). Both are found from what was
    loaded since ``covered`` alone, never by a pass over every record: at GDELT scale a
    refresh follows every 15-minute load. An analyst's document replaced by a new version
    drops passages that have no newer row and no tombstone, so that one source (an
    analyst's own files: small) is checked whole. Their postings go, and the trigram
    counts lose them."""
    dead = " UNION ALL ".join(
        f"""SELECT r.row_id FROM search_rows r
            WHERE r.kind = '{kind}' AND r.batch_id <= {int(covered)}
              AND (r.source, r.source_id) IN (
                  SELECT source, source_id FROM {table} WHERE batch_id > {int(covered)}
                  UNION ALL
                  SELECT source, source_id FROM tombstones
                  WHERE kind = '{table}' AND batch_id > {int(covered)})
            UNION ALL
            SELECT r.row_id FROM search_rows r ANTI JOIN {table} t
              ON t.source = r.source AND t.source_id = r.source_id AND t.batch_id = r.batch_id
            WHERE r.kind = '{kind}' AND r.source = '{ANALYST_SOURCE}'"""
        for table, (kind, _) in TEXTS.items()
    )
    dead = f"SELECT DISTINCT row_id FROM ({dead})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _vigil_search_dead AS {dead}")
    n = con.execute("SELECT count(*) FROM _vigil_search_dead").fetchone()[0]
    if n:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _vigil_search_delta AS
               SELECT tri, -count(*) AS n FROM search_postings
               WHERE row_id IN (SELECT row_id FROM _vigil_search_dead) GROUP BY tri"""
        )
        con.execute(
            "DELETE FROM search_postings WHERE row_id IN (SELECT row_id FROM _vigil_search_dead)"
        )
        con.execute(
            "DELETE FROM search_rows WHERE row_id IN (SELECT row_id FROM _vigil_search_dead)"
        )
        _apply_delta(con)
    con.execute("DROP TABLE _vigil_search_dead")
    return n


def _add_missing(con, covered: int) -> int:
    """Index the texts of three characters or more of the batches after ``covered`` (the
    rows loaded since the last refresh: read through the batch column's zone maps, not by
    a pass over every record) that have no entry yet."""
    texts = " UNION ALL ".join(
        f"""SELECT '{kind}' AS kind, t.source, t.source_id, t.batch_id, t.{col} AS text
            FROM {table} t ANTI JOIN (SELECT * FROM search_rows
                                      WHERE kind = '{kind}' AND batch_id > {int(covered)}) r
              ON t.source = r.source AND t.source_id = r.source_id AND t.batch_id = r.batch_id
            WHERE t.batch_id > {int(covered)} AND length(t.{col}) >= {MIN_CHARS}"""
        for table, (kind, col) in TEXTS.items()
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vigil_search_new AS
            SELECT (coalesce((SELECT max(row_id) FROM search_rows), 0)
                    + row_number() OVER ())::INTEGER AS row_id, *
            FROM ({texts})"""
    )
    n = con.execute("SELECT count(*) FROM _vigil_search_new").fetchone()[0]
    if n:
        con.execute(
            "INSERT INTO search_rows SELECT row_id, kind, source, source_id, batch_id "
            "FROM _vigil_search_new"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _vigil_search_add AS
                SELECT unnest({_PACK_SQL}) AS tri, row_id
                FROM (SELECT row_id, {_CODEPOINTS_SQL.format(col="text")} AS cp
                      FROM _vigil_search_new)"""
        )
        con.execute(
            "INSERT INTO search_postings SELECT * FROM _vigil_search_add ORDER BY tri, row_id"
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _vigil_search_delta AS
               SELECT tri, count(*) AS n FROM _vigil_search_add GROUP BY tri"""
        )
        _apply_delta(con)
        con.execute("DROP TABLE _vigil_search_add")
    con.execute("DROP TABLE _vigil_search_new")
    return n


def _apply_delta(con) -> None:
    """Add ``_vigil_search_delta`` (tri, n) to the trigram counts; drop counts at zero."""
    con.execute(
        """UPDATE search_trigrams t SET texts = t.texts + d.n
           FROM _vigil_search_delta d WHERE t.tri = d.tri"""
    )
    con.execute(
        """INSERT INTO search_trigrams
           SELECT d.tri, d.n FROM _vigil_search_delta d ANTI JOIN search_trigrams t USING (tri)"""
    )
    con.execute("DELETE FROM search_trigrams WHERE texts <= 0")
    con.execute("DROP TABLE _vigil_search_delta")


def _compact(con) -> None:
    """Rewrite the postings in trigram order: a posting list is then one or two row groups
    that DuckDB's zone maps find, rather than a scan of every appended row group."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vigil_search_sorted AS "
        "SELECT tri, row_id FROM search_postings ORDER BY tri, row_id"
    )
    con.execute("DELETE FROM search_postings")
    con.execute("INSERT INTO search_postings SELECT * FROM _vigil_search_sorted")
    con.execute("DROP TABLE _vigil_search_sorted")


def rebuild(con) -> Refreshed:
    """Forget the index and build it again from every stored text (one transaction)."""
    with transaction(con):
        for table in ("search_postings", "search_trigrams", "search_rows", "search_state"):
            con.execute(f"DELETE FROM {table}")
        con.execute("INSERT INTO search_state VALUES (?, 0, 0, now()::TIMESTAMP)", [NOTHING])
    return refresh(con)


# ------------------------------------------------------------------------------ query
@dataclass(frozen=True)
class Found:
    """A search's candidates, held in a TEMP table of the connection that found them, and
    how to read the verified hits of each record table from them (:meth:`rows`)."""

    table: str | None  #: the candidates' TEMP table; None: no indexed text can match
    pattern: str  #: the ILIKE pattern every hit is verified with
    covered_batch: int  #: rows of newer batches are not indexed: they are scanned

    def rows(self, table: str) -> tuple[str, list]:
        """A row source (SQL, parameters) for ``documents`` or ``events``: the rows of
        ``table`` whose text contains the query, as ``SELECT * FROM table`` would give
        them. The indexed candidates are joined to the current rows (a revised or withdrawn
        record's old entry joins nothing) and verified; rows of batches above the watermark
        are scanned. The pattern is a column of the candidates, so DuckDB cannot push the
        ILIKE down into a scan of the whole table."""
        kind, col = TEXTS[table]
        tail = f"SELECT * FROM {table} WHERE batch_id > ? AND {col} ILIKE ? ESCAPE '{_ESCAPE}'"
        params: list = [self.covered_batch, self.pattern]
        if self.table is None:
            return f"({tail})", params
        indexed = f"""SELECT t.* FROM {table} t JOIN {self.table} c
                ON c.kind = '{kind}' AND t.source = c.source AND t.source_id = c.source_id
                   AND t.batch_id = c.batch_id
            WHERE t.{col} ILIKE c.pat ESCAPE '{_ESCAPE}'"""
        return f"({indexed} UNION ALL {tail})", params


@contextmanager
def search(con, q: str) -> Iterator[Found | None]:
    """The candidates of a substring search for ``q`` on ``con`` (None: ``q`` is shorter
    than :data:`MIN_CHARS` after lower-casing, so the caller scans, as before).

    The candidates live in a TEMP table of ``con`` (a cursor of its own per request: TEMP
    tables are private to a connection, and a read-only store allows them) for as long as
    the ``with`` block, so a count and a page of results intersect the postings once.
    """
    lowered = con.execute("SELECT lower(?)", [q]).fetchone()[0]
    if len(lowered) < MIN_CHARS:
        yield None
        return
    covered = con.execute("SELECT covered_batch FROM search_state").fetchone()
    if covered is None:
        raise SearchIndexError(
            "search_state is empty", "refresh the index: vigil.store.search.rebuild(con)"
        )
    pattern = contains_pattern(q)
    order = _rarest_first(con, trigrams(lowered))
    if order is None:  # a trigram no indexed text has: only the unindexed tail can match
        yield Found(None, pattern, covered[0])
        return
    name = "_vigil_search_hits"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT r.kind, r.source, r.source_id, r.batch_id, ?::VARCHAR AS pat
            FROM search_rows r WHERE r.row_id IN ({_intersection(len(order))})""",
        [pattern, *reversed(order)],
    )
    try:
        yield Found(name, pattern, covered[0])
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _rarest_first(con, tris: set[int]) -> list[int] | None:
    """The query's trigrams by how many texts have them, fewest first, at most
    :data:`MAX_TRIGRAMS`; None when one of them is in no indexed text."""
    counts = dict(
        con.execute(
            "SELECT tri, texts FROM search_trigrams WHERE tri IN (SELECT unnest(?::BIGINT[]))",
            [sorted(tris)],
        ).fetchall()
    )
    if len(counts) < len(tris):
        return None
    return sorted(tris, key=lambda t: (counts[t], t))[:MAX_TRIGRAMS]


def _intersection(n: int) -> str:
    """SQL for the texts holding all of ``n`` trigrams, the rarest innermost (parameters:
    the trigrams, the rarest last), so each posting list is only probed for the texts left
    by the rarer ones."""
    sql = "SELECT row_id FROM search_postings WHERE tri = ?"
    for _ in range(n - 1):
        sql = f"SELECT row_id FROM search_postings WHERE tri = ? AND row_id IN ({sql})"
    return sql


def stats(con) -> dict:
    """The index's size and state: texts, postings, distinct trigrams, the watermark."""
    texts, postings, distinct = con.execute(
        """SELECT (SELECT count(*) FROM search_rows), (SELECT count(*) FROM search_postings),
                  (SELECT count(*) FROM search_trigrams)"""
    ).fetchone()
    covered = con.execute("SELECT covered_batch FROM search_state").fetchone()
    return {
        "texts": texts,
        "postings": postings,
        "trigrams": distinct,
        "covered_batch": covered[0] if covered and covered[0] != NOTHING else None,
    }
