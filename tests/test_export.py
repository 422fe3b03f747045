"""`vigil export`: every table round-trips through CSV and Parquet, written all or nothing."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from vigil import settings
from vigil.errors import InputError, UsageError
from vigil.scenarios import audit
from vigil.scenarios.spec import load_scenarios
from vigil.service import assess as A  # noqa: N812
from vigil.service import export as E  # noqa: N812
from vigil.service.look import prepare_evidence
from vigil.store import connect
from vigil.theatre import load_theatre

DOC = Path(__file__).resolve().parents[1] / "docs" / "EXPORTS.md"
# web_store stored assessments (horizon 90) on 2022-01-19, -02-02 and -02-16: the range
# adds 2022-03-02, which has none
START, END, STEP = dt.date(2022, 1, 19), dt.date(2022, 3, 2), 14
DATED = ("indicators", "readings", "assessments", "outcomes", "evidence")
runner = CliRunner()


@pytest.fixture(scope="module")
def store(web_store, tmp_path_factory):
    """A copy of the web store (real data, matched, assessments stored), evidence prepared."""
    db = tmp_path_factory.mktemp("export") / "v.duckdb"
    shutil.copyfile(web_store["db"], db)
    con = connect(db)
    spec = load_theatre("belarus")
    library = load_scenarios(spec)
    prepare_evidence(con, spec, web_store["data"], Path(settings.get("cache")),
                     library.text_rules())  # fmt: skip
    yield con, spec, library
    con.close()


@pytest.fixture(scope="module")
def exported(store, tmp_path_factory):
    """The dated tables exported in both formats, and the same rows collected in memory."""
    con, spec, library = store
    before = con.execute("SELECT count(*) FROM assessments").fetchone()[0]
    out = tmp_path_factory.mktemp("exports")
    result = E.export(con, spec, library, start=START, end=END, step_days=STEP, out=out,
                      tables=DATED)  # fmt: skip
    after = con.execute("SELECT count(*) FROM assessments").fetchone()[0]
    records = E.collect(con, spec, library, dates=result.dates, tables=DATED)
    return result, records, out, (before, after)


def _norm(value, type_: str):
    """A value read back from any reader, as the type its column declares."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if type_ == "DATE":
        return pd.Timestamp(value).date()
    if type_ == "BOOLEAN":
        return value == "true" if isinstance(value, str) else bool(value)
    if type_ == "INTEGER":
        return int(value)
    if type_ == "DOUBLE":
        return float(value)
    return str(value)


def _rows(schema: E.Schema, rows) -> list[tuple]:
    return [
        tuple(_norm(v, c.type) for v, c in zip(row, schema.columns, strict=True)) for row in rows
    ]


def _readers(schema: E.Schema, csv: Path, parquet: Path) -> dict[str, list]:
    """The rows of both files, read by DuckDB and by pandas."""
    types = {c.name: c.type for c in schema.columns}
    dates = [c.name for c in schema.columns if c.type == "DATE"]
    text = {c.name: str for c in schema.columns if c.type == "VARCHAR"}
    frames = {
        "pandas csv": pd.read_csv(
            csv, keep_default_na=False, na_values=[""], parse_dates=dates, dtype=text
        ),
        "pandas parquet": pd.read_parquet(parquet),
    }
    out = {
        "duckdb parquet": duckdb.sql(f"SELECT * FROM read_parquet('{parquet}')").fetchall(),
        "duckdb csv": duckdb.sql(
            f"SELECT * FROM read_csv('{csv}', header = true, columns = {types!r})"
        ).fetchall(),
    }
    for name, frame in frames.items():
        assert tuple(frame.columns) == schema.names, name
        out[name] = list(frame.astype(object).itertuples(index=False, name=None))
    return out


def test_every_table_round_trips_through_csv_and_parquet(exported) -> None:
    result, records, out, _ = exported
    assert set(result.files) == set(DATED) == set(records.tables)
    for table, rows in records.tables.items():
        schema = E.SCHEMAS[table]
        csv, parquet = result.files[table]
        assert (csv.suffix, parquet.suffix) == (".csv", ".parquet")
        assert result.rows[table] == len(rows) > 0, table
        assert csv.read_text(encoding="utf-8").splitlines()[0] == ",".join(schema.names)
        described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{parquet}')").fetchall()
        assert [(r[0], r[1]) for r in described] == [(c.name, c.type) for c in schema.columns]
        expected = _rows(schema, rows)
        for reader, got in _readers(schema, csv, parquet).items():
            assert _rows(schema, got) == expected, f"{table}: {reader}"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in result.paths)


def test_assessments_are_the_stored_ones_and_missing_dates_computed_unstored(
    exported, store
) -> None:
    result, records, _, (before, after) = exported
    con, spec, library = store
    assert result.dates == (START, dt.date(2022, 2, 2), dt.date(2022, 2, 16), END)
    assert result.computed == (END,)
    assert before == after  # nothing stored by the export
    cols = E.SCHEMAS["assessments"].names
    rows = [dict(zip(cols, r, strict=True)) for r in records.tables["assessments"]]
    assert {r["as_of"]: r["stored"] for r in rows} == {d: d != END for d in result.dates}
    stored = audit.load(con, "belarus", START, 90, A.model_hash(spec, library))
    first = stored["scenario_sets"][0]
    mine = [r for r in rows if r["as_of"] == START and r["scenario_set"] == first["id"]]
    assert [(r["scenario"], r["probability"], r["interval_low"], r["interval_high"])
            for r in mine] == [(s["id"], s["probability"], *s["interval"])
                               for s in first["scenarios"]]  # fmt: skip
    assert [r["scenario"] for r in mine if r["is_leading"]] == [first["leading"]]
    # each set's probabilities sum to one; outcomes sit inside their intervals
    for day in result.dates:
        for s in library.sets:
            total = sum(r["probability"] for r in rows if (r["as_of"], r["scenario_set"])
                        == (day, s.id))  # fmt: skip
            assert total == pytest.approx(1, abs=1e-3)
    for o in records.tables["outcomes"]:
        o = dict(zip(E.SCHEMAS["outcomes"].names, o, strict=True))
        assert o["interval_low"] <= o["probability"] <= o["interval_high"]
        assert o["observed"] == (o["observed_since"] is not None)


def test_readings_and_evidence_cover_every_indicator_and_date(exported, store) -> None:
    result, records, _, _ = exported
    _, spec, _ = store
    ids = {i.id for i in spec.indicators}
    cols = E.SCHEMAS["readings"].names
    readings = [dict(zip(cols, r, strict=True)) for r in records.tables["readings"]]
    assert {(r["as_of"], r["indicator"]) for r in readings} == {
        (d, i) for d in result.dates for i in ids
    }
    for r in readings:
        assert r["observed"] == (r["state"] != "blind")
        assert (r["data_date"] is None) == (not r["observed"])
        assert r["observed"] or r["blind_reasons"]
    assert any(r["observed"] for r in readings) and any(r["z"] is not None for r in readings)
    kinds = {(r[1], r[5]) for r in records.tables["indicators"]}
    assert {(r["indicator"], r["driver_kind"]) for r in readings if r["driver_kind"]} <= kinds
    cols = E.SCHEMAS["evidence"].names
    evidence = [dict(zip(cols, r, strict=True)) for r in records.tables["evidence"]]
    assert {e["indicator"] for e in evidence} <= ids
    for e in evidence:
        assert e["date"] <= e["as_of"] and 1 <= e["rank"] <= E.EVIDENCE_PER_INDICATOR


def test_forecasts_are_views_like(forecast_store, shared_data, tmp_path) -> None:
    con = connect(forecast_store, read_only=True)
    spec = load_theatre("belarus")
    try:
        result = E.export(con, spec, None, start=dt.date(2022, 2, 1), end=dt.date(2022, 2, 28),
                          out=tmp_path, tables=["forecasts"], data=shared_data,
                          forecast_model="logistic")  # fmt: skip
    finally:
        con.close()
    csv, parquet = result.files["forecasts"]
    schema = E.SCHEMAS["forecasts"]
    assert schema.names[:6] == ("month_id", "iso3", "year", "month", "p_h1", "p_h3")
    frame = pd.read_parquet(parquet)
    assert _rows(schema, _readers(schema, csv, parquet)["pandas csv"]) == _rows(
        schema, frame.astype(object).itertuples(index=False, name=None)
    )
    assert len(frame) == result.rows["forecasts"] > 100
    assert not frame.duplicated(["month_id", "iso3"]).any()
    assert (frame["month_id"] == (frame["year"] - 1980) * 12 + frame["month"]).all()
    assert frame[["p_h1", "p_h3"]].stack().between(0, 1).all()
    # issued on 15 February 2022, from January 2022's data: ViEWS month 505
    assert set(frame["as_of"]) == {dt.date(2022, 2, 15)}
    assert set(frame.loc[frame["iso3"].isin(["BLR", "UKR", "POL"]), "month_id"]) == {505}
    # the conversions docs/EXPORTS.md gives
    months = pd.to_datetime({"year": 1980 + (frame.month_id - 1) // 12,
                             "month": (frame.month_id - 1) % 12 + 1, "day": 1})  # fmt: skip
    assert (months.dt.year == frame["year"]).all() and (months.dt.month == frame["month"]).all()
    sql = duckdb.sql(f"SELECT DISTINCT make_date(1980 + (month_id - 1) // 12, "
                     f"(month_id - 1) % 12 + 1, 1) FROM read_parquet('{parquet}')")  # fmt: skip
    assert sql.fetchall() == [(dt.date(2022, 1, 1),)]


def test_month_id_is_views_numbering() -> None:
    assert E.month_id(1980, 1) == 1
    assert E.month_id(1990, 1) == 121
    assert E.month_id(2022, 1) == 505
    assert E.month_id(2022, 12) == 516
    for mid in range(1, 1000):
        assert E.month_id(*E.month_of(mid)) == mid
        assert 1 <= E.month_of(mid)[1] <= 12


def test_the_forecaster_is_imported_only_for_forecasts() -> None:
    code = (
        "import sys, vigil.service.export; "
        "assert not {'sklearn', 'lightgbm', 'vigil.forecast.predict'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("kwargs", "message", "hint"),
    [
        ({"tables": ["readings", "nope"]}, "unknown table 'nope'", ", ".join(E.TABLES)),
        ({"tables": []}, "no table", "readings"),
        ({"formats": ["xlsx"]}, "unknown format 'xlsx'", "csv, parquet"),
        ({"end": dt.date(2021, 12, 31)}, "ends (2021-12-31) before it starts", "swap"),
        ({"end": dt.date(2030, 1, 1), "step_days": 1}, "2,923 dates; at most 2,000", "step"),
        ({"step_days": 0}, "step of 0 days", "1 to"),
        ({"horizon_days": 0}, "horizon of 0 days", "1 to"),
        ({"tables": ["forecasts"]}, "needs the data folder", "--data"),
        ({"tables": ["forecasts"], "data": Path("d"), "forecast_model": "x"}, "unknown forecaster",
         "ensemble"),
    ],
)  # fmt: skip
def test_bad_arguments_are_usage_errors_before_any_work(kwargs, message, hint, tmp_path):
    args = {"start": dt.date(2022, 1, 1), "end": dt.date(2022, 3, 1), "out": tmp_path / "o",
            **kwargs}  # fmt: skip
    with pytest.raises(UsageError) as err:
        E.export(None, None, None, **args)  # the store is never touched
    assert message in err.value.message and hint in err.value.hint
    assert not (tmp_path / "o").exists()


def test_forecasts_left_out_of_a_default_export_when_impossible(store, shared_data) -> None:
    con, spec, library = store  # the web store holds no ACLED counts
    days = [dt.date(2022, 2, 2), dt.date(2022, 2, 16)]  # an origin: 15 February
    got = E.collect(con, spec, library, dates=days, tables=["indicators", "forecasts"],
                    data=shared_data, strict=False)  # fmt: skip
    assert set(got.tables) == {"indicators"}
    assert "ACLED" in got.skipped["forecasts"]
    with pytest.raises(InputError, match="ACLED"):
        E.collect(con, spec, library, dates=days, tables=["forecasts"], data=shared_data)


def test_a_failure_mid_write_leaves_no_file(exported, store, tmp_path, monkeypatch) -> None:
    _, records, _, _ = exported
    con, spec, library = store
    out = tmp_path / "out"
    out.mkdir()
    old = out / f"belarus_readings_{START}_{END}.csv"
    old.write_text("an earlier export\n")
    monkeypatch.setattr(E, "collect", lambda *a, **k: records)  # the rows, without the work
    real, calls = E.write_file, []

    def failing(schema, rows, path, fmt):
        calls.append(schema.name)
        if len(set(calls)) == 2:  # the second table
            path.write_bytes(b"half a file")
            raise OSError("disk full")
        real(schema, rows, path, fmt)

    monkeypatch.setattr(E, "write_file", failing)
    with pytest.raises(UsageError, match=r"cannot write the export .*disk full"):
        E.export(con, spec, library, start=START, end=END, step_days=STEP, out=out,
                 tables=DATED)  # fmt: skip
    assert calls[:2] == ["indicators", "indicators"] and calls[2] == "readings"
    assert [p.name for p in out.iterdir()] == [old.name]
    assert old.read_text() == "an earlier export\n"


def test_every_column_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    block = doc.split("<!-- schema:begin -->\n", 1)[1].split("<!-- schema:end -->", 1)[0]
    sections = dict(re.findall(r"### `(\w+)`\n(.*?)(?=\n### |\Z)", block, re.S))
    assert list(sections) == list(E.TABLES)
    for table, schema in E.SCHEMAS.items():
        for c in schema.columns:
            assert f"| `{c.name}` | {c.type} |" in sections[table], f"{table}.{c.name}"
    assert block == E.schema_markdown(), (
        "docs/EXPORTS.md differs from SCHEMAS: paste schema_markdown() between the markers"
    )


def test_cli_export_writes_and_names_each_file(web_store, tmp_path) -> None:
    import vigil.cli.export  # noqa: F401  (registers `export` until vigil.cli imports it)
    from vigil.cli import app

    db = tmp_path / "v.duckdb"
    shutil.copyfile(web_store["db"], db)
    args = ["export", "--from", "2022-02-02", "--to", "2022-02-16", "--table", "readings",
            "--table", "outcomes", "--format", "csv", "--out", str(tmp_path / "x"),
            "--db", str(db), "--data", str(web_store["data"])]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        f"wrote {tmp_path / 'x' / 'belarus_readings_2022-02-02_2022-02-16.csv'} (34 rows)",
        f"wrote {tmp_path / 'x' / 'belarus_outcomes_2022-02-02_2022-02-16_h90.csv'} (14 rows)",
    ]
    for bad, message in (
        (["--table", "nope"], "unknown table 'nope'"),
        (["--format", "xls"], "unknown --format 'xls'"),
        (["--to", "2022-01-01"], "before it starts"),
        (["--from", "2022-13-01"], "--from '2022-13-01' is not a date"),
    ):
        # options given twice: the last wins; a missing store would fail after the check
        result = runner.invoke(app, [*args, *bad, "--db", str(tmp_path / "missing.duckdb")])
        assert result.exit_code == 2, (bad, result.output)
        assert message in result.output


def test_awkward_text_and_empty_tables_survive_both_formats(tmp_path) -> None:
    schema = E.SCHEMAS["evidence"]
    title = 'Troops, "massing"\nnear <script>alert(1)</script> — Мінск ‮'
    row = ("belarus", START, "x", 1, "document", "rss", "007", START, title, None, 0.5,
           None, "NA", None, None, None, "", "claim", "null")  # fmt: skip
    files = E.write_tables({"evidence": [row], "readings": []}, tmp_path,
                           {"evidence": "ev", "readings": "re"})  # fmt: skip
    expected = _rows(schema, [(*row[:16], None, *row[17:])])  # an empty string: no value
    for reader, got in _readers(schema, *files["evidence"]).items():
        assert _rows(schema, got) == expected, reader
    readings = E.SCHEMAS["readings"]
    for reader, got in _readers(readings, *files["readings"]).items():
        assert got == [], reader


def test_a_folder_in_the_way_fails_before_any_work(store, tmp_path, monkeypatch):
    con, spec, library = store
    monkeypatch.setattr(E, "collect", lambda *a, **k: pytest.fail("collected before checking"))
    out = tmp_path / "out"
    (out / f"belarus_readings_{START}_{END}.csv").mkdir(parents=True)
    with pytest.raises(UsageError, match="in the way"):
        E.export(con, spec, library, start=START, end=END, step_days=STEP, out=out,
                 tables=["indicators", "readings"])  # fmt: skip
    assert [p.name for p in out.iterdir()] == [f"belarus_readings_{START}_{END}.csv"]
