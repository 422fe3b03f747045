"""The forecast panel: counts, labels, features, no look-ahead, adjacency, context."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vigil import sources
from vigil.errors import InputError
from vigil.forecast import adjacency
from vigil.forecast.adjacency import neighbours
from vigil.forecast.context import GPR_FLOOR, ROUTES, load_context
from vigil.forecast.panel import (
    COLUMNS,
    FEATURES,
    OWN_FEATURES,
    build_panel,
    load_counts,
    monthly_origins,
)
from vigil.ingest import ingest_file
from vigil.store import connect

PV_MONTH = "acled_political_violence_events_country_month_asof_2025-12-12.csv"
GPR_MONTHLY = "geopolitical_risk_gpr/gpr_monthly_export_to_2024-07.csv"
FRONTEX = (
    "frontex_irregular_border_crossings/frontex_ibc_monthly_route_nationality_2009-01_2025-04.csv"
)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August"]
MONTHS += ["September", "October", "November", "December"]
D = dt.date


# ---------------------------------------------------------------- a small synthetic store


def _acled_csv(folder: Path, rows: list[tuple[str, int, int, float]]) -> Path:
    """A country-month ACLED aggregate file as of 2021-06-10 (June 2021 is partial)."""
    path = folder / "acled_political_violence_events_country_month_asof_2021-06-10.csv"
    lines = ["COUNTRY,MONTH,YEAR,EVENTS"]
    lines += [f"{c},{MONTHS[m - 1]},{y},{v:g}" for c, y, m, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def small(con, tmp_path):
    """POL quiet then rising, BLR busy, UKR covered from June 2020 with one row.

    * POL: 5 events a month in 2020, then Jan 9, Feb 10, Mar 30, Apr/May absent (0), Jun 50;
    * BLR: 20 a month in 2020, Jan 2021 40, nothing after (0);
    * UKR: one row, Jun 2020 = 3: unobserved (NaN) before, 0 after.
    """
    rows = [("Poland", 2020, m, 5) for m in range(1, 13)]
    rows += [("Poland", 2021, 1, 9), ("Poland", 2021, 2, 10), ("Poland", 2021, 3, 30)]
    rows += [("Poland", 2021, 6, 50)]
    rows += [("Belarus", 2020, m, 20) for m in range(1, 13)] + [("Belarus", 2021, 1, 40)]
    rows += [("Ukraine", 2020, 6, 3)]
    report = ingest_file(con, sources.get("acled"), _acled_csv(tmp_path, rows))
    assert report.loaded == len(rows)
    return con


def _row(panel: pd.DataFrame, country: str, origin: dt.date, horizon: int) -> pd.Series:
    hit = panel[(panel.country == country) & (panel.origin == origin) & (panel.horizon == horizon)]
    assert len(hit) == 1, f"{country} {origin} h={horizon}: {len(hit)} rows"
    return hit.iloc[0]


def test_counts_zero_fill_from_coverage_start_and_partial_month(small) -> None:
    counts = load_counts(small)
    assert counts.countries == ("BLR", "POL", "UKR")
    assert list(counts.months) == list(pd.date_range("2020-01-01", "2021-06-01", freq="MS"))
    pol, ukr = counts.matrix[1], counts.matrix[2]
    assert pol[12:].tolist() == [9, 10, 30, 0, 0, 50]  # Apr, May absent → 0
    assert np.isnan(ukr[:5]).all() and ukr[5] == 3 and (ukr[6:] == 0).all()
    assert counts.partial.tolist() == [False] * 17 + [True]
    available = pd.DatetimeIndex(counts.available)
    assert available[0] == pd.Timestamp("2020-02-15")  # month end + 15 days
    # May 2021 has no rows at all; the partial June is capped at the as-of date + 1 day
    assert pd.isna(available[-2]) and available[-1] == pd.Timestamp("2021-06-11")

    early = load_counts(small, as_of=D(2021, 2, 14))
    assert early.months[-1] == pd.Timestamp("2020-12-01")
    assert load_counts(small, as_of=D(2021, 2, 15)).months[-1] == pd.Timestamp("2021-01-01")


def test_labels_thresholds_and_kinds_by_hand(small) -> None:
    origins = [D(2021, 1, 15), D(2021, 2, 15), D(2021, 3, 15), D(2021, 4, 15), D(2021, 6, 15)]
    panel = build_panel(load_counts(small), origins)
    assert list(panel.columns) == [*COLUMNS, *FEATURES]
    assert panel.y.dtype == np.int64

    pol = _row(panel, "POL", D(2021, 1, 15), 1)  # L = Dec 2020: twelve 5s
    assert pol.last_month == pd.Timestamp("2020-12-01")
    assert pol.threshold == 10 and pol.kind == "onset"
    assert pol.y == 0  # Jan 9 < 10
    assert pol.label_available_at == pd.Timestamp("2021-02-15")
    pol3 = _row(panel, "POL", D(2021, 1, 15), 3)
    assert pol3.y == 1 and pol3.label_available_at == pd.Timestamp("2021-04-15")  # Feb 10 ≥ 10

    pol = _row(panel, "POL", D(2021, 2, 15), 1)  # window Feb 2020 … Jan 2021: 11×5 + 9
    assert pol.threshold == pytest.approx(2 * 64 / 12) and pol.kind == "onset"
    assert pol.y == 0  # Feb 10 < 10.67
    pol3 = _row(panel, "POL", D(2021, 2, 15), 3)
    assert pol3.y == 1  # Mar 30
    # April has no rows: known to be empty once a later month is out (June, on 2021-06-11)
    assert pol3.label_available_at == pd.Timestamp("2021-06-11")

    pol = _row(panel, "POL", D(2021, 3, 15), 1)  # Feb had 10: no longer a quiet baseline
    assert pol.threshold == pytest.approx(2 * 69 / 12) and pol.kind == "escalation"
    assert pol.y == 1

    blr = _row(panel, "BLR", D(2021, 1, 15), 1)
    assert blr.threshold == 40 and blr.kind == "escalation" and blr.y == 1  # Jan 40 ≥ 40
    blr = _row(panel, "BLR", D(2021, 2, 15), 3)
    assert blr.threshold == pytest.approx(2 * 260 / 12) and blr.y == 0  # Feb-Apr absent → 0

    # UKR: its 12-month window reaches before its coverage start until June 2021
    assert not (panel.country == "UKR").any()
    # 2021-04-15 h=3 and 2021-06-15 h=1 would need the partial June: dropped
    assert not ((panel.origin == D(2021, 4, 15)) & (panel.horizon == 3)).any()
    assert not (panel.origin == D(2021, 6, 15)).any()
    assert (panel.origin == D(2021, 4, 15)).sum() == 2  # h=1 for POL and BLR

    kept = build_panel(load_counts(small), [D(2021, 6, 15)], keep_unlabelled=True)
    ukr = _row(kept, "UKR", D(2021, 6, 15), 1)  # L = May 2021 (June is partial)
    assert ukr.last_month == pd.Timestamp("2021-05-01")
    assert ukr.threshold == 10 and ukr.kind == "onset"
    assert math.isnan(ukr.y) and pd.isna(ukr.label_available_at)


def test_own_features_by_hand(small) -> None:
    panel = build_panel(load_counts(small), [D(2021, 2, 15), D(2021, 3, 15)], horizons=(1,))
    pol = _row(panel, "POL", D(2021, 3, 15), 1)  # last months …, 5, 9, 10
    assert pol.f_log_lag1 == pytest.approx(math.log(11))
    assert pol.f_log_lag2 == pytest.approx(math.log(10))
    assert pol.f_log_lag3 == pol.f_log_lag6 == pol.f_log_lag12 == pytest.approx(math.log(6))
    assert pol.f_mean3 == pytest.approx(math.log1p(24 / 3))
    assert pol.f_mean12 == pytest.approx(math.log1p(69 / 12))
    assert pol.f_months_since_10 == 0
    assert pol.f_above_thr_now == 0 and pol.f_ratio_last_to_thr == pytest.approx(10 / 11.5)
    pol = _row(panel, "POL", D(2021, 2, 15), 1)  # five 5s then 9
    assert pol.f_trend6 == pytest.approx(2.5 * (math.log(10) - math.log(6)) / 17.5)
    assert pol.f_vol12 == pytest.approx(np.std([math.log(6)] * 11 + [math.log(10)]))
    assert pol.f_months_since_10 == 60  # never reached: the cap
    blr = _row(panel, "BLR", D(2021, 3, 15), 1)  # Jan 40, Feb 0
    assert blr.f_months_since_10 == 1 and blr.f_log_lag1 == 0
    assert blr.f_above_thr_now == 0
    assert panel[list(OWN_FEATURES)].notna().all().all()
    # without neighbours or context those features are NaN, not missing columns
    assert (
        panel[["f_nb_log_mean1", "f_n_neighbours", "f_gpr", "f_border_pressure"]]
        .isna()
        .all(axis=None)
    )


def test_neighbour_features_by_hand(small) -> None:
    nb = {"POL": ("BLR", "DEU", "UKR"), "BLR": ("POL", "UKR"), "UKR": ("BLR", "POL")}
    panel = build_panel(load_counts(small), [D(2021, 1, 15)], horizons=(1,), neighbours=nb)
    pol = _row(panel, "POL", D(2021, 1, 15), 1)
    # Dec 2020: BLR 20, UKR 0 (covered since June); DEU is not in the counts
    assert pol.f_nb_log_mean1 == pytest.approx((math.log(21) + 0) / 2)
    assert pol.f_nb_log_mean3 == pytest.approx(math.log(21) / 2)
    # BLR (20+1)/(20+1) = 1; UKR's 12-month mean is not observed: ignored
    assert pol.f_nb_max_ratio == pytest.approx(1.0)
    assert pol.f_n_neighbours == 3
    blr = _row(panel, "BLR", D(2021, 1, 15), 1)
    assert blr.f_nb_log_mean1 == pytest.approx(math.log(6) / 2)
    assert blr.f_nb_max_ratio == pytest.approx(1.0)  # POL: (5+1)/(5+1)


def test_context_from_gpr_and_frontex_files(small, tmp_path) -> None:
    gpr = tmp_path / "gpr_monthly_export_test.csv"
    months = pd.date_range("2020-01-01", "2021-02-01", freq="MS")  # out on the 11th after
    gpr.write_text(
        "month,GPR,GPRT,GPRA,GPRC_POL\n"
        + "".join(f"{m:%Y-%m-%d},100,100,100,{0.5 if m.year == 2020 else 2.0}\n" for m in months)
    )
    ingest_file(small, sources.get("gpr"), gpr)
    frontex = tmp_path / "frontex_test.csv"  # a month is out 46 days after its end
    frontex.write_text(
        "month,route,type,nat,n\n"
        "2020-11,Eastern Borders Route,Land,IRQ,100\n2020-11,Eastern Borders Route,Sea,SYR,20\n"
        "2020-11,Western Balkan Route,Land,SYR,999\n2020-12,Eastern Borders Route,Land,IRQ,7\n"
    )
    ingest_file(small, sources.get("frontex"), frontex)
    origins = [D(2021, 1, 15), D(2021, 2, 14), D(2021, 2, 15), D(2021, 3, 15), D(2021, 4, 15)]
    origins += [D(2021, 5, 15), D(2021, 7, 15)]
    panel = build_panel(
        load_counts(small), origins, (1,), context=load_context(small), keep_unlabelled=True
    )

    def pol(day: int, month: int) -> pd.Series:
        return _row(panel, "POL", D(2021, month, day), 1)

    assert pol(15, 1).f_gpr == pytest.approx(math.log(0.5 + GPR_FLOOR))  # Dec 2020
    assert pol(15, 1).f_gpr_change == pytest.approx(0.0)
    assert pol(14, 2).f_gpr == pytest.approx(math.log(2.0 + GPR_FLOOR))  # Jan 2021
    assert pol(14, 2).f_gpr_change == pytest.approx(
        math.log(2.0 + GPR_FLOOR) - math.log(7.5 / 12 + GPR_FLOOR)
    )
    assert pol(15, 3).f_gpr_change == pytest.approx(  # Feb 2021: 10×0.5 + 2×2.0
        math.log(2.0 + GPR_FLOOR) - math.log(9 / 12 + GPR_FLOOR)
    )
    # Eastern Borders only (Western Balkan is not at Poland's border), summed over dimensions
    assert pol(15, 1).f_border_pressure == pytest.approx(math.log1p(120))  # Nov, out Jan 15
    assert pol(14, 2).f_border_pressure == pytest.approx(math.log1p(120))
    assert pol(15, 2).f_border_pressure == pytest.approx(math.log1p(7))  # Dec, out Feb 15
    assert pol(15, 4).f_border_pressure == pytest.approx(math.log1p(7))  # 4 months old
    assert math.isnan(pol(15, 5).f_border_pressure)  # 5 months old: the source stopped
    assert pol(15, 5).f_gpr == pytest.approx(math.log(2.0 + GPR_FLOOR))  # Feb, 3 months old
    assert math.isnan(pol(15, 7).f_gpr) and math.isnan(pol(15, 7).f_gpr_change)
    # BLR: no GPR country index, not an EU border state
    assert panel.loc[panel.country == "BLR", ["f_gpr", "f_border_pressure"]].isna().all(axis=None)
    assert "BLR" not in ROUTES and ROUTES["POL"] == ("eastern_borders",)


def test_no_counts_is_an_input_error(small) -> None:
    empty = connect(":memory:")
    with pytest.raises(InputError, match="no ACLED country-month series") as err:
        load_counts(empty)
    empty.close()
    assert "vigil ingest acled" in err.value.hint
    with pytest.raises(InputError, match="available by 2019-12-31"):
        load_counts(small, as_of=D(2019, 12, 31))


def test_monthly_origins() -> None:
    assert monthly_origins(D(2012, 1, 15), D(2012, 4, 14)) == [
        D(2012, 1, 15),
        D(2012, 2, 15),
        D(2012, 3, 15),
    ]
    assert monthly_origins(D(2012, 1, 16), D(2012, 2, 15)) == [D(2012, 2, 15)]
    assert len(monthly_origins(D(2012, 1, 15), D(2025, 11, 15))) == 167


# ---------------------------------------------------------------- the real data


@pytest.fixture(scope="module")
def real(tmp_path_factory, shared_data: Path):
    """ACLED country-month, GPR monthly and Frontex in a file store, and the adjacency."""
    db = tmp_path_factory.mktemp("forecast") / "v.duckdb"
    con = connect(db)
    ingest_file(con, sources.get("acled"), shared_data / "acled_aggregates" / PV_MONTH)
    ingest_file(con, sources.get("gpr"), shared_data / GPR_MONTHLY)
    ingest_file(con, sources.get("frontex"), shared_data / FRONTEX)
    nb = neighbours(shared_data, tmp_path_factory.mktemp("cache"))
    yield con, nb
    con.close()


def test_real_panel_is_fast_and_sane(real) -> None:
    con, nb = real
    origins = monthly_origins(D(2012, 1, 15), D(2025, 11, 15))
    start = time.perf_counter()
    panel = build_panel(load_counts(con), origins, context=load_context(con), neighbours=nb)
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert list(panel.columns) == [*COLUMNS, *FEATURES]
    assert panel[list(OWN_FEATURES)].notna().all().all()
    assert set(panel.kind) == {"onset", "escalation"} and set(panel.y) == {0, 1}
    assert (panel.label_available_at > pd.to_datetime(panel.origin)).all()
    # the last labels: Nov 2025 (h=1 from 2025-11-15); h=3 would need the partial Dec 2025
    assert panel.origin.max() == D(2025, 11, 15)
    assert panel.loc[panel.horizon == 3, "origin"].max() == D(2025, 9, 15)
    # the invasion: Ukraine from 2022-02-15 (L = Jan 2022) escalates within a month
    assert _row(panel, "UKR", D(2022, 2, 15), 1).y == 1
    base = panel.groupby(["horizon", "kind"]).y.mean()
    assert 0 < base[(1, "onset")] < base[(1, "escalation")] < base[(3, "escalation")] < 0.5
    # features that exist for Poland: neighbours, GPR (to 2024-07), Frontex (to 2025-04)
    pol = _row(panel, "POL", D(2022, 2, 15), 1)
    assert pol.f_n_neighbours == 7 and not math.isnan(pol.f_nb_log_mean1)
    assert not math.isnan(pol.f_gpr) and not math.isnan(pol.f_border_pressure)


@pytest.mark.parametrize(
    "origin",
    [D(2012, 3, 15), D(2022, 2, 24), D(2024, 11, 15), D(2025, 6, 14), D(2025, 12, 14)],
)
def test_no_look_ahead(real, origin) -> None:
    """Features at D from the whole store equal those from the store as of D."""
    con, nb = real
    kw = {"neighbours": nb, "keep_unlabelled": True}
    full = build_panel(load_counts(con), [origin], context=load_context(con), **kw)
    cut = build_panel(
        load_counts(con, as_of=origin), [origin], context=load_context(con, as_of=origin), **kw
    )
    keys = [c for c in COLUMNS if c not in ("y", "label_available_at")]
    assert len(full) > 100
    pd.testing.assert_frame_equal(full[keys + list(FEATURES)], cut[keys + list(FEATURES)])
    assert cut.y.isna().all()  # nothing after D is there to label with


# ---------------------------------------------------------------- adjacency


def test_adjacency_on_natural_earth(real) -> None:
    _, nb = real
    assert set(nb["BLR"]) == {"LTU", "LVA", "POL", "RUS", "UKR"}
    assert {"DEU", "CZE", "SVK", "UKR", "BLR", "LTU", "RUS"} <= set(nb["POL"])
    assert {"POL", "LTU"} <= set(nb["RUS"])  # Kaliningrad
    for island in ("ISL", "JPN", "NZL", "MDG", "LKA", "MLT", "AUS"):
        assert nb[island] == (), island
    assert all(a in nb[b] for a in nb for b in nb[a])  # symmetric
    assert all(a not in nb[a] for a in nb)


def test_adjacency_cache_is_reused_and_rebuilt(shared_data, tmp_path, monkeypatch) -> None:
    first = neighbours(shared_data, tmp_path)
    [cached] = (tmp_path / "geo").glob("*-adjacency.json")

    def fail(*_args):
        raise AssertionError("the countries file was read again")

    monkeypatch.setattr(adjacency, "read_countries", fail)
    assert neighbours(shared_data, tmp_path) == first
    cached.write_text("{not json")
    with pytest.raises(AssertionError, match="read again"):
        neighbours(shared_data, tmp_path)
    monkeypatch.undo()
    assert neighbours(shared_data, tmp_path) == first
    assert json.loads(cached.read_text())["neighbours"]["BLR"] == list(first["BLR"])
    with pytest.raises(InputError, match="not found"):
        neighbours(tmp_path, tmp_path)
