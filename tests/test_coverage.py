"""The default as-of date: how far each source reaches for a theatre, and the day that a
majority of the event and document sources still cover (the lower median of their ends)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from vigil.coverage import SourceReach, covered_until, source_reach
from vigil.errors import InputError
from vigil.theatre import Evidence, Indicator, SeriesRule, Theatre, TheatreSpec

D0 = dt.date(2021, 3, 1)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def theatre() -> TheatreSpec:
    """Two countries; one indicator reading the series ``s.daily`` in UKR."""
    indicator = Indicator.model_construct(
        id="x", evidence=Evidence(series=(SeriesRule(series="s.daily", geo=("UKR",)),))
    )
    return TheatreSpec.model_construct(
        theatre=Theatre(id="t", name="T", countries=("BLR", "UKR")),
        indicators=(indicator,),
        folder="t",
    )


def _insert(con, table: str, row: dict) -> None:
    prov = {"available_basis": "test", "raw": "{}", "record_hash": row["source_id"], "batch_id": 1}
    row = {**row, **prov}
    marks = ", ".join("?" * len(row))
    con.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", list(row.values()))


def add_events(con, source: str, first: int, last: int, country: str = "BLR") -> None:
    """Two events of ``source`` in ``country``, available on days ``first`` and ``last``."""
    for n in (first, last):
        when = dt.datetime.combine(day(n), dt.time(13))
        _insert(con, "events", {"source": source, "source_id": f"{source}-{country}-{n}",
                                "occurred_on": day(n - 2), "occurred_until": day(n - 2),
                                "category": "DEPLOY", "country": country,
                                "available_at": when})  # fmt: skip


def add_document(con, source: str, n: int) -> None:
    when = dt.datetime.combine(day(n), dt.time(23, 30))
    _insert(con, "documents", {"source": source, "source_id": f"{source}-{n}",
                               "published_at": when, "doc_type": "headline",
                               "title": "t", "available_at": when})  # fmt: skip


def add_observation(con, series: str, n: int, geo: str = "UKR", source: str = "obs") -> None:
    _insert(con, "observations", {"source": source, "source_id": f"{series}-{geo}-{n}",
                                  "series": series, "geo": geo, "period_start": day(n - 1),
                                  "period_end": day(n - 1), "freq": "D", "value": 1.0,
                                  "unit": "u", "available_at": day(n)})  # fmt: skip


def test_source_reach_per_source(con) -> None:
    add_events(con, "cir", 10, 300)
    add_events(con, "cir", 5, 900, country="USA")  # outside the theatre: not counted
    add_events(con, "ucdp", 20, 200, country="UKR")
    add_events(con, "gdelt", 0, 600, country="USA")  # no record in the theatre at all
    add_document(con, "rss", 3)
    add_document(con, "rss", 400)
    add_observation(con, "s.daily", 1)
    add_observation(con, "s.daily", 800)
    add_observation(con, "s.daily", 900, geo="POL")  # not the geo the indicator reads
    add_observation(con, "other.series", 950)  # no indicator reads it
    assert source_reach(con, theatre()) == [
        SourceReach("rss", "documents", day(3), day(400), 2),
        SourceReach("cir", "events", day(10), day(300), 2),
        SourceReach("ucdp", "events", day(20), day(200), 2),
        SourceReach("obs", "observations", day(1), day(800), 2),
    ]


def test_covered_until_is_the_lower_median_of_the_ends(con) -> None:
    add_events(con, "a", 0, 100)
    add_events(con, "b", 0, 300, country="UKR")
    add_document(con, "rss", 200)
    assert covered_until(con, theatre()) == day(200)  # three ends: the middle one
    add_events(con, "c", 0, 150)
    # four ends (100, 150, 200, 300): the earlier middle one, so that on that day three of
    # the four sources (a majority) still had records to come
    assert covered_until(con, theatre()) == day(150)


def test_a_stray_late_source_does_not_move_it(con) -> None:
    add_events(con, "a", 0, 100)
    add_events(con, "b", 0, 200)
    add_document(con, "rss", 300)
    before = covered_until(con, theatre())
    assert before == day(200)
    add_events(con, "stray", 5000, 5000)  # one source running (or misdated) far ahead
    assert covered_until(con, theatre()) == before


def test_observations_are_left_out(con) -> None:
    add_events(con, "a", 0, 100)
    add_document(con, "rss", 120)
    add_observation(con, "s.daily", 2000)
    add_observation(con, "s.daily", 2000, source="obs2")
    reach = source_reach(con, theatre())
    assert {r.source for r in reach if r.kind == "observations"} == {"obs", "obs2"}
    assert covered_until(con, theatre(), reach) == day(100)  # two ends: the earlier


def test_capped_at_today(con) -> None:
    ahead = (dt.date.today() - D0).days + 400
    add_events(con, "a", 0, ahead)
    assert covered_until(con, theatre()) == dt.date.today()


def test_no_event_or_document_source_is_an_input_error(con) -> None:
    empty = r"no events or documents for the t theatre \(no event located in BLR, UKR, no"
    with pytest.raises(InputError, match=empty):
        covered_until(con, theatre())
    add_events(con, "cir", 0, 10, country="USA")
    add_observation(con, "s.daily", 10)
    with pytest.raises(InputError, match="give the date"):
        covered_until(con, theatre())
    assert covered_until(con, theatre(), [SourceReach("x", "events", day(1), day(9), 2)]) == day(9)


def test_fast_on_many_records(con) -> None:
    """One query over the three tables: well under the 0.3 s the CLI and dashboard allow."""
    con.execute(f"""INSERT INTO events (source, source_id, occurred_on, occurred_until, category,
                        country, available_at, available_basis, raw, record_hash, batch_id)
                    SELECT 'src' || (i % 7), i::VARCHAR, DATE '{D0}' + (i % 900)::INTEGER,
                           DATE '{D0}' + (i % 900)::INTEGER, 'DEPLOY',
                           ['BLR', 'UKR', 'USA'][1 + i % 3],
                           TIMESTAMP '{D0}' + to_days((i % 900)::INTEGER), 't', '{{}}', 'h', 1
                    FROM range(200000) r(i)""")
    add_document(con, "rss", 50)
    started = time.perf_counter()
    reach = source_reach(con, theatre())
    assert time.perf_counter() - started < 0.3
    assert len(reach) == 8 and sum(r.records for r in reach if r.kind == "events") == 133334
