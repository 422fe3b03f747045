"""Quarantine of rows whose date cannot be right: it contradicts the row's own title, or it
lies far beyond the body of the row's own file (CIR reader, plausibility guard)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from pathlib import Path

import pytest

from vigil.ingest import ingest_file
from vigil.sources import tabular
from vigil.sources.cir import ADAPTER, TEXT_DATE_TOLERANCE_DAYS

REAL = "cir_russia_ukraine_monitor_2022/events.csv.gz"
START = dt.date(2022, 2, 1)


@pytest.fixture(scope="module")
def header(shared_data: Path) -> list[str]:
    """The real CIR file's header, so the synthetic files have the real layout."""
    with gzip.open(shared_data / REAL, "rt", encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def row(entry: str, day: dt.date, title: str | None = None, description: str = "") -> dict:
    """One CIR row; its title starts with its own day, as CIR writes it, unless given."""
    return {
        "entry": entry,
        "date": day.isoformat(),
        "event_group": "Bombing or Explosion Feb - June",
        "title": title if title is not None else f"{day:%d/%m/%Y} Strike on a depot",
        "brief description": description or "Strike on a depot",
        "lat": "50.45",
        "lon": "30.52",
        "country": "Ukraine",
        "province": "Kyiv Oblast",
        "town/city": "Kyiv",
        "link": f"https://example.org/{entry}",
    }


def body(n: int = 150) -> list[dict]:
    """``n`` good rows, one a day from ``START`` (enough rows for the 99th percentile)."""
    return [row(f"TQ{i:04d}", START + dt.timedelta(days=i)) for i in range(n)]


def write(tmp_path: Path, header: list[str], rows: list[dict]) -> Path:
    path = tmp_path / "events.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def rejects(con) -> list[tuple]:
    return con.execute("SELECT line, error_type, reason FROM rejects ORDER BY line").fetchall()


def stored(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT source_id FROM events").fetchall()}


def test_title_date_contradicting_the_date_is_quarantined(con, tmp_path, header):
    rows = body()
    # a month slip: the title says 25 March, the date column 25 May
    rows.insert(10, row("TQBAD", dt.date(2022, 5, 25), "25/03/2022 School damaged"))
    report = ingest_file(con, ADAPTER, write(tmp_path, header, rows))
    assert (report.rows_in, report.loaded, report.rejected) == (151, 150, 1)
    assert rejects(con) == [
        (
            12,  # header = line 1, so the 11th row is line 12
            "invalid",
            "date 2022-05-25 contradicts the date its own title starts with (25/03/2022 = "
            f"2022-03-25, 61 days apart; at most {TEXT_DATE_TOLERANCE_DAYS} allowed): one of "
            "them is mistyped; correct the date or the title in the file and ingest again",
        )
    ]
    batch = con.execute("SELECT rows_in, loaded, rejected FROM batches").fetchone()
    assert batch == (151, 150, 1)
    assert stored(con) == {f"TQ{i:04d}" for i in range(150)}


def test_other_date_forms_and_the_description_are_checked(con, tmp_path, header):
    rows = body(250)
    rows += [
        row("TQDOT", dt.date(2022, 3, 1), "28/02.2022 MLRS strike"),  # 1 day: allowed
        row("TQISO", dt.date(2022, 3, 2), "2022-02-02 Convoy"),  # 28 days off
        row("TQDSC", dt.date(2022, 3, 3), "Convoy", "03.04.2022 Convoy seen"),  # 31 days off
        # a date inside the text mentions another day: not the row's own stamp
        row("TQMNT", dt.date(2022, 4, 28), "28/04/2022 Impact from 27/03/2022 seen"),
    ]
    report = ingest_file(con, ADAPTER, write(tmp_path, header, rows))
    assert (report.loaded, report.rejected) == (252, 2)
    got = {line: reason for line, _, reason in rejects(con)}
    assert got[253].startswith("date 2022-03-02 contradicts the date its own title starts with "
                                "(2022-02-02 = 2022-02-02, 28 days apart")  # fmt: skip
    assert got[254].startswith("date 2022-03-03 contradicts the date its own description "
                               "starts with (03.04.2022 = 2022-04-03, 31 days apart")  # fmt: skip
    assert {"TQDOT", "TQMNT"} <= stored(con)


def test_row_far_beyond_the_file_is_quarantined(con, tmp_path, header):
    rows = body()
    # the title agrees with the date (the year is mistyped in both), so only the file's
    # own span can tell
    rows.append(row("TQLATE", dt.date(2024, 2, 24), "24/02/2024 Russian helicopters"))
    report = ingest_file(con, ADAPTER, write(tmp_path, header, rows))
    assert (report.rows_in, report.loaded, report.rejected) == (151, 150, 1)
    assert "1 rows dated far beyond the rest of the file quarantined" in report.notes
    (line, kind, reason), *others = rejects(con)
    assert not others and (line, kind) == (152, "invalid")
    last = START + dt.timedelta(days=149)
    p99 = last  # of 151 dates, the 99th percentile (quantile_disc) is the 150th
    assert reason == (
        f"date 2024-02-24 lies {(dt.date(2024, 2, 24) - p99).days} days after the 99th "
        f"percentile of this file's dates ({p99}; at most {tabular.BEYOND_BODY_MIN_DAYS} "
        f"allowed): the rest of the file spans {START} … {last}, so the date is likely "
        "mistyped (a wrong year?); correct it in the file and ingest again"
    )
    assert "TQLATE" not in stored(con)
    assert con.execute("SELECT max(occurred_on) FROM events").fetchone()[0] == last


def test_rows_near_the_end_of_the_file_are_kept(con, tmp_path, header):
    """A thin tail after the body is ordinary: only a row past p99 + N is judged."""
    rows = body()
    rows.append(row("TQTAIL", START + dt.timedelta(days=149 + 45)))  # 45 days after the last
    report = ingest_file(con, ADAPTER, write(tmp_path, header, rows))
    assert (report.loaded, report.rejected) == (151, 0)


def test_small_file_is_not_judged_by_its_span(con, tmp_path, header):
    """Under 100 dated rows the 99th percentile is the last row: nothing lies beyond."""
    rows = [*body(20), row("TQLATE", dt.date(2024, 2, 24))]
    report = ingest_file(con, ADAPTER, write(tmp_path, header, rows))
    assert (report.loaded, report.rejected) == (21, 0)


def test_title_date_equal_to_the_date_is_loaded(con, tmp_path, header):
    rows = [row("TQOK", dt.date(2022, 2, 24), "24/02/2022 Russian Mi-8 and Ka-52 helicopters")]
    rows.append(row("TQNEAR", dt.date(2022, 2, 26), "24/02/2022 Tank stopped by a civilian"))
    report = ingest_file(con, ADAPTER, write(tmp_path, header, rows))
    assert (report.rows_in, report.loaded, report.rejected) == (2, 2, 0)
    assert rejects(con) == []
    got = con.execute("SELECT occurred_on, summary FROM events WHERE source_id = 'TQOK'")
    assert got.fetchone() == (
        dt.date(2022, 2, 24),
        "24/02/2022 Russian Mi-8 and Ka-52 helicopters — Strike on a depot",
    )
