"""Hostile input corpus, sources: files built to break the readers, one case per attack.

Part of the hostile corpus that keeps the issue-13 defects fixed: impossible values
stored as data (defect 3), conflicting duplicates in one file vanishing quietly
(defect 5), and a CSV field over Python's 128 KiB limit crashing a reader. Each case is
named after what it attacks; each file is a few synthetic rows in the source's real
layout (the CIR header is read from the real file in place).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from tests import gdelt_rows

from vigil import sources
from vigil.ingest import ingest_file
from vigil.sources.ucdp import COLUMNS as UCDP_COLUMNS

CIR_REAL = "cir_russia_ukraine_monitor_2022/events.csv.gz"
GDELT_NAME = "20220220101500.export.CSV"


def _csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _gdelt(tmp: Path, *lines: str) -> Path:
    return gdelt_rows.write(tmp / GDELT_NAME, list(lines))


def _cir_header(data: Path) -> list[str]:
    with gzip.open(data / CIR_REAL, "rt", encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def _cir_row(entry: str, day: str = "2022-03-01", **fields: str) -> dict:
    return {
        "entry": entry,
        "date": day,
        "event_group": "Bombing or Explosion Feb - June",
        "title": f"{day[8:10]}/{day[5:7]}/{day[:4]} Strike on a depot",
        "brief description": "Strike on a depot",
        "lat": "50.45",
        "lon": "30.52",
        "country": "Ukraine",
        "province": "Kyiv Oblast",
        "town/city": "Kyiv",
        "link": f"https://example.org/{entry}",
        **fields,
    }


def _cir(tmp: Path, data: Path, *rows: dict) -> Path:
    return _csv(tmp / "events.csv", _cir_header(data), list(rows))


def _ucdp_row(ident: str, **fields: str) -> dict:
    row = dict.fromkeys(UCDP_COLUMNS, "")
    row.update(
        id=ident,
        year="2022",
        type_of_violence="1",
        side_a="Government of Russia (Soviet Union)",
        side_b="Government of Ukraine",
        country="Ukraine",
        date_start="2022-09-01",
        date_end="2022-09-01",
        latitude="48.0",
        longitude="37.8",
        where_prec="1",
        best="3",
        number_of_sources="1",
    )
    row.update(fields)
    return row


def _ucdp(tmp: Path, *rows: dict) -> Path:
    return _csv(tmp / "ucdp_ged_candidate_test.csv", list(UCDP_COLUMNS), list(rows))


def _frontex(tmp: Path, *rows: tuple[str, str]) -> Path:
    """A Frontex file of (month, n) rows on one route, type and nationality."""
    header = ["month", "route", "type", "nat", "n"]
    body = [
        {"month": m, "route": "Eastern Borders Route", "type": "Land", "nat": "SYR", "n": n}
        for m, n in rows
    ]
    return _csv(tmp / "frontex_test.csv", header, body)


# ---------------------------------------------------------------- defect 3: impossible values

# (id, source, build(tmp, data) -> path, the reject reason expected)
IMPOSSIBLE: list[tuple[str, str, Callable[[Path, Path], Path], str]] = [
    (
        "gdelt_sqldate_year_0001",
        "gdelt",
        lambda t, d: _gdelt(
            t, gdelt_rows.row(), gdelt_rows.row(GLOBALEVENTID="2", SQLDATE="00010101")
        ),
        "SQLDATE '00010101' is outside 2021-02-19…2022-02-21",
    ),
    (
        "gdelt_sqldate_year_9999",
        "gdelt",
        lambda t, d: _gdelt(
            t, gdelt_rows.row(), gdelt_rows.row(GLOBALEVENTID="2", SQLDATE="99991231")
        ),
        "SQLDATE '99991231' is outside 2021-02-19…2022-02-21",
    ),
    (
        "gdelt_goldstein_nan",
        "gdelt",
        lambda t, d: _gdelt(
            t, gdelt_rows.row(), gdelt_rows.row(GLOBALEVENTID="2", GoldsteinScale="nan")
        ),
        "GoldsteinScale 'nan' is outside -10…10",
    ),
    (
        "gdelt_avgtone_beyond_100",
        "gdelt",
        lambda t, d: _gdelt(t, gdelt_rows.row(), gdelt_rows.row(GLOBALEVENTID="2", AvgTone="250")),
        "AvgTone '250' is outside -100…100",
    ),
    (
        "gdelt_nummentions_negative",
        "gdelt",
        lambda t, d: _gdelt(
            t, gdelt_rows.row(), gdelt_rows.row(GLOBALEVENTID="2", NumMentions="-3")
        ),
        "NumMentions '-3' is outside at least 0",
    ),
    (
        "gdelt_dateadded_after_its_own_file",
        "gdelt",
        lambda t, d: _gdelt(
            t, gdelt_rows.row(), gdelt_rows.row(GLOBALEVENTID="2", DATEADDED="20300101000000")
        ),
        "DATEADDED '20300101000000' is outside 2015-02-18…2022-02-21",
    ),
    (
        "cir_date_year_9999",
        "cir",
        lambda t, d: _cir(t, d, _cir_row("TQ1"), _cir_row("TQ2", "9999-01-02")),
        "date '9999-01-02' is outside 2021-01-01…",
    ),
    (
        "acled_aggregate_fatalities_1e400",
        "acled",
        lambda t, d: _csv(
            t / "acled_fatalities_country_year_asof_2025-12-12.csv",
            ["COUNTRY", "YEAR", "FATALITIES"],
            [
                {"COUNTRY": "Ukraine", "YEAR": "2022", "FATALITIES": "100"},
                {"COUNTRY": "Poland", "YEAR": "2022", "FATALITIES": "1e400"},
            ],
        ),
        "FATALITIES '1e400' is outside 0…10,000,000,000",
    ),
    (
        "acled_aggregate_period_after_its_as_of_date",
        "acled",
        lambda t, d: _csv(
            t / "acled_fatalities_country_year_asof_2025-12-12.csv",
            ["COUNTRY", "YEAR", "FATALITIES"],
            [
                {"COUNTRY": "Ukraine", "YEAR": "2022", "FATALITIES": "100"},
                {"COUNTRY": "Poland", "YEAR": "2031", "FATALITIES": "5"},
            ],
        ),
        "YEAR '2031' is outside 1997-01-01…2025-12-12",
    ),
    (
        "frontex_count_1e308",
        "frontex",
        lambda t, d: _frontex(t, ("2021-08", "12"), ("2021-09", "1e308")),
        "n '1e308' is outside 0…10,000,000,000",
    ),
    (
        "frontex_month_before_frontex_counted",
        "frontex",
        lambda t, d: _frontex(t, ("2021-08", "12"), ("1970-01", "3")),
        "month '1970-01' is outside 2009-01-01…",
    ),
    (
        "ucdp_date_start_year_9999",
        "ucdp",
        lambda t, d: _ucdp(
            t, _ucdp_row("1"), _ucdp_row("2", date_start="9999-01-01", date_end="9999-01-01")
        ),
        "date_start '9999-01-01' is outside 1989-01-01…",
    ),
    (
        "ucdp_best_negative",
        "ucdp",
        lambda t, d: _ucdp(t, _ucdp_row("1"), _ucdp_row("2", best="-5")),
        "best '-5' is outside 0…10,000,000,000",
    ),
    (
        "gpr_daily_index_negative",
        "gpr",
        lambda t, d: _csv(
            t / "gpr_daily_test.csv",
            ["DAY", "N10D", "GPRD", "GPRD_ACT", "GPRD_THREAT"],
            [
                {
                    "DAY": "20220224",
                    "N10D": "900",
                    "GPRD": "400",
                    "GPRD_ACT": "1",
                    "GPRD_THREAT": "2",
                },
                {
                    "DAY": "20220225",
                    "N10D": "900",
                    "GPRD": "-4",
                    "GPRD_ACT": "1",
                    "GPRD_THREAT": "2",
                },
            ],
        ),
        "GPRD '-4' is outside at least 0",
    ),
    (
        "gpr_daily_day_before_the_index",
        "gpr",
        lambda t, d: _csv(
            t / "gpr_daily_test.csv",
            ["DAY", "N10D", "GPRD", "GPRD_ACT", "GPRD_THREAT"],
            [{"DAY": "18500101", "N10D": "", "GPRD": "4", "GPRD_ACT": "", "GPRD_THREAT": ""}],
        ),
        "DAY '18500101' is outside 1985-01-01…",
    ),
    (
        "fires_cloud_share_above_one",
        "fires",
        lambda t, d: _csv(
            t / "strikes_by_location_and_day.csv",
            ["date", "fires_per_day", "war_fires_per_day", "cloud_cover_in_country"],
            [
                {
                    "date": "2022-03-01",
                    "fires_per_day": "10",
                    "war_fires_per_day": "4",
                    "cloud_cover_in_country": "1.5",
                }
            ],
        ),
        "cloud_cover_in_country '1.5' is outside 0…1",
    ),
    (
        "fires_count_infinite",
        "fires",
        lambda t, d: _csv(
            t / "strikes_by_location_and_day.csv",
            ["date", "fires_per_day", "war_fires_per_day"],
            [{"date": "2022-03-01", "fires_per_day": "10", "war_fires_per_day": "-1"}],
        ),
        "war_fires_per_day '-1' is outside at least 0",
    ),
    (
        "rss_totals_day_before_rss_existed",
        "rss",
        lambda t, d: _csv(
            t / "rss_feed_daily_totals_test.csv",
            ["day", "feed", "n_items"],
            [
                {"day": "2022-03-01", "feed": "bbc", "n_items": "10"},
                {"day": "1970-01-01", "feed": "bbc", "n_items": "10"},
            ],
        ),
        "day '1970-01-01' is outside 1999-03-01…",
    ),
]


@pytest.mark.parametrize(
    ("source", "build", "reason"),
    [pytest.param(s, b, r, id=i) for i, s, b, r in IMPOSSIBLE],
)
def test_impossible_value_is_rejected_with_column_value_and_range(
    con, tmp_path: Path, shared_data: Path, source: str, build, reason: str
) -> None:
    path = build(tmp_path, shared_data)
    report = ingest_file(con, sources.get(source), path, max_reject_share=1.0)
    assert report.rejected == 1
    assert report.rows_in == report.loaded + report.duplicates + report.rejected
    got = con.execute("SELECT reason FROM rejects").fetchone()[0]
    assert got.startswith(reason), got


def test_gdelt_status_range_is_not_stretched_by_impossible_dates(con, tmp_path: Path) -> None:
    path = _gdelt(
        tmp_path,
        gdelt_rows.row(),
        gdelt_rows.row(GLOBALEVENTID="2", SQLDATE="00010101"),
        gdelt_rows.row(GLOBALEVENTID="3", SQLDATE="99991231"),
    )
    ingest_file(con, sources.get("gdelt"), path, max_reject_share=1.0)
    span = con.execute("SELECT min(occurred_on), max(occurred_on) FROM events").fetchone()
    assert [d.isoformat() for d in span] == ["2022-02-20", "2022-02-20"]


# ---------------------------------------------------------------- defect 5: one key, two rows

CONFLICTS: list[tuple[str, str, Callable[[Path, Path], Path], str]] = [
    (
        "gdelt_same_event_id_different_content",
        "gdelt",
        lambda t, d: _gdelt(
            t,
            gdelt_rows.row(GLOBALEVENTID="123"),
            gdelt_rows.row(GLOBALEVENTID="7"),
            gdelt_rows.row(GLOBALEVENTID="123", GoldsteinScale="3.4"),
        ),
        "GLOBALEVENTID 123 appears on lines 1 and 3 with different content",
    ),
    (
        "ucdp_same_id_different_deaths",
        "ucdp",
        lambda t, d: _ucdp(t, _ucdp_row("5"), _ucdp_row("6"), _ucdp_row("5", best="40")),
        "id 5 appears on lines 2 and 4 with different content",
    ),
    (
        "frontex_same_month_route_nationality_twice",
        "frontex",
        lambda t, d: _frontex(t, ("2021-08", "12"), ("2021-09", "1"), ("2021-08", "13")),
        "key frontex.ibc.eastern_borders|SYR|Land|2021-08 appears on lines 2 and 4 with "
        "different content",
    ),
    (
        "gpr_same_day_twice",
        "gpr",
        lambda t, d: _csv(
            t / "gpr_daily_test.csv",
            ["DAY", "N10D", "GPRD", "GPRD_ACT", "GPRD_THREAT"],
            [
                {"DAY": "20220224", "N10D": "", "GPRD": "400", "GPRD_ACT": "", "GPRD_THREAT": ""},
                {"DAY": "20220225", "N10D": "", "GPRD": "300", "GPRD_ACT": "", "GPRD_THREAT": ""},
                {"DAY": "20220224", "N10D": "", "GPRD": "401", "GPRD_ACT": "", "GPRD_THREAT": ""},
            ],
        ),
        "key gpr.daily|WORLD|2022-02-24 appears on lines 2 and 4 with different content",
    ),
]


@pytest.mark.parametrize(
    ("source", "build", "reason"),
    [pytest.param(s, b, r, id=i) for i, s, b, r in CONFLICTS],
)
def test_conflicting_rows_under_one_key_are_both_rejected(
    con, tmp_path: Path, shared_data: Path, source: str, build, reason: str
) -> None:
    path = build(tmp_path, shared_data)
    report = ingest_file(con, sources.get(source), path, max_reject_share=1.0)
    assert (report.loaded, report.duplicates, report.rejected) == (1, 0, 2)
    assert report.rows_in == report.loaded + report.duplicates + report.rejected
    got = con.execute("SELECT reason FROM rejects").fetchall()
    assert got == [(reason,), (reason,)]


def test_identical_rows_in_one_file_are_duplicates_not_rejects(con, tmp_path: Path) -> None:
    same = gdelt_rows.row(GLOBALEVENTID="123")
    path = _gdelt(tmp_path, same, gdelt_rows.row(GLOBALEVENTID="7"), same)
    report = ingest_file(con, sources.get("gdelt"), path)
    assert (report.rows_in, report.loaded, report.duplicates, report.rejected) == (3, 2, 1, 0)


def test_gdelt_event_revised_in_a_later_file_still_updates(con, tmp_path: Path) -> None:
    first = tmp_path / "a"
    later = tmp_path / "b"
    first.mkdir()
    later.mkdir()
    gdelt_rows.write(first / "20220220101500.export.CSV", [gdelt_rows.row(GLOBALEVENTID="9")])
    gdelt_rows.write(
        later / "20220220103000.export.CSV",
        [gdelt_rows.row(GLOBALEVENTID="9", NumMentions="25", DATEADDED="20220220103000")],
    )
    adapter = sources.get("gdelt")
    ingest_file(con, adapter, first / "20220220101500.export.CSV")
    report = ingest_file(con, adapter, later / "20220220103000.export.CSV")
    assert (report.loaded, report.updated, report.rejected) == (1, 1, 0)
    assert con.execute("SELECT mentions FROM events").fetchone()[0] == 25


def test_cir_copies_of_one_incident_keep_the_first_and_say_so(
    con, tmp_path: Path, shared_data: Path
) -> None:
    path = _cir(
        tmp_path,
        shared_data,
        _cir_row("TQ1", link="https://example.org/first"),
        _cir_row("TQ2"),
        _cir_row("TQ1", link="https://example.org/second"),
    )
    report = ingest_file(con, sources.get("cir"), path)
    assert (report.loaded, report.duplicates, report.rejected) == (2, 1, 0)
    assert "TQ1" in report.notes[-1] and "the first in the file kept" in report.notes[-1]
    url = con.execute("SELECT url FROM events WHERE source_id = 'TQ1'").fetchone()[0]
    assert url == "https://example.org/first"


# ---------------------------------------------------------------- a field over 128 KiB


def test_cir_field_over_128_kib_does_not_crash_the_rejects_path(
    con, tmp_path: Path, shared_data: Path
) -> None:
    long = "x" * 200_000  # over Python csv's default field limit of 131,072
    path = _cir(
        tmp_path,
        shared_data,
        _cir_row("TQ1", **{"brief description": long}),
        _cir_row("TQ2", **{"brief description": long}, lat="95"),  # rejected: off the globe
    )
    report = ingest_file(con, sources.get("cir"), path, max_reject_share=1.0)
    assert (report.loaded, report.rejected) == (1, 1)
    line, reason = con.execute("SELECT line, reason FROM rejects").fetchone()
    assert line == 3 and "outside the globe" in reason
    assert csv.field_size_limit() == 131_072  # the process-wide limit is restored
