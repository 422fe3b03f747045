r"""What the scenario model reads from an indicator on a date: change, level and coverage.

An indicator is read on date ``D`` (only records available by ``D``) in two ways per
evidence kind (``events``, ``text``, ``series:<name>``):

* **change**: the anomaly z of :mod:`vigil.indicators.compute` at the kind's latest
  observed day, against the indicator's own trailing baseline, read against its
  ``thresholds`` (what ``vigil indicators`` shows);
* **level** (where the spec declares one, :class:`vigil.theatre.Level`): the count, sum or
  mean over the last ``window_days`` days of data, or for text the share of the topic's
  documents, read against fixed, date-free cut-offs. A condition that lasts keeps its
  level after its anomaly fades, and a source with no quiet history still says something.

Each part is **observed** or **blind**, with the reason, decided only from what was
available on ``D``:

* the kind has no data yet, or its latest data is older than ``STALE_DAYS`` (+ its period);
* *events*: no source the rules name reported anything at all from the rules' countries in
  the last :data:`COVERAGE_DAYS` days (a source that is not looking at a country cannot
  say it was quiet); the change also needs ``baseline.min_days`` observed days of history;
* *text* (with a topic, :class:`vigil.theatre.Topic`): the feeds carried fewer than
  ``min_documents`` documents on the topic per 30 days in the window read, or (for the
  change) in its baseline; or the mix of feeds changed — the feeds' mean daily shares in
  the last 30 days overlap those of the baseline by less than :data:`MIX_OVERLAP` (the sum
  of the smaller share of each feed), so a rate against the old mix means nothing.

An analyst's **graded note** on the indicator (:mod:`vigil.analyst`) is one more part,
kind ``note``: the latest note observed within its ``valid_days`` before ``D``, available by
``D`` and not withdrawn by then, whose grade gives it a weight above zero. It is observed
coverage like any other part, so graded reporting can read an indicator no feed covers.

The reading's **state** is the highest state among its observed parts (the combination
rule: a lasting level or a fresh change, whichever says more); with no observed part it is
``blind`` and carries no weight. Its **strength** is 1 when events or series decide it,
the text rule's ``strength`` when text alone does (reports are cheaper than geolocated
events or official figures) and the note's grade weight when a note does; on a tie of
states the stronger part decides. Its ``observed`` day is the latest day of the data
behind the deciding part (the scenario model's decay counts from there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vigil.indicators import baseline as B  # noqa: N812
from vigil.indicators import series as S  # noqa: N812
from vigil.indicators.arrays import Daily, EvidenceArrays, Totals, ordinals
from vigil.indicators.compute import STALE_DAYS, as_arrays, fetch_frame, load_vintages, z_at
from vigil.theatre import TOPIC, Indicator, Level, TheatreSpec

STATES = ("normal", "elevated", "high")
BLIND = "blind"
NOTE = "note"  #: the kind of a part read from an analyst's graded note
#: days within which an event source must have reported from a country to be looking at it
COVERAGE_DAYS = 30
#: overlap of feed shares below which a text rate's baseline is another feed mix
MIX_OVERLAP = 0.5


@dataclass(frozen=True)
class Part:
    """One reading of one evidence kind: its change or its level, observed or blind."""

    kind: str  #: events, text or series:<name>
    measure: str  #: change or level
    state: str  #: normal, elevated, high, or blind
    value: float | None = None  #: z (change) or the level's value
    day: dt.date | None = None  #: the latest day of the data behind it
    reason: str = ""  #: why it is blind
    unit: str = ""  #: "z", the level's unit, or a note's grade
    note: str | None = None  #: the note's id (kind ``note``)
    weight: float = 1.0  #: the note's grade weight (kind ``note``)

    def describe(self) -> str:
        """E.g. ``events level 27 (geolocated reports…) high`` or ``text change blind: …``."""
        if self.kind == NOTE:
            return f"note {self.note} ({self.unit}, weight {self.weight:.2g}) → {self.state}"
        if self.state == BLIND:
            return f"{self.kind} {self.measure} blind: {self.reason}"
        value = "" if self.value is None else f" {self.value:.3g}"
        return f"{self.kind} {self.measure}{value} {self.unit} → {self.state}".replace("  ", " ")


@dataclass(frozen=True)
class IndicatorReading:
    """An indicator as the scenario model reads it on ``day``."""

    indicator: str
    day: dt.date
    state: str  #: normal, elevated, high or blind
    observed: dt.date | None  #: latest day of the data behind the deciding part
    strength: float  #: 1, or the text rule's strength when text alone decides
    parts: tuple[Part, ...] = field(repr=False)
    driver: Part | None = None  #: the part that decided the state

    @property
    def reasons(self) -> list[str]:
        """Why each blind part is blind."""
        return [f"{p.kind} {p.measure}: {p.reason}" for p in self.parts if p.state == BLIND]

    @property
    def label(self) -> str:
        """The state, with the observed level beside it where there is one: ``high (level
        31)``, ``normal``, ``blind``."""
        level = next((p for p in self.parts if p.measure == "level" and p.state != BLIND), None)
        return self.state if level is None else f"{self.state} (level {level.value:.3g})"


def read_indicators(
    con, theatre: TheatreSpec, dates: Iterable[dt.date], indicator_ids: Iterable[str] | None = None
) -> dict[str, list[IndicatorReading]]:
    """Every indicator (or those named) on every date, each date using only what was
    available by its end; one evidence load for all (event border distances must be
    registered, as for :func:`vigil.indicators.compute.compute_indicators`)."""
    days = sorted(set(dates))
    if not days:
        return {}
    return Reader(con, theatre, days[0], days[-1], indicator_ids).read(days)


class Reader:
    """The evidence of some indicators over ``[first, last]``, loaded once, read on any
    dates in that range (an assessment reads its memory, then the history of the indicators
    that turned out raised, from one load)."""

    def __init__(
        self,
        con,
        theatre: TheatreSpec,
        first: dt.date,
        last: dt.date,
        indicator_ids: Iterable[str] | None = None,
        *,
        notes: bool = True,
    ) -> None:
        """``notes``: read the analysts' graded notes too (False: the feeds alone, to see
        what the notes change)."""
        ids = (
            list(indicator_ids) if indicator_ids is not None else [i.id for i in theatre.indicators]
        )
        self.indicators = {i: theatre.indicator(i) for i in ids}
        inds = tuple(self.indicators.values())
        self.first, self.last = first, last
        if not inds:  # a library whose sets weigh no indicator: nothing to read
            self.arrays, self.ctx = {}, None
            return
        start = first - dt.timedelta(days=max(_lookback(i) for i in inds))
        vintages = load_vintages(con, theatre.theatre.id, inds, start, last)
        self.arrays = as_arrays(vintages)
        totals = next((v.totals for v in vintages.values() if v.totals is not None), None)
        self.ctx = Context.load(con, theatre, inds, start, last, self.arrays, totals)
        if notes:
            self.ctx.notes = _notes(con, theatre.theatre.id, set(self.indicators), last)

    def read(
        self, dates: Iterable[dt.date], indicator_ids: Iterable[str] | None = None
    ) -> dict[str, list[IndicatorReading]]:
        days = sorted(set(dates))
        if days and (days[0] < self.first or days[-1] > self.last):
            raise ValueError(f"dates {days[0]}–{days[-1]} outside {self.first}–{self.last}")
        ids = list(indicator_ids) if indicator_ids is not None else list(self.indicators)
        return {
            i: [reading(self.indicators[i], self.arrays[i], self.ctx, day) for day in days]
            for i in ids
        }


def _lookback(ind: Indicator) -> int:
    b = ind.baseline
    scan = 4 * max(b.smoothing_days, 31)
    return b.window_days + scan + STALE_DAYS + 62


# ------------------------------------------------------------------------ coverage
@dataclass
class Context:
    """What coverage is judged on, shared by the indicators of one load: documents per
    topic, events per source and country, the feed totals (and a cache of window sums)."""

    topics: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  #: day, asof, documents
    min_documents: dict[str, int]
    activity: pd.DataFrame  #: source, country, day, asof (ordinals), n
    totals: Totals | None
    able: pd.DataFrame = field(default_factory=pd.DataFrame)  #: source, category, asof
    #: per indicator, its weighed notes as (observed, available, valid_days, withdrawn, weight,
    #: state, level, id, grade) rows, ordinals for dates
    notes: dict[str, list[tuple]] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, con, theatre, inds, first, last, arrays, totals_frame=None) -> Context:
        topic_ids = tuple(sorted({f"{TOPIC}{t.id}" for t in theatre.theatre.topics}))
        totals = next((a.totals for a in arrays.values() if a.totals is not None), None)
        topics = {}
        if topic_ids:
            q = S.Query(f"topics|{theatre.theatre.id}|{topic_ids}",
                        lambda: S.topic_expr(theatre.theatre.id, topic_ids))  # fmt: skip
            if totals_frame is None:
                totals_frame = fetch_frame(con, S.Query("totals", S.totals_expr), first, last)
            totals = totals or Totals.from_frame(totals_frame)
            # a document counts on its day once its feed's total for that day is known
            frame = S.attach_totals(fetch_frame(con, q, first, last), totals_frame)
            asof = np.maximum(ordinals(frame["asof"]), ordinals(frame["items_asof"]))
            for tid in topic_ids:
                m = (frame["indicator"] == tid).to_numpy()
                topics[tid.removeprefix(TOPIC)] = (
                    ordinals(frame.loc[m, "day"]),
                    asof[m],
                    frame.loc[m, "matches"].to_numpy(float),
                )
        activity, able = pd.DataFrame(), pd.DataFrame()
        if any(i.evidence.events for i in inds):
            act = fetch_frame(con, S.Query("activity", S.activity_expr), first, last)
            activity = act.assign(day=ordinals(act["day"]), asof=ordinals(act["asof"]))
            able = fetch_frame(con, S.Query("able", S.able_expr), dt.date.min, last)
            able = able.assign(asof=ordinals(able["asof"]))
        return cls(
            topics, {t.id: t.min_documents for t in theatre.theatre.topics}, activity, totals,
            able,
        )  # fmt: skip

    def topic_documents(self, topic: str, as_of: int, lo: int, hi: int) -> float:
        """Documents on ``topic`` published in ``[lo, hi]``, as known on ``as_of``."""
        key = ("topic", topic, as_of, lo, hi)
        if key not in self._cache:
            day, asof, n = self.topics.get(topic, (np.array([]),) * 3)
            m = (asof <= as_of) & (day >= lo) & (day <= hi)
            self._cache[key] = float(n[m].sum())
        return self._cache[key]

    def overlap(self, as_of: int, now: tuple[int, int], before: tuple[int, int]) -> float:
        """How much the feed mix of ``now`` overlaps that of ``before`` (0–1)."""
        key = ("mix", as_of, now, before)
        if key not in self._cache:
            a, b = self.totals.mix(as_of, *now), self.totals.mix(as_of, *before)
            self._cache[key] = float(np.minimum(a, b).sum())
        return self._cache[key]

    def reporting(self, ind: Indicator) -> tuple[np.ndarray, np.ndarray] | None:
        """(day, visible) of the events that sources *able* to report a rule's categories
        reported from that rule's countries, whatever their category; ``visible`` is the
        later of the event's availability and the day the source became able (None: a rule
        names no country, so coverage is by observed days alone)."""
        key = ("act", ind.id)
        if key not in self._cache:
            self._cache[key] = _reporting(self.activity, self.able, ind)
        return self._cache[key]


def _reporting(activity: pd.DataFrame, able: pd.DataFrame, ind: Indicator):
    rules = ind.evidence.events
    if activity.empty or any(not r.countries for r in rules):
        return None
    days, seen = [np.array([], int)], [np.array([], int)]
    for r in rules:
        cats = able[able["category"].isin(r.categories)]
        if r.sources:
            cats = cats[cats["source"].isin(r.sources)]
        since = cats.groupby("source")["asof"].min()  # when each source became able
        rows = activity[
            activity["country"].isin(r.countries) & activity["source"].isin(since.index)
        ]
        days.append(rows["day"].to_numpy())
        seen.append(np.maximum(rows["asof"].to_numpy(), since[rows["source"]].to_numpy()))
    return np.concatenate(days), np.concatenate(seen)


def _notes(con, theatre_id: str, ids: set[str], last: dt.date) -> dict[str, list[tuple]]:
    # the analysts' notes table (vigil.analyst writes it), available by ``last``
    frame = con.execute(
        """SELECT note_id, indicator, observed_on, available_at, valid_days, state, level,
                  reliability, credibility, weight, withdrawn_on
           FROM notes WHERE theatre = ? AND available_at < ?::DATE + 1""",
        [theatre_id, last],
    ).df()
    out: dict[str, list[tuple]] = {}
    never = dt.date.max.toordinal()
    for r in frame.itertuples(index=False):
        if r.indicator not in ids or not r.weight > 0:  # graded E or 5: shown, never weighed
            continue
        withdrawn = never if pd.isna(r.withdrawn_on) else pd.Timestamp(r.withdrawn_on).toordinal()
        out.setdefault(r.indicator, []).append((
            pd.Timestamp(r.observed_on).toordinal(), pd.Timestamp(r.available_at).toordinal(),
            int(r.valid_days), withdrawn, float(r.weight), r.state,
            None if pd.isna(r.level) else float(r.level), r.note_id,
            f"{r.reliability}{r.credibility}",
        ))  # fmt: skip
    return out


def _note_part(ctx: Context, ind: Indicator, d: int) -> Part | None:
    """The latest note in force on ``d`` (ties: the later available, then the heavier)."""
    valid = [n for n in ctx.notes.get(ind.id, ())
             if n[1] <= d and n[0] <= d < n[0] + n[2] and d < n[3]]  # fmt: skip
    if not valid:
        return None
    obs, _, _, _, weight, state, level, note_id, grade = max(valid, key=lambda n: (*n[:2], n[4]))
    return Part(NOTE, "graded", state, level, dt.date.fromordinal(obs), unit=grade,
                note=note_id, weight=weight)  # fmt: skip


def _places(ind: Indicator) -> str:
    countries = sorted({c for r in ind.evidence.events for c in r.countries})
    sources = sorted({s for r in ind.evidence.events for s in r.sources})
    who = "/".join(sources) if sources else "any event source"
    return f"{who} from {'/'.join(countries)}"


# ------------------------------------------------------------------------- reading
def reading(ind: Indicator, arr: EvidenceArrays, ctx: Context, day: dt.date) -> IndicatorReading:
    """``ind`` as the scenario model reads it on ``day`` (see the module docstring)."""
    d = day.toordinal()
    start = d - _lookback(ind)
    levels = {_level_kind(ind, lv): lv for lv in ind.level}
    parts: list[Part] = []
    for kind, series in arr.daily(d, start).items():
        last, blind = _last_seen(series, d, start)
        blind = blind or _coverage_blind(ind, kind, ctx, d, start + last)
        parts.append(_change(ind, kind, series, ctx, d, start, last, blind))
        if kind in levels:
            parts.append(_level(ind, levels[kind], kind, series, ctx, d, start, last, blind))
    if (note := _note_part(ctx, ind, d)) is not None:
        parts.append(note)
    return _combine(ind, day, parts)


def _level_kind(ind: Indicator, lv: Level) -> str:
    if lv.kind != "series":
        return lv.kind
    rule = next(r for r in ind.evidence.series if r.series == lv.series)
    return S.series_kind(rule)


def _last_seen(series: Daily, d: int, start: int) -> tuple[int | None, str]:
    """Index of the kind's latest observed day, or None with the reason."""
    seen = np.flatnonzero(~np.isnan(series.x))
    if len(seen) == 0:
        return None, f"no data as of {dt.date.fromordinal(d)}"
    last = int(seen[-1])
    if d - start - last > STALE_DAYS + series.period:
        return None, f"latest data from {dt.date.fromordinal(start + last)}, too old to count"
    return last, ""


def _coverage_blind(ind: Indicator, kind: str, ctx: Context, d: int, t_last: int) -> str:
    """Why the sources of ``kind``, whose data ends on day ``t_last``, could not see the
    topic on ``d``, so neither its change nor its level can be read ("" if they could)."""
    if kind == "events":
        rep = ctx.reporting(ind)
        if rep is not None:
            day, asof = rep
            if not ((asof <= d) & (day > d - COVERAGE_DAYS) & (day <= d)).any():
                return f"no report at all by {_places(ind)} in the last {COVERAGE_DAYS} days"
    if kind == "text":
        topic = ind.evidence.text.topic
        if topic is not None:
            docs = ctx.topic_documents(topic, d, t_last - COVERAGE_DAYS + 1, t_last)
            need = ctx.min_documents[topic]
            if docs < need:
                return (
                    f"the feeds carried {docs:.0f} documents on {topic} in the last "
                    f"{COVERAGE_DAYS} days (fewer than {need})"
                )
    return ""


def _change(ind, kind, series: Daily, ctx: Context, d, start, last, blind: str) -> Part:
    if blind:
        return Part(kind, "change", BLIND, reason=blind, unit="z")
    spec = ind.baseline
    s_eff = max(spec.smoothing_days, series.period)
    day = dt.date.fromordinal(start + last)
    if kind == "text":
        why = _text_baseline_blind(ind, ctx, d, start + last, s_eff)
        if why:
            return Part(kind, "change", BLIND, day=day, reason=why, unit="z")
    value, n = z_at(series.x, series.unit, last, spec, s_eff, series.count)
    if not np.isfinite(value):
        return Part(kind, "change", BLIND, day=day, unit="z",
                    reason=f"its baseline holds {n} observed days, fewer than the "
                    f"{spec.min_days} needed")  # fmt: skip
    state = B.state(value, ind.thresholds.elevated, ind.thresholds.high)
    return Part(kind, "change", state, value, day, unit="z")


def _text_baseline_blind(ind: Indicator, ctx: Context, d: int, last: int, s_eff: int) -> str:
    """A text rate's baseline is blind when the feeds did not cover the topic in it, or
    when they were another mix of feeds."""
    spec = ind.baseline
    gap = min(s_eff, spec.window_days - 1)
    before = (last - spec.window_days, last - gap - 1)
    topic = ind.evidence.text.topic
    if topic is not None:
        docs = ctx.topic_documents(topic, d, *before)
        need = ctx.min_documents[topic] * (before[1] - before[0] + 1) / 30
        if docs < need:
            return (
                f"its baseline carried {docs:.0f} documents on {topic} (fewer than "
                f"{ctx.min_documents[topic]} per 30 days)"
            )
    if ctx.totals is not None:
        overlap = ctx.overlap(d, (last - COVERAGE_DAYS + 1, last), before)
        if overlap < MIX_OVERLAP:
            return (
                f"the feed mix changed: the last {COVERAGE_DAYS} days' feeds overlap the "
                f"baseline's by {overlap:.0%} (under {MIX_OVERLAP:.0%})"
            )
    return ""


def _level(ind, lv: Level, kind, series: Daily, ctx: Context, d, start, last, blind) -> Part:
    if blind:
        return Part(kind, "level", BLIND, reason=blind, unit=lv.unit)
    lo = max(0, last - lv.window_days + 1)
    window = series.x[lo : last + 1]
    day = dt.date.fromordinal(start + last)
    seen = int((~np.isnan(window)).sum())
    if seen < lv.window_days / 2:
        return Part(kind, "level", BLIND, day=day, unit=lv.unit,
                    reason=f"data on only {seen} of its {lv.window_days} days")  # fmt: skip
    if kind == "text":
        matches = np.nansum(window / series.unit[lo : last + 1])
        topic = ind.evidence.text.topic
        docs = ctx.topic_documents(topic, d, start + lo, start + last)
        value = 100.0 * matches / docs if docs > 0 else 0.0
    elif lv.statistic == "mean":
        value = float(np.nanmean(window))
    else:
        value = float(np.nansum(window))
    state = "high" if value >= lv.high else "elevated" if value >= lv.elevated else "normal"
    return Part(kind, "level", state, float(value), day, unit=lv.unit)


def _combine(ind: Indicator, day: dt.date, parts: list[Part]) -> IndicatorReading:
    seen = [p for p in parts if p.state != BLIND]
    if not seen:
        return IndicatorReading(ind.id, day, BLIND, None, 0.0, tuple(parts))

    # the highest state decides; on a tie, the stronger part (events and series before text),
    # a level before a change (the level says more about what lasts)
    def strength(p: Part) -> float:
        if p.kind == NOTE:
            return p.weight
        return ind.evidence.text.strength if p.kind == "text" else 1.0

    driver = max(
        seen,
        key=lambda p: (STATES.index(p.state), strength(p), p.kind != "text", p.measure == "level"),
    )
    return IndicatorReading(
        ind.id, day, driver.state, driver.day or day, strength(driver), tuple(parts), driver
    )
