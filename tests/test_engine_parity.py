"""The same evidence queries on DuckDB and on Spark give the same answers, on real data.

The store is the dashboard's (real CIR, Frontex, GPR and RSS data, matched), with every
other event and series source of the shared data loaded on top (GDELT samples, UCDP, the
Economist's fires, ACLED, war losses), so event rules near borders, series rules and text
rules all have something to count. Every Belarus indicator is computed at several dates
on both engines; states must be equal and every score, value and strength within 1e-9.

Skipped, with the reason, only when Java or pyspark is missing (``make install`` sets up
both).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import pytest

import vigil
from vigil import sources
from vigil.coverage import source_reach
from vigil.ingest import ingest_file, plan_folder
from vigil.query import attach
from vigil.scenarios.resolve import load_resolvers
from vigil.scenarios.spec import load_scenarios
from vigil.service.look import indicators_as_of
from vigil.store import connect

spark_mod = pytest.importorskip("vigil.query.spark")
if spark_mod.java_home() is None:  # pragma: no cover - depends on the machine
    pytest.skip("no Java runtime: run `make install-java` (Spark needs Java 17 or 21)",
                allow_module_level=True)  # fmt: skip
pytest.importorskip("pyspark", reason="pyspark is not installed: run `make install`")

pytestmark = pytest.mark.slow

DATES = [dt.date(2021, 9, 1), dt.date(2022, 2, 10), dt.date(2022, 2, 24), dt.date(2022, 6, 1)]
MORE = {"gdelt", "ucdp", "fires", "acled", "losses"}
TOL = 1e-9


@pytest.fixture(scope="module")
def engines(web_store, shared_data: Path, tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    db = root / "v.duckdb"
    shutil.copyfile(web_store["db"], db)
    con = connect(db)
    work, _ = plan_folder(shared_data, sources.all_adapters())
    for adapter, path in work:
        if adapter.name in MORE:
            ingest_file(con, adapter, path)
    con.close()
    ws = vigil.open(db, "belarus", data=shared_data, cache=root / "cache", write=True)
    ws.prepare()  # text matches and border distances, stored
    store = ws.con
    spark = spark_mod.open_spark(store, root / "lake")
    yield ws.spec, store, attach(store, spark)
    ws.close()


def _same(a, b, what: str) -> None:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is None and b is None, what
        elif math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), what
        else:
            assert a == pytest.approx(b, abs=TOL, rel=0), what
    else:
        assert a == b, what


def test_the_store_exercises_every_kind_of_rule(engines) -> None:
    spec, store, _ = engines
    assert store.execute("SELECT count(*) FROM event_border_km").fetchone()[0] > 100
    kinds = {k for i in spec.indicators for k in ("events", "series", "text")
             if getattr(i.evidence, k)}  # fmt: skip
    assert kinds == {"events", "series", "text"}


@pytest.mark.parametrize("day", DATES, ids=str)
def test_every_indicator_is_the_same_on_both_engines(engines, day: dt.date) -> None:
    spec, duck, spark = engines
    a = {v.id: (v, r) for v, r in indicators_as_of(duck, spec, day, evidence_limit=5)}
    b = {v.id: (v, r) for v, r in indicators_as_of(spark, spec, day, evidence_limit=5)}
    assert a.keys() == b.keys() == {i.id for i in spec.indicators}
    observed = 0
    for ind, ((va, ra), (vb, rb)) in ((k, (a[k], b[k])) for k in a):
        assert va.state == vb.state, ind
        _same(va.score, vb.score, f"{ind} score")
        assert va.change_point == vb.change_point, ind
        assert va.latest.keys() == vb.latest.keys(), ind
        for kind in va.latest:
            sa, sb = va.latest[kind], vb.latest[kind]
            assert (sa.day, sa.state, sa.baseline_days, sa.stale, sa.window_days) == (
                sb.day,
                sb.state,
                sb.baseline_days,
                sb.stale,
                sb.window_days,
            ), f"{ind} {kind}"
            for field in ("value", "smoothed", "median", "spread", "z", "z_count"):
                _same(getattr(sa, field), getattr(sb, field), f"{ind} {kind} {field}")
        assert [(e.kind, e.source, e.source_id) for e in va.evidence] == [
            (e.kind, e.source, e.source_id) for e in vb.evidence
        ], ind
        assert ra.state == rb.state, ind
        assert ra.observed == rb.observed, ind
        _same(ra.strength, rb.strength, f"{ind} strength")
        assert len(ra.parts) == len(rb.parts), ind
        for pa, pb in zip(ra.parts, rb.parts, strict=True):
            assert (pa.kind, pa.measure, pa.state, pa.day, pa.reason) == (
                pb.kind,
                pb.measure,
                pb.state,
                pb.day,
                pb.reason,
            ), ind
            _same(pa.value, pb.value, f"{ind} {pa.kind} {pa.measure}")
        observed += ra.state != "blind"
    assert observed, "every indicator blind: the comparison would prove nothing"


def test_resolvers_count_the_same_items(engines) -> None:
    spec, duck, spark = engines
    library = load_scenarios(spec)
    a, b = load_resolvers(duck, spec, library), load_resolvers(spark, spec, library)
    assert a.keys() == b.keys() and a
    for key in a:
        assert a[key].months == b[key].months, key
        for kind in ("events", "text"):
            x, y = getattr(a[key], kind), getattr(b[key], kind)
            assert (x is None) == (y is None), key
            if x is not None:
                assert list(x.day) == list(y.day), key
                assert list(x.available) == list(y.available), key
                assert list(x.who) == list(y.who), key
                assert x.evidence == y.evidence, key


def test_source_reach_is_the_same(engines) -> None:
    spec, duck, spark = engines
    assert source_reach(duck, spec) == source_reach(spark, spec)


def test_the_queries_need_no_json_or_udf() -> None:
    """Every template, compiled for Spark, is plain SQL: no JSON function (which Spark
    turned into a Python UDF that crashed) and no UDF of any kind."""
    import ibis

    assert ibis.pyspark  # loading the backend registers the options its compiler reads

    from vigil.indicators import evidence as E  # noqa: N812
    from vigil.indicators import series as S  # noqa: N812
    from vigil.theatre import load_theatre

    spec = load_theatre("belarus")
    inds = spec.indicators
    ev = tuple(i for i in inds if i.evidence.events)
    se = tuple(i for i in inds if i.evidence.series)
    tx = tuple(i.id for i in inds if i.evidence.text is not None)
    exprs = [
        S.events_expr(ev), S.coverage_expr(ev), S.series_expr(se), S.text_expr("belarus", tx),
        S.topic_expr("belarus", ("topic:x",)), S.activity_expr(), S.able_expr(),
        S.totals_expr(), E._events_expr(ev), E._observations_expr(se),
        E._documents_expr("belarus", tx),
    ]  # fmt: skip
    assert len(exprs) == 11
    for expr in exprs:
        sql = ibis.to_sql(expr, dialect="pyspark").lower()
        assert "json" not in sql and "udf" not in sql and "attrs" not in sql.split("from")[0]


def test_border_distances_are_measured_the_same_on_spark(engines, shared_data, tmp_path) -> None:
    """The distances job on Spark (partition by partition) gives the store's rows."""
    from vigil.geo import events as G  # noqa: N812
    from vigil.geo.borders import border_lines, country_polygons

    spec, duck, spark = engines
    lines = border_lines(shared_data, spec.theatre, tmp_path)
    borders = G._borders(lines, spec.theatre, ("point",), spec.border_reach_km())
    polygons = country_polygons(shared_data, spec.theatre, tmp_path)
    events = G._candidates(duck, [b.box for b in borders], ("point",), 0)
    here = G.measure_rows(events, borders, polygons)
    there = G._measure_on_spark(spark.engine, duck, borders, polygons, ("point",), 0)

    def rows(frame):
        cols = ("border", "source", "source_id", "batch_id", "km", "side")
        return sorted(zip(*(list(frame[c]) for c in cols), strict=True), key=lambda r: r[:3])

    a, b = rows(here), rows(there)
    assert len(a) == len(b) > 100
    for x, y in zip(a, b, strict=True):
        assert x[:4] == y[:4] and x[5] == y[5]
        assert x[4] == pytest.approx(y[4], abs=TOL, rel=0)


def test_the_command_line_gives_the_same_json_on_both_engines(engines, shared_data, tmp_path):
    """`vigil --engine spark indicators` prints what the default engine prints, on a
    store whose border distances Spark itself must measure first."""
    import json

    from typer.testing import CliRunner

    from vigil.cli import app

    _, duck, _ = engines
    db = duck.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                      "current_database()").fetchone()[0]  # fmt: skip
    copy, bare = tmp_path / "v.duckdb", tmp_path / "bare.duckdb"  # the fixture holds its store
    duck.execute("CHECKPOINT")
    shutil.copyfile(db, copy)
    shutil.copyfile(db, bare)
    with connect(bare) as con:  # nothing measured: Spark measures the borders itself
        con.execute("DELETE FROM border_km_state")
        con.execute("DELETE FROM event_border_km")
    common = ["indicators", "--as-of", "2022-02-24", "--format", "json", "--data",
              str(shared_data)]  # fmt: skip
    runner = CliRunner()
    plain = runner.invoke(app, [*common, "--db", str(copy)])
    spark = runner.invoke(
        app, ["--engine", "spark", "--lake", str(tmp_path / "lake"), *common, "--db", str(bare)]
    )
    assert plain.exit_code == 0, plain.output
    assert spark.exit_code == 0, spark.output
    assert json.loads(spark.stdout) == json.loads(plain.stdout)
    assert (tmp_path / "lake" / "events").is_dir()
    with connect(bare) as con:
        assert con.execute("SELECT count(*) FROM event_border_km").fetchone()[0] > 100
    bad = runner.invoke(app, ["--engine", "oracle", *common, "--db", str(copy)])
    assert bad.exit_code == 2 and "unknown engine 'oracle'" in bad.output
