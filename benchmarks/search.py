"""Benchmark of the evidence search: the trigram index against the ILIKE scan, in one run.

1. Copy the store, build its search index (:func:`vigil.store.search.rebuild`), and measure
   it: texts, postings, the bytes the store grows by (after a CHECKPOINT), per 100k
   documents and per 1M summarised events (from the postings each kind has).
2. For each query, the explorer's request (an exact count and the newest 50 rows, as
   :meth:`vigil.web.data.Dashboard.evidence` runs it) with the index and with the scan, on
   the same connection, best of ``--repeat``; the hits must be identical.

Run: ``python benchmarks/search.py --db vigil.duckdb`` (prints a markdown table).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from common import pin_two_cores, store_arguments, store_copy, timed  # noqa: E402
from vigil.store import search  # noqa: E402
from vigil.web.data import EvidenceQuery, _evidence_sql  # noqa: E402

QUERIES = ["Ukraine", "missile strike", "Łukaszenka", "żołnierzy", "боєголовку", "100%",
           "xyzzyqwv", "Belarus"]  # fmt: skip


def request(con, theatre: str, q: str, indexed: bool) -> tuple[int, list]:
    """The explorer's count and first page for ``q``, indexed or scanned."""
    f = EvidenceQuery(q=q)
    cur = con.cursor()
    if not indexed:
        return _page(cur, *_evidence_sql(f, theatre, None))
    with search.search(cur, q) as found:
        return _page(cur, *_evidence_sql(f, theatre, found))


def _page(cur, sql: str, params: list) -> tuple[int, list]:
    rows = cur.execute(
        f"SELECT kind, source, source_id, count(*) OVER () FROM ({sql}) "
        "ORDER BY day DESC, source, source_id LIMIT 50",
        params,
    ).fetchall()
    return (rows[0][3] if rows else 0), [r[:3] for r in rows]


def best(repeat: int, fn, *args):
    out, secs = timed(fn, *args)
    for _ in range(repeat - 1):
        secs = min(secs, timed(fn, *args)[1])
    return out, secs


def size_of(con) -> int:
    con.execute("CHECKPOINT")
    return con.execute("SELECT used_blocks * block_size FROM pragma_database_size()").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    args = store_arguments(__doc__, (), argv)
    if args is None:
        return 1
    print(pin_two_cores())
    with store_copy(args.db) as (con, _):
        for table in ("search_postings", "search_trigrams", "search_rows"):
            con.execute(f"DELETE FROM {table}")
        before = size_of(con)
        built, secs = timed(search.rebuild, con)
        grown = size_of(con) - before
        per_kind = dict(
            con.execute(
                """SELECT r.kind, count(*) FROM search_postings p
                   JOIN search_rows r USING (row_id) GROUP BY 1"""
            ).fetchall()
        )
        texts = dict(con.execute("SELECT kind, count(*) FROM search_rows GROUP BY 1").fetchall())
        per_posting = grown / max(built.postings, 1)
        print(f"\nindex: {built.added} texts, {built.postings} postings, built in {secs:.1f} s, "
              f"store +{grown / 1e6:.1f} MB ({per_posting:.2f} B/posting)")  # fmt: skip
        for kind, scale in (("document", 100_000), ("event", 1_000_000)):
            if texts.get(kind):
                each = per_kind[kind] / texts[kind]
                print(f"  {kind}: {each:.0f} postings/text -> "
                      f"{each * scale * per_posting / 1e6:.0f} MB per {scale:,} texts")  # fmt: skip
        print("\n| query | hits | index ms | scan ms | scan / index |")
        print("|---|---:|---:|---:|---:|")
        for q in QUERIES:
            (n, page), t_index = best(args.repeat, request, con, args.theatre, q, True)
            (m, page2), t_scan = best(args.repeat, request, con, args.theatre, q, False)
            assert (n, page) == (m, page2), q
            print(f"| {q} | {n} | {t_index * 1000:.1f} | {t_scan * 1000:.1f} | "
                  f"{t_scan / t_index:.1f}x |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
