"""Scenario sets: spec validation, Bayesian updating, decay, groups, ACH, sensitivity, audit."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from vigil.errors import InputError
from vigil.scenarios import audit
from vigil.scenarios.analysis import ach_matrix, mark, sensitivity
from vigil.scenarios.bayes import (
    Contribution,
    Observed,
    Reading,
    assess_set,
    bounded,
    contributions,
    posterior,
    prior,
    reach_probability,
    rows,
    under_way,
)
from vigil.scenarios.history import false_alarms, history_dates
from vigil.scenarios.spec import MIN_NORMAL, LikelihoodTiers, ScenarioSet, load_scenarios
from vigil.theatre import load_theatre

D = dt.date(2022, 3, 1)

LADDER = {
    "id": "role",
    "name": "Role",
    "question": "Which rung is reached?",
    "scenarios": [
        {"id": "calm", "name": "Calm", "resolution": "nothing of the below happens at all"},
        {
            "id": "tense",
            "name": "Tense",
            "resolution": "an incident is reported by two sources",
            "annual_rate": 0.5,
            "rate_range": [0.2, 1.2],
            "prior_basis": "incidents on contested borders, about one every two years",
        },
        {
            "id": "war",
            "name": "War",
            "resolution": "an armed clash is reported by two sources",
            "annual_rate": 0.05,
            "rate_range": [0.01, 0.2],
            "prior_basis": "contiguous rival dyads go to war rarely, about once in twenty years",
        },
    ],
    "evidence": [
        {
            "indicator": "a",
            "why": "a rises with tension and more with war",
            "given": {"calm": [0.8, 0.15, 0.05], "tense": [0.4, 0.4, 0.2], "war": [0.2, 0.3, 0.5]},
        },
        {
            "indicator": "b",
            "why": "b tells the same story as a, from the same sources",
            "given": {"calm": [0.8, 0.15, 0.05], "tense": [0.4, 0.4, 0.2], "war": [0.2, 0.3, 0.5]},
        },
        {
            "indicator": "c",
            "why": "c is a calming signal, more common when calm",
            "given": {"calm": [0.5, 0.3, 0.2], "tense": [0.7, 0.2, 0.1], "war": [0.8, 0.15, 0.05]},
        },
    ],
    "groups": [
        {
            "id": "ab",
            "indicators": ["a", "b"],
            "rho": 0.5,
            "why": "a and b are read from the same reports",
        }
    ],
    "memory": {"days": 56, "step_days": 7, "half_life_days": 21},
    "outcomes": [{"id": "any_war", "at_least": "war", "question": "Does war break out?"}],
}


def ladder(**changes) -> ScenarioSet:
    return ScenarioSet.model_validate({**LADDER, **changes})


def readings(**states: str | list[tuple[int, str]]) -> dict[str, list[Reading]]:
    """indicator → a state on D, or [(days before D, state), ...]."""
    out = {}
    for ind, value in states.items():
        pairs = [(0, value)] if isinstance(value, str) else value
        out[ind] = [Reading(ind, D - dt.timedelta(days=age), s) for age, s in pairs]
    return out


# ------------------------------------------------------------------------------ prior
def test_prior_follows_the_rates_and_the_horizon():
    s = ladder()
    for h in (30, 90, 365):
        p = prior(s, h)
        assert p.sum() == pytest.approx(1)
        assert p[1] + p[2] == pytest.approx(1 - math.exp(-0.5 * h / 365))
        assert p[2] == pytest.approx(1 - math.exp(-0.05 * h / 365))
    assert prior(s, 365)[2] > prior(s, 30)[2] and prior(s, 365)[0] < prior(s, 30)[0]


def test_no_evidence_leaves_the_prior():
    result = assess_set(ladder(), {}, D, 90)
    assert result.probability == pytest.approx(tuple(prior(ladder(), 90)))
    assert result.contributions == ()


# --------------------------------------------------------------------------- updating
def test_one_reading_multiplies_the_odds_by_the_likelihood_ratio():
    s = ladder()
    result = assess_set(s, readings(c="high"), D, 90)
    p0, p = np.array(result.prior), np.array(result.probability)
    # odds(war : calm) move by P(high | war) / P(high | calm) = 0.05 / 0.2
    assert (p[2] / p[0]) / (p0[2] / p0[0]) == pytest.approx(0.05 / 0.2)
    (c,) = result.contributions
    assert c.indicator == "c" and c.decay == 1 and c.weight == 1 and sum(c.llr) == pytest.approx(0)


def test_correlated_indicators_are_discounted():
    s = ladder()
    alone = contributions(s, readings(a="high"), D)
    both = contributions(s, readings(a="high", b="high"), D)
    assert alone[0].weight == 1
    assert [c.weight for c in both] == pytest.approx([1 / 1.5, 1 / 1.5])  # 1 / (1 + rho)
    # two correlated reports move the odds less than twice one report
    lr_one = np.array(alone[0].llr)
    lr_two = np.array(both[0].llr) + np.array(both[1].llr)
    assert np.all(np.abs(lr_two) < 2 * np.abs(lr_one))
    assert np.all(np.abs(lr_two) > np.abs(lr_one))


def test_pooled_cheap_signs_are_averaged_not_multiplied():
    """Readings whose quiet row is pooled (cheap signs, context) share one cause: m of them
    at once weigh 1/m each (or their group weight, if smaller), so together they move the
    odds no more than the strongest of them alone."""
    cheap = {"given": LADDER["evidence"][0]["given"], "pooled": True}
    evidence = [
        *LADDER["evidence"],
        {"indicator": "d", "why": "d is a cheap sign of the same season", **cheap},
        {"indicator": "e", "why": "e is another cheap sign of that season", **cheap},
    ]
    s = ladder(evidence=evidence)
    one = contributions(s, readings(d="high"), D)
    three = contributions(s, readings(d="high", e="high", a="high"), D)
    assert one[0].weight == 1
    by = {c.indicator: c for c in three}
    assert by["d"].weight == by["e"].weight == pytest.approx(1 / 2)  # two pooled present
    assert by["a"].weight == 1  # not pooled: a costly sign keeps its full weight
    pooled = np.array(by["d"].llr) + np.array(by["e"].llr)
    assert pooled == pytest.approx(np.array(one[0].llr))  # two equal signs count as one
    # the group weight still applies when it is the smaller
    grouped = ladder(evidence=[{**e, "pooled": True} if e["indicator"] in "ab" else e
                               for e in LADDER["evidence"]])  # fmt: skip
    both = contributions(grouped, readings(a="high", b="high"), D)
    assert [c.weight for c in both] == pytest.approx([1 / 2, 1 / 2])  # min(1/1.5, 1/2)


def test_an_earlier_spike_counts_decayed_and_fades():
    s = ladder()
    # |c(high)| = 2.46 halves in 21 days; today's |c(normal)| = 1.39: at 14 days the spike
    # (x 0.63 = 1.55) still says more, at 21 days (1.23) today's reading does
    (c,) = contributions(s, readings(a=[(0, "normal"), (14, "high")]), D)
    assert c.state == "high" and c.age_days == 14 and c.decay == pytest.approx(2 ** (-14 / 21))
    (fresh,) = contributions(s, readings(a="high"), D)
    assert c.llr == pytest.approx(tuple(c.decay * x for x in fresh.llr))
    (c21,) = contributions(s, readings(a=[(0, "normal"), (21, "high")]), D)
    assert c21.state == "normal" and c21.decay == 1
    # an old quiet reading never outweighs a new signal, however diagnostic "normal" is
    (sig,) = contributions(s, readings(c=[(0, "elevated"), (7, "normal")]), D)
    assert sig.state == "elevated" and sig.age_days == 0
    # older than the memory: only today's reading counts
    (old,) = contributions(s, readings(a=[(0, "normal"), (63, "high")]), D)
    assert old.state == "normal" and old.age_days == 0


def test_only_the_memory_grid_counts_and_old_data_decays():
    s = ladder()
    # a reading between grid dates (as a replay with another step would load) is ignored
    off = contributions(s, readings(a=[(0, "normal"), (10, "high")]), D)
    assert [(c.state, c.age_days) for c in off] == [("normal", 0)]
    # a value carried from data that ended 21 days ago decays as a 21-day-old reading
    carried = Reading("a", D, "high", observed=D - dt.timedelta(days=21))
    (c,) = contributions(s, {"a": [carried]}, D)
    assert c.day == D and c.observed == D - dt.timedelta(days=21)
    assert c.age_days == 21 and c.decay == pytest.approx(0.5)


def test_no_look_ahead_and_insufficient_is_no_evidence():
    s = ladder()
    later = {"a": [Reading("a", D + dt.timedelta(days=1), "high")]}
    assert contributions(s, later, D) == []
    assert contributions(s, readings(a="insufficient"), D) == []


def test_interval_brackets_the_estimate_and_narrows_with_confidence():
    loose = assess_set(ladder(), readings(a="high", c="normal"), D, 90)
    for k, (lo, hi) in enumerate(loose.interval):
        assert lo <= loose.probability[k] <= hi
    tight_set = ladder(
        evidence=[{**e, "confidence": 2000} for e in LADDER["evidence"]],
        scenarios=[
            {k: v for k, v in sc.items() if k != "rate_range"} for sc in LADDER["scenarios"]
        ],
    )
    tight = assess_set(tight_set, readings(a="high", c="normal"), D, 90)
    width = [hi - lo for lo, hi in loose.interval]
    assert all(t[1] - t[0] < w for t, w in zip(tight.interval, width, strict=True))
    p, (lo, hi) = loose.at_least("tense")
    assert p == pytest.approx(loose.probability[1] + loose.probability[2]) and lo <= p <= hi


def test_extra_evidence_plugs_in_and_is_traced():
    s = ladder()
    forecast = Contribution(
        indicator="forecaster:BLR",
        state="p=0.30",
        day=D,
        age_days=0,
        decay=1.0,
        weight=1.0,
        centred=(-1.0, 0.0, 1.0),
        llr=(-1.0, 0.0, 1.0),
        source="forecaster",
    )
    with_f = assess_set(s, {}, D, 90, extra=[forecast])
    assert with_f.contributions[-1].source == "forecaster"
    p0 = np.array(with_f.prior)
    expected = posterior(p0, [forecast])
    assert with_f.probability == pytest.approx(tuple(expected))
    assert with_f.probability[2] / with_f.probability[0] == pytest.approx(p0[2] / p0[0] * math.e**2)


# ----------------------------------------------------- coverage, strength, bounds, under way
def test_a_blind_reading_is_no_evidence_and_an_older_observed_one_still_counts():
    s = ladder()
    assert contributions(s, readings(a="blind"), D) == []
    assert assess_set(s, readings(a="blind", b="blind"), D, 90).probability == pytest.approx(
        tuple(prior(s, 90))
    )
    # blind today, high two weeks ago: the observed reading counts, decayed
    (c,) = contributions(s, readings(a=[(0, "blind"), (14, "high")]), D)
    assert c.state == "high" and c.age_days == 14


def test_text_strength_tempers_the_likelihood_ratio():
    s = ladder()
    (full,) = contributions(s, readings(a="high"), D)
    weak = {"a": [Reading("a", D, "high", strength=0.5)]}
    (half,) = contributions(s, weak, D)
    assert half.llr == pytest.approx(tuple(0.5 * x for x in full.llr))
    assert half.strength == 0.5 and full.strength == 1


def test_a_false_alarm_bound_pulls_ratios_toward_one_never_past_it():
    s = ladder()
    lk = s.evidence[0]  # calm [0.8, 0.15, 0.05], tense [0.4, 0.4, 0.2], war [0.2, 0.3, 0.5]
    ids = s.scenario_ids()
    table = rows(lk, ids)
    bound = {"elevated": 0.35, "high": 0.3}
    high = bounded(table[:, 2], "high", bound)
    lr_plain, lr_bounded = table[:, 2] / table[0, 2], high / high[0]
    assert lr_bounded[2] == pytest.approx(0.5 / 0.3)  # war: 10 → 1.7, still above 1
    assert lr_bounded[1] == pytest.approx(1.0)  # tense: 4 → 1, not below
    assert np.all(lr_bounded <= lr_plain + 1e-12) and np.all(lr_bounded >= 1 - 1e-12)
    # the normal column is never bounded, so a quiet reading says no more than before
    assert np.array_equal(bounded(table[:, 0], "normal", bound), table[:, 0])
    # a rung that made the state rarer keeps its ratio (c: calm 0.2, tense 0.1, war 0.05)
    calming = rows(s.evidence[2], ids)[:, 2]
    kept = bounded(calming, "high", {"high": 0.5})
    assert kept / kept[0] == pytest.approx(calming / calming[0])
    # even a bound near certainty leaves an escalatory tier at a ratio of 1, not below
    assert np.all(bounded(table[:, 2], "high", {"high": 0.99}) >= 0.99)
    # a bound below the spec's quiet row changes nothing: history only ever weakens
    assert np.array_equal(bounded(table[:, 2], "high", {"high": 0.01}), table[:, 2])
    # in an assessment the contribution shrinks and says why; a normal one does not change
    (c,) = contributions(s, readings(a="high"), D, {"a": bound})
    (free,) = contributions(s, readings(a="high"), D)
    assert c.bound == pytest.approx(0.3) and free.bound is None
    assert c.llr[2] - c.llr[0] < free.llr[2] - free.llr[0]
    (quiet,) = contributions(s, readings(a="normal"), D, {"a": bound})
    (quiet_free,) = contributions(s, readings(a="normal"), D)
    assert quiet.llr == quiet_free.llr and quiet.bound is None


def test_an_observed_rung_lifts_itself_and_the_rungs_below_not_those_above():
    p = np.array([0.9, 0.08, 0.02])
    moved = under_way(p, 1, 0.7)
    assert moved.sum() == pytest.approx(1)
    assert moved[1:].sum() == pytest.approx(0.7 + 0.3 * 0.1)  # P(≥ k) = π + (1 − π) P(≥ k)
    assert moved[2] == pytest.approx(0.02)  # the rung above keeps its probability
    assert moved[0] == pytest.approx(0.3 * 0.9)
    assert reach_probability(4, 90) == pytest.approx(1 - math.exp(-4 * 90 / 365))
    # never certain: a fast recurrence over a long horizon stays finite (0.999 at most)
    assert reach_probability(365, 730) == 0.999
    far = under_way(np.array([0.9, 0.08, 0.02]), 1, reach_probability(365, 730))
    assert np.all(far > 0) and np.isfinite(np.log(far)).all()
    s = ladder()
    obs = Observed("any_tension", 1, 0.7, D - dt.timedelta(days=10), ({"title": "seen"},))
    result = assess_set(s, readings(a="elevated"), D, 90, observed=[obs])
    plain = assess_set(s, readings(a="elevated"), D, 90)
    assert sum(result.probability[1:]) >= 0.7
    assert result.probability[2] == pytest.approx(plain.probability[2])
    assert result.observed == (obs,) and result.contributions[-1].source == "observed"
    # the contributions still explain the posterior exactly
    logs = [
        math.log(p / p0) - sum(c.llr[k] for c in result.contributions)
        for k, (p, p0) in enumerate(zip(result.probability, result.prior, strict=True))
    ]
    assert max(logs) - min(logs) == pytest.approx(0, abs=1e-9)
    lo, hi = result.at_least("tense")[1]
    assert 0.7 <= lo <= hi <= 1


def test_false_alarms_come_from_the_quiet_history_as_known_on_the_date():
    s = ladder()
    dates = history_dates(D, 90)
    assert dates and all(d.toordinal() % 28 == 0 for d in dates)
    assert dates[0] >= D - dt.timedelta(days=730) and dates[-1] <= D - dt.timedelta(days=90)
    hist = {"a": [Reading("a", t, "high" if i % 2 else "normal") for i, t in enumerate(dates)]}
    hist["b"] = [Reading("b", t, "blind") for t in dates]
    never = false_alarms(s, hist, D, 90, lambda lo, hi, known: False)
    n, k = len(dates), sum(i % 2 for i in range(len(dates)))
    assert never["a"].n == n and never["a"].high == k and "b" not in never  # blind: no count
    assert never["a"].rates["high"] == pytest.approx((k + 10 * 0.05) / (n + 10))
    # readings after which an outcome happened are not false alarms
    first = dates[1].toordinal()
    some = false_alarms(s, hist, D, 90, lambda lo, hi, known: lo == first)
    assert some["a"].n == n - 1 and some["a"].high == k - 1


# ------------------------------------------------------------------- ACH, sensitivity
def test_ach_marks_and_inconsistency():
    assert [mark(x) for x in (1.0, 0.4, 0.0, -0.4, -1.0)] == ["CC", "C", "N", "I", "II"]
    s = ladder()
    contribs = contributions(s, readings(a="high"), D)
    rows, inconsistency = ach_matrix(s, contribs)
    by = {r.indicator: r for r in rows}
    assert by["a"].marks[0] in ("I", "II") and by["a"].marks[2] in ("C", "CC")
    assert by["b"].state is None and by["b"].marks == ("", "", "")
    assert inconsistency[0] < 0 and inconsistency[2] == 0


def test_sensitivity_finds_the_readings_that_flip_the_call():
    s = ladder(
        scenarios=[
            LADDER["scenarios"][0],
            {**LADDER["scenarios"][1], "annual_rate": 3.0, "rate_range": [1.0, 6.0]},
            LADDER["scenarios"][2],
        ]
    )
    base = assess_set(s, readings(a="normal", b="normal", c="normal"), D, 90)
    assert base.leading == "calm"
    sens = sensitivity(s, readings(a="normal", b="normal", c="normal"), D, 90)
    assert {(x.indicator, x.state_if) for x in sens} == {
        (i, st) for i in "abc" for st in ("elevated", "high")
    }
    flips = [x for x in sens if x.changes_leading]
    assert flips and flips[0] is sens[0]
    assert all(x.leading_if != "calm" for x in flips)
    assert all(x.indicator in ("a", "b") for x in flips)  # c only calms


# ------------------------------------------------------------------------------ specs
def test_spec_errors_name_what_to_fix():
    bad = dict(
        LADDER["evidence"][0], given={**LADDER["evidence"][0]["given"], "war": [0.5, 0.5, 0.5]}
    )
    with pytest.raises(ValueError, match=r"sums to 1\.5"):
        ladder(evidence=[bad])
    rising = [
        LADDER["scenarios"][0],
        LADDER["scenarios"][1],
        {**LADDER["scenarios"][2], "annual_rate": 0.9, "rate_range": [0.5, 2.0]},
    ]
    with pytest.raises(ValueError, match="must fall strictly"):
        ladder(scenarios=rising)
    equal = [
        LADDER["scenarios"][0],
        LADDER["scenarios"][1],
        {**LADDER["scenarios"][2], "annual_rate": 0.5, "rate_range": [0.2, 1.2]},
    ]
    with pytest.raises(ValueError, match="no probability"):
        ladder(scenarios=equal)
    with pytest.raises(ValueError, match="missing"):
        ladder(evidence=[dict(LADDER["evidence"][0], given={"calm": [0.8, 0.15, 0.05]})])
    with pytest.raises(ValueError, match="bottom rung"):
        ladder(scenarios=[{**LADDER["scenarios"][0], "annual_rate": 1.0}, *LADDER["scenarios"][1:]])


TIERS = {
    "quiet": {
        "rare": {"row": [0.9, 0.07, 0.03], "why": "raised without the rung a month in thirty"},
        "common": {"row": [0.6, 0.25, 0.15], "why": "raised without the rung a month in three"},
    },
    "tiers": {
        "none": {"elevated": 1, "high": 1, "why": "no bearing on the rung at all, as stated"},
        "sign": {"elevated": 2, "high": 10, "why": "a precursor seen before most such rungs"},
    },
}


def test_tiers_become_rows_and_a_tier_too_strong_for_its_quiet_row_is_refused():
    tiers = LikelihoodTiers.model_validate(TIERS)
    entry = {"indicator": "a", "why": "a rises before war and only then", "quiet": "rare",
             "given": {"tense": "none", "war": "sign"}}  # fmt: skip
    s = ScenarioSet.model_validate(
        {**LADDER, "evidence": [entry], "groups": []}, context={"tiers": tiers}
    )
    (lk,) = s.evidence
    assert lk.given["calm"] == (0.9, 0.07, 0.03) and lk.given["tense"] == (0.9, 0.07, 0.03)
    assert lk.given["war"] == pytest.approx((0.56, 0.14, 0.3))
    assert lk.tiers == {"calm": "quiet: rare", "tense": "none", "war": "sign"}
    with pytest.raises(ValueError, match=r"tier 'sign' on the quiet row 'common' leaves P\(normal"):
        ScenarioSet.model_validate(
            {**LADDER, "evidence": [{**entry, "quiet": "common"}], "groups": []},
            context={"tiers": tiers},
        )
    with pytest.raises(ValueError, match=r"'strong' is not one of \['none', 'sign'\]"):
        ScenarioSet.model_validate(
            {**LADDER, "evidence": [{**entry, "given": {"tense": "none", "war": "strong"}}],
             "groups": []}, context={"tiers": tiers},
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"need scenarios/likelihoods\.yaml"):
        ScenarioSet.model_validate({**LADDER, "evidence": [entry], "groups": []})


def test_load_scenarios_checks_indicator_ids(tmp_path: Path):
    src = load_theatre("belarus")
    folder = tmp_path / "t"
    (folder / "indicators").mkdir(parents=True)
    (folder / "scenarios").mkdir()
    (folder / "theatre.yaml").write_text(
        yaml.safe_dump({"id": "t", "name": "T", "countries": ["BLR"]})
    )
    ind = src.indicator("russian_buildup").model_dump(mode="json", exclude_defaults=True)
    ind["evidence"]["text"].pop("topic")  # this small theatre declares no topics
    ind.pop("level")
    (folder / "indicators" / "a.yaml").write_text(yaml.safe_dump({**ind, "id": "a"}))
    (folder / "scenarios" / "role.yaml").write_text(yaml.safe_dump(LADDER))
    theatre = load_theatre(folder)
    with pytest.raises(InputError, match=r"scenarios/role.yaml: evidence\[1\].indicator: 'b'"):
        load_scenarios(theatre)
    one = {**LADDER, "evidence": LADDER["evidence"][:1], "groups": []}
    (folder / "scenarios" / "role.yaml").write_text(yaml.safe_dump(one))
    assert [s.id for s in load_scenarios(theatre).sets] == ["role"]
    (folder / "scenarios" / "chains.yaml").write_text(
        yaml.safe_dump(
            {
                "couplings": [
                    {
                        "id": "x",
                        "when": {"set": "role", "at_least": "tense"},
                        "then": {"set": "nope", "at_least": "war"},
                        "multiplier": 2,
                        "why": "a coupling to a set that does not exist",
                    }
                ]
            }
        )
    )
    with pytest.raises(InputError, match=r"couplings\[0\].then: set 'nope' is unknown"):
        load_scenarios(theatre)


# ------------------------------------------------------------------------------ audit
def _result(as_of: str, p: list[float], state: str, llr: float) -> dict:
    contrib = {
        "indicator": "a",
        "source": "indicator",
        "state": state,
        "reading_date": as_of,
        "age_days": 0,
        "decay": 1.0,
        "weight": 1.0,
        "group": None,
        "llr": llr,
        "evidence": [{"title": f"report {as_of}", "date": as_of}],
    }
    return {
        "theatre": "t",
        "as_of": as_of,
        "horizon_days": 90,
        "model_hash": "m" * 64,
        "scenario_sets": [
            {
                "id": "role",
                "leading": "calm" if p[0] > 0.5 else "tense",
                "scenarios": [
                    {
                        "id": "calm",
                        "probability": p[0],
                        "contributions": [{**contrib, "llr": -llr}],
                    },
                    {"id": "tense", "probability": p[1], "contributions": [contrib]},
                ],
            }
        ],
        "outcomes": [{"id": "o", "probability": p[1]}],
    }


def test_audit_saves_replaces_and_explains_changes(con):
    first = _result("2022-01-01", [0.9, 0.1], "normal", 0.1)
    second = _result("2022-02-01", [0.3, 0.7], "high", 1.2)
    audit.save(con, first)
    audit.save(con, first)  # same key: replaced, not duplicated
    audit.save(con, second)
    assert con.execute("SELECT count(*) FROM assessments").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM assessment_contributions").fetchone() == (4,)
    assert audit.load(con, "t", dt.date(2022, 1, 1), 90, "m" * 64) == first
    assert audit.load(con, "t", dt.date(2022, 1, 1), 30, "m" * 64) is None
    hist = audit.history(con, "t", 90, "m" * 64, dt.date(2021, 1, 1), dt.date(2023, 1, 1))
    assert [h["as_of"] for h in hist] == ["2022-01-01", "2022-02-01"]
    d = audit.diff(first, second)
    (s,) = d["sets"]
    assert s["leading_before"] == "calm" and s["leading_after"] == "tense"
    assert [sc["change"] for sc in s["scenarios"]] == [-0.6, 0.6]
    (driver,) = s["drivers"]
    assert driver["indicator"] == "a" and driver["state_before"] == "normal"
    assert driver["state_after"] == "high" and driver["llr_change"]["tense"] == pytest.approx(1.1)
    assert driver["evidence"][0]["title"] == "report 2022-02-01"
    assert d["outcomes"] == [{"id": "o", "before": 0.1, "after": 0.7, "change": 0.6}]


# ------------------------------------------------------------------- the Belarus library
def test_belarus_library_is_complete_and_follows_its_rules():
    from test_indicator_library import date_tokens

    theatre = load_theatre("belarus")
    lib = load_scenarios(theatre)
    assert {o.id for _, o in lib.outcomes()} >= {
        "belarus_support_platform",
        "belarus_hybrid_diversion",
        "belarus_territory_offensive",
        "belarus_forces_in_ukraine",
        "belarus_nato_incident",
        "belarus_nato_armed_clash",
        "belarus_martial_law",
    }
    role = lib.set("belarus_role")
    assert role.scenario_ids() == (
        "status_quo",
        "support_platform",
        "hybrid_diversion",
        "territory_offensive",
        "forces_entry",
    )
    strongest_by_set = {}
    for s in lib.sets:
        strongest = 0.0
        for lk in s.evidence:
            # every row comes from the stated tiers of likelihoods.yaml, none by hand
            assert lk.quiet in lib.likelihoods.quiet, (s.id, lk.indicator)
            assert set(lk.tiers) == set(s.scenario_ids()), (s.id, lk.indicator)
            bottom = lk.given[s.scenario_ids()[0]]
            for sid, row in lk.given.items():
                assert min(row) > 0 and row[0] >= MIN_NORMAL, (s.id, lk.indicator, sid)
                ratio = row[2] / bottom[2]
                assert ratio <= 100, (s.id, lk.indicator, sid)  # a precursor, not a proof
                strongest = max(strongest, ratio)
        strongest_by_set[s.id] = strongest
    # the evidence can warn: a direct precursor (a concentration of forces, launches,
    # mobilisation measures) carries a ratio of ten or more; the flank's incident signs also
    # count what does not come from Belarus, so none of them is more than moderate there
    assert strongest_by_set["belarus_role"] >= 10 and strongest_by_set["martial_law"] >= 10
    assert strongest_by_set["nato_spillover"] == pytest.approx(3)
    # no file encodes when something happened: no years, no month names
    for path in sorted(Path(lib.folder).glob("*.yaml")):
        assert date_tokens(path.read_text(encoding="utf-8")) == [], path.name


#: words that would tie a justification to a dated document or event: the analyses the
#: theatre was built from are dated, and so are laws in draft and the forces they announce
LATER = re.compile(
    r"\bseeds?\b|\bbriefing|\bdraft\b|defen[cs]e law|special.operations brigade|"
    r"\bwagner|\bprigozhin|union resolve",
    re.IGNORECASE,
)


def _justifications(theatre, lib) -> list[tuple[str, str]]:
    """Every sentence that justifies a number, with where it is."""
    out = [(f"theatre.{t.id}", t.why) for t in theatre.theatre.topics]
    for ind in theatre.indicators:
        out.append((f"{ind.id}.rationale", ind.rationale))
        out += [(f"{ind.id}.level[{i}]", lv.why) for i, lv in enumerate(ind.level)]
    out += [(f"quiet.{k}", v.why) for k, v in lib.likelihoods.quiet.items()]
    out += [(f"tiers.{k}", v.why) for k, v in lib.likelihoods.tiers.items()]
    for s in lib.sets:
        out += [(f"{s.id}.{sc.id}.prior_basis", sc.prior_basis) for sc in s.scenarios]
        out += [(f"{s.id}.evidence.{lk.indicator}", lk.why) for lk in s.evidence]
        out += [(f"{s.id}.groups.{g.id}", g.why) for g in s.groups]
        for o in s.outcomes:
            if o.resolve:
                out += [(f"{o.id}.resolve", o.resolve.why),
                        (f"{o.id}.recurrence", o.resolve.recurrence_why)]  # fmt: skip
    out += [(f"chains.{c.id}", c.why) for c in lib.chains.couplings]
    cons = lib.consequences
    out += [(f"consequences.baseline.{d}", lv.why) for d, lv in cons.baseline.items()]
    for i, rule in enumerate(cons.rules):
        out += [(f"consequences.rules[{i}].{d}", lv.why) for d, lv in rule.levels.items()]
    return out


def test_no_justification_rests_on_what_was_not_yet_knowable():
    """Priors, likelihoods, levels and rationales are used for every date, so none may rest
    on a dated document or event (the analyses the theatre started from, a law in draft, a
    unit announced): such a fact is evidence on the dates it became known, not a prior."""
    from test_indicator_library import date_tokens

    theatre = load_theatre("belarus")
    lib = load_scenarios(theatre)
    found = _justifications(theatre, lib)
    assert len(found) > 100
    for where, text in found:
        assert not LATER.search(text), f"{where}: {LATER.search(text).group(0)!r} in {text!r}"
        assert date_tokens(text) == [], where
    # the check bites: the old martial-law prior rested on the draft defence law
    assert LATER.search("The draft law lowers the legal threshold")


def test_a_resolver_cannot_reach_beyond_the_registered_border_distances(tmp_path: Path):
    """Border distances are registered out to the indicators' widest rule: a resolver that
    asked for more would silently miss events, so the spec is refused."""
    import shutil

    folder = tmp_path / "belarus"
    shutil.copytree(load_theatre("belarus").folder, folder)
    role = folder / "scenarios" / "belarus_role.yaml"
    text = role.read_text()
    assert text.count("within_km: 60") == 1
    role.write_text(text.replace("within_km: 60", "within_km: 500"))
    theatre = load_theatre(folder)
    with pytest.raises(InputError, match=r"within_km: 500 km is beyond the 100 km"):
        load_scenarios(theatre)


def test_cheap_signs_and_a_war_elsewhere_do_not_cry_wolf_as_a_concentration_does():
    """Exercises, the other side's reinforcement, accusations, private armies and a world at
    war, all high at once and observed, lift the Belarus offensive less than one observed
    concentration of Russian forces does: costly signals warn, cheap ones barely."""
    lib = load_scenarios(load_theatre("belarus"))
    role = lib.set("belarus_role")
    k = role.index("territory_offensive")
    cheap = ("joint_exercises", "ukraine_northern_reinforcement", "sabotage_diversion",
             "pmc_presence", "geopolitical_risk", "nuclear_posture")  # fmt: skip
    noise = assess_set(role, readings(**dict.fromkeys(cheap, "high")), D, 90)
    concentration = assess_set(role, readings(russian_buildup="high"), D, 90)
    p0 = sum(noise.prior[k:])
    p_noise, p_force = sum(noise.probability[k:]), sum(concentration.probability[k:])
    assert p_noise < p_force
    assert p_force / p0 > 5  # one direct precursor moves it several-fold
    # and none of these cheap rows can, alone, say more than a moderate sign (ratio 3)
    by_id = {lk.indicator: lk for lk in role.evidence}
    bottom = role.scenario_ids()[0]
    for ind in cheap:
        row = by_id[ind].given
        assert row["territory_offensive"][2] / row[bottom][2] <= 3 + 1e-9, ind
