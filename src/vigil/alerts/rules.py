"""Alert rules: ``theatres/<id>/alerts.yaml``, one optional file per theatre.

The file lives beside ``theatre.yaml`` because what deserves an analyst's attention is a
judgement about the theatre (which outcomes matter, which sources must keep reporting), not
about the code. No file means no rules: a theatre without alerts is a valid theatre.

Every file goes through :mod:`vigil.yamlload` like every other file a user edits: a key
given twice is refused, an unknown key is named with the nearest known one, and every error
names the file and the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.alerts.files import load_items
from vigil.alerts.sinks import Number
from vigil.errors import InputError

if TYPE_CHECKING:
    from vigil.scenarios.spec import ScenarioLibrary
    from vigil.theatre import TheatreSpec

#: the file name in the theatre folder
RULES_FILE = "alerts.yaml"
#: a reading's states in rising order, and what an indicator is without a usable reading
STATES = ("normal", "elevated", "high")
BLIND = "blind"
#: where the rule kinds and the example file are described
DOC = "docs/ALERTS.md"
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]


class _Rule(BaseModel):
    """Base: frozen, and unknown keys are errors (a misspelt filter must not widen a rule)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleId
    #: why the rule exists, for the reader of the file and of the alert
    why: str = ""


class BandRule(_Rule):
    """An outcome's probability crossing a PHIA yardstick boundary, either way."""

    kind: Literal["band"]
    outcomes: tuple[str, ...] = ()  # empty: every outcome


class MoveRule(_Rule):
    """An outcome's probability moving by ``points`` percentage points or more."""

    kind: Literal["move"]
    points: Annotated[float, Number] = Field(gt=0, le=100)
    direction: Literal["any", "up", "down"] = "any"
    outcomes: tuple[str, ...] = ()


class StateRule(_Rule):
    """An indicator's reading changing state (``to``: only into these states; ``direction``:
    only rising or falling readings). A change to or from no usable reading (blind) counts
    only with ``blind: true``: feeds going quiet is not the situation changing."""

    kind: Literal["state"]
    to: tuple[Literal["normal", "elevated", "high", "blind"], ...] = ()
    direction: Literal["any", "up", "down"] = "any"
    blind: bool = False
    indicators: tuple[str, ...] = ()


class ObservedRule(_Rule):
    """A resolver firing: an outcome newly observed under way."""

    kind: Literal["observed"]
    outcomes: tuple[str, ...] = ()


class SilentRule(_Rule):
    """A source whose newest record is older than its allowed silence (days) on the
    assessment date. The sources are named here, each with its own silence: a weekly feed
    and a 15-minute feed cannot share one."""

    kind: Literal["silent"]
    sources: dict[str, Annotated[int, Number]]

    @field_validator("sources")
    @classmethod
    def _days(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("name at least one source with its allowed silence in days")
        for name, days in value.items():
            if not 1 <= days <= 3660:
                raise ValueError(f"{name}: {days} is not a number of days from 1 to 3660")
        return value


Rule = Annotated[
    BandRule | MoveRule | StateRule | ObservedRule | SilentRule, Field(discriminator="kind")
]
KINDS = (BandRule, MoveRule, StateRule, ObservedRule, SilentRule)


class RulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()


def load_rules(spec: TheatreSpec) -> tuple[Rule, ...]:
    """The theatre's alert rules (none when it has no ``alerts.yaml``)."""
    path = Path(spec.folder) / RULES_FILE
    if not path.exists():
        return ()
    return load_rules_file(path, spec)


def load_rules_file(path: Path, spec: TheatreSpec | None = None) -> tuple[Rule, ...]:
    """The rules in ``path``, checked against ``spec`` (indicators and sources must exist).
    Errors name the file, the line and the key path."""
    return _load(path, spec)[0]


def _load(path: Path, spec: TheatreSpec | None) -> tuple[tuple[Rule, ...], str, dict]:
    where = f"{Path(path).parent.name}/{Path(path).name}"
    kinds = {m.model_fields["kind"].annotation.__args__[0]: m for m in KINDS}
    rules, lines = load_items(Path(path), where, "rules", kinds, DOC)
    rules = tuple(rules)
    _check(rules, where, lines, spec)
    return rules, where, lines


def check_rules(spec: TheatreSpec, library: ScenarioLibrary) -> tuple[Rule, ...]:
    """The theatre's rules (none without ``alerts.yaml``), every filter checked now: the
    indicators against the theatre, the sources against the adapters, and the outcomes
    against the scenario library. A watcher calls it before its first cycle, so a misspelt
    outcome stops it at start instead of failing an evaluation mid-cycle. Errors
    (:class:`InputError`) name the file, the line, the rule and the key."""
    path = Path(spec.folder) / RULES_FILE
    if not path.exists():
        return ()
    rules, where, lines = _load(path, spec)
    check_outcomes(rules, {o.id for _, o in library.outcomes()}, where, lines)
    return rules


def _check(rules, where: str, lines: dict, spec: TheatreSpec | None) -> None:
    """Names a rule cannot leave to chance: ids unique, indicators and sources real (a
    misspelt name would make the rule silently never fire)."""
    seen: set[str] = set()
    indicators = {i.id for i in spec.indicators} if spec else None
    sources = _source_names()
    for i, rule in enumerate(rules):
        at = f"{where}:{lines.get(('rules', i), '?')}: rules[{i}]"
        if rule.id in seen:
            raise InputError(f"{at}.id: {rule.id!r} is used twice", "give every rule its own id")
        seen.add(rule.id)
        if isinstance(rule, StateRule) and indicators is not None:
            for k, ind in enumerate(rule.indicators):
                if ind not in indicators:
                    raise InputError(
                        f"{at}.indicators[{k}]: {ind!r} is not an indicator of the theatre",
                        f"known: {', '.join(sorted(indicators))}",
                    )
        if isinstance(rule, SilentRule):
            for name in rule.sources:
                if name not in sources:
                    raise InputError(
                        f"{at}.sources.{name}: not a source",
                        f"known: {', '.join(sorted(sources))}",
                    )


def _source_names() -> set[str]:
    from vigil import sources

    # "analyst": the analyst documents, stored under that source name
    return {a.name for a in sources.all_adapters()} | {"analyst"}


def check_outcomes(
    rules, outcome_ids: set[str], where: str = RULES_FILE, lines: dict | None = None
) -> None:
    """Outcome filters name outcomes of the assessment (checked when one is evaluated, and
    by :func:`check_rules` up front: the outcomes live in the scenario library, which
    loading the rules does not need)."""
    for i, rule in enumerate(rules):
        for k, name in enumerate(getattr(rule, "outcomes", ())):
            if name not in outcome_ids:
                line = (lines or {}).get(("rules", i, "outcomes", k))
                line = line or (lines or {}).get(("rules", i))
                place = f"{where}:{line}" if line else where
                raise InputError(
                    f"{place}: rules[{i}].outcomes[{k}]: {name!r} is not an outcome of the "
                    f"theatre's scenarios (rule {rule.id!r})",
                    f"known: {', '.join(sorted(outcome_ids))}",
                )
