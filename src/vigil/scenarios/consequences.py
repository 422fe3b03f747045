"""Consequences for Europe of each simulated end state, with their uncertainty explicit.

For every path and domain the deciding rule is the one with the highest ``likely`` among
the rules whose ``when`` holds at the path's end (ties: the higher ``high``, then the rule
listed first); the baseline decides when none holds. The level is then drawn from a
triangular(low, likely, high) distribution rather than set to ``likely``: a reader sees
the spread the spec's authors admitted to, not a false point value. A degenerate range
(low == high) gives that level exactly.

``DomainResult.to_json()`` keys: ``id``, ``name``, ``mean``, ``interval`` ([5 %, 95 %]),
``distribution`` (one ``{"level", "name", "share"}`` per level of the 0–4 scale, after
rounding each path's level to the nearest integer) and ``drivers`` (one ``{"rule",
"when", "share", "why"}`` per rule that decided some path, the largest share first;
``rule`` is the index in ``rules`` and ``when`` is ``{"set", "at_least"}``, both ``null``
for the baseline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vigil.errors import InputError
from vigil.scenarios.spec import Consequences, Level, When

DECIMALS = 4


@dataclass(frozen=True)
class Driver:
    """A rule (``rule`` None: the baseline) that decided the level on ``share`` of paths."""

    rule: int | None
    when: When | None
    share: float
    why: str

    def to_json(self) -> dict:
        when = None if self.when is None else {"set": self.when.set, "at_least": self.when.at_least}
        return {
            "rule": self.rule,
            "when": when,
            "share": round(self.share, DECIMALS),
            "why": self.why,
        }


@dataclass(frozen=True)
class DomainResult:
    """One domain's level across the simulated paths."""

    id: str
    name: str
    mean: float
    interval: tuple[float, float]
    #: (scale name, share of paths) for levels 0 … 4 after rounding
    distribution: tuple[tuple[str, float], ...]
    drivers: tuple[Driver, ...]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "mean": round(self.mean, DECIMALS),
            "interval": [round(v, DECIMALS) for v in self.interval],
            "distribution": [
                {"level": i, "name": name, "share": round(share, DECIMALS)}
                for i, (name, share) in enumerate(self.distribution)
            ],
            "drivers": [d.to_json() for d in self.drivers],
        }


def consequence_levels(
    consequences: Consequences | None,
    end_rungs: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    ladders: Mapping[str, Sequence[str]],
) -> list[DomainResult]:
    """Per domain, the level distribution over paths ending at ``end_rungs``.

    ``end_rungs[set_id]`` holds each path's highest rung (an index into ``ladders[set_id]``,
    the set's rung ids in order); ``ladders`` is needed because a rule names its rung by id.
    """
    if consequences is None:
        return []
    missing = [d.id for d in consequences.domains if d.id not in consequences.baseline]
    if missing:
        raise InputError(f"consequences: no baseline level for {missing}", "give every domain one")
    paths = len(next(iter(end_rungs.values()))) if end_rungs else 0
    holds = [
        _holds(r.when, end_rungs, ladders, f"rules[{i}]") for i, r in enumerate(consequences.rules)
    ]
    return [_domain(consequences, d.id, d.name, holds, paths, rng) for d in consequences.domains]


def _holds(
    when: When,
    end_rungs: Mapping[str, np.ndarray],
    ladders: Mapping[str, Sequence[str]],
    where: str,
) -> np.ndarray:
    """Paths on which ``when`` holds at the end (ladders only rise, so: rung >= at_least)."""
    if when.set not in end_rungs or when.set not in ladders:
        raise InputError(
            f"consequences {where}.when: set {when.set!r} is not simulated",
            f"choose one of: {', '.join(end_rungs)}",
        )
    ids = list(ladders[when.set])
    if when.at_least not in ids:
        raise InputError(
            f"consequences {where}.when: {when.at_least!r} is not a rung of set {when.set}",
            f"choose one of: {', '.join(ids)}",
        )
    return np.asarray(end_rungs[when.set]) >= ids.index(when.at_least)


def _choice(consequences: Consequences, domain: str, holds: list[np.ndarray], paths: int):
    """Index of the deciding rule per path: 0 is the baseline, 1 + i is ``rules[i]``."""
    ranked = sorted(
        (i for i, r in enumerate(consequences.rules) if domain in r.levels),
        key=lambda i: (-consequences.rules[i].levels[domain].likely,
                       -consequences.rules[i].levels[domain].high, i),
    )  # fmt: skip
    choice = np.zeros(paths, dtype=np.int32)
    for i in reversed(ranked):  # the best rule is written last and wins
        choice[holds[i]] = i + 1
    return choice


def _domain(consequences: Consequences, domain: str, name: str, holds, paths, rng):
    table: list[Level] = [consequences.baseline[domain]]
    table += [r.levels.get(domain, table[0]) for r in consequences.rules]
    choice = _choice(consequences, domain, holds, paths)
    low, likely, high = (np.array([getattr(lv, f) for lv in table])[choice]
                         for f in ("low", "likely", "high"))  # fmt: skip
    levels = triangular(low, likely, high, rng.random(choice.shape[0]))
    rounded = np.clip(np.floor(levels + 0.5), 0, 4).astype(np.int64)
    shares = np.bincount(rounded, minlength=5) / max(levels.size, 1)
    counts = np.bincount(choice, minlength=len(table)) / max(levels.size, 1)
    drivers = [
        Driver(
            rule=None if j == 0 else int(j) - 1,
            when=None if j == 0 else consequences.rules[j - 1].when,
            share=float(counts[j]),
            why=table[j].why,
        )
        for j in np.argsort(-counts, kind="stable")
        if counts[j] > 0
    ]
    interval = np.quantile(levels, [0.05, 0.95]) if levels.size else np.array([np.nan] * 2)
    return DomainResult(
        id=domain,
        name=name,
        mean=float(levels.mean()) if levels.size else float("nan"),
        interval=(float(interval[0]), float(interval[1])),
        distribution=tuple(zip(consequences.scale, map(float, shares), strict=True)),
        drivers=tuple(drivers),
    )


def triangular(low: np.ndarray, mode: np.ndarray, high: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF triangular draw from uniforms ``u``; exact ``low`` where low == high.

    ``numpy``'s own ``triangular`` refuses low == high, which a spec may well state (a
    level the authors are sure of), hence the explicit inverse.
    """
    width = high - low
    safe = np.where(width > 0, width, 1.0)
    split = (mode - low) / safe
    rising = low + np.sqrt(u * safe * (mode - low))
    falling = high - np.sqrt((1 - u) * safe * (high - mode))
    return np.where(width > 0, np.where(u < split, rising, falling), low)
