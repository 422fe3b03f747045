"""Text matching as a Spark job (``--engine spark``) gives exactly the local rows and
coverage, on the real headlines, through every step of the incremental bookkeeping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spark_fixtures import spark  # noqa: F401 - the session-scoped fixture
from vigil.errors import StoreError
from vigil.ingest import ingest_file
from vigil.sources.rss import ADAPTER as RSS
from vigil.store import connect
from vigil.text import match
from vigil.text.match import match_documents
from vigil.theatre import load_theatre

HEADLINES = "news_rss_headlines_2021_2023/rss_headlines_region_filtered_2021_2023.parquet"
#: one month (8,561 headlines, Wagner's move to Belarus): the whole file takes minutes
MONTH = ("2023-06-01", "2023-07-01")
MATCHES = "SELECT * EXCLUDE (matched_at) FROM text_matches ORDER BY ALL"
EXAMINED = "SELECT * EXCLUDE (examined_at) FROM text_examined ORDER BY ALL"


@pytest.fixture(scope="module")
def month_store(tmp_path_factory, shared_data: Path) -> Path:
    """A store file of one month of real headlines, copied by each test."""
    db = tmp_path_factory.mktemp("text_spark") / "month.duckdb"
    con = connect(db)
    ingest_file(con, RSS, shared_data / HEADLINES)
    con.execute(
        "DELETE FROM documents WHERE NOT (published_at >= ? AND published_at < ?)", list(MONTH)
    )
    con.close()
    return db


def stores(month_store: Path, tmp_path: Path, spark_session):
    """(local store, the Spark-attached store, its raw connection): same documents."""
    from vigil.query.engine import attach
    from vigil.query.lake import Lake
    from vigil.query.spark import SparkEngine

    shutil.copy(month_store, tmp_path / "local.duckdb")
    shutil.copy(month_store, tmp_path / "spark.duckdb")
    local, raw = connect(tmp_path / "local.duckdb"), connect(tmp_path / "spark.duckdb")
    engine = SparkEngine(spark_session, Lake(tmp_path / "lake"))
    return local, attach(raw, engine), raw


def counts(report) -> list[tuple]:
    return [(i.indicator, i.examined, i.matched, i.occurrences, i.claims, i.rule_hash)
            for i in report.indicators]  # fmt: skip


def same(local, raw) -> int:
    """Identical rows (but their time of matching) and coverage; the number of rows."""
    rows = local.execute(MATCHES).fetchall()
    assert rows == raw.execute(MATCHES).fetchall()
    assert local.execute(EXAMINED).fetchall() == raw.execute(EXAMINED).fetchall()
    return len(rows)


@pytest.mark.slow
def test_spark_matches_are_the_local_ones(spark, month_store, tmp_path, monkeypatch):  # noqa: F811
    local, distributed, raw = stores(month_store, tmp_path, spark)
    belarus = load_theatre("belarus")

    def both(**kw) -> list[tuple]:
        expected = match_documents(local, belarus, **kw)
        with monkeypatch.context() as m:  # the attached store never matches in-process
            m.setattr(match, "_match_local", lambda *a: pytest.fail("matched locally"))
            got = match_documents(distributed, belarus, **kw)
        assert counts(got) == counts(expected)
        return counts(got)

    # the second half of the month, then the rest: only the first half is examined
    late = both(since="2023-06-15")
    assert all(0 < ind[1] < 8_561 for ind in late)
    n_late = same(local, raw)
    full = both()
    assert all(ind[1] == 8_561 - late[0][1] for ind in full)
    n_all = same(local, raw)
    assert n_all > n_late > 0
    pmc, claims = raw.execute(
        "SELECT count(*), count(*) FILTER (kind = 'claim') FROM text_matches "
        "WHERE indicator = 'pmc_presence'"
    ).fetchone()
    assert pmc > 20 and 0 < claims < pmc  # Wagner's move to Belarus: reports and talk

    # an incremental run does nothing, on both
    assert all(ind[1:3] == (0, 0) for ind in both())
    assert same(local, raw) == n_all

    # a withdrawn document's rows go (the lake follows the store before the job)
    withdraw = (
        "DELETE FROM documents WHERE source_id IN (SELECT source_id FROM text_matches "
        "WHERE indicator = 'pmc_presence' ORDER BY source_id LIMIT 10)"
    )
    local.execute(withdraw)
    raw.execute(withdraw)
    assert all(ind[1:3] == (0, 0) for ind in both())
    assert 0 < same(local, raw) < n_all


@pytest.mark.slow
def test_a_lake_behind_the_store_fails_the_run(spark, month_store, tmp_path, monkeypatch):  # noqa: F811
    from vigil.query.spark import SparkEngine

    _, distributed, raw = stores(month_store, tmp_path, spark)
    distributed.engine.sync(raw)  # the lake holds the month; then the store gains a copy
    raw.execute(
        "INSERT INTO documents SELECT * REPLACE (source_id || '-copy' AS source_id, "
        "batch_id + 1 AS batch_id) FROM documents WHERE source_id IN "
        "(SELECT source_id FROM documents ORDER BY source_id LIMIT 3)"
    )
    monkeypatch.setattr(SparkEngine, "sync", lambda self, store, tables=None: None)
    with pytest.raises(StoreError, match="lake holds 8561 of the 8564 documents"):
        match_documents(distributed, load_theatre("belarus"), indicators=["pmc_presence"])
    assert raw.execute("SELECT count(*) FROM text_examined").fetchone()[0] == 0
    assert raw.execute("SELECT count(*) FROM text_matches").fetchone()[0] == 0
