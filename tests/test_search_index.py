"""The evidence search's trigram index (issue 16): the same hits as the ILIKE scan, on the
real headlines, whatever the case, script or wildcard characters, kept exact while stale,
after revisions and withdrawals, and refreshed idempotently."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from vigil.store import connect, search
from vigil.web.data import EvidenceQuery, _evidence_sql

THEATRE = "belarus"

QUERIES = [
    # English, mixed case
    "Ukraine", "ukraine", "UKRAINE", "uKrAiNe", "Lukashenko", "missile strike",
    "Belarus troops",
    # Polish and Lithuanian diacritics, their case
    "Łukaszenka", "łukaszenka", "ŁUKASZENKA", "Wojna w Ukrainie", "żołnierzy", "Białoruś",
    "Lietuvos", "ŠIAULIŲ", "karių", "Baltarusijos",
    # Cyrillic (a few headlines and CIR summaries): Ukrainian, Russian, Belarusian, and a
    # headline that spells "China" with a Cyrillic С
    "Президентський", "боєголовку", "БОЄГОЛОВКУ", "Дворец труда", "ДВОРЕЦ", "церква",
    "Свято-Георгіївська", "Сhina", "China", "Лукашенко", "Беларусь", "Мінск", "ўзброеных",
    # Turkish dotted I and friends
    "İstanbul", "ISTANBUL", "ı",
    # one and two characters: scanned
    "a", "Ł", "ž", "Li", "ий",
    # the pattern characters, taken literally
    "100%", "%", "_", "a_b", "50% ", "\\", "C:\\", "%_\\",
    # no hit
    "xyzzyqwv", "Ukraine xyzzy",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(real_store, tmp_path_factory):
    """A copy of the real store (CIR events, RSS headlines…) with its index built."""
    db = tmp_path_factory.mktemp("search") / "v.duckdb"
    shutil.copyfile(real_store, db)
    con = connect(db)
    search.refresh(con)
    yield con
    con.close()


def hits(con, f: EvidenceQuery, *, indexed: bool) -> tuple[int, set[tuple[str, str, str]]]:
    """Total and (kind, source, source_id) of the explorer's query, indexed or scanned."""
    cur = con.cursor()
    if not indexed:
        sql, params = _evidence_sql(f, THEATRE, None)
        rows = cur.execute(f"SELECT kind, source, source_id FROM ({sql})", params).fetchall()
        return len(rows), set(rows)
    with search.search(cur, f.q) as found:
        sql, params = _evidence_sql(f, THEATRE, found)
        rows = cur.execute(f"SELECT kind, source, source_id FROM ({sql})", params).fetchall()
        total = cur.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
    return total, set(rows)


def old_scan(con, q: str) -> set[tuple[str, str, str]]:
    """The search before the index, verbatim: ILIKE over every title and summary."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return set(
        con.execute(
            """SELECT 'document', source, source_id FROM documents
               WHERE title ILIKE ? ESCAPE '\\'
               UNION ALL SELECT 'event', source, source_id FROM events
               WHERE summary ILIKE ? ESCAPE '\\'""",
            [pattern, pattern],
        ).fetchall()
    )


@pytest.mark.parametrize("q", QUERIES)
def test_indexed_search_finds_what_the_scan_finds(store, q) -> None:
    f = EvidenceQuery(q=q)
    total, found = hits(store, f, indexed=True)
    assert found == old_scan(store, q)
    assert (total, found) == hits(store, f, indexed=False)


def test_queries_cover_scripts_and_find_something(store) -> None:
    """The list above is not vacuous: the scripts it tries have hits in the headlines."""
    for q in ("Ukraine", "ŁUKASZENKA", "żołnierzy", "боєголовку", "ДВОРЕЦ", "Сhina", "100%"):
        assert old_scan(store, q), q
    assert not old_scan(store, "xyzzyqwv")


@pytest.mark.parametrize(
    "f",
    [
        EvidenceQuery(q="Belarus", kind="document"),
        EvidenceQuery(q="Belarus", kind="event"),
        EvidenceQuery(q="Ukraine", source="cir"),
        EvidenceQuery(q="Ukraine", country="UKR"),
        EvidenceQuery(q="Ukraine", start=dt.date(2022, 2, 20), end=dt.date(2022, 3, 1)),
        EvidenceQuery(q="Russia", kind="document", start=dt.date(2022, 6, 1)),
    ],
    ids=repr,
)
def test_other_filters_combine_with_the_index(store, f) -> None:
    indexed = hits(store, f, indexed=True)
    assert indexed == hits(store, f, indexed=False)
    assert indexed[0] > 0


def test_short_queries_scan(store) -> None:
    with search.search(store.cursor(), "ab") as found:
        assert found is None
    with search.search(store.cursor(), "abc") as found:
        assert found is not None


def test_ilike_folds_case_as_lower_does(con) -> None:
    """The index's premise: for every pair of characters of the Latin, Greek, Cyrillic and
    letter-like blocks (and the odd ones: dotted I, Kelvin, sharp s), ILIKE holds exactly
    when lower() makes them equal, and lower() never changes a text's length."""
    con.execute(
        """CREATE TEMP TABLE ch AS SELECT chr(i::INTEGER) AS c FROM (
               SELECT unnest(range(32, 1328)) AS i UNION ALL SELECT unnest(range(7680, 8192))
               UNION ALL SELECT unnest(range(8448, 8592)) UNION ALL SELECT 0x1E9E)"""
    )
    bad = con.execute(
        """SELECT count(*) FROM ch a, ch b
           WHERE (a.c ILIKE b.c ESCAPE '\\') <> (lower(a.c) = lower(b.c))
             AND a.c NOT IN ('%', '_', '\\') AND b.c NOT IN ('%', '_', '\\')"""
    ).fetchone()[0]
    assert bad == 0
    assert con.execute("SELECT count(*) FROM ch WHERE length(lower(c)) <> 1").fetchone()[0] == 0


def test_refresh_is_idempotent(store) -> None:
    before = search.stats(store)
    again = search.refresh(store)
    assert (again.added, again.removed) == (0, 0)
    assert search.stats(store) == before
    assert before["texts"] > 100_000 and before["covered_batch"] is not None


@pytest.fixture
def mutable(real_store, tmp_path):
    """A copy of the real store of its own, indexed, for tests that change records."""
    db = tmp_path / "v.duckdb"
    shutil.copyfile(real_store, db)
    con = connect(db)
    search.refresh(con)
    yield con
    con.close()


def _doc(con, q: str) -> tuple[str, str, int, str]:
    return con.execute(
        "SELECT source, source_id, batch_id, title FROM documents WHERE title ILIKE ? "
        "ORDER BY source_id LIMIT 1",
        [f"%{q}%"],
    ).fetchone()


def _revise(con, source: str, source_id: str, title: str, batch: int) -> None:
    """What the merge does to a revised record: delete it, insert it in a newer batch."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r AS SELECT * FROM documents "
        "WHERE source = ? AND source_id = ?",
        [source, source_id],
    )
    con.execute("DELETE FROM documents WHERE source = ? AND source_id = ?", [source, source_id])
    con.execute("UPDATE r SET title = ?, batch_id = ?", [title, batch])
    con.execute("INSERT INTO documents SELECT * FROM r")


def _check(con, *queries: str) -> None:
    for q in queries:
        f = EvidenceQuery(q=q)
        assert hits(con, f, indexed=True) == hits(con, f, indexed=False), q
        assert hits(con, f, indexed=True)[1] == old_scan(con, q), q


def test_revised_and_withdrawn_documents_stale_then_refreshed(mutable) -> None:
    con = mutable
    covered = search.stats(con)["covered_batch"]
    revised = _doc(con, "Łukaszenka")
    withdrawn = _doc(con, "Lukashenko")
    title = "Zebraquartz replaces the headline: Šiaulių karių ĮVYKIS"  # Lithuanian
    _revise(con, revised[0], revised[1], title, covered + 1)
    # a withdrawal, as the merge records one: the row goes, a tombstone of a newer batch stays
    con.execute("DELETE FROM documents WHERE source = ? AND source_id = ?", list(withdrawn[:2]))
    con.execute(
        "INSERT INTO tombstones VALUES (?, 'documents', ?, TIMESTAMP '2024-01-01', ?)",
        [withdrawn[0], withdrawn[1], covered + 1],
    )
    queries = ("Łukaszenka", "Lukashenko", "zebraquartz", "headline", "Ukraine", "ŠIAULIŲ",
               "įvykis", "karių")  # fmt: skip
    # stale: the index still holds both old versions; the new one is above the watermark
    _check(con, *queries)
    key = ("document", revised[0], revised[1])
    assert key in old_scan(con, "zebraquartz") and key not in old_scan(con, "Łukaszenka")
    done = search.refresh(con)
    assert (done.added, done.removed, done.covered_batch) == (1, 2, covered + 1)
    _check(con, *queries)
    assert search.refresh(con).added == 0


def test_stale_index_scans_only_the_tail(mutable) -> None:
    """Headlines loaded after the last refresh are found by scanning their batches only."""
    con = mutable
    covered = search.stats(con)["covered_batch"]
    src = _doc(con, "Ukraine")
    _revise(con, src[0], src[1], "Quokkafjord: Ukraine's tail headline", covered + 5)
    with search.search(con.cursor(), "quokkafjord") as found:
        assert found.table is None and found.covered_batch == covered  # no indexed hit
        sql, params = found.rows("documents")
        assert "search_rows" not in sql and "JOIN" not in sql  # the tail scan only
        assert params == [covered, "%quokkafjord%"]
    _check(con, "quokkafjord", "Ukraine", "tail headline")
    # the refresh reads only what was loaded since: one new text, whatever the store holds
    assert search.refresh(con).added == 1
    _check(con, "quokkafjord")
    # a row written by hand below the watermark (no load does that) needs a rebuild
    con.execute("UPDATE documents SET batch_id = 0 WHERE title LIKE 'Quokkafjord%'")
    assert search.refresh(con).added == 0
    search.rebuild(con)
    _check(con, "quokkafjord")


def test_rebuild_gives_the_same_index(mutable) -> None:
    before = search.stats(mutable)
    assert search.rebuild(mutable).added == before["texts"]
    assert search.stats(mutable) == before
    _check(mutable, "Ukraine", "Лукашенко")


def test_load_refreshes_the_index(tmp_path, shared_data) -> None:
    """`vigil ingest` (service.load) leaves the index covering what it loaded."""
    from vigil import sources
    from vigil.service.load import load

    con = connect(tmp_path / "v.duckdb")
    path = shared_data / "cir_russia_ukraine_monitor_2022" / "events.csv.gz"
    reports, failures = load(con, [(sources.get("cir"), path)])
    assert not failures
    stats = search.stats(con)
    assert stats["covered_batch"] == reports[0].batch_id
    assert (
        stats["texts"]
        == con.execute("SELECT count(*) FROM events WHERE length(summary) >= 3").fetchone()[0]
    )
    _check(con, "Kharkiv", "missile", "Харків")
    con.close()
