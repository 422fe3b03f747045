"""Escalation-chain Monte Carlo: what the couplings between sets add to the assessment.

Each path starts every set at a rung drawn from ``start`` (the probabilities now) and
climbs day by day; a ladder never falls. The base hazards reproduce the assessment: with
no couplings, the share of paths at rung >= k by the horizon equals ``end``'s P(>= k)
(up to Monte Carlo error). Couplings then multiply hazards on the paths where their
``when`` holds, so the difference between ``simulated`` and ``assessed`` is the chain
amplification: escalation that one set's assessment cannot see because it comes from
another set.

The model. For rung k >= 1, with S0 = P_start(>= k) and S1 = P_end(>= k), the daily hazard
of reaching >= k from below is ``H_k = -ln((1 - S1) / (1 - S0)) / horizon`` (0 when
S1 <= S0). A path below k reaches >= k when any threshold j >= k is crossed, so threshold j
gets its own hazard ``h_j = H_j - H_{j+1}`` and independent crossings give the sum
``H_k`` back exactly; each day the path jumps to the highest threshold crossed (several
rungs in a day is allowed). ``H`` must not rise up the ladder for that; where the
assessment makes it rise (a low rung already mostly reached at the start), the lower
rung takes the higher rung's hazard, so the top rungs, which matter most, stay exact and
a lower rung is simulated somewhat above its assessment (visible in the output).

A coupling multiplies ``h_j`` for every j >= ``then`` while its ``when`` holds: the hazard
of reaching at least ``then`` is multiplied by exactly ``multiplier``, and how far above
``then`` a jump goes keeps the ladder's own shape (the coupling says nothing about that).
Several couplings on one set multiply. With ``probability`` < 1 each path draws once
whether the link is active (drawn up front: the same distribution as a draw at the moment
``when`` first holds, and deterministic per seed). All sets move together each day on the
previous day's state, so the order of sets and couplings does not matter.

``Simulation.to_json()`` keys: ``horizon_days``, ``paths``, ``seed``; ``sets``: one
``{"id", "rungs"}`` per set, each rung ``{"id", "assessed" (P_end(>= k)), "simulated"
(share of paths at >= k by the horizon), "daily_hazard" (H_k as used, without
couplings), "reach_by_day" (horizon + 1 shares, day 0 = start), "time_to_event"
({"median", "p10", "p90"}: days, among paths that reach the rung within the horizon and
did not start there; null when none), "end_share" (share of paths ending on this rung)}``;
``couplings``: one ``{"id", "when_share" (paths where ``when`` held by the horizon),
"active_share" (those where the link was also active)}``; ``consequences``: one entry per
domain, as ``vigil.scenarios.consequences`` describes. Floats are rounded to 4 decimals
(``daily_hazard``, often below 1e-4, to 4 significant digits).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from vigil.errors import InputError
from vigil.scenarios.consequences import DECIMALS, DomainResult, consequence_levels
from vigil.scenarios.spec import ScenarioLibrary, ScenarioSet

TOLERANCE = 1e-6
#: 1 - P_end(>= k) is floored here: an assessed certainty would be an infinite hazard
FLOOR = 1e-12


@dataclass(frozen=True, eq=False)
class RungResult:
    id: str
    assessed: float
    simulated: float
    daily_hazard: float
    #: share of paths at >= this rung by day d, d = 0 … horizon
    reach_by_day: np.ndarray
    median: int | None
    p10: int | None
    p90: int | None
    end_share: float

    def to_json(self) -> dict:
        r = DECIMALS
        return {
            "id": self.id,
            "assessed": round(self.assessed, r),
            "simulated": round(self.simulated, r),
            "daily_hazard": float(f"{self.daily_hazard:.4g}"),
            "reach_by_day": [round(float(v), r) for v in self.reach_by_day],
            "time_to_event": {"median": self.median, "p10": self.p10, "p90": self.p90},
            "end_share": round(self.end_share, r),
        }


@dataclass(frozen=True)
class SetResult:
    id: str
    rungs: tuple[RungResult, ...]

    def rung(self, rung_id: str) -> RungResult:
        return next(r for r in self.rungs if r.id == rung_id)


@dataclass(frozen=True)
class CouplingResult:
    id: str
    when_share: float
    active_share: float


@dataclass(frozen=True)
class Simulation:
    horizon_days: int
    paths: int
    seed: int
    sets: tuple[SetResult, ...]
    couplings: tuple[CouplingResult, ...]
    consequences: tuple[DomainResult, ...]

    def set(self, set_id: str) -> SetResult:
        for s in self.sets:
            if s.id == set_id:
                return s
        raise InputError(f"no simulated set {set_id!r}", ", ".join(s.id for s in self.sets))

    def coupling(self, coupling_id: str) -> CouplingResult:
        return next(c for c in self.couplings if c.id == coupling_id)

    def to_json(self) -> dict:
        return {
            "horizon_days": self.horizon_days,
            "paths": self.paths,
            "seed": self.seed,
            "sets": [{"id": s.id, "rungs": [r.to_json() for r in s.rungs]} for s in self.sets],
            "couplings": [
                {
                    "id": c.id,
                    "when_share": round(c.when_share, DECIMALS),
                    "active_share": round(c.active_share, DECIMALS),
                }
                for c in self.couplings
            ],
            "consequences": [d.to_json() for d in self.consequences],
        }


class _Link(NamedTuple):
    """A coupling in index form: while rung(when_set) >= when_rung, h_j *= multiplier for
    j >= then_rung on set then_set."""

    when_set: int
    when_rung: int
    then_set: int
    then_rung: int
    multiplier: float
    probability: float


@dataclass(frozen=True)
class _Ladder:
    spec: ScenarioSet
    start: np.ndarray
    end: np.ndarray
    hazard: np.ndarray  # H_k, k = 0 … R-1 (H_0 unused)
    step: np.ndarray  # h_k = H_k - H_{k+1}; h_0 = 0
    links: tuple[int, ...]  # indices of the links that target this set
    bound: float  # the largest H_1 any path can have, couplings included


def simulate(
    library: ScenarioLibrary,
    start: Mapping[str, Sequence[float]],
    end: Mapping[str, Sequence[float]],
    horizon_days: int,
    *,
    paths: int = 100_000,
    seed: int = 0,
) -> Simulation:
    """Simulate ``paths`` paths over ``horizon_days`` days; deterministic for a ``seed``."""
    if horizon_days < 1:
        raise InputError(f"horizon_days is {horizon_days}", "simulate at least 1 day")
    if paths < 1:
        raise InputError(f"paths is {paths}", "simulate at least 1 path")
    starts, ends = _vectors(library, start, "start"), _vectors(library, end, "end")
    links = _links(library)
    ladders = [
        _ladder(s, starts[s.id], ends[s.id], horizon_days, links, i)
        for i, s in enumerate(library.sets)
    ]
    rng = np.random.default_rng(seed)
    rungs = [_initial(rng, lad.start, paths) for lad in ladders]
    active = [None if ln.probability >= 1 else rng.random(paths) < ln.probability for ln in links]
    at = _run(ladders, links, rungs, active, rng, horizon_days)
    couplings = tuple(
        _coupling_result(c.id, ln, rungs, act)
        for c, ln, act in zip(library.chains.couplings, links, active, strict=True)
    )
    ends_by_id = {lad.spec.id: r for lad, r in zip(ladders, rungs, strict=True)}
    ids = {s.id: s.scenario_ids() for s in library.sets}
    domains = consequence_levels(library.consequences, ends_by_id, rng, ladders=ids)
    return Simulation(
        horizon_days=horizon_days,
        paths=paths,
        seed=seed,
        sets=tuple(_set_result(lad, a, paths) for lad, a in zip(ladders, at, strict=True)),
        couplings=couplings,
        consequences=tuple(domains),
    )


def _vectors(library: ScenarioLibrary, given: Mapping[str, Sequence[float]], name: str):
    known = [s.id for s in library.sets]
    for sid in given:
        if sid not in known:
            raise InputError(f"{name}: unknown scenario set {sid!r}", f"sets: {', '.join(known)}")
    return {s.id: _vector(s, given, name) for s in library.sets}


def _vector(s: ScenarioSet, given: Mapping[str, Sequence[float]], name: str) -> np.ndarray:
    ids = s.scenario_ids()
    order = f"one probability per rung, in order: {', '.join(ids)}"
    if s.id not in given:
        raise InputError(f"{name}: no probabilities for set {s.id!r}", f"give {order}")
    try:
        vec = np.asarray(given[s.id], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}[{s.id!r}] is not a list of numbers", f"give {order}") from None
    if vec.ndim != 1 or vec.size != len(ids):
        raise InputError(
            f"{name}[{s.id!r}] has {vec.size} probabilities for {len(ids)} rungs", f"give {order}"
        )
    if not np.all(np.isfinite(vec)) or np.any(vec < 0):
        raise InputError(
            f"{name}[{s.id!r}] has a negative or non-finite entry: {vec.tolist()}",
            "every probability must be a number >= 0",
        )
    if abs(vec.sum() - 1) > TOLERANCE:
        raise InputError(
            f"{name}[{s.id!r}] sums to {vec.sum():.6f}, not 1", "normalise it over the rungs"
        )
    return vec / vec.sum()


def _links(library: ScenarioLibrary) -> list[_Link]:
    """Couplings in index form; checked here too since a library can be built in code."""
    pos = {s.id: i for i, s in enumerate(library.sets)}
    links = []
    for c in library.chains.couplings:
        try:
            when, then = library.set(c.when.set), library.set(c.then.set)
            when_rung, then_rung = when.index(c.when.at_least), then.index(c.then.at_least)
        except InputError as exc:
            raise InputError(f"coupling {c.id}: {exc.message}", exc.hint) from None
        if then_rung == 0:
            raise InputError(f"coupling {c.id}: then names the bottom rung", "name a higher rung")
        links.append(_Link(pos[when.id], when_rung, pos[then.id], then_rung, c.multiplier,
                           c.probability))  # fmt: skip
    return links


def daily_hazards(start: np.ndarray, end: np.ndarray, horizon_days: int) -> np.ndarray:
    """``H_k`` (k = 0 … R-1, ``H_0`` = 0) that carry P_start(>= k) to P_end(>= k), made
    non-increasing up the ladder (see the module docstring)."""
    s0 = np.cumsum(start[::-1])[::-1]
    s1 = np.cumsum(end[::-1])[::-1]
    below0 = 1 - s0
    below1 = np.maximum(1 - s1, FLOOR)
    rises = (s1 > s0) & (below0 > FLOOR)
    raw = np.zeros_like(s0)
    raw[rises] = -np.log(below1[rises] / below0[rises]) / horizon_days
    raw[0] = 0.0
    out = np.zeros_like(raw)
    out[1:] = np.maximum.accumulate(raw[1:][::-1])[::-1]
    return out


def _ladder(s, start, end, horizon_days, links, index) -> _Ladder:
    hazard = daily_hazards(start, end, horizon_days)
    step = np.zeros_like(hazard)
    step[1:] = hazard[1:] - np.append(hazard[2:], 0.0)
    mine = tuple(i for i, ln in enumerate(links) if ln.then_set == index)
    most = np.ones_like(step)
    for i in mine:
        most[links[i].then_rung :] *= max(links[i].multiplier, 1.0)
    bound = float((step * most).sum()) * (1 + 1e-9)
    return _Ladder(s, start, end, hazard, step, mine, bound)


def _initial(rng: np.random.Generator, start: np.ndarray, paths: int) -> np.ndarray:
    cdf = np.cumsum(start)
    rungs = np.searchsorted(cdf, rng.random(paths) * cdf[-1], side="right")
    return np.minimum(rungs, start.size - 1).astype(np.int16)


def _run(ladders, links, rungs, active, rng, horizon_days) -> list[np.ndarray]:
    """Advance all paths day by day; returns per set the count of paths on each rung per
    day, shape (horizon + 1, rungs). Only the few paths whose exponential draw falls below
    the set's largest possible hazard are looked at closely, which keeps a day cheap."""
    at = []
    for lad, r in zip(ladders, rungs, strict=True):
        counts = np.zeros((horizon_days + 1, lad.start.size), dtype=np.int64)
        counts[0] = np.bincount(r, minlength=lad.start.size)
        at.append(counts)
    paths = rungs[0].size
    for day in range(1, horizon_days + 1):
        moves = []
        for s, lad in enumerate(ladders):
            at[s][day] = at[s][day - 1]
            if lad.bound <= 0:
                continue
            draw = rng.standard_exponential(paths)
            idx = np.flatnonzero(draw < lad.bound)
            if idx.size:
                new = _climb(lad, links, rungs, active, idx, draw[idx])
                moves.append((s, idx, np.maximum(rungs[s][idx], new)))
        for s, idx, new in moves:
            size = ladders[s].start.size
            at[s][day] += np.bincount(new, minlength=size) - np.bincount(
                rungs[s][idx], minlength=size
            )
            rungs[s][idx] = new
    return at


def _climb(lad: _Ladder, links, rungs, active, idx: np.ndarray, draw: np.ndarray):
    """New rungs of the paths ``idx``: the highest k whose hazard of >= k exceeds the
    path's Exp(1) draw (the highest of the independent thresholds crossed; never lower
    than the current rung once the caller takes the maximum)."""
    if not lad.links:
        jump = (draw[:, None] < lad.hazard[None, 1:]).sum(axis=1)
    else:
        factor = np.ones((idx.size, lad.step.size))
        for i in lad.links:
            ln = links[i]
            on = rungs[ln.when_set][idx] >= ln.when_rung
            if active[i] is not None:
                on &= active[i][idx]
            factor[:, ln.then_rung :] *= np.where(on, ln.multiplier, 1.0)[:, None]
        hazard = np.cumsum((lad.step * factor)[:, ::-1], axis=1)[:, ::-1]
        jump = (draw[:, None] < hazard[:, 1:]).sum(axis=1)
    return jump.astype(np.int16)


def _coupling_result(cid: str, ln: _Link, rungs, active) -> CouplingResult:
    """``when`` held by the horizon iff it holds at the end (ladders never fall)."""
    held = rungs[ln.when_set] >= ln.when_rung
    on = held if active is None else held & active
    return CouplingResult(cid, float(held.mean()), float(on.mean()))


def _set_result(lad: _Ladder, at: np.ndarray, paths: int) -> SetResult:
    reach = np.cumsum(at[:, ::-1], axis=1)[:, ::-1]  # paths at >= k, per day
    assessed = np.cumsum(lad.end[::-1])[::-1]
    rungs = []
    for k, rung_id in enumerate(lad.spec.scenario_ids()):
        median, p10, p90 = _timing(np.diff(reach[:, k])) if k else (None, None, None)
        curve = reach[:, k] / paths
        curve.setflags(write=False)
        rungs.append(RungResult(
            id=rung_id,
            assessed=float(min(assessed[k], 1.0)),
            simulated=float(curve[-1]),
            daily_hazard=float(lad.hazard[k]),
            reach_by_day=curve,
            median=median,
            p10=p10,
            p90=p90,
            end_share=float(at[-1, k] / paths),
        ))  # fmt: skip
    return SetResult(lad.spec.id, tuple(rungs))


def _timing(new_per_day: np.ndarray) -> tuple[int | None, int | None, int | None]:
    """Median, 10th and 90th percentile day of first reaching a rung, among the paths that
    reach it on day 1 … horizon (start mass is day 0 and left out): the first day by which
    that share of them has arrived."""
    total = int(new_per_day.sum())
    if total == 0:
        return None, None, None
    cdf = np.cumsum(new_per_day)
    days = [int(np.searchsorted(cdf, math.ceil(q * total - 1e-9))) + 1 for q in (0.5, 0.1, 0.9)]
    return days[0], days[1], days[2]
