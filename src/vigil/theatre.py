"""Declarative theatre and indicator specs: YAML files validated into frozen models.

A theatre is a folder (``theatres/<id>/``) holding ``theatre.yaml`` and
``indicators/*.yaml``; adding a theatre needs no code. Every validation error names the
file and the key path (``indicators/buildup.yaml: evidence.events[0].categories[1]:
'FOO' is not a category``) and says what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vigil.errors import InputError
from vigil.patterns import REFUSED_HINT, PatternError, compile_pattern, matches_empty
from vigil.reference import taxonomy
from vigil.yamlload import describe, load_yaml, read_text

LANGUAGES = ("en", "pl", "ru", "uk", "be")
#: prefix of a theatre topic's rows in ``text_matches`` (not an indicator id)
TOPIC = "topic:"
ISO3 = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Spec(BaseModel):
    """Base: frozen, and unknown keys are errors (a typo must not silently do nothing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Border(Spec):
    """A land border segment between two countries, drawn from Natural Earth."""

    id: str = Field(pattern=r"^[A-Z]{3}-[A-Z]{3}$")
    note: str = ""

    @property
    def countries(self) -> tuple[str, str]:
        a, b = self.id.split("-")
        return a, b


class Actor(Spec):
    id: str
    name: str
    country: ISO3 | None = None
    note: str = ""


class CapabilitySeries(Spec):
    """An observation series the briefing reports as a level (posture and capability notes),
    not as an anomaly: where the war stands, whatever its baseline."""

    series: str
    geo: ISO3
    label: str
    #: level (a state, like territory held) and cumulative (a running tally): the change in
    #: the window against the window before; rate: the mean per day in each window
    measure: Literal["level", "cumulative", "rate"]
    unit: str = ""
    #: whose figure it is (a party's claim, a model's estimate): the briefing says so
    attribution: str = Field(min_length=1)


class Patterns(Spec):
    """Groups of text patterns, as in a :class:`TextRule`: a document matches when one
    pattern of every group occurs and no ``exclude`` pattern does (validated as a rule)."""

    #: groups of patterns, per language
    all: tuple[dict[str, tuple[str, ...]], ...] = Field(min_length=1)
    exclude: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def rule(self) -> TextRule:
        """The patterns as a text rule."""
        return TextRule(all=self.all, exclude=self.exclude)

    @model_validator(mode="after")
    def _valid_rule(self):
        self.rule()
        return self


class Topic(Patterns):
    """What the news must be talking about for a text indicator to see anything.

    A text indicator that names a topic is *observed* on a date only when its sources
    carried at least ``min_documents`` documents on the topic in the last 30 days (and, for
    its change reading, in its baseline): a feed that never mentions Belarus cannot report
    a build-up there, and its silence is no reassurance. Matched like a one-group text rule
    (stored as ``topic:<id>``).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    #: documents on the topic per 30 days below which its text indicators are blind
    min_documents: int = Field(default=10, ge=1)
    why: str = Field(min_length=20)


class Theatre(Spec):
    """``theatre.yaml``: the countries, actors and borders a theatre watches."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    description: str = ""
    countries: tuple[ISO3, ...] = Field(min_length=1)
    actors: tuple[Actor, ...] = ()
    borders: tuple[Border, ...] = ()
    #: Natural Earth admin-0 countries file (path relative to the data folder)
    boundaries: str = "natural_earth_admin0/ne_50m_admin_0_countries.geojson.gz"
    #: series the briefing's posture-and-capability notes report
    capability: tuple[CapabilitySeries, ...] = ()
    #: what text indicators need the news to cover to be observed (see :class:`Topic`)
    topics: tuple[Topic, ...] = ()


class EventRule(Spec):
    """Events that count as evidence: category, place, actors, sources."""

    categories: tuple[str, ...] = Field(min_length=1)
    #: events.mode values to keep (e.g. CIR's Russian vs Belarusian force presence); empty = any
    modes: tuple[str, ...] = ()
    countries: tuple[ISO3, ...] = ()
    actor_countries: tuple[ISO3, ...] = ()
    sources: tuple[str, ...] = ()
    near_borders: tuple[str, ...] = ()
    within_km: float = Field(default=50.0, gt=0, le=1000)
    weight: float = Field(default=1.0, gt=0)

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, cat in enumerate(value):
            if cat not in taxonomy.CATEGORIES:
                raise ValueError(
                    f"[{i}] {cat!r} is not a category (known: {', '.join(taxonomy.CATEGORIES)})"
                )
        return value


class SeriesRule(Spec):
    """An observation series used as evidence (summed over its dimensions per period)."""

    series: str
    geo: tuple[str, ...] = ()
    source: str | None = None
    weight: float = Field(default=1.0, gt=0)


class TextRule(Spec):
    """Documents matched by multilingual patterns.

    A document matches when, for every group in ``all``, at least one of the group's
    patterns (in any language) occurs, and no ``exclude`` pattern occurs. Patterns are
    case-insensitive regular expressions over title and body, written per language so
    the library says which languages it covers.
    """

    all: tuple[dict[str, tuple[str, ...]], ...] = Field(min_length=1)
    exclude: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0)
    #: exemplar sentences for the optional embedding matcher (vigil.text.embed)
    examples: tuple[str, ...] = ()
    #: the theatre topic (``theatre.yaml: topics``) the feeds must cover for this text to
    #: be observed; without one, only a missing feed total makes it blind
    topic: str | None = None
    #: how much a reading decided by this text alone counts in the scenario model: its
    #: log-likelihood ratio is multiplied by this (news reports, claims among them, are
    #: cheaper evidence than geolocated events or official figures)
    strength: float = Field(default=0.5, gt=0, le=1)

    @field_validator("all")
    @classmethod
    def _groups(cls, groups: tuple[dict[str, tuple[str, ...]], ...]):
        for gi, group in enumerate(groups):
            _check_patterns(group, f"[{gi}]")
        return groups

    @field_validator("exclude")
    @classmethod
    def _exclude(cls, group: dict[str, tuple[str, ...]]):
        _check_patterns(group, "")
        return group


def _check_patterns(group: dict[str, tuple[str, ...]], where: str) -> None:
    for lang, patterns in group.items():
        if lang not in LANGUAGES:
            raise ValueError(f"{where}.{lang}: unknown language (use {', '.join(LANGUAGES)})")
        for pi, pattern in enumerate(patterns):
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                at = f"{where}.{lang}[{pi}]"
                if exc.construct == "invalid syntax":
                    raise ValueError(f"{at}: bad pattern {pattern!r}: {exc.why}") from None
                raise ValueError(
                    f"{at}: pattern {pattern!r} uses {exc.construct} ({exc.why}); {REFUSED_HINT}"
                ) from None
            if matches_empty(pattern):
                raise ValueError(
                    f"{where}.{lang}[{pi}]: pattern {pattern!r} matches the empty string, so "
                    "every text: give the words it must find (e.g. `troops?` rather than "
                    "`(troops)?`)"
                )


class Evidence(Spec):
    events: tuple[EventRule, ...] = ()
    series: tuple[SeriesRule, ...] = ()
    text: TextRule | None = None


class Baseline(Spec):
    """Robust baseline over a trailing window that ends before the day assessed."""

    window_days: int = Field(default=365, ge=28, le=3650)
    min_days: int = Field(default=56, ge=7)
    smoothing_days: int = Field(default=7, ge=1, le=90)


class Thresholds(Spec):
    """Robust z-score cut-offs for the states elevated and high."""

    elevated: float = Field(default=2.0, gt=0)
    high: float = Field(default=4.0, gt=0)


class Level(Spec):
    """A level reading: the indicator's evidence of one kind against a fixed, date-free
    reference, so a condition that lasts keeps counting after its anomaly fades and a
    source with no quiet history still says something.

    The value over the last ``window_days`` days of data: for ``events``, the (weighted)
    count of matching events (``statistic: sum``); for ``series``, the sum or mean of the
    series' daily values; for ``text``, the matched documents as a percentage of the
    documents on the indicator's topic (claims weighted as in the text series).
    """

    kind: Literal["events", "series", "text"]
    #: for ``kind: series``: which of the indicator's series rules (its ``series`` name)
    series: str | None = None
    window_days: int = Field(default=30, ge=7, le=365)
    statistic: Literal["sum", "mean"] = "sum"
    #: what the number counts, e.g. "geolocated reports of Russian forces in Belarus"
    unit: str = Field(min_length=3)
    elevated: float = Field(gt=0)
    high: float = Field(gt=0)
    #: why these cut-offs, from the source and the reference class, with no date
    why: str = Field(min_length=20)

    @model_validator(mode="after")
    def _ordered(self):
        if self.high <= self.elevated:
            raise ValueError("level: high must exceed elevated")
        if (self.kind == "series") != (self.series is not None):
            raise ValueError("level: name a series exactly when kind is series")
        return self


class Indicator(Spec):
    """One indicator: what it watches, the evidence rules, baseline and thresholds."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    group: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    direction: Literal["escalatory", "de-escalatory", "context"] = "escalatory"
    rationale: str = Field(min_length=20)
    evidence: Evidence
    baseline: Baseline = Baseline()
    thresholds: Thresholds = Thresholds()
    #: level readings next to the anomaly (change) reading, one per evidence kind at most
    level: tuple[Level, ...] = ()


class TheatreSpec(Spec):
    """A theatre with its indicator library, as loaded from its folder."""

    theatre: Theatre
    indicators: tuple[Indicator, ...]
    folder: str

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        known = ", ".join(i.id for i in self.indicators)
        raise InputError(
            f"no indicator {indicator_id!r} in theatre {self.theatre.id}", f"choose one of: {known}"
        )

    def border_reach_km(self) -> float:
        """How far from its borders event distances are registered: the widest
        ``near_borders`` rule of its indicators (200 km when none names a border). Anything
        else that filters by border distance (an outcome's resolver) must stay within it."""
        km = [r.within_km for i in self.indicators for r in i.evidence.events if r.near_borders]
        return max(km, default=200.0)


def theatres_root() -> Path:
    """The folder holding one sub-folder per theatre (``theatres/`` at the repo root)."""
    return Path(__file__).resolve().parents[2] / "theatres"


def load_theatre(name_or_path: str | Path, root: Path | None = None) -> TheatreSpec:
    """Load and validate a theatre folder (by id under ``theatres/``, or by path)."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        folder = (root or theatres_root()) / str(name_or_path)
    if not (folder / "theatre.yaml").is_file():
        known = sorted(p.parent.name for p in (root or theatres_root()).glob("*/theatre.yaml"))
        raise InputError(
            f"no theatre at {folder} (theatre.yaml missing)",
            f"known theatres: {', '.join(known) or 'none'}",
        )
    theatre = load_model(folder / "theatre.yaml", Theatre, folder)
    indicators = tuple(
        load_model(p, Indicator, folder) for p in sorted((folder / "indicators").glob("*.yaml"))
    )
    if not indicators:
        raise InputError(
            f"{folder}/indicators: no indicator specs (*.yaml)", "add at least one indicator file"
        )
    _check_library(folder, theatre, indicators)
    return TheatreSpec(theatre=theatre, indicators=indicators, folder=str(folder))


def load_model(
    path: Path,
    model: type[Spec],
    folder: Path,
    doc: str = "docs/INDICATORS.md",
    context: dict | None = None,
):
    """``path`` parsed as YAML and validated into ``model`` (with pydantic's validation
    ``context``); errors name the file (relative to ``folder``) and the key path, and point
    to ``doc``."""
    rel = path.relative_to(folder)
    data, lines = load_yaml(read_text(path, str(rel)), str(rel))
    if not isinstance(data, dict):
        raise InputError(f"{rel}: expected a mapping of keys", f"see {doc}")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        where, msg, line = describe(exc, model, lines)
        at = f"{where}: " if where else ""  # a whole-model check names its key path itself
        place = f"{rel}:{line}" if line else str(rel)
        raise InputError(
            f"{place}: {at}{msg}", f"fix the spec; {doc} describes every key"
        ) from None


def _check_library(folder: Path, theatre: Theatre, indicators: tuple[Indicator, ...]) -> None:
    seen: dict[str, int] = {}
    borders = {b.id for b in theatre.borders}
    for ind in indicators:
        if ind.id in seen:
            raise InputError(
                f"{folder}/indicators: indicator id {ind.id!r} is used twice",
                "give every indicator a unique id",
            )
        seen[ind.id] = 1
        if ind.thresholds.high <= ind.thresholds.elevated:
            raise InputError(
                f"{ind.id}: thresholds.high must exceed thresholds.elevated",
                "e.g. elevated: 2, high: 4",
            )
        for i, rule in enumerate(ind.evidence.events):
            unknown = set(rule.near_borders) - borders
            if unknown:
                raise InputError(
                    f"{ind.id}: evidence.events[{i}].near_borders: {sorted(unknown)} not in "
                    f"theatre borders {sorted(borders)}",
                    "declare the border in theatre.yaml",
                )
        if not (ind.evidence.events or ind.evidence.series or ind.evidence.text):
            raise InputError(
                f"{ind.id}: evidence has no events, series or text rule",
                "give the indicator at least one evidence rule",
            )
        _check_levels(ind, {t.id for t in theatre.topics})


def unknown_topic(where: str, topic: str, topics: set[str]) -> InputError:
    known = ", ".join(sorted(topics)) or "none"
    return InputError(
        f"{where}: {topic!r} is not a topic of the theatre",
        f"declare it under topics in theatre.yaml (known: {known})",
    )


def _check_levels(ind: Indicator, topics: set[str]) -> None:
    """Text topics exist; each level reads a kind the indicator has, once."""
    text = ind.evidence.text
    if text is not None and text.topic is not None and text.topic not in topics:
        raise unknown_topic(f"{ind.id}: evidence.text.topic", text.topic, topics)
    seen: set[str] = set()
    for i, lv in enumerate(ind.level):
        where = f"{ind.id}: level[{i}]"
        key = lv.kind if lv.kind != "series" else f"series:{lv.series}"
        if key in seen:
            raise InputError(f"{where}: a second level for {key}", "keep one level per kind")
        seen.add(key)
        missing = (
            (lv.kind == "events" and not ind.evidence.events)
            or (lv.kind == "text" and text is None)
            or (lv.kind == "series" and lv.series not in {r.series for r in ind.evidence.series})
        )
        if missing:
            raise InputError(
                f"{where}: the indicator has no {key} evidence to read a level from",
                "add the evidence rule or drop the level",
            )
        if lv.kind == "text" and text.topic is None:
            raise InputError(
                f"{where}: a text level is a share of the documents on a topic",
                "name the topic in evidence.text.topic",
            )
