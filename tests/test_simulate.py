"""Escalation-chain simulation and consequences, checked against analytic probabilities.

Without couplings the chance of reaching >= k by day d is 1 - (1 - S0) exp(-H_k d), with
H_k = -ln((1 - S1) / (1 - S0)) / horizon; a coupling whose ``when`` holds on every path
from the start multiplies H_k, so its effect has a closed form too. Tolerances are
4.5 binomial standard errors; the seeds are fixed, so a pass is reproducible.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vigil.errors import InputError
from vigil.scenarios.consequences import consequence_levels, triangular
from vigil.scenarios.simulate import daily_hazards, simulate
from vigil.scenarios.spec import (
    Chains,
    ConsequenceRule,
    Consequences,
    Coupling,
    Domain,
    Level,
    Scenario,
    ScenarioLibrary,
    ScenarioSet,
    When,
)

WHY = "a sentence long enough to say why"


def _ladder(set_id: str, rungs: int) -> ScenarioSet:
    scenarios = [Scenario(id="r0", name="bottom", resolution="checked against the public record")]
    scenarios += [
        Scenario(id=f"r{k}", name=f"rung {k}", resolution="checked against the public record",
                 annual_rate=1.0 / k, prior_basis=WHY)
        for k in range(1, rungs)
    ]  # fmt: skip
    return ScenarioSet(id=set_id, name=set_id, question="how far does it go?", scenarios=scenarios)


def _coupling(cid, when, then, multiplier, probability=1.0) -> Coupling:
    return Coupling(id=cid, when=When(set=when[0], at_least=when[1]),
                    then=When(set=then[0], at_least=then[1]), multiplier=multiplier,
                    probability=probability, why=WHY)  # fmt: skip


def _library(couplings=(), consequences=None, sizes=(("a", 4), ("b", 3))) -> ScenarioLibrary:
    return ScenarioLibrary(
        sets=tuple(_ladder(s, n) for s, n in sizes),
        chains=Chains(couplings=tuple(couplings)),
        consequences=consequences,
        folder="tests",
    )


START = {"a": [0.9, 0.07, 0.02, 0.01], "b": [0.95, 0.04, 0.01]}
END = {"a": [0.6, 0.25, 0.1, 0.05], "b": [0.8, 0.15, 0.05]}


def _at_least(vec) -> np.ndarray:
    return np.cumsum(np.asarray(vec)[::-1])[::-1]


def _close(value: float, expected: float, n: int) -> bool:
    return abs(value - expected) <= 4.5 * math.sqrt(max(expected * (1 - expected), 1e-6) / n)


def test_without_couplings_the_simulation_reproduces_the_assessment() -> None:
    n, horizon = 200_000, 90
    sim = simulate(_library(), START, END, horizon, paths=n, seed=3)
    for set_id in ("a", "b"):
        s0, s1 = _at_least(START[set_id]), _at_least(END[set_id])
        for k, rung in enumerate(sim.set(set_id).rungs):
            assert rung.assessed == pytest.approx(s1[k])
            assert _close(rung.simulated, s1[k], n), (set_id, k, rung.simulated, s1[k])
            if k == 0:
                continue
            hazard = -math.log((1 - s1[k]) / (1 - s0[k])) / horizon
            assert rung.daily_hazard == pytest.approx(hazard)
            mid = 1 - (1 - s0[k]) * math.exp(-hazard * 45)
            assert _close(rung.reach_by_day[45], mid, n)
            assert _close(rung.reach_by_day[0], s0[k], n)


def test_assessment_that_makes_a_low_rung_harder_keeps_the_top_exact() -> None:
    # rung 1 barely moves while rung 2 rises: H_1 < H_2 cannot hold on a ladder
    start, end = [0.5, 0.5, 0.0], [0.5, 0.4, 0.1]
    hazard = daily_hazards(np.array(start), np.array(end), 30)
    assert hazard[1] == hazard[2] == pytest.approx(-math.log(0.9) / 30)
    sim = simulate(_library(sizes=(("a", 3),)), {"a": start}, {"a": end}, 30, paths=100_000)
    top, low = sim.set("a").rung("r2"), sim.set("a").rung("r1")
    assert _close(top.simulated, 0.10, 100_000)
    # rung 1 takes rung 2's hazard: the bottom paths reach >= r1 as often as >= r2
    assert low.assessed == pytest.approx(0.5)
    assert _close(low.simulated, 0.5 + 0.5 * 0.1, 100_000)


def test_coupling_multiplies_the_hazard_of_reaching_then_and_above() -> None:
    n, horizon, m = 200_000, 60, 4.0
    start = {"a": [0.0, 1.0, 0.0, 0.0], "b": [0.95, 0.04, 0.01]}
    link = _coupling("a_to_b", ("a", "r1"), ("b", "r1"), m)
    base = simulate(_library(), start, END, horizon, paths=n, seed=5)
    sim = simulate(_library([link]), start, END, horizon, paths=n, seed=5)
    assert sim.coupling("a_to_b").when_share == 1.0
    assert sim.coupling("a_to_b").active_share == 1.0
    s0, s1 = _at_least(start["b"]), _at_least(END["b"])
    for k in (1, 2):
        hazard = -math.log((1 - s1[k]) / (1 - s0[k])) / horizon
        expected = 1 - (1 - s0[k]) * math.exp(-m * hazard * horizon)
        rung = sim.set("b").rungs[k]
        assert _close(rung.simulated, expected, n), (k, rung.simulated, expected)
        assert rung.simulated > base.set("b").rungs[k].simulated + 0.05
        assert rung.assessed == pytest.approx(s1[k])


def test_when_share_is_the_share_of_paths_that_reached_when() -> None:
    link = _coupling("b_to_a", ("b", "r2"), ("a", "r3"), 10.0)
    base = simulate(_library(), START, END, 90, paths=50_000, seed=9)
    sim = simulate(_library([link]), START, END, 90, paths=50_000, seed=9)
    assert sim.coupling("b_to_a").when_share == pytest.approx(sim.set("b").rung("r2").simulated)
    assert sim.coupling("b_to_a").when_share == pytest.approx(0.05, abs=0.01)
    # the same draws: the source set is untouched, the target only rises
    assert sim.set("b").rung("r2").simulated == base.set("b").rung("r2").simulated
    assert sim.set("a").rung("r3").simulated > base.set("a").rung("r3").simulated + 0.004
    assert sim.set("a").rung("r2").simulated >= base.set("a").rung("r2").simulated


def test_uncertain_link_is_active_on_its_share_of_paths() -> None:
    n, horizon, m, p = 200_000, 60, 5.0, 0.3
    start = {"a": [0.0, 1.0, 0.0, 0.0], "b": [1.0, 0.0, 0.0]}
    end = {"a": [0.0, 1.0, 0.0, 0.0], "b": [0.9, 0.08, 0.02]}
    link = _coupling("maybe", ("a", "r1"), ("b", "r1"), m, probability=p)
    sim = simulate(_library([link]), start, end, horizon, paths=n, seed=11)
    assert _close(sim.coupling("maybe").active_share, p, n)
    hazard = -math.log(0.9) / horizon
    expected = 1 - (p * math.exp(-m * hazard * horizon) + (1 - p) * 0.9)
    assert _close(sim.set("b").rung("r1").simulated, expected, n)
    # `when` reached along the way: the link is drawn only for the paths that reach it
    chained = _coupling("maybe", ("b", "r1"), ("a", "r2"), m, probability=p)
    sim = simulate(_library([chained]), START, END, 90, paths=n, seed=12)
    share = sim.coupling("maybe")
    assert _close(share.active_share, p * share.when_share, n)


def test_same_seed_same_result_other_seed_other_result() -> None:
    lib = _library([_coupling("x", ("a", "r1"), ("b", "r2"), 3.0, probability=0.5)])
    one = simulate(lib, START, END, 30, paths=5_000, seed=7).to_json()
    assert simulate(lib, START, END, 30, paths=5_000, seed=7).to_json() == one
    assert simulate(lib, START, END, 30, paths=5_000, seed=8).to_json() != one


def test_ladders_never_fall() -> None:
    lib = _library([_coupling("x", ("a", "r1"), ("b", "r1"), 20.0)])
    sim = simulate(lib, START, END, 40, paths=20_000, seed=2)
    for s in sim.sets:
        curves = np.array([r.reach_by_day for r in s.rungs])
        assert np.all(np.diff(curves, axis=1) >= 0)  # reaching only accumulates
        assert np.all(np.diff(curves, axis=0) <= 0)  # >= k+1 implies >= k
        assert sum(r.end_share for r in s.rungs) == pytest.approx(1.0)
        for k, r in enumerate(s.rungs[:-1]):
            assert r.end_share == pytest.approx(curves[k, -1] - curves[k + 1, -1])


def test_start_mass_is_reached_on_day_zero_and_left_out_of_time_to_event() -> None:
    # half the paths start on r1; the rest arrive at a constant hazard with e^{-H T} = 1/2
    start, end = {"a": [0.5, 0.5, 0.0, 0.0]}, {"a": [0.25, 0.75, 0.0, 0.0]}
    sim = simulate(_library(sizes=(("a", 4),)), start, end, 100, paths=100_000, seed=4)
    rung = sim.set("a").rung("r1")
    assert _close(rung.reach_by_day[0], 0.5, 100_000)
    # arrival day is ceil(T) with P(T <= t | T <= 100) = (1 - 2^{-t/100}) / (1/2)
    median, p10, p90 = (
        math.ceil(100 * math.log(1 - q / 2) / math.log(0.5)) for q in (0.5, 0.1, 0.9)
    )
    assert (median, p10, p90) == (42, 8, 87)
    assert abs(rung.median - median) <= 1
    assert abs(rung.p10 - p10) <= 1
    assert abs(rung.p90 - p90) <= 1
    assert sim.set("a").rung("r2").median is None  # nobody gets there


def _consequences() -> Consequences:
    return Consequences(
        domains=(Domain(id="energy", name="Energy"), Domain(id="refugees", name="Refugees")),
        baseline={"energy": Level(low=0, likely=0, high=1, why=WHY),
                  "refugees": Level(low=1, likely=1, high=1, why=WHY)},
        rules=(
            ConsequenceRule(when=When(set="a", at_least="r1"),
                            levels={"energy": Level(low=1, likely=2, high=3, why="zero " + WHY)}),
            ConsequenceRule(when=When(set="a", at_least="r2"),
                            levels={"energy": Level(low=2, likely=3, high=4, why="one " + WHY),
                                    "refugees": Level(low=3, likely=3, high=3, why=WHY)}),
            ConsequenceRule(when=When(set="b", at_least="r1"),
                            levels={"energy": Level(low=0, likely=1, high=4, why="two " + WHY)}),
        ),
    )  # fmt: skip


def test_consequence_level_comes_from_the_highest_likely_rule_that_holds() -> None:
    n = 40_000
    # a quarter each: nothing; a >= r1 only; a >= r2 and b >= r1; b >= r1 only
    a = np.repeat([0, 1, 2, 0], n // 4)
    b = np.repeat([0, 0, 1, 1], n // 4)
    ladders = {"a": ["r0", "r1", "r2", "r3"], "b": ["r0", "r1", "r2"]}
    rng = np.random.default_rng(0)
    energy, refugees = consequence_levels(_consequences(), {"a": a, "b": b}, rng, ladders=ladders)
    drivers = {d.rule: d.share for d in energy.drivers}
    assert drivers == {None: 0.25, 0: 0.25, 1: 0.25, 2: 0.25}
    assert {d.rule: d.why.split()[0] for d in energy.drivers} == {
        None: "a",
        0: "zero",
        1: "one",
        2: "two",
    }
    # triangular means (low + likely + high) / 3 per quarter: 1/3, 2, 3, 5/3
    assert energy.mean == pytest.approx((1 / 3 + 2 + 3 + 5 / 3) / 4, abs=0.02)
    assert 0 <= energy.interval[0] < energy.interval[1] <= 4
    assert [name for name, _ in energy.distribution] == [
        "none",
        "low",
        "moderate",
        "high",
        "severe",
    ]
    # refugees: the degenerate baseline (1) on 3/4 of paths, the rule's exact 3 on the rest
    assert dict(refugees.distribution) == {"none": 0, "low": 0.75, "moderate": 0, "high": 0.25,
                                            "severe": 0}  # fmt: skip
    assert refugees.mean == pytest.approx(1.5)


def test_triangular_respects_low_likely_high() -> None:
    u = np.random.default_rng(1).random(100_000)
    low, mode, high = np.full(u.size, 1.0), np.full(u.size, 1.5), np.full(u.size, 4.0)
    x = triangular(low, mode, high, u)
    assert x.min() >= 1.0 and x.max() <= 4.0
    assert x.mean() == pytest.approx(6.5 / 3, abs=0.01)
    assert np.mean(x <= 1.5) == pytest.approx(0.5 / 3, abs=0.005)  # CDF at the mode
    assert np.all(triangular(low, low, low, u) == 1.0)


def test_simulation_reports_consequences_and_json() -> None:
    sim = simulate(_library(consequences=_consequences()), START, END, 30, paths=2_000, seed=1)
    out = json.loads(json.dumps(sim.to_json()))
    assert set(out) == {"horizon_days", "paths", "seed", "sets", "couplings", "consequences"}
    rung = out["sets"][0]["rungs"][1]
    assert set(rung) == {"id", "assessed", "simulated", "daily_hazard", "reach_by_day",
                         "time_to_event", "end_share"}  # fmt: skip
    assert len(rung["reach_by_day"]) == 31
    assert set(rung["time_to_event"]) == {"median", "p10", "p90"}
    assert [d["id"] for d in out["consequences"]] == ["energy", "refugees"]
    assert set(out["consequences"][0]) == {"id", "name", "mean", "interval", "distribution",
                                           "drivers"}  # fmt: skip
    assert sum(d["share"] for d in out["consequences"][0]["distribution"]) == pytest.approx(1)
    assert simulate(_library(), START, END, 5, paths=10).consequences == ()


@pytest.mark.parametrize(
    ("start", "horizon", "paths", "message", "hint"),
    [
        ({**START, "c": [1.0]}, 30, 10, "start: unknown scenario set 'c'", "sets: a, b"),
        ({"a": START["a"]}, 30, 10, "start: no probabilities for set 'b'", "r0, r1, r2"),
        ({**START, "b": [0.5, 0.5]}, 30, 10, "start['b'] has 2 probabilities for 3 rungs",
         "in order: r0, r1, r2"),
        ({**START, "a": [0.5, 0.2, 0.2, 0.2]}, 30, 10, "start['a'] sums to 1.100000, not 1",
         "normalise"),
        ({**START, "b": [1.1, -0.1, 0.0]}, 30, 10, "start['b'] has a negative", ">= 0"),
        ({**START, "b": ["x", 0, 0]}, 30, 10, "start['b'] is not a list of numbers", "r0"),
        (START, 0, 10, "horizon_days is 0", "at least 1 day"),
        (START, 30, 0, "paths is 0", "at least 1 path"),
    ],
)  # fmt: skip
def test_input_errors_name_the_set_and_the_fix(start, horizon, paths, message, hint) -> None:
    with pytest.raises(InputError) as err:
        simulate(_library(), start, END, horizon, paths=paths)
    assert message in err.value.message
    assert hint in (err.value.hint or "")


def test_coupling_to_an_unknown_rung_is_an_input_error() -> None:
    lib = _library([_coupling("x", ("a", "r9"), ("b", "r1"), 2.0)])
    with pytest.raises(InputError, match="coupling x: set a: no scenario 'r9'"):
        simulate(lib, START, END, 10, paths=10)
