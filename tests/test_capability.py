"""Posture and capability notes: levels, running tallies and rates over two windows, read
as published by the date, and their place in the briefing."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.briefing.document import Inputs, build
from vigil.briefing.render import to_markdown
from vigil.indicators.capability import capability_notes
from vigil.theatre import CapabilitySeries, Theatre, TheatreSpec

D0 = dt.date(2023, 1, 1)


def _theatre(*series: CapabilitySeries) -> TheatreSpec:
    return TheatreSpec.model_construct(
        theatre=Theatre(id="t", name="T", countries=("UKR",), capability=series), indicators=()
    )


def _cap(series: str, measure: str) -> CapabilitySeries:
    return CapabilitySeries(
        series=series, geo="UKR", label=series, measure=measure, attribution="x"
    )


def _series(con, name: str, values: list[float], lag_days: int = 1) -> None:
    """One value a day from D0, each available ``lag_days`` after its day."""
    rows = [
        ("s", f"{name}:{i}", name, "UKR", D0 + dt.timedelta(days=i), D0 + dt.timedelta(days=i),
         "D", v, "u", D0 + dt.timedelta(days=i + lag_days))
        for i, v in enumerate(values)
    ]  # fmt: skip
    con.executemany(
        "INSERT INTO observations (source, source_id, series, geo, period_start, period_end, "
        "freq, value, unit, available_at, available_basis, raw, record_hash, batch_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'test', 'raw', 'md5', 1)",
        rows,
    )


def test_tally_level_and_rate_over_two_windows(con) -> None:
    _series(con, "tally", [10.0 * i for i in range(200)])  # +10 a day
    _series(con, "share", [20.0 - 0.01 * i for i in range(200)])
    _series(con, "fires", [1.0] * 100 + [3.0] * 100)
    spec = _theatre(_cap("tally", "cumulative"), _cap("share", "level"), _cap("fires", "rate"))
    as_of = D0 + dt.timedelta(days=199)  # the last day is published the day after: not yet
    tally, share, fires = capability_notes(con, spec, as_of, window_days=90)
    assert tally["latest"] == 1980 and tally["latest_date"] == str(D0 + dt.timedelta(days=198))
    assert (tally["recent"], tally["previous"], tally["change"]) == (900, 900, 0)
    assert share["recent"] == pytest.approx(-0.9) and share["previous"] == pytest.approx(-0.9)
    # days 109–198 are all 3; days 19–108 are 81 ones then 9 threes
    assert fires["recent"] == 3 and fires["previous"] == pytest.approx((81 + 27) / 90)


def test_nothing_published_yet_and_short_history(con) -> None:
    _series(con, "tally", [5.0, 6.0, 7.0], lag_days=30)
    spec = _theatre(
        CapabilitySeries(
            series="tally", geo="UKR", label="L", measure="cumulative", attribution="a"
        )
    )
    (early,) = capability_notes(con, spec, D0 + dt.timedelta(days=10))
    assert early["latest"] is None and early["change"] is None
    (later,) = capability_notes(con, spec, D0 + dt.timedelta(days=40))
    assert later["latest"] == 7 and later["recent"] is None  # no value 90 days before
    _series(con, "young", [2.0] * 20)
    (rate,) = capability_notes(con, _theatre(_cap("young", "rate")), D0 + dt.timedelta(days=30))
    assert rate["latest"] == 2 and rate["recent"] is None  # 20 days are not a 90-day mean


def test_briefing_section_names_whose_figure_it_is() -> None:
    notes = [
        {"label": "Tanks <b>", "unit": "tanks", "measure": "cumulative", "window_days": 90,
         "latest": 6556.0, "latest_date": "2024-02-27", "recent": 1018.0, "previous": 1102.0,
         "change": -84.0, "attribution": "claimed by one party"},
        {"label": "Fires", "unit": "fires", "measure": "rate", "window_days": 90,
         "latest": None, "latest_date": None, "recent": None, "previous": None, "change": None,
         "attribution": "a model"},
    ]  # fmt: skip
    indicator = {
        "id": "russian_buildup", "name": "Build-up", "group": "military_posture", "state": "high",
        "score": 6.5, "trend": {"direction": "rising"}, "evidence": [],
    }  # fmt: skip
    others = [
        {**indicator, "id": "joint_exercises", "state": "normal"},
        {**indicator, "id": "pmc_presence", "state": "insufficient"},
    ]
    assessment = {"horizon_days": 90, "model_hash": "0" * 64, "scenario_sets": [],
                  "outcomes": []}  # fmt: skip
    md = to_markdown(
        build(Inputs("t", "T", "2024-02-28", assessment, [indicator, *others], capability=notes))
    )
    section = md.split("## Posture and capability")[1].split("\n## ")[0]
    assert "**Build-up** reads high (z +6.5, rising)" in section
    assert "Tanks \\<b\\>" in section and "6,556 tanks as of 2024-02-27" in section
    assert "+1,018 tanks" in section and "claimed by one party" in section
    assert "no figure by this date" in section
    assert "reading normal: joint\\_exercises." in section
    assert "blind (sources not covering them): pmc\\_presence." in section
    # with the scenario model's reading, a lasting level counts and a blind one says so
    level = {
        **indicator,
        "state": "normal",
        "reading": {
            "state": "high",
            "driver": "events level 31 sightings (30 days) → high",
            "parts": [],
        },
    }
    blind = {**others[0], "reading": {"state": "blind", "driver": None, "parts": []}}
    md = to_markdown(build(Inputs("t", "T", "2024-02-28", assessment, [level, blind])))
    section = md.split("## Posture and capability")[1].split("\n## ")[0]
    assert "**Build-up** reads high (events level 31 sightings (30 days), rising)" in section
    assert "blind (sources not covering them): joint\\_exercises." in section


@pytest.mark.slow
def test_real_claimed_losses_as_published(web_store) -> None:
    """On the real tally: the latest figure is the one published by the date, and the
    quarter's increase is read off the tally itself."""
    import duckdb

    from vigil.theatre import load_theatre

    con = duckdb.connect(str(web_store["db"]), read_only=True)
    try:
        notes = capability_notes(con, load_theatre("belarus"), dt.date(2022, 6, 1))
        (personnel,) = [n for n in notes if n["series"] == "losses.ua_claims.personnel"]

        def tally(day: str) -> float:
            return con.execute(
                "SELECT value FROM observations WHERE series = 'losses.ua_claims.personnel' "
                "AND period_end = ?",
                [day],
            ).fetchone()[0]

        assert personnel["latest_date"] == "2022-05-31"  # 1 June's tally: published on the 2nd
        assert personnel["latest"] == tally("2022-05-31")
        assert personnel["recent"] == tally("2022-05-31") - tally("2022-03-02")
        assert personnel["previous"] is None  # the tally starts on 25 February 2022
    finally:
        con.close()
