"""The JSON API's responses, typed: what ``/api/openapi.json`` promises each route returns.

Each route validates what it returns against its model, so the schema cannot drift from the
data (and the schema fuzz test, tests/test_web_fuzz.py, checks real responses against it).
Models allow extra keys: the dicts of :mod:`vigil.web.data` are the source of truth, and a key
added there must reach the API rather than be dropped silently. Deeply nested parts of a
stored assessment (contributions, evidence, drivers) are typed as objects: they are the
stored document, shown whole, and their shape belongs to :mod:`vigil.service.assess`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


Object = dict[str, Any]


class ErrorBody(_Model):
    """What went wrong and what to do (404 not there, 409 not in the store, 503 busy)."""

    error: str
    hint: str | None = None


class BusyBody(ErrorBody):
    """503: the server is computing something expensive; ask again after ``retry_after``
    seconds (also in the ``Retry-After`` header)."""

    retry_after: int


class Invalid(_Model):
    """422: a parameter out of range (FastAPI's ``detail`` list) or inconsistent with the
    store (``error`` and ``hint``)."""

    detail: list[Object] | None = None
    error: str | None = None
    hint: str | None = None


class WatchCycle(_Model):
    """The last `vigil watch` cycle of the theatre."""

    cycle_id: int
    started_at: str
    finished_at: str | None
    status: str
    as_of: str | None


class SourceFreshness(_Model):
    source: str
    records: int
    last: str | None  #: the last date its records cover
    available_until: str | None  #: when its last record became available
    loaded_at: str | None  #: when its last file was loaded


class Freshness(_Model):
    """What is served and how fresh: the store itself or the snapshot `vigil watch`
    published (when), the last cycle (None: never), and each source's last data."""

    served_from: Literal["store", "snapshot"]
    published_at: str | None
    last_cycle: WatchCycle | None
    sources: list[SourceFreshness]


class Health(_Model):
    status: str
    theatre: str
    model_hash: str
    horizon_days: int
    stored_assessments: int
    freshness: Freshness


class Alert(_Model):
    id: str
    rule: str  #: the rule's id in the theatre spec
    kind: str  #: band, move, state, observed, silent
    subject: str  #: the outcome, indicator or source
    as_of: str
    message: str
    raised_at: str
    evidence: Any = None  #: what caused it, as stored


class Alerts(_Model):
    """Alerts raised by the theatre's rules, newest first (``total`` counts them all)."""

    total: int
    shown: int
    items: list[Alert]


class TrendPoint(_Model):
    as_of: str
    probability: float


class OverviewScenario(_Model):
    id: str
    name: str
    probability: float
    interval: list[float]
    words: str
    change: float | None
    trend: list[TrendPoint]


class OverviewSet(_Model):
    id: str
    name: str
    question: str
    leading: str
    readings_used: int
    indicators: int
    coverage: Object | None = None
    observed: list[Any] = []
    scenarios: list[OverviewScenario]


class Outcome(_Model):
    id: str
    set: str
    at_least: str
    question: str
    probability: float
    interval: list[float]
    prior: float
    observed: Any = None


class OverviewOutcome(Outcome):
    words: str


class Overview(_Model):
    theatre: str
    theatre_name: str
    as_of: str
    previous_as_of: str | None
    horizon_days: int
    model_hash: str
    stored_assessments: int
    outcomes: list[OverviewOutcome]
    sets: list[OverviewSet]
    coverage: Object | None = None


class Assessments(_Model):
    horizon_days: int
    dates: list[str]


class AssessedSet(_Model):
    id: str
    name: str
    leading: str
    scenarios: list[Object]


class Assessment(_Model):
    theatre: str
    as_of: str
    horizon_days: int
    model_hash: str
    scenario_sets: list[AssessedSet]
    outcomes: list[Outcome]


class OutcomeChange(_Model):
    id: str
    before: float
    after: float
    change: float


class Changes(_Model):
    from_: str | None = Field(alias="from")
    to: str
    same_model: bool
    sets: list[Object]
    outcomes: list[OutcomeChange]


class HistoryPoint(_Model):
    as_of: str
    probability: float
    interval: list[float]
    observed: bool


class HistoryScenario(_Model):
    id: str
    name: str
    points: list[HistoryPoint]


class History(_Model):
    set: str
    horizon_days: int
    scenarios: list[HistoryScenario]


class Named(_Model):
    id: str
    name: str


class AchRow(_Model):
    indicator: str
    state: str | None
    marks: dict[str, str]
    llr: dict[str, float]


class Sensitivity(_Model):
    indicator: str
    state_now: str | None
    state_if: str | None
    leading_if: str
    changes_leading: bool
    shift: float


class Ach(_Model):
    set: str
    as_of: str
    scenarios: list[Named]
    leading: str
    rows: list[AchRow]
    inconsistency: dict[str, float]
    sensitivity: list[Sensitivity]


class Indicator(_Model):
    id: str
    name: str
    group: str | None
    direction: str | None
    elevated: float
    high: float
    state: str | None
    reading_date: str | None


class TimelinePoint(_Model):
    as_of: str
    score: float | None
    state: str | None


class Timeline(_Model):
    id: str
    name: str
    elevated: float
    high: float
    points: list[TimelinePoint]


class EvidenceItem(_Model):
    kind: Literal["document", "event"]
    source: str
    source_id: str
    day: str
    text: str | None
    outlet: str | None
    category: str | None
    country: str | None
    location: str | None
    url: str | None
    indicators: list[str]


class Evidence(_Model):
    total: int
    limit: int
    offset: int
    items: list[EvidenceItem]


class MapPoint(_Model):
    source: str
    id: str
    date: str
    category: str | None
    country: str | None
    location: str | None
    title: str | None
    lon: float
    lat: float
    url: str | None


class MapEvents(_Model):
    total: int
    shown: int
    points: list[MapPoint]


class Capability(_Model):
    as_of: str
    window_days: int
    series: list[Object]


class Simulation(_Model):
    as_of: str
    horizon_days: int
    paths: int
    seed: int
    sets: list[Object]
    couplings: list[Object]
    consequences: list[Object]


class Briefing(_Model):
    name: str
    theatre: str
    as_of: str
    files: list[str]
