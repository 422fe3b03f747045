"""The evidence behind an indicator's value as of a date, each item with its link.

What is shown is what the value is made of: the events and matched documents of the last
smoothing window (the days the assessed smoothed value averages), most recent first, and
the latest period of each series rule visible as of the date, its dimensions largest
first (the top contributions to the assessed value). Kinds take turns, so a busy news
day cannot push the only Frontex figure off the list. Only records available as of the
date are used, matched by the same rules as the indicator itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import zip_longest

import ibis
import pandas as pd
from ibis import _

from vigil.indicators import series as S  # noqa: N812
from vigil.theatre import Indicator, TheatreSpec

DOCUMENTS = ibis.table(
    {"source": "string", "source_id": "string", "title": "string", "url": "string",
     "body": "string", "doc_type": "string"},
    name="documents",
)  # fmt: skip
#: characters of a matched passage quoted in its evidence item
EXCERPT = 280
#: how far back the latest period of a series is looked for (a yearly series, late)
SERIES_LOOKBACK_DAYS = 800


@dataclass(frozen=True)
class EvidenceItem:
    """One record behind a value. ``kind``: ``event``, ``observation`` or ``document``.

    ``date`` is the event's day, the observation's period start or the document's
    publication date; ``title`` the event summary, the series and its dimensions, or the
    headline. Fields that do not apply to the kind are None.
    """

    kind: str
    source: str
    source_id: str
    date: dt.date
    title: str
    url: str | None
    weight: float | None = None  #: rule weight (events) or match weight (documents)
    category: str | None = None
    country: str | None = None
    series: str | None = None
    period_end: dt.date | None = None
    value: float | None = None
    published_at: dt.datetime | None = None
    outlet: str | None = None
    match_kind: str | None = None  #: ``occurrence`` or ``claim``
    cue: str | None = None


def evidence_for(
    con, theatre: TheatreSpec, indicator_id: str, as_of: dt.date, limit: int = 20
) -> list[EvidenceItem]:
    """The top ``limit`` evidence items behind ``indicator_id`` as of ``as_of``."""
    ind = theatre.indicator(indicator_id)
    return evidence_batch(con, theatre.theatre.id, (ind,), as_of, limit)[ind.id]


def evidence_batch(
    con, theatre_id: str, indicators: tuple[Indicator, ...], as_of: dt.date, limit: int = 20
) -> dict[str, list[EvidenceItem]]:
    """:func:`evidence_for` for several indicators at once (one query per record kind)."""
    return EvidenceRange(con, theatre_id, indicators, as_of, as_of).at(as_of, limit=limit)


class EvidenceRange:
    """The evidence rows of some indicators for every as-of date in ``[first, last]``,
    fetched once (one query per record kind); :meth:`at` gives what
    :func:`evidence_batch` gives on one date, using only rows visible by that date. A
    replay asks for evidence on many dates: this keeps it to three queries."""

    def __init__(
        self, con, theatre_id: str, indicators: tuple[Indicator, ...], first: dt.date,
        last: dt.date,
    ) -> None:  # fmt: skip
        S.check_border_table(con, indicators)
        self.con, self.theatre_id = con, theatre_id
        self.indicators = {i.id: i for i in indicators}
        self._load(first, last)

    def _load(self, first: dt.date, last: dt.date) -> None:
        self.first, self.last = first, last
        indicators = tuple(self.indicators.values())
        con, theatre_id = self.con, self.theatre_id
        widest = max(i.baseline.smoothing_days for i in indicators)
        start = first - dt.timedelta(days=widest - 1)
        self.rows: dict[str, dict[str, pd.DataFrame]] = {}  # kind → indicator → rows
        with_events = tuple(i for i in indicators if i.evidence.events)
        with_series = tuple(i for i in indicators if i.evidence.series)
        with_text = tuple(i.id for i in indicators if i.evidence.text is not None)
        if with_events:
            q = S.Query(
                S.spec_key("event_evidence", with_events), lambda: _events_expr(with_events)
            )
            self.rows["events"] = _dated(S.fetch(con, q, start, last), "day")
        if with_series:
            q = S.Query(
                S.spec_key("series_evidence", with_series),
                lambda: _observations_expr(with_series),
                "period_start",
                "period_end",
            )
            lookback = first - dt.timedelta(days=SERIES_LOOKBACK_DAYS)
            self.rows["series"] = _dated(S.fetch(con, q, lookback, last), "period_start")
        if with_text:
            q = S.Query(
                f"doc_evidence|{theatre_id}|{with_text}",
                lambda: _documents_expr(theatre_id, with_text),
            )
            self.rows["text"] = _dated(S.fetch(con, q, start, last), "day")

    def at(
        self, as_of: dt.date, indicator_ids=None, limit: int = 20
    ) -> dict[str, list[EvidenceItem]]:
        """The evidence of each indicator (default all) as of ``as_of``.

        A date outside the range loaded widens it (one reload): a reading's evidence is
        shown from the day its data ends, which can precede the first assessed date."""
        if not self.first <= as_of <= self.last:
            self._load(min(self.first, as_of), max(self.last, as_of))
        inds = [self.indicators[i] for i in (indicator_ids or self.indicators)]
        groups: dict[str, list[list[EvidenceItem]]] = {i.id: [] for i in inds}
        day = pd.Timestamp(as_of)

        for ind in inds:
            mine = {k: rows[ind.id] for k, rows in self.rows.items() if ind.id in rows}
            seen = {k: rows[rows["_asof"] <= day] for k, rows in mine.items()}
            if "events" in seen:
                groups[ind.id].append(_events(seen["events"], ind, as_of, limit))
            if "series" in seen:
                rows = seen["series"]
                oldest = pd.Timestamp(as_of - dt.timedelta(days=SERIES_LOOKBACK_DAYS))
                window = rows[(rows["period_end"] >= oldest) & (rows["_day"] <= day)]
                groups[ind.id].extend(_observations(window, ind, limit))
            if "text" in seen:
                groups[ind.id].append(_documents(seen["text"], ind, as_of, limit))
        return {k: _interleave(v, limit) for k, v in groups.items()}


def _dated(rows: pd.DataFrame, column: str) -> dict[str, pd.DataFrame]:
    """Each indicator's rows, with the day column (``_day``) and visibility (``_asof``) as
    midnight timestamps: a replay slices them once per date, and comparisons of
    ``datetime64`` columns are vectorised where those of date objects are not."""
    rows = rows.assign(
        _day=pd.to_datetime(rows[column]).dt.normalize(),
        _asof=pd.to_datetime(rows["asof"]).dt.normalize(),
    )
    return {str(k): g for k, g in rows.groupby("indicator", sort=False)}


def _interleave(groups: list[list[EvidenceItem]], limit: int) -> list[EvidenceItem]:
    chosen = [item for row in zip_longest(*groups) for item in row if item is not None][:limit]
    return sorted(chosen, key=lambda i: i.date, reverse=True)


def _window(rows: pd.DataFrame, ind: Indicator, as_of: dt.date) -> pd.DataFrame:
    first = pd.Timestamp(as_of - dt.timedelta(days=ind.baseline.smoothing_days - 1))
    day = rows["_day"]
    return rows[(day >= first) & (day <= pd.Timestamp(as_of))]


# ---------------------------------------------------------------- events
def _events_expr(indicators: tuple[Indicator, ...]) -> ibis.Table:
    matched = S.event_matches_expr(indicators)
    joined = matched.join(S.EVENTS, ["source", "source_id"])
    return joined.select(
        "indicator", "source", "source_id", "day", "asof", "w", "category", "country",
        "summary", "location", "url",
    )  # fmt: skip


def _events(rows: pd.DataFrame, ind: Indicator, as_of: dt.date, limit: int):
    rows = _window(rows, ind, as_of).sort_values(
        ["day", "w", "source_id"], ascending=[False, False, True]
    )
    return [
        EvidenceItem(
            kind="event", source=r.source, source_id=r.source_id, date=_date(r.day),
            title=_text(r.summary) or f"{r.category} {_text(r.location) or ''}".strip(),
            url=_text(r.url), weight=float(r.w), category=r.category, country=_text(r.country),
        )
        for r in rows.head(limit).itertuples(index=False)
    ]  # fmt: skip


# ---------------------------------------------------------------- observations
def _observations_expr(indicators: tuple[Indicator, ...]) -> ibis.Table:
    ob = S.OBSERVATIONS
    parts = []
    for ind in indicators:
        for rule in ind.evidence.series:
            parts.append(S.series_rows(ob, rule).select(
                "source", "source_id", "series", "period_start", "period_end", "value",
                "attrs", "url", indicator=ibis.literal(ind.id),
                kind=ibis.literal(S.series_kind(rule)), asof=ob.available_at.date(),
            ))  # fmt: skip
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def _observations(rows: pd.DataFrame, ind: Indicator, limit: int) -> list[list[EvidenceItem]]:
    out = []
    for rule in ind.evidence.series:
        mine = rows[rows["kind"] == S.series_kind(rule)]
        if mine.empty:
            continue
        latest = mine[mine["period_end"] == mine["period_end"].max()]
        latest = latest.sort_values(["value", "source_id"], ascending=[False, True])
        out.append([
            EvidenceItem(
                kind="observation", source=r.source, source_id=r.source_id,
                date=_date(r.period_start), title=f"{r.series} {_text(r.attrs) or ''}".strip(),
                url=_text(r.url), series=r.series, period_end=_date(r.period_end),
                value=None if pd.isna(r.value) else float(r.value),
            )
            for r in latest.head(limit).itertuples(index=False)
        ])  # fmt: skip
    return out


# ---------------------------------------------------------------- documents
def _documents_expr(theatre_id: str, indicator_ids: tuple[str, ...]) -> ibis.Table:
    tm = S.TEXT_MATCHES
    hits = tm.filter(tm.theatre == theatre_id, tm.indicator.isin(indicator_ids))
    hits = hits.mutate(occ=(hits.kind == "occurrence").ifelse(1, 0))
    docs = hits.group_by(["indicator", "source", "source_id"]).agg(
        published_at=_.published_at.min(), day=_.published_at.min().date(),
        asof=_.available_at.min().date(), outlet=_.outlet.max(), occ=_.occ.max(),
        cue=_.cue.max(),
    )  # fmt: skip
    return docs.join(DOCUMENTS, ["source", "source_id"])


def _documents(rows: pd.DataFrame, ind: Indicator, as_of: dt.date, limit: int):
    rows = _window(rows, ind, as_of).sort_values(
        ["published_at", "source_id"], ascending=[False, True]
    )
    return [
        EvidenceItem(
            kind="document", source=r.source, source_id=r.source_id,
            date=_date(r.published_at), title=_title(r), url=_text(r.url),
            weight=1.0 if r.occ else S.CLAIM_WEIGHT,
            published_at=pd.Timestamp(r.published_at).to_pydatetime(),
            outlet=_text(r.outlet), match_kind="occurrence" if r.occ else "claim",
            cue=None if r.occ else _text(r.cue),
        )
        for r in rows.head(limit).itertuples(index=False)
    ]  # fmt: skip


def _title(r) -> str:
    """A headline, or for a passage of an analyst's document the document's title and the
    passage's own words (what was matched: the evidence cites the passage)."""
    title = _text(r.title) or ""
    if r.doc_type != "passage" or not _text(r.body):
        return title
    words = " ".join(r.body.split())
    cut = words if len(words) <= EXCERPT else words[:EXCERPT].rsplit(" ", 1)[0] + " …"
    return f"{title}: “{cut}”"


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) or value == "" else str(value)
