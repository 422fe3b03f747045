"""Readings for the scenario model on the real data: observed or blind, level and change.

The store holds real CIR, Frontex, GPR and RSS data; nothing here names what happened on a
date: the dates under test are found by scanning the data for the condition each test is
about, so the tests check the mechanism, not a memory of events.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from vigil.indicators import compute as C  # noqa: N812
from vigil.indicators import series as S  # noqa: N812
from vigil.indicators.arrays import EvidenceArrays
from vigil.indicators.readings import (
    BLIND,
    MIX_OVERLAP,
    IndicatorReading,
    Part,
    read_indicators,
)
from vigil.scenarios.spec import load_scenarios
from vigil.service import look
from vigil.theatre import load_theatre

THEATRE = load_theatre("belarus")
LIBRARY = load_scenarios(THEATRE)
WEEKS_2021_2023 = [dt.date(2021, 1, 6) + dt.timedelta(days=7 * i) for i in range(156)]


@pytest.fixture(scope="module")
def con(real_store, shared_data, tmp_path_factory):
    """A copy of the real store, matched (indicators, topics, resolvers), with border
    distances registered."""
    db = tmp_path_factory.mktemp("readings") / "v.duckdb"
    shutil.copyfile(real_store, db)
    connection = duckdb.connect(str(db))
    cache = tmp_path_factory.mktemp("cache")
    look.prepare_evidence(connection, THEATRE, shared_data, cache, LIBRARY.text_rules())
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def weekly(con) -> dict:
    """Every indicator read weekly over 2021–2023 (one load)."""
    return read_indicators(con, THEATRE, WEEKS_2021_2023)


def _part(reading, kind: str, measure: str):
    return next((p for p in reading.parts if p.kind == kind and p.measure == measure), None)


# ------------------------------------------------------------------ the fast paths agree
def test_z_at_one_day_equals_the_scan_of_the_indicator_view(con):
    """The readings' single-day z (prefix sums) is the z `vigil indicators` computes."""
    inds = THEATRE.indicators
    arrays = C.as_arrays(
        C.load_vintages(con, "belarus", inds, dt.date(2019, 1, 1), dt.date(2024, 1, 1))
    )
    rng = np.random.default_rng(3)
    checked = 0
    for ind in inds:
        for offset in rng.integers(0, 1090, size=8):
            day = dt.date(2021, 1, 1) + dt.timedelta(days=int(offset))
            start = day.toordinal() - C.lookback(ind)
            for _kind, d in arrays[ind.id].daily(day.toordinal(), start).items():
                seen = np.flatnonzero(~np.isnan(d.x))
                if not len(seen):
                    continue
                t, s_eff = int(seen[-1]), max(ind.baseline.smoothing_days, d.period)
                z, _, primary = C.scan_z(d.x, d.unit, np.array([t]), ind.baseline, s_eff, d.count)
                fast, n = C.z_at(d.x, d.unit, t, ind.baseline, s_eff, d.count)
                assert (np.isnan(z[0]) and np.isnan(fast)) or fast == pytest.approx(z[0], abs=1e-9)
                assert n == int(primary.base.n[0]) or np.isnan(z[0])
                checked += 1
    assert checked > 150


def _reference_daily(v: S.Vintages, as_of: dt.date, start: dt.date) -> dict[str, pd.Series]:
    """The daily series as ``series`` defines them, built the slow, plain way (pandas)."""
    days = pd.date_range(start, as_of, freq="D")
    cut = pd.Timestamp(as_of)
    out = {}
    if v.events is not None:
        ev = v.events[v.events["asof"] <= cut]
        counts = ev.groupby("day")["value"].sum().reindex(days, fill_value=0.0)
        seen = v.coverage.loc[v.coverage["asof"] <= cut, "day"].unique()
        out["events"] = counts.where(days.isin(seen))
    if v.text is not None:
        text = v.text if "items_asof" in v.text else S.attach_totals(v.text, v.totals)
        hits = text[(text["asof"] <= cut) & (text["items_asof"] <= cut)]
        items = v.totals[(v.totals["asof"] <= cut) & (v.totals["items"] > 0)]
        m = hits.groupby("day")["matches"].sum().reindex(days, fill_value=0.0)
        n = items.groupby("day")["items"].sum().reindex(days, fill_value=0.0)
        out["text"] = (1000 * m / n).where(n > 0)
    return out


def test_daily_series_from_arrays_equal_the_plain_construction(con):
    inds = tuple(THEATRE.indicator(i) for i in ("russian_buildup", "drone_airspace_ukraine",
                                                "pmc_presence"))  # fmt: skip
    vint = C.load_vintages(con, "belarus", inds, dt.date(2020, 1, 1), dt.date(2024, 1, 1))
    for ind in inds:
        arrays = EvidenceArrays.from_vintages(vint[ind.id])
        for day in (dt.date(2021, 5, 3), dt.date(2022, 2, 20), dt.date(2023, 8, 15)):
            start = day - dt.timedelta(days=C.lookback(ind))
            got = S.as_frames(arrays, day, start).values
            for kind, expected in _reference_daily(vint[ind.id], day, start).items():
                assert np.allclose(got[kind].to_numpy(), expected.to_numpy(), equal_nan=True), (
                    ind.id, day, kind,
                )  # fmt: skip


# ------------------------------------------------------------------------- coverage
def test_feeds_that_carried_nothing_on_the_topic_give_blind_readings(weekly):
    """Weeks whose feeds carried almost nothing on Belarus: its text indicators are blind,
    with the reason; none reads 'normal' off a silence it could not have broken."""
    blind_weeks = [
        r
        for r in weekly["pmc_presence"]
        if r.state == BLIND  # text is its only evidence
    ]
    assert blind_weeks, "some weeks of 2021 carry too little on Belarus"
    for r in blind_weeks:
        assert r.observed is None and r.strength == 0
        assert any("documents on belarus" in why for why in r.reasons), r.reasons
    observed = [r for r in weekly["pmc_presence"] if r.state != BLIND]
    assert observed and all(p.state != BLIND for r in observed for p in r.parts if p.kind == "text"
                            and p.measure == "level")  # fmt: skip


def test_an_event_source_that_reports_nothing_from_the_countries_is_blind(weekly):
    """No event source of the store reports from Poland, Lithuania or Latvia: the flank's
    event evidence is blind on every date, never a quiet zero."""
    for r in weekly["nato_reinforcement"]:
        part = _part(r, "events", "change")
        assert part is not None and part.state == BLIND
        assert any(why in part.reason for why in ("LTU/LVA/POL", "no data", "too old"))


def test_a_changed_feed_mix_blinds_the_text_change_but_not_the_level(weekly):
    changed = [
        r for r in weekly["russian_buildup"]
        if (p := _part(r, "text", "change")) is not None and "feed mix changed" in p.reason
    ]  # fmt: skip
    assert changed, "the feed mix changes at least once in three years"
    for r in changed:
        assert f"under {MIX_OVERLAP:.0%}" in _part(r, "text", "change").reason
        assert _part(r, "text", "level").state != BLIND  # a share needs no baseline


# ------------------------------------------------------------------------ level, change
def test_a_persistent_level_keeps_counting_after_its_anomaly_fades(weekly):
    """Where the change reading of the build-up's events reads normal (the baseline has
    absorbed the condition) while their level is high, the reading is high."""
    faded = [
        r for r in weekly["russian_buildup"]
        if (c := _part(r, "events", "change")) is not None and c.state == "normal"
        and _part(r, "events", "level").state == "high"
    ]  # fmt: skip
    assert faded, "the data holds a lasting build-up whose anomaly fades"
    for r in faded:
        assert r.state == "high" and r.driver.measure == "level" and r.strength == 1
        level = _part(r, "events", "level")
        ind = THEATRE.indicator("russian_buildup")
        assert level.value >= next(lv.high for lv in ind.level if lv.kind == "events")


def test_a_level_without_history_still_reads(weekly):
    """A source that starts during a condition has no baseline for its change, but its
    level reads from the first month."""
    young = [
        r for r in weekly["russian_buildup"]
        if (c := _part(r, "events", "change")) is not None and c.state == BLIND
        and "baseline holds" in c.reason and _part(r, "events", "level").state != BLIND
    ]  # fmt: skip
    assert young
    assert all(r.state != BLIND for r in young)


def test_text_alone_counts_at_its_strength(weekly):
    text_only = [r for r in weekly["pmc_presence"] if r.state != BLIND]
    assert text_only
    strength = THEATRE.indicator("pmc_presence").evidence.text.strength
    assert {r.strength for r in text_only} == {strength} and strength < 1
    by_events = [r for r in weekly["russian_buildup"] if r.driver and r.driver.kind == "events"]
    assert by_events and {r.strength for r in by_events} == {1.0}


def test_a_reading_is_labelled_with_its_observed_level_only():
    day = dt.date(2022, 2, 11)
    change = Part("events", "change", "normal", 0.4, day, unit="z")
    level = Part("events", "level", "high", 31.0, day, unit="sightings")
    blind_level = Part("text", "level", BLIND, reason="too few documents")

    def r(state, *parts) -> IndicatorReading:
        return IndicatorReading("x", day, state, day, 1.0, parts)

    assert r("high", change, level).label == "high (level 31)"
    assert r("normal", change, blind_level).label == "normal"  # a blind level says nothing
    assert r(BLIND, blind_level).label == BLIND
    got = look.reading_json(r("high", blind_level, level))
    assert got["label"] == "high (level 31)" and got["state"] == "high"
