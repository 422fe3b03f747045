"""Benchmark: the escalation-chain simulation, 100,000 paths over 90 days.

Goal: ≤ 1 s on 2 cores for 3 sets. The library is the real Belarus one when
``theatres/belarus/scenarios`` loads, otherwise a built-in synthetic one (3 sets, 3
couplings, one of them uncertain). ``start`` and ``end`` stand in for the Bayesian
posteriors with the priors alone: P(>= k within T days) = 1 - exp(-annual_rate * T / 365),
T = 7 for the start and the horizon for the end. The vectorised run is timed as the median
of ``--repeat`` runs after one warm-up; the baseline, in the same process, is a plain
per-path Python loop over the same model on ``--naive-paths`` paths, scaled linearly to
the full path count. The process is pinned to two cores.

Run: ``python benchmarks/simulate.py`` (``--json PATH`` also writes the figures).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores  # noqa: E402
from vigil.errors import VigilError  # noqa: E402
from vigil.scenarios.simulate import daily_hazards, simulate  # noqa: E402
from vigil.scenarios.spec import (  # noqa: E402
    Chains,
    Coupling,
    Scenario,
    ScenarioLibrary,
    ScenarioSet,
    When,
    load_scenarios,
)
from vigil.theatre import load_theatre  # noqa: E402

WHY = "synthetic: a benchmark stand-in, not an assessment"


def synthetic() -> ScenarioLibrary:
    """Three ladders (5, 3 and 4 rungs) and three couplings, one with probability 0.4."""

    def ladder(set_id: str, rates: list[float]) -> ScenarioSet:
        rungs = [Scenario(id="calm", name="calm", resolution=WHY)]
        rungs += [Scenario(id=f"r{k}", name=f"rung {k}", resolution=WHY, annual_rate=rate,
                           prior_basis=WHY) for k, rate in enumerate(rates, start=1)]  # fmt: skip
        return ScenarioSet(id=set_id, name=set_id, question=WHY, scenarios=rungs)

    def link(cid, when, then, multiplier, probability=1.0) -> Coupling:
        return Coupling(id=cid, when=When(set=when[0], at_least=when[1]),
                        then=When(set=then[0], at_least=then[1]), multiplier=multiplier,
                        probability=probability, why=WHY)  # fmt: skip

    sets = (ladder("role", [1.5, 0.6, 0.2, 0.05]), ladder("incident", [3.0, 0.4]),
            ladder("spill", [0.8, 0.2, 0.03]))  # fmt: skip
    couplings = (link("role_incident", ("role", "r2"), ("incident", "r1"), 3.0),
                 link("incident_spill", ("incident", "r2"), ("spill", "r2"), 8.0, 0.4),
                 link("spill_role", ("spill", "r1"), ("role", "r3"), 2.0))  # fmt: skip
    return ScenarioLibrary(sets=sets, chains=Chains(couplings=couplings), folder="synthetic")


def library(theatre: str) -> tuple[ScenarioLibrary, str]:
    try:
        return load_scenarios(load_theatre(theatre)), f"theatres/{theatre}/scenarios"
    except VigilError as exc:
        return synthetic(), f"synthetic ({theatre} did not load: {exc})"


def prior_vector(s: ScenarioSet, days: int) -> list[float]:
    """P(highest rung reached within ``days``) from the annual rates alone."""
    at_least = [1.0] + [1 - math.exp(-r.annual_rate * days / 365) for r in s.scenarios[1:]]
    return [a - b for a, b in zip(at_least, [*at_least[1:], 0.0], strict=True)]


def naive(lib: ScenarioLibrary, start, end, horizon: int, paths: int, seed: int) -> list[list]:
    """The same model, one path at a time in plain Python: the baseline."""
    rnd = random.Random(seed)
    pos = {s.id: i for i, s in enumerate(lib.sets)}
    steps = []
    for s in lib.sets:
        hazard = daily_hazards(np.array(start[s.id]), np.array(end[s.id]), horizon).tolist()
        steps.append([a - b for a, b in zip(hazard, [*hazard[1:], 0.0], strict=True)])
    links = [(pos[c.when.set], lib.set(c.when.set).index(c.when.at_least), pos[c.then.set],
              lib.set(c.then.set).index(c.then.at_least), c.multiplier, c.probability)
             for c in lib.chains.couplings]  # fmt: skip
    cdfs = [np.cumsum(start[s.id]).tolist() for s in lib.sets]
    ends = []
    for _ in range(paths):
        rungs = [_naive_start(rnd.random(), cdf) for cdf in cdfs]
        active = [rnd.random() < ln[5] for ln in links]
        for _day in range(horizon):
            rungs = _naive_day(rnd, rungs, steps, links, active)
        ends.append(rungs)
    return ends


def _naive_start(u: float, cdf: list[float]) -> int:
    return sum(u >= c for c in cdf[:-1])


def _naive_day(rnd, rungs, steps, links, active) -> list[int]:
    new = list(rungs)
    for s, step in enumerate(steps):
        factor = [1.0] * len(step)
        for i, (ws, wk, ts, tk, m, _p) in enumerate(links):
            if ts == s and active[i] and rungs[ws] >= wk:
                for k in range(tk, len(step)):
                    factor[k] *= m
        for k in range(rungs[s] + 1, len(step)):
            if rnd.random() < 1 - math.exp(-step[k] * factor[k]):
                new[s] = k
    return new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--theatre", default="belarus")
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--naive-paths", type=int, default=2_000)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    pinned = pin_two_cores()
    lib, origin = library(args.theatre)
    start = {s.id: prior_vector(s, 7) for s in lib.sets}
    end = {s.id: prior_vector(s, args.days) for s in lib.sets}
    rungs = sum(len(s.scenarios) for s in lib.sets)
    print(f"{origin}: {len(lib.sets)} sets, {rungs} rungs, {len(lib.chains.couplings)} "
          f"couplings; {pinned}")  # fmt: skip
    simulate(lib, start, end, args.days, paths=args.paths, seed=0)  # warm-up
    times = []
    for i in range(args.repeat):
        began = time.perf_counter()
        simulate(lib, start, end, args.days, paths=args.paths, seed=i + 1)
        times.append(time.perf_counter() - began)
    vectorised = statistics.median(times)
    began = time.perf_counter()
    naive(lib, start, end, args.days, args.naive_paths, seed=0)
    naive_full = (time.perf_counter() - began) * args.paths / args.naive_paths
    print(
        f"vectorised: {vectorised:.3f} s median of {args.repeat} "
        f"(min {min(times):.3f}, max {max(times):.3f}) for {args.paths:,} paths x {args.days} d"
    )
    print(f"naive loop: {naive_full:.1f} s scaled from {args.naive_paths:,} paths")
    print(f"ratio: {naive_full / vectorised:.0f}x faster; goal <= 1 s: "
          f"{'met' if vectorised <= 1 else 'MISSED'}")  # fmt: skip
    if args.json:
        figures = {
            "library": origin,
            "sets": len(lib.sets),
            "couplings": len(lib.chains.couplings),
            "paths": args.paths,
            "days": args.days,
            "seconds_median": round(vectorised, 4),
            "seconds_runs": [round(t, 4) for t in times],
            "naive_seconds_scaled": round(naive_full, 2),
            "naive_paths": args.naive_paths,
            "ratio": round(naive_full / vectorised, 1),
            "cores": pinned,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
