"""One dated assessment: indicator readings → scenario sets → outcomes, with the audit trail.

:func:`assess` reads every indicator a scenario set uses on the as-of date and on the dates
of the sets' memory (each reading as known on its own date: no look-ahead; observed or
blind, :mod:`vigil.indicators.readings`), finds the outcomes already under way
(:mod:`vigil.scenarios.resolve`) and the false alarms of the raised indicators
(:mod:`vigil.scenarios.history`), updates each set (:mod:`vigil.scenarios.bayes`), derives
the outcomes, attaches the evidence items behind every contribution, and computes the ACH
matrix, the sensitivity of each set's call and how much of the evidence was seen.
:func:`replay` does the same for a range of dates from one evidence load. The JSON form
(:func:`assessment_json`) is what is stored (:mod:`vigil.scenarios.audit`), printed by
``vigil assess --format json`` and diffed by ``--since``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vigil.analyst.store import notes_by_id
from vigil.indicators import readings as R  # noqa: N812
from vigil.indicators.evidence import EvidenceItem, EvidenceRange
from vigil.scenarios import audit
from vigil.scenarios.analysis import ach_matrix, sensitivity
from vigil.scenarios.bayes import ExtraEvidence, Reading, SetAssessment, assess_set, on_grid
from vigil.scenarios.history import FalseAlarms, false_alarms, history_dates
from vigil.scenarios.resolve import OutcomeResolver, load_resolvers, observed_on, occurred_in
from vigil.scenarios.simulate import Simulation, simulate
from vigil.scenarios.spec import STATES, ScenarioLibrary, ScenarioSet
from vigil.service.look import evidence_json
from vigil.theatre import TheatreSpec

#: bump when the model's arithmetic changes: stored assessments of another version are
#: kept apart (part of the model hash)
MODEL_VERSION = "scenarios-2"
#: the horizon whose posterior stands for "now" (the simulation's starting state)
NOW_DAYS = 7
SIM_PATHS = 20_000  #: paths for the briefing and the dashboard: percentages to one decimal
EVIDENCE_PER_READING = 3


@dataclass(frozen=True)
class OutcomeResult:
    id: str
    set_id: str
    at_least: str
    question: str
    probability: float
    interval: tuple[float, float]
    prior: float = 0.0
    observed: dict | None = None  #: since, probability floor, evidence: under way on the date


@dataclass(frozen=True)
class Coverage:
    """How much of a set's evidence was seen: indicators observed on the as-of date, those
    seen only earlier in the memory window (their last observed reading counts, decayed),
    and the blind ones with the reasons of their latest reading."""

    observed: tuple[str, ...]
    earlier: tuple[tuple[str, dt.date], ...]
    blind: tuple[tuple[str, tuple[str, ...]], ...]
    #: of the observed and earlier ones, those read from an analyst's graded note
    noted: tuple[str, ...] = ()

    def summary(self) -> str:
        total = len(self.observed) + len(self.earlier) + len(self.blind)
        text = f"{len(self.observed)} of {total} indicators observed"
        if self.noted:
            text += f" ({len(self.noted)} from analyst notes)"
        if self.earlier:
            last = max(d for _, d in self.earlier)
            text += f", {len(self.earlier)} more only earlier (latest data {last})"
        return text + (f"; blind: {', '.join(i for i, _ in self.blind)}" if self.blind else "")


@dataclass(frozen=True)
class EvidenceBase:
    """What all of an assessment's numbers rest on, said first in every output: which
    sources reach the date, how many indicators were observed (and how many of those only
    through analyst notes), which are blind, and what that means for reading the numbers."""

    as_of: dt.date
    sources: tuple  #: :class:`vigil.coverage.SourceReach` of every source
    observed: tuple[str, ...]
    earlier: tuple[str, ...]
    blind: tuple[str, ...]
    from_notes: tuple[str, ...]

    def reaches(self, r) -> bool:
        """A source reaches the date when it had begun by then and delivered within the
        coverage window before it (or later)."""
        return (
            r.last is not None
            and r.first is not None
            and r.first <= self.as_of
            and (self.as_of - r.last).days <= R.COVERAGE_DAYS
        )

    def meaning(self) -> str:
        total = len(self.observed) + len(self.earlier) + len(self.blind)
        if total == 0:
            return "No indicator is used: the numbers are the priors."
        text = (
            "Most indicators are blind on this date, so the probabilities stay close to the "
            "priors: they say how little was seen, not that all is calm."
            if len(self.blind) * 2 >= total
            else f"{len(self.blind)} blind indicator(s) neither raise nor lower the odds."
            if self.blind
            else "Every indicator was read."
        )
        if self.from_notes:
            text += (
                f" {len(self.from_notes)} reading(s) come only from analyst notes, weighed by "
                "their Admiralty grades."
            )
        return text

    def summary(self) -> str:
        total = len(self.observed) + len(self.earlier) + len(self.blind)
        feeds = [r for r in self.sources if r.kind in ("events", "documents")]
        reach = [r for r in feeds if self.reaches(r)]
        short = [r for r in feeds if not self.reaches(r)]
        analyst = [r for r in self.sources if r.kind == "analyst" and r.first <= self.as_of]
        text = f"{len(self.observed)} of {total} indicators observed"
        if self.from_notes:
            text += f" ({len(self.from_notes)} from analyst notes)"
        if self.earlier:
            text += f", {len(self.earlier)} only earlier"
        text += f", {len(self.blind)} blind. "
        text += "Event and news sources reaching the date: " + (
            ", ".join(r.source for r in reach) or "none"
        )
        if short:
            text += "; ending earlier: " + ", ".join(
                f"{r.source} ({r.last or 'no data'})" for r in short
            )
        if analyst:
            text += f"; analyst documents: {sum(r.records for r in analyst)} passages"
        return text + "."

    def as_json(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "summary": self.summary(),
            "meaning": self.meaning(),
            "sources": [
                {
                    "source": r.source,
                    "kind": r.kind,
                    "records": r.records,
                    "first": r.first and r.first.isoformat(),
                    "last": r.last and r.last.isoformat(),
                    "reaches_date": self.reaches(r),
                }
                for r in self.sources
            ],
            "indicators": {
                "observed": list(self.observed),
                "from_notes": list(self.from_notes),
                "earlier": list(self.earlier),
                "blind": list(self.blind),
            },
        }


def evidence_base(
    con, theatre: TheatreSpec, as_of: dt.date, coverage: Mapping, reach: Sequence | None = None
) -> EvidenceBase:
    """The :class:`EvidenceBase` of an assessment from its sets' coverage (``reach``: the
    sources' reach, when a replay has read it once for all its dates)."""
    from vigil.coverage import source_reach

    observed, earlier, blind, noted = set(), set(), set(), set()
    for cov in coverage.values():
        observed |= set(cov.observed)
        earlier |= {i for i, _ in cov.earlier}
        blind |= {i for i, _ in cov.blind}
        noted |= set(cov.noted)
    earlier -= observed
    blind -= observed | earlier
    return EvidenceBase(
        as_of, tuple(reach if reach is not None else source_reach(con, theatre)),
        tuple(sorted(observed)),
        tuple(sorted(earlier)), tuple(sorted(blind)), tuple(sorted(noted)),
    )  # fmt: skip


@dataclass(frozen=True)
class Assessment:
    theatre: str
    as_of: dt.date
    horizon_days: int
    model_hash: str
    sets: tuple[SetAssessment, ...]
    outcomes: tuple[OutcomeResult, ...]
    library: ScenarioLibrary = field(repr=False, compare=False)
    readings: dict[str, list[Reading]] = field(repr=False, compare=False, default_factory=dict)
    evidence: dict[tuple[str, dt.date], list[EvidenceItem]] = field(
        repr=False, compare=False, default_factory=dict
    )
    coverage: dict[str, Coverage] = field(repr=False, compare=False, default_factory=dict)
    false_alarms: dict[str, dict[str, FalseAlarms]] = field(
        repr=False, compare=False, default_factory=dict
    )
    #: the analyst notes that decided a contribution's reading, by id (grade, basis, why)
    notes: dict[str, dict] = field(repr=False, compare=False, default_factory=dict)
    base: EvidenceBase | None = field(repr=False, compare=False, default=None)


def model_hash(
    theatre: TheatreSpec, library: ScenarioLibrary, extra: Sequence[ExtraEvidence] = ()
) -> str:
    """What an assessment depends on besides the data: specs, extra evidence, model version."""
    payload = json.dumps(
        [
            MODEL_VERSION,
            # capability series are reported, never weighed: they leave the hash alone
            theatre.model_dump(exclude={"folder": True, "theatre": {"capability": True}}),
            # recommendations are printed, never weighed: they leave the hash alone too
            library.model_dump(
                exclude={
                    "folder": True,
                    "sets": {"__all__": {"outcomes": {"__all__": {"recommend"}}}},
                }
            ),
            sorted(e.id for e in extra),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def memory_dates(library: ScenarioLibrary, as_of: dt.date) -> list[dt.date]:
    """The as-of date and every earlier date a set's memory reads."""
    days = {as_of}
    for s in library.sets:
        m = s.memory
        days |= {
            as_of - dt.timedelta(days=j * m.step_days) for j in range(m.days // m.step_days + 1)
        }
    return sorted(days)


def used_indicators(library: ScenarioLibrary) -> list[str]:
    return sorted({lk.indicator for s in library.sets for lk in s.evidence})


def read_indicators(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    dates: Iterable[dt.date],
    indicator_ids: Iterable[str] | None = None,
    *,
    reader: R.Reader | None = None,
) -> dict[str, list[Reading]]:
    """Readings of every indicator the sets use (or those named), on each date, observed or
    blind (one evidence load, or ``reader``'s; :mod:`vigil.indicators.readings`)."""
    ids = list(indicator_ids) if indicator_ids is not None else used_indicators(library)
    days = sorted(set(dates))
    if not days:
        return {i: [] for i in ids}
    read = (reader or R.Reader(con, theatre, days[0], days[-1], ids)).read(days, ids)
    return {ind: [_reading(r) for r in rows] for ind, rows in read.items()}


def _reading(r: R.IndicatorReading) -> Reading:
    return Reading(
        r.indicator, r.day, r.state, r.observed, r.strength,
        r.driver.describe() if r.driver else "", tuple(r.reasons),
        r.driver.note if r.driver else None,
    )  # fmt: skip


def reader_for(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    as_of: dt.date,
    horizons: Iterable[int],
    indicator_ids: Iterable[str] | None = None,
    *,
    notes: bool = True,
) -> R.Reader:
    """One load of what assessing ``as_of`` at each of ``horizons`` reads: the memory
    dates and the false-alarm history, for the library's indicators (or those named)."""
    days = [*memory_dates(library, as_of), *(d for h in horizons for d in history_dates(as_of, h))]
    ids = used_indicators(library) if indicator_ids is None else indicator_ids
    return R.Reader(con, theatre, min(days), as_of, ids, notes=notes)


def history_needed(library: ScenarioLibrary, days: Iterable[dt.date], horizon: int) -> list:
    """Every date a replay of ``days`` reads: the memory grids and the false-alarm history."""
    out = set()
    for day in days:
        out |= set(memory_dates(library, day)) | set(history_dates(day, horizon))
    return sorted(out)


def assess(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    as_of: dt.date,
    horizon_days: int,
    *,
    extra: Sequence[ExtraEvidence] = (),
    readings: dict[str, list[Reading]] | None = None,
    resolvers: dict[str, OutcomeResolver] | None = None,
    with_evidence: bool = True,
    evidence: EvidenceRange | None = None,
    reader: R.Reader | None = None,
    reach: Sequence | None = None,
) -> Assessment:
    """Every set of ``library`` as of ``as_of`` for ``horizon_days`` (see the module doc).

    ``readings`` and ``resolvers`` may be passed when many dates are assessed from one load
    (:func:`replay`); readings the false-alarm history needs and the given ones lack are
    read here, for the raised indicators only, from ``reader`` (:func:`reader_for`) when
    one is given: a caller assessing one date at several horizons loads the store once.
    """
    if readings is None:
        reader = reader or reader_for(con, theatre, library, as_of, [horizon_days])
        readings = read_indicators(
            con, theatre, library, memory_dates(library, as_of), reader=reader
        )
    if resolvers is None:
        resolvers = load_resolvers(con, theatre, library)
    history = _with_history(con, theatre, library, readings, as_of, horizon_days, reader)
    readings = _memory_window(library, history, as_of)  # what the sets weigh
    sets, alarms = [], {}
    for s in library.sets:
        alarms[s.id] = false_alarms(
            s, history, as_of, horizon_days, occurred_in(resolvers, s),
            _raised(s, readings, as_of),
        )  # fmt: skip
        contributed = [c for e in extra for c in e.contributions(s, as_of, horizon_days)]
        bounds = {i: fa.rates for i, fa in alarms[s.id].items()}
        observed = observed_on(resolvers, s, as_of, horizon_days)
        sets.append(
            assess_set(
                s,
                readings,
                as_of,
                horizon_days,
                extra=contributed,
                bounds=bounds,
                observed=observed,
            )
        )
    outcomes = [
        _outcome(o, s, r) for s, r in zip(library.sets, sets, strict=True) for o in s.outcomes
    ]
    items = _evidence(con, theatre, sets, evidence) if with_evidence else {}
    noted = {c.basis for r in sets for c in r.contributions if c.basis}
    cover = {s.id: coverage(s, r, readings, as_of) for s, r in zip(library.sets, sets, strict=True)}
    return Assessment(
        theatre=theatre.theatre.id,
        as_of=as_of,
        horizon_days=horizon_days,
        model_hash=model_hash(theatre, library, extra),
        sets=tuple(sets),
        outcomes=tuple(outcomes),
        library=library,
        readings=readings,
        evidence=items,
        coverage=cover,
        false_alarms=alarms,
        notes=notes_by_id(con, theatre.theatre.id, noted) if noted and with_evidence else {},
        base=evidence_base(con, theatre, as_of, cover, reach) if with_evidence else None,
    )


def _outcome(o, s: ScenarioSet, result: SetAssessment) -> OutcomeResult:
    p, interval = result.at_least(o.at_least)
    k = s.index(o.at_least)
    obs = next((x for x in result.observed if x.rung >= k), None)
    observed = None
    if obs is not None:
        observed = {
            "outcome": obs.outcome,
            "since": obs.since.isoformat(),
            "probability": round(obs.probability, 4),
            "evidence": list(obs.evidence),
        }
    return OutcomeResult(
        o.id, s.id, o.at_least, o.question, p, interval, float(sum(result.prior[k:])), observed
    )


def _raised(s: ScenarioSet, readings: dict[str, list[Reading]], as_of: dt.date) -> set[str]:
    """The set's indicators with an elevated or high reading on its memory grid: the only
    ones whose false alarms can change their contribution (``normal`` is never bounded)."""
    return {
        lk.indicator
        for lk in s.evidence
        if any(r.state in STATES[1:] for r in on_grid(s, readings.get(lk.indicator, ()), as_of))
    }


def _memory_window(library: ScenarioLibrary, readings: dict, as_of: dt.date) -> dict:
    """The readings a set's memory can use on ``as_of`` (a replay holds years of them)."""
    first = as_of - dt.timedelta(days=max(s.memory.days for s in library.sets))
    return {i: [r for r in rows if first <= r.day <= as_of] for i, rows in readings.items()}


def _with_history(con, theatre, library, readings, as_of: dt.date, horizon: int, reader) -> dict:
    """``readings`` with the false-alarm history of the raised indicators added where it
    is missing (a replay passes it in; a single assessment reads it here)."""
    raised = set().union(*(_raised(s, readings, as_of) for s in library.sets))
    dates = history_dates(as_of, horizon)
    missing = {
        i for i in raised if not {r.day for r in readings.get(i, ())} >= set(dates)
    }  # fmt: skip
    if not missing or not dates:
        return readings
    more = read_indicators(con, theatre, library, dates, sorted(missing), reader=reader)
    merged = dict(readings)
    for ind, rows in more.items():
        known = {r.day for r in readings.get(ind, ())}
        merged[ind] = sorted([*readings.get(ind, ()), *(r for r in rows if r.day not in known)],
                             key=lambda r: r.day)  # fmt: skip
    return merged


def coverage(
    s: ScenarioSet, result: SetAssessment, readings: dict[str, list[Reading]], as_of: dt.date
) -> Coverage:
    """Which of the set's indicators were observed on the date (data of the last 30 days),
    only earlier (an earlier reading of the memory window, or data a month old or more),
    or not at all (blind, with why: the reasons of their latest reading)."""
    seen = {c.indicator: c for c in result.contributions if c.source == "indicator"}
    noted = tuple(i for i, c in seen.items() if c.basis)
    now, earlier, blind = [], [], []
    for lk in s.evidence:
        if lk.indicator in seen:
            latest = on_grid(s, readings.get(lk.indicator, ()), as_of)[0]
            fresh = (as_of - latest.data_day).days <= R.COVERAGE_DAYS
            if latest.day == as_of and fresh:
                now.append(lk.indicator)
            else:  # an earlier reading, or today's carried from data a month old or more
                earlier.append((lk.indicator, latest.data_day))
            continue
        latest = [r for r in readings.get(lk.indicator, ()) if r.day <= as_of]
        last = max(latest, key=lambda r: r.day) if latest else None
        reasons = last.reasons if last is not None else ("no reading",)
        blind.append((lk.indicator, reasons or ("no observed reading in the memory window",)))
    return Coverage(tuple(now), tuple(earlier), tuple(blind), noted)


def stored_or_new(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    as_of: dt.date,
    horizon_days: int,
    *,
    extra: Sequence[ExtraEvidence] = (),
    store: bool = True,
) -> dict:
    """The stored assessment JSON of this date, horizon and model, or a new one (stored
    unless ``store`` is False)."""
    found = audit.load(
        con, theatre.theatre.id, as_of, horizon_days, model_hash(theatre, library, extra)
    )
    if found is None:
        found = assessment_json(assess(con, theatre, library, as_of, horizon_days, extra=extra))
        if store:
            audit.save(con, found)
    return found


def simulate_from(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    as_of: dt.date,
    end: Mapping[str, Sequence[float]],
    horizon_days: int,
    *,
    reader: R.Reader | None = None,
    resolvers: dict[str, OutcomeResolver] | None = None,
    paths: int = SIM_PATHS,
    seed: int = 0,
) -> Simulation:
    """Escalation chains from ``as_of``: paths start from the :data:`NOW_DAYS` assessment
    and reach ``end`` (each set's rung probabilities at the horizon); ``reader`` and
    ``resolvers`` as the horizon's assessment used them (:func:`reader_for` with both
    horizons), so the store is loaded once."""
    now = assess(con, theatre, library, as_of, NOW_DAYS, reader=reader, resolvers=resolvers,
                 with_evidence=False)  # fmt: skip
    start = {s.set_id: s.probability for s in now.sets}
    return simulate(library, start, end, horizon_days, paths=paths, seed=seed)


def replay(
    con,
    theatre: TheatreSpec,
    library: ScenarioLibrary,
    dates: Sequence[dt.date],
    horizon_days: int,
    *,
    extra: Sequence[ExtraEvidence] = (),
    with_evidence: bool = True,
) -> list[Assessment]:
    """:func:`assess` on each date, from one evidence load (each with its evidence items,
    so a stored replay is as complete as a direct assessment; a backtest, which only scores
    probabilities, passes ``with_evidence=False``)."""
    if not dates:
        return []
    readings = read_indicators(con, theatre, library, history_needed(library, dates, horizon_days))
    resolvers = load_resolvers(con, theatre, library)
    cache, reach = None, None
    if with_evidence:
        from vigil.coverage import source_reach

        reach = source_reach(con, theatre)
        inds = tuple(theatre.indicator(i) for i in used_indicators(library))
        first = min(dates) - dt.timedelta(days=max(s.memory.days for s in library.sets))
        cache = EvidenceRange(con, theatre.theatre.id, inds, first, max(dates))
    return [
        assess(
            con,
            theatre,
            library,
            day,
            horizon_days,
            extra=extra,
            readings=readings,
            resolvers=resolvers,
            with_evidence=with_evidence,
            evidence=cache,
            reach=reach,
        )
        for day in dates
    ]


def _evidence(
    con, theatre: TheatreSpec, sets, cache: EvidenceRange | None = None
) -> dict[tuple[str, dt.date], list[EvidenceItem]]:
    """Evidence items behind each contribution, from the day its data ends (``observed``);
    ``cache``: the evidence rows of a replay's whole range, fetched once."""
    wanted: dict[dt.date, set[str]] = {}
    for s in sets:
        for c in s.contributions:
            if c.source == "indicator" and c.observed is not None:
                wanted.setdefault(c.observed, set()).add(c.indicator)
    if not wanted:
        return {}
    if cache is None:
        ids = tuple(theatre.indicator(i) for i in sorted(set().union(*wanted.values())))
        cache = EvidenceRange(con, theatre.theatre.id, ids, min(wanted), max(wanted))
    out = {}
    for day, ids in sorted(wanted.items()):
        batch = cache.at(day, sorted(ids), EVIDENCE_PER_READING)
        out |= {(i, day): items for i, items in batch.items()}
    return out


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


# ------------------------------------------------------------------------------ JSON
def assessment_json(a: Assessment) -> dict:
    """Stable JSON: ``scenario_sets[].scenarios[]`` (``id``, ``probability``, ``interval``,
    ``contributions[]``), ``outcomes[]`` (``id``, ``probability``), ACH and sensitivity."""
    return {
        "theatre": a.theatre,
        "as_of": a.as_of.isoformat(),
        "horizon_days": a.horizon_days,
        "model_hash": a.model_hash,
        # what every number below rests on: sources reaching the date, indicators seen
        "coverage": a.base.as_json() if a.base else None,
        "scenario_sets": [
            _set_json(a, spec, s) for spec, s in zip(a.library.sets, a.sets, strict=True)
        ],
        "outcomes": [
            {
                "id": o.id,
                "set": o.set_id,
                "at_least": o.at_least,
                "question": o.question,
                "probability": _r(o.probability),
                "interval": [_r(o.interval[0]), _r(o.interval[1])],
                "prior": _r(o.prior),
                # under way on the as-of date: since when, on which evidence, and the floor
                # it puts under the probability (null when not observed)
                "observed": o.observed
                and {**o.observed, "evidence": [_plain(e) for e in o.observed["evidence"]]},
            }
            for o in a.outcomes
        ],
    }


def note_item(n: dict) -> dict:
    """A graded note as an evidence item: what it says, its grade, what it rests on."""
    b = n["basis"]
    if b["kind"] == "document":
        where = f"{b['title']}, {b['outlet']}, {b['published']}"
        where += f", passage {b['passage']}" if b.get("passage") else ""
        rests = f"rests on {where}" + (f": “{b['quote']}”" if b.get("quote") else "")
    else:
        rests = f"rests on {b['value']}"
    return {
        "kind": "note", "source": f"analyst note {n['grade']}", "source_id": n["id"],
        "date": n["observed"], "title": f"{n['summary'].strip()} ({rests})",
        "url": b.get("url") if b["kind"] == "document" else b["value"] if b["kind"] == "url"
        else None,
        "grade": n["grade"], "grade_meaning": n["grade_meaning"],
    }  # fmt: skip


def _plain(e: dict) -> dict:
    return {k: v for k, v in e.items() if v is not None}


def _set_json(a: Assessment, spec, s: SetAssessment) -> dict:
    scenarios = []
    for k, sc in enumerate(spec.scenarios):
        contribs = [
            {
                "indicator": c.indicator,
                "source": c.source,
                "state": c.state,
                "reading_date": c.day.isoformat() if c.day else None,
                "observed": c.observed.isoformat() if c.observed else None,
                "age_days": c.age_days,
                "decay": _r(c.decay),
                "weight": _r(c.weight),
                "group": c.group,
                "strength": _r(c.strength),
                "detail": c.detail,
                # the graded analyst note that decided the reading (null: the feeds did)
                "note": a.notes.get(c.basis) if c.basis else None,
                "false_alarm_bound": None if c.bound is None else _r(c.bound),
                "llr": _r(c.llr[k]),
                # items from the window before the day the reading's data ends, or the
                # analyst note that decided the reading
                "evidence": [note_item(a.notes[c.basis])]
                if c.basis in a.notes
                else [evidence_json(e) for e in a.evidence.get((c.indicator, c.observed), [])],
            }
            for c in sorted(s.contributions, key=lambda c: -abs(c.llr[k]))
        ]
        scenarios.append(
            {
                "id": sc.id,
                "name": sc.name,
                "resolution": sc.resolution,
                "prior": _r(s.prior[k]),
                "probability": _r(s.probability[k]),
                "interval": [_r(s.interval[k][0]), _r(s.interval[k][1])],
                "contributions": contribs,
            }
        )
    rows, inconsistency = ach_matrix(spec, s.contributions)
    ids = s.scenario_ids
    # extra evidence as assessed, not redone; outcomes under way re-applied on each change
    extra = [c for c in s.contributions if c.source not in ("indicator", "observed")]
    alarms = a.false_alarms.get(s.set_id, {})
    bounds = {i: fa.rates for i, fa in alarms.items()}
    sens = sensitivity(spec, a.readings, a.as_of, a.horizon_days, extra, bounds, s.observed)
    used = sum(c.source == "indicator" for c in s.contributions)
    cov = a.coverage.get(s.set_id)
    return {
        "id": s.set_id,
        "name": s.name,
        "question": spec.question,
        "leading": s.leading,
        # how many of the set's indicators gave a usable reading: 0 means prior only
        "readings_used": used,
        "indicators": len(spec.evidence),
        "coverage": cov
        and {
            "summary": cov.summary(),
            "observed": list(cov.observed),
            "from_notes": list(cov.noted),
            # seen only earlier: the latest data behind the reading is a month old or more, or
            # only an earlier reading of the memory window was observed (it counts, decayed)
            "earlier": [{"indicator": i, "data_date": d.isoformat()} for i, d in cov.earlier],
            "blind": [{"indicator": i, "reasons": list(r)} for i, r in cov.blind],
        },
        "observed": [
            {
                "outcome": o.outcome,
                "rung": spec.scenario_ids()[o.rung],
                "since": o.since.isoformat(),
                "probability": _r(o.probability),
                "evidence": [_plain(e) for e in o.evidence],
            }
            for o in s.observed
        ],
        "false_alarms": {i: fa.as_json() for i, fa in sorted(alarms.items())},
        "scenarios": scenarios,
        "ach": {
            "rows": [
                {
                    "indicator": r.indicator,
                    "state": r.state,
                    "marks": dict(zip(ids, r.marks, strict=True)),
                    "llr": {i: _r(x) for i, x in zip(ids, r.llr, strict=True)},
                }
                for r in rows
            ],
            "inconsistency": {i: _r(x) for i, x in zip(ids, inconsistency, strict=True)},
        },
        "sensitivity": [
            {
                "indicator": x.indicator,
                "state_now": x.state_now,
                "state_if": x.state_if,
                "leading_if": x.leading_if,
                "changes_leading": x.changes_leading,
                "shift": _r(x.shift),
            }
            for x in sens[:10]
        ],
    }
