"""Scenario sets, simulation couplings and consequences: the theatre's ``scenarios/`` folder.

``theatres/<id>/scenarios/`` holds one YAML file per scenario set (``*.yaml`` except the
three below), ``likelihoods.yaml`` (the quiet rows and likelihood tiers the sets' evidence
names), ``chains.yaml`` (how the sets drive each other in the escalation simulation) and
``consequences.yaml`` (levels for Europe per end state). Every number carries the
sentence that justifies it: a prior names its reference class, a likelihood row its
reasoning, a coupling its mechanism. Validation errors name the file and key path, and
cross-references (indicator ids, scenario ids, set ids) are checked against the theatre.

Every set is an **ordered ladder** of mutually exclusive, exhaustive rungs: the scenario
that resolves true is the highest rung reached within the horizon (a yes/no question is a
two-rung ladder). The bottom rung has no rate; every other rung states the yearly rate at
which, in its reference class, at least that rung is reached.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from vigil.errors import InputError
from vigil.theatre import (
    ISO3,
    EventRule,
    Patterns,
    Spec,
    TextRule,
    TheatreSpec,
    load_model,
    unknown_topic,
)

STATES = ("normal", "elevated", "high")
SPECIAL_FILES = ("chains.yaml", "consequences.yaml", "likelihoods.yaml")
#: an indicator's state may be P(normal) no lower than this under any rung: no state is
#: certain, and a quiet reading never rules a rung out
MIN_NORMAL = 0.05
#: prefix of an outcome resolver's rows in ``text_matches``
RESOLVE = "resolve:"
ID = r"^[a-z][a-z0-9_]*$"
DOC = "docs/SCENARIOS.md"


class Scenario(Spec):
    """One rung of a ladder."""

    id: str = Field(pattern=ID)
    name: str
    description: str = ""
    #: how an outsider checks, after the horizon, whether this rung was reached
    resolution: str = Field(min_length=20)
    #: yearly rate of reaching at least this rung in the reference class (not on the bottom)
    annual_rate: float | None = Field(default=None, gt=0, le=50)
    #: 90 % range of that rate: the prior's uncertainty
    rate_range: tuple[float, float] | None = None
    #: the reference class and why the rate follows from it
    prior_basis: str = ""

    @model_validator(mode="after")
    def _range(self):
        if self.rate_range is not None:
            lo, hi = self.rate_range
            if not 0 < lo <= (self.annual_rate or lo) <= hi:
                raise ValueError("rate_range must be [low, high] around annual_rate, low > 0")
        return self


class QuietRow(Spec):
    """P(normal, elevated, high) of a kind of indicator under a set's bottom rung."""

    row: tuple[float, float, float]
    why: str = Field(min_length=20)
    #: signs of this kind share one cause (political tension, the wider war): several
    #: read at once corroborate one another instead of compounding, so each of the ``n``
    #: pooled readings of a set counts ``1 / n`` (:func:`vigil.scenarios.bayes.contributions`)
    pooled: bool = False

    @field_validator("row")
    @classmethod
    def _sums(cls, row):
        if any(p <= 0 for p in row) or abs(sum(row) - 1) > 1e-6:
            raise ValueError(f"{list(row)}: every probability > 0, summing to 1")
        return row


class Tier(Spec):
    """How much likelier an elevated and a high reading are under a rung than under the
    bottom rung (likelihood ratios against the indicator's quiet row)."""

    elevated: float = Field(gt=0)
    high: float = Field(gt=0)
    why: str = Field(min_length=20)


class LikelihoodTiers(Spec):
    """``likelihoods.yaml``: the named quiet rows and tiers the sets' evidence uses, so
    every likelihood ratio in the theatre comes from a few stated, justified numbers."""

    quiet: dict[str, QuietRow] = Field(min_length=1)
    tiers: dict[str, Tier] = Field(min_length=1)

    def row(self, quiet: str, tier: str) -> tuple[float, float, float]:
        """The row a tier gives on a quiet row: elevated and high multiplied by the tier's
        ratios, normal taking the rest."""
        q, t = self.quiet[quiet].row, self.tiers[tier]
        e, h = q[1] * t.elevated, q[2] * t.high
        return (round(1 - e - h, 6), round(e, 6), round(h, 6))


class Likelihood(Spec):
    """P(indicator state | scenario) for one indicator, for every rung of the set.

    Either explicit rows, or (with ``quiet``) the names of tiers of ``likelihoods.yaml``:
    the bottom rung takes the quiet row, every other rung the row its tier gives on it
    (``tiers`` keeps the names).
    """

    indicator: str = Field(pattern=ID)
    #: why the indicator separates the rungs this way (one sentence or two)
    why: str = Field(min_length=20)
    #: scenario id → [P(normal), P(elevated), P(high)], each row summing to 1
    given: dict[str, tuple[float, float, float]]
    #: how sure the numbers are: each is known to within a factor exp(±1.645 / sqrt(c))
    #: (90 %): 1.7 at c = 10, 1.3 at c = 40 (see vigil.scenarios.bayes, "Uncertainty")
    confidence: float = Field(default=20.0, gt=0)
    #: the quiet row (``likelihoods.yaml: quiet``) of the bottom rung, when tiers are used
    quiet: str | None = None
    #: scenario id → the tier its row came from (filled at load)
    tiers: dict[str, str] = Field(default_factory=dict)
    #: whether its quiet row is ``pooled`` (filled at load)
    pooled: bool = False

    @field_validator("given")
    @classmethod
    def _rows(cls, given: dict[str, tuple[float, float, float]]):
        for sid, row in given.items():
            if any(p <= 0 for p in row):
                raise ValueError(f"{sid}: every probability must be > 0 (no state is impossible)")
            if abs(sum(row) - 1) > 1e-6:
                raise ValueError(f"{sid}: {list(row)} sums to {sum(row):.4f}, not 1")
            if row[0] < MIN_NORMAL:
                raise ValueError(
                    f"{sid}: P(normal) = {row[0]:.3f} is below {MIN_NORMAL}: no rung makes "
                    "a quiet reading impossible (a weaker tier, or a quieter quiet row)"
                )
        return given


class Group(Spec):
    """Indicators that tend to tell one story (shared sources, one underlying development)."""

    id: str = Field(pattern=ID)
    indicators: tuple[str, ...] = Field(min_length=2)
    #: assumed correlation of their evidence; weights are 1 / (1 + (n - 1) rho)
    rho: float = Field(ge=0, le=1)
    why: str = Field(min_length=20)


class Memory(Spec):
    """Decay of stale evidence: an earlier, stronger reading still counts, fading with age."""

    days: int = Field(default=56, ge=0, le=365)
    step_days: int = Field(default=7, ge=1, le=31)
    half_life_days: float = Field(default=21.0, gt=0)


class ForecastLink(Spec):
    """The statistical forecaster as evidence for this set (``vigil assess --forecast``).

    The forecaster's probability that political violence in ``countries`` escalates within
    ``horizon_months``, against its base rate, moves the set's escalatory rungs together:
    ``weight`` × the mean log-odds difference, which ``why`` justifies from the backtest.
    """

    countries: tuple[ISO3, ...] = Field(min_length=1)
    horizon_months: int = Field(default=3, ge=1, le=12)
    weight: float = Field(ge=0, le=1)
    why: str = Field(min_length=20)


class TextResolver(Patterns):
    """Documents that report the outcome as having happened (claims, denials and
    hypotheticals do not count), from enough outlets to rule out a single misreport; the
    patterns are those of an indicator's text rule."""

    #: the theatre topic whose coverage decides where the text can settle the outcome
    topic: str = Field(pattern=ID)
    min_documents: int = Field(default=2, ge=1)
    min_outlets: int = Field(default=2, ge=1)


class Resolver(Spec):
    """How the data settles an outcome: after the fact (the scenario backtest) and as it
    happens (an outcome observed under way on the as-of date).

    In a window (D, D + H] the outcome is true when at least ``min_events`` events matching
    ``events`` occurred in it, or when ``text`` finds ``min_documents`` occurrence reports
    from ``min_outlets`` outlets; it is settled (true or false) only where those sources
    cover the whole window. On the as-of date D it is **under way** when the same test
    holds over the last ``recent_days`` days, on what was available by D.
    """

    events: EventRule | None = None
    min_events: int = Field(default=1, ge=1)
    text: TextResolver | None = None
    why: str = Field(min_length=20)
    recent_days: int = Field(default=30, ge=1, le=180)
    #: yearly rate at which the outcome is seen again while under way: a rung observed
    #: under way reaches the horizon with probability 1 − exp(−rate·H/365)
    recurrence_rate: float = Field(default=4.0, gt=0, le=365)
    recurrence_why: str = Field(min_length=20)

    @model_validator(mode="after")
    def _some_source(self):
        if self.events is None and self.text is None:
            raise ValueError("a resolver needs events, text or both")
        return self


class Recommendation(Spec):
    """What to do once an outcome is this likely; the briefing prints it with its trigger."""

    at_probability: float = Field(gt=0, lt=1)
    text: str = Field(min_length=10)


class Outcome(Spec):
    """A named yes/no outcome: this set reaches at least this rung within the horizon."""

    id: str = Field(pattern=ID)
    at_least: str = Field(pattern=ID)
    question: str = Field(min_length=10)
    resolve: Resolver | None = None
    recommend: tuple[Recommendation, ...] = ()


class ScenarioSet(Spec):
    """One ladder with its priors, likelihoods, groups and outcomes."""

    id: str = Field(pattern=ID)
    name: str
    question: str = Field(min_length=10)
    scenarios: tuple[Scenario, ...] = Field(min_length=2)
    evidence: tuple[Likelihood, ...] = ()
    groups: tuple[Group, ...] = ()
    memory: Memory = Memory()
    outcomes: tuple[Outcome, ...] = ()
    forecast: ForecastLink | None = None

    def scenario_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.scenarios)

    def index(self, scenario_id: str) -> int:
        ids = self.scenario_ids()
        if scenario_id not in ids:
            raise InputError(
                f"set {self.id}: no scenario {scenario_id!r}", f"choose one of: {', '.join(ids)}"
            )
        return ids.index(scenario_id)

    @model_validator(mode="before")
    @classmethod
    def _tiers(cls, data, info: ValidationInfo):
        """Rows from tier names (``likelihoods.yaml``, passed as the validation context)."""
        tiers = (info.context or {}).get("tiers")
        if not isinstance(data, dict) or not isinstance(data.get("evidence"), list):
            return data
        rungs = [r.get("id") for r in data.get("scenarios") or [] if isinstance(r, dict)]
        evidence = [_resolve_tiers(e, i, rungs, tiers) for i, e in enumerate(data["evidence"])]
        return {**data, "evidence": evidence}

    @model_validator(mode="after")
    def _consistent(self):
        self._check_rungs()
        seen = self._check_evidence()
        grouped: set[str] = set()
        for i, g in enumerate(self.groups):
            if set(g.indicators) - seen:
                raise ValueError(
                    f"groups[{i}] ({g.id}): {sorted(set(g.indicators) - seen)} have no "
                    "likelihoods in this set"
                )
            if grouped & set(g.indicators):
                raise ValueError(f"groups[{i}] ({g.id}): an indicator is in two groups")
            grouped |= set(g.indicators)
        for i, o in enumerate(self.outcomes):
            if o.at_least not in self.scenario_ids()[1:]:
                raise ValueError(
                    f"outcomes[{i}] ({o.id}): at_least must be a rung above the bottom"
                )
        return self

    def _check_rungs(self) -> None:
        ids = self.scenario_ids()
        if len(set(ids)) != len(ids):
            raise ValueError("scenario ids must be unique")
        if self.scenarios[0].annual_rate is not None:
            raise ValueError(f"scenarios[0] ({ids[0]}) is the bottom rung: it takes no rate")
        for i, s in enumerate(self.scenarios[1:], start=1):
            if s.annual_rate is None or len(s.prior_basis) < 20:
                raise ValueError(
                    f"scenarios[{i}] ({s.id}) needs annual_rate and a prior_basis sentence"
                )
        rates = [s.annual_rate for s in self.scenarios[1:]]
        if any(b >= a for a, b in itertools.pairwise(rates)):
            raise ValueError(
                "annual_rate must fall strictly up the ladder (reaching a rung implies "
                "reaching the ones below; an equal rate leaves the lower rung no probability)"
            )

    def _check_evidence(self) -> set[str]:
        ids, seen = set(self.scenario_ids()), set()
        for i, lk in enumerate(self.evidence):
            if lk.indicator in seen:
                raise ValueError(f"evidence[{i}]: indicator {lk.indicator} appears twice")
            seen.add(lk.indicator)
            if set(lk.given) != ids:
                missing, extra = ids - set(lk.given), set(lk.given) - ids
                raise ValueError(
                    f"evidence[{i}] ({lk.indicator}): given must list every scenario"
                    + (f"; missing {sorted(missing)}" if missing else "")
                    + (f"; unknown {sorted(extra)}" if extra else "")
                )
        return seen


def _resolve_tiers(entry, i: int, rungs: list, tiers: LikelihoodTiers | None):
    """One evidence entry with its tier names turned into rows (and kept in ``tiers``)."""
    if not isinstance(entry, dict) or entry.get("quiet") is None:
        return entry
    where = f"evidence[{i}] ({entry.get('indicator')})"
    if tiers is None:
        raise ValueError(f"{where}: quiet and tier names need scenarios/likelihoods.yaml")
    quiet = entry["quiet"]
    if quiet not in tiers.quiet:
        raise ValueError(f"{where}.quiet: {quiet!r} is not one of {sorted(tiers.quiet)}")
    given, names = {}, {}
    for sid, value in (entry.get("given") or {}).items():
        if isinstance(value, str):
            if value not in tiers.tiers:
                raise ValueError(
                    f"{where}.given.{sid}: {value!r} is not one of {sorted(tiers.tiers)}"
                )
            row = tiers.row(quiet, value)
            if row[0] < MIN_NORMAL:
                raise ValueError(
                    f"{where}.given.{sid}: tier {value!r} on the quiet row {quiet!r} leaves "
                    f"P(normal) = {row[0]:.3f}: a sign raised this often without the rung "
                    "cannot be this diagnostic; use a weaker tier"
                )
            given[sid], names[sid] = row, value
        else:
            given[sid] = value
    if rungs and rungs[0] not in given:
        given[rungs[0]], names[rungs[0]] = tiers.quiet[quiet].row, f"quiet: {quiet}"
    pooled = entry.get("pooled", tiers.quiet[quiet].pooled)  # an entry may say otherwise
    return {**entry, "given": given, "tiers": names, "pooled": pooled}


class When(Spec):
    set: str = Field(pattern=ID)
    at_least: str = Field(pattern=ID)


class Coupling(Spec):
    """While ``when`` holds on a path, the hazard of reaching ``then`` is multiplied.

    ``probability`` < 1 makes the link uncertain: on each path it is drawn once, when
    ``when`` first holds, whether the link is active (an incident that is misread).
    """

    id: str = Field(pattern=ID)
    when: When
    then: When
    multiplier: float = Field(gt=0, le=1000)
    probability: float = Field(default=1.0, gt=0, le=1)
    why: str = Field(min_length=20)


class Chains(Spec):
    """``chains.yaml``: the couplings between sets used by the escalation simulation."""

    couplings: tuple[Coupling, ...] = ()


class Domain(Spec):
    id: str = Field(pattern=ID)
    name: str
    description: str = ""


class Level(Spec):
    """A consequence level on the 0–4 scale with its range and its reasoning."""

    low: float = Field(ge=0, le=4)
    likely: float = Field(ge=0, le=4)
    high: float = Field(ge=0, le=4)
    why: str = Field(min_length=20)

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low <= self.likely <= self.high:
            raise ValueError("levels must satisfy low <= likely <= high")
        return self


class ConsequenceRule(Spec):
    """Levels per domain once ``when`` holds at the end of the horizon."""

    when: When
    levels: dict[str, Level]


class Consequences(Spec):
    """``consequences.yaml``: levels for Europe (0 none … 4 severe) per end state.

    A path's level in a domain is the highest ``likely`` among the rules that hold at its end
    (with that rule's range); the baseline applies when none holds.
    """

    scale: tuple[str, str, str, str, str] = ("none", "low", "moderate", "high", "severe")
    domains: tuple[Domain, ...] = Field(min_length=1)
    baseline: dict[str, Level]
    rules: tuple[ConsequenceRule, ...] = ()


class ScenarioLibrary(Spec):
    """A theatre's scenario sets, couplings and consequences, cross-checked."""

    sets: tuple[ScenarioSet, ...]
    chains: Chains = Chains()
    consequences: Consequences | None = None
    likelihoods: LikelihoodTiers | None = None
    folder: str

    def text_rules(self) -> dict[str, TextRule]:
        """The outcome resolvers' text rules, keyed as stored in ``text_matches``."""
        return {
            f"{RESOLVE}{o.id}": o.resolve.text.rule()
            for _, o in self.outcomes()
            if o.resolve is not None and o.resolve.text is not None
        }

    def set(self, set_id: str) -> ScenarioSet:
        for s in self.sets:
            if s.id == set_id:
                return s
        raise InputError(
            f"no scenario set {set_id!r}", f"choose one of: {', '.join(s.id for s in self.sets)}"
        )

    def outcomes(self) -> list[tuple[ScenarioSet, Outcome]]:
        return [(s, o) for s in self.sets for o in s.outcomes]


def load_scenarios(theatre: TheatreSpec) -> ScenarioLibrary:
    """Load ``<theatre folder>/scenarios`` and check it against the theatre's indicators."""
    folder = Path(theatre.folder)
    sdir = folder / "scenarios"
    files = sorted(p for p in sdir.glob("*.yaml") if p.name not in SPECIAL_FILES)
    if not files:
        raise InputError(
            f"{sdir}: no scenario sets (*.yaml)", "add one; docs/SCENARIOS.md describes the keys"
        )
    likelihoods = (
        load_model(sdir / "likelihoods.yaml", LikelihoodTiers, folder, DOC)
        if (sdir / "likelihoods.yaml").is_file()
        else None
    )
    sets = tuple(
        load_model(p, ScenarioSet, folder, DOC, context={"tiers": likelihoods}) for p in files
    )
    chains = (
        load_model(sdir / "chains.yaml", Chains, folder, DOC)
        if (sdir / "chains.yaml").is_file()
        else Chains()
    )
    consequences = (
        load_model(sdir / "consequences.yaml", Consequences, folder, DOC)
        if (sdir / "consequences.yaml").is_file()
        else None
    )
    _cross_check(theatre, sets, chains, consequences, files)
    return ScenarioLibrary(
        sets=sets, chains=chains, consequences=consequences, likelihoods=likelihoods,
        folder=str(sdir),
    )  # fmt: skip


def _cross_check(theatre, sets, chains, consequences, files) -> None:
    by_id = _check_sets(theatre, sets, files)
    for i, c in enumerate(chains.couplings):
        _check_when(by_id, c.when, f"scenarios/chains.yaml: couplings[{i}].when")
        _check_when(by_id, c.then, f"scenarios/chains.yaml: couplings[{i}].then")
        if by_id[c.then.set].index(c.then.at_least) == 0:
            raise InputError(
                f"scenarios/chains.yaml: couplings[{i}].then: the bottom rung has no hazard",
                "name a rung above the bottom",
            )
    if consequences is None:
        return
    domains = {d.id for d in consequences.domains}
    where = "scenarios/consequences.yaml"
    if set(consequences.baseline) != domains:
        raise InputError(
            f"{where}: baseline must give every domain a level",
            f"domains: {', '.join(sorted(domains))}",
        )
    for i, rule in enumerate(consequences.rules):
        _check_when(by_id, rule.when, f"{where}: rules[{i}].when")
        if set(rule.levels) - domains:
            raise InputError(
                f"{where}: rules[{i}].levels: unknown domains {sorted(set(rule.levels) - domains)}",
                f"choose from: {', '.join(sorted(domains))}",
            )


def _check_sets(theatre, sets, files) -> dict[str, ScenarioSet]:
    known = {i.id for i in theatre.indicators}
    by_id: dict[str, ScenarioSet] = {}
    outcome_ids: set[str] = set()
    for path, s in zip(files, sets, strict=True):
        rel = f"scenarios/{path.name}"
        if s.id in by_id:
            raise InputError(f"{rel}: set id {s.id!r} is used twice", "give every set its own id")
        by_id[s.id] = s
        for i, lk in enumerate(s.evidence):
            if lk.indicator not in known:
                raise InputError(
                    f"{rel}: evidence[{i}].indicator: {lk.indicator!r} is not an indicator of "
                    f"theatre {theatre.theatre.id}",
                    f"choose one of: {', '.join(sorted(known))}",
                )
        borders = {b.id for b in theatre.theatre.borders}
        for i, o in enumerate(s.outcomes):
            if o.id in outcome_ids:
                raise InputError(f"{rel}: outcome id {o.id!r} is used twice", "rename one")
            outcome_ids.add(o.id)
            _check_resolver(theatre, rel, i, o)
            events = o.resolve.events if o.resolve else None
            unknown = set(events.near_borders) - borders if events else set()
            if unknown:
                raise InputError(
                    f"{rel}: outcomes[{i}].resolve.events.near_borders: {sorted(unknown)} not "
                    f"in the theatre's borders {sorted(borders)}",
                    "declare the border in theatre.yaml",
                )
            reach = theatre.border_reach_km()
            if events and events.near_borders and events.within_km > reach:
                raise InputError(
                    f"{rel}: outcomes[{i}].resolve.events.within_km: "
                    f"{events.within_km:g} km is beyond the {reach:g} km to which "
                    "border distances are registered (the indicators' widest near_borders rule)",
                    f"use {reach:g} km or less, or widen an indicator rule",
                )
    return by_id


def _check_resolver(theatre, rel: str, i: int, outcome: Outcome) -> None:
    text = outcome.resolve.text if outcome.resolve else None
    topics = {t.id for t in theatre.theatre.topics}
    if text is not None and text.topic not in topics:
        raise unknown_topic(f"{rel}: outcomes[{i}].resolve.text.topic", text.topic, topics)


def _check_when(by_id: dict[str, ScenarioSet], when: When, where: str) -> None:
    if when.set not in by_id:
        raise InputError(
            f"{where}: set {when.set!r} is unknown", f"choose one of: {', '.join(by_id)}"
        )
    if when.at_least not in by_id[when.set].scenario_ids():
        raise InputError(
            f"{where}: {when.at_least!r} is not a scenario of set {when.set}",
            f"choose one of: {', '.join(by_id[when.set].scenario_ids())}",
        )
