"""Match a theatre's indicators against the ``documents`` table, incrementally.

For every indicator with a text rule, :func:`match_documents` writes one ``text_matches``
row per matching document (method ``'rules'``, score 1.0), tagged occurrence or claim
(:mod:`vigil.text.claims`), with the document's ``published_at`` and ``available_at`` so
that anything computed as of a day only sees matches knowable then.

Incremental and idempotent. What was examined is recorded per (theatre, indicator,
method, rule hash, source, batch): the documents of a batch that still carry its
``batch_id`` (a source's revision moves a document to the newer batch) and that were
published at or after ``since`` (NULL: all). A run examines only documents not covered;
a document revised since its match is examined again and its old rows replaced; rows of
withdrawn documents are removed; and a changed rule (another :func:`rule_hash`) drops the
indicator's rows and coverage, so everything is matched again. A run is one transaction.

:func:`daily_rates` turns matches into a series normalised by feed volume: a feed's
matches on a day divided by that feed's items on the day (``rss.feed_items_total``),
averaged over the feeds active that day, so a change in which feeds exist is not an
escalation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from time import perf_counter

import duckdb

from vigil.errors import InputError
from vigil.store import ANALYST_SOURCE, transaction
from vigil.text.claims import classify
from vigil.text.rules import CompiledRule, LiteralIndex, compile_rule, normalise
from vigil.theatre import TOPIC, Indicator, TextRule, TheatreSpec

CHUNK = 20_000
_MASK_BITS = 62
_VALUES_ROWS = 500

_COLUMNS = (
    "theatre, indicator, source, source_id, published_at, available_at, outlet, language, "
    "kind, cue, method, score, rule_hash, matched_at"
)


@dataclass
class IndicatorMatch:
    """What one run did for one indicator."""

    indicator: str
    rule_hash: str
    examined: int = 0
    matched: int = 0
    occurrences: int = 0
    claims: int = 0
    seconds: float = 0.0
    rehashed: bool = False  # rows made under another rule hash were dropped


@dataclass(frozen=True)
class MatchReport:
    """Per-indicator counts and timings of one run."""

    theatre: str
    source: str
    method: str
    indicators: tuple[IndicatorMatch, ...]
    seconds: float

    def __getitem__(self, indicator: str) -> IndicatorMatch:
        for item in self.indicators:
            if item.indicator == indicator:
                return item
        raise KeyError(indicator)


def text_indicators(
    theatre: TheatreSpec,
    indicators: Iterable[str] | None,
    *,
    need: Callable[[Indicator], bool] = lambda ind: True,
    what: str = "text rule",
) -> list[Indicator]:
    """The theatre's indicators with a text rule (and ``need``), or those named, checked."""
    if indicators is None:
        return [i for i in theatre.indicators if i.evidence.text is not None and need(i)]
    chosen = [theatre.indicator(i) for i in indicators]
    for ind in chosen:
        if ind.evidence.text is None or not need(ind):
            raise InputError(
                f"indicator {ind.id!r} has no {what} to match",
                "add it to the indicator's evidence.text or leave the indicator out",
            )
    return chosen


def as_timestamp(value: date | datetime | str | None) -> datetime | None:
    """``since`` as a naive UTC timestamp (a date is its midnight)."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value and value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return as_timestamp(datetime.fromisoformat(value))
    except ValueError:
        raise InputError(f"since={value!r} is not a date", "use YYYY-MM-DD") from None


def match_documents(
    con,
    theatre: TheatreSpec,
    *,
    source: str = "rss",
    since=None,
    indicators: Iterable[str] | None = None,
    extra: Mapping[str, TextRule] | None = None,
) -> MatchReport:
    """Match the theatre's text rules against not-yet-examined documents of ``source``.

    Besides the indicators, every run (unless ``indicators`` names some) matches the
    theatre's topics (stored as ``topic:<id>``, what text coverage is measured on) and the
    ``extra`` rules, e.g. the outcome resolvers of a scenario library
    (``resolve:<outcome>``), with the same engine and claim tagging.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The store; the run is one transaction on it.
    theatre : TheatreSpec
        The theatre whose indicators (those with ``evidence.text``) are matched.
    source : str
        Documents' source.
    since : date, datetime, str or None
        Only documents published at or after it.
    indicators : iterable of str, optional
        Indicator ids to match (default: all with a text rule).
    """
    started = perf_counter()
    chosen = text_indicators(theatre, indicators)
    rules = {ind.id: compile_rule(ind.evidence.text) for ind in chosen}
    # An analyst's documents are matched to the indicators, to be cited and to help write
    # notes, but they are no sample of the news: topic coverage and the outcomes' resolvers
    # count the feeds only (vigil.analyst).
    if indicators is None and source != ANALYST_SOURCE:
        aux = {f"{TOPIC}{t.id}": t.rule() for t in theatre.theatre.topics} | dict(extra or {})
        rules |= {rid: compile_rule(rule) for rid, rule in aux.items()}
    tid, cut = theatre.theatre.id, as_timestamp(since)
    stats = {i: IndicatorMatch(i, r.hash) for i, r in rules.items()}
    matcher = _distributed(con) or _match_local
    with transaction(con):
        purge_withdrawn(con, tid, source)
        names = list(rules)
        for lo in range(0, len(names), _MASK_BITS):  # one bit per indicator in a BIGINT mask
            part = {n: rules[n] for n in names[lo : lo + _MASK_BITS]}
            _run(con, tid, source, cut, part, stats, matcher)
    return MatchReport(tid, source, "rules", tuple(stats.values()), perf_counter() - started)


#: what matches the plan's documents (``_vigil_text_todo``): (con, source, rules, stats)
#: → (indicator, row, kind, cue, rule hash) per match, ``row`` laid out as :data:`ROW`
Matcher = Callable[[object, str, dict[str, CompiledRule], dict], list[tuple]]
#: the fields of a document row that :func:`match_chunk` reads and :func:`_rows` writes
ROW = ("source_id", "title", "body", "published_at", "available_at", "outlet", "language", "mask")


def _distributed(con) -> Matcher | None:
    """The Spark matcher when ``con``'s engine is Spark (its lake synced first, so the
    documents to examine are there); None for the store itself."""
    if isinstance(con, duckdb.DuckDBPyConnection):  # the store itself: no query layer
        return None
    from vigil.query.engine import engine_of
    from vigil.query.spark import SparkEngine

    engine = engine_of(con)
    if not isinstance(engine, SparkEngine):
        return None
    from vigil.text.spark_match import spark_matcher

    engine.sync(con.store, tables=("documents",))  # what the job reads
    return spark_matcher(engine)


def _run(
    con, theatre: str, source: str, cut, rules: dict[str, CompiledRule], stats, matcher: Matcher
) -> None:
    for ind_id, rule in rules.items():
        stats[ind_id].rehashed = invalidate(con, theatre, ind_id, "rules", rule.hash)
    _plan(con, theatre, source, cut, rules, stats)
    matched_at = datetime.now(UTC).replace(tzinfo=None)
    insert_matches(con, _rows(matcher(con, source, rules, stats), theatre, source, matched_at))
    record_examined(con, theatre, "rules", source, cut, "_vigil_text_todo")
    con.execute("DROP TABLE _vigil_text_todo")


def _match_local(con, source: str, rules: dict[str, CompiledRule], stats) -> list[tuple]:
    """Match the plan's documents in this process, streamed in chunks (bounded memory)."""
    # Rows are written once the stream is read, since another statement on the
    # connection would end it.
    result = con.execute(
        """SELECT d.source_id,
                  -- a passage is matched on its own words: its document's title would
                  -- otherwise lend every passage the subject (and verbs) of the whole
                  CASE WHEN d.doc_type = 'passage' THEN NULL ELSE d.title END AS title,
                  d.body, d.published_at, d.available_at, d.outlet,
                  d.language, t.mask
           FROM documents d JOIN (SELECT source_id, bit_or(1::BIGINT << bit) AS mask
                                  FROM _vigil_text_todo GROUP BY 1) t USING (source_id)
           WHERE d.source = ?""",
        [source],
    )
    out: list[tuple] = []
    while chunk := result.fetchmany(CHUNK):
        out += match_chunk(chunk, list(rules), rules, stats)
    return out


def invalidate(con, theatre: str, indicator: str, method: str, rule_hash: str) -> bool:
    """Drop an indicator's rows and coverage made under another hash; True if any."""
    params = [theatre, indicator, method, rule_hash]
    old = con.execute(
        "SELECT count(*) FROM text_examined WHERE theatre = ? AND indicator = ? AND method = ? "
        "AND rule_hash <> ?",
        params,
    ).fetchone()[0]
    old += con.execute(
        "SELECT count(*) FROM text_matches WHERE theatre = ? AND indicator = ? AND method = ? "
        "AND rule_hash <> ?",
        params,
    ).fetchone()[0]
    if old:
        for table in ("text_examined", "text_matches"):
            con.execute(
                f"DELETE FROM {table} WHERE theatre = ? AND indicator = ? "
                "AND method = ? AND rule_hash <> ?",
                params,
            )
    return bool(old)


def purge_withdrawn(con, theatre: str, source: str) -> None:
    """Delete matches of documents no longer in the store (withdrawn by their source)."""
    con.execute(
        """DELETE FROM text_matches tm WHERE theatre = ? AND source = ? AND NOT EXISTS (
               SELECT 1 FROM documents d WHERE d.source = tm.source
               AND d.source_id = tm.source_id)""",
        [theatre, source],
    )


def _plan(con, theatre: str, source: str, cut, rules: dict[str, CompiledRule], stats) -> None:
    """Temp table of the (indicator, document) pairs to examine; old rows of those go."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vigil_text_todo (bit INTEGER, indicator VARCHAR, "
        "rule_hash VARCHAR, source_id VARCHAR, batch_id BIGINT)"
    )
    for bit, (ind_id, rule) in enumerate(rules.items()):
        params = {"t": theatre, "ind": ind_id, "m": "rules", "hash": rule.hash, "src": source}
        con.execute(
            f"INSERT INTO _vigil_text_todo SELECT {bit}, * FROM ({uncovered_sql()})",
            {**params, "since": cut},
        )
    for ind_id, n in con.execute(
        "SELECT indicator, count(*) FROM _vigil_text_todo GROUP BY 1"
    ).fetchall():
        stats[ind_id].examined = n
    # A revised document is examined again: its rows from the older version go.
    con.execute(
        """DELETE FROM text_matches tm USING _vigil_text_todo t WHERE tm.theatre = ?
           AND tm.method = 'rules' AND tm.source = ? AND tm.indicator = t.indicator
           AND tm.source_id = t.source_id""",
        [theatre, source],
    )


def uncovered_sql() -> str:
    """SELECT of $src's documents (published since $since) not examined under $hash.

    A batch's coverage rows each cover its documents published at or after their
    ``since``; together, those at or after the smallest one (NULL: all).
    """
    return """
        SELECT $ind AS indicator, $hash AS rule_hash, d.source_id, d.batch_id
        FROM documents d LEFT JOIN (
            SELECT batch_id, min(coalesce(since, '-infinity'::TIMESTAMP)) AS covered_from
            FROM text_examined WHERE theatre = $t AND indicator = $ind AND method = $m
              AND rule_hash = $hash AND source = $src GROUP BY batch_id) c USING (batch_id)
        WHERE d.source = $src AND ($since IS NULL OR d.published_at >= $since)
          AND (c.covered_from IS NULL OR d.published_at < c.covered_from)"""


def record_examined(con, theatre: str, method: str, source: str, cut, todo: str) -> None:
    """Coverage rows for the (indicator, batch) pairs of ``todo`` (a table of the plan)."""
    con.execute(
        f"""INSERT INTO text_examined
            SELECT ?, indicator, ?, rule_hash, ?, batch_id, ?, count(*), now()::TIMESTAMP
            FROM {todo} GROUP BY indicator, rule_hash, batch_id""",
        [theatre, method, source, cut],
    )


def match_chunk(
    rows: Sequence[tuple], bits: list[str], rules: dict[str, CompiledRule], stats
) -> list[tuple]:
    """Match one chunk of document rows (laid out as :data:`ROW`; only the source id,
    title, body, language and mask are read) to the rules whose bit, in ``bits`` order, is
    set in the row's mask; ``stats`` (:class:`IndicatorMatch` by indicator) are counted.

    The one code path of both matchers: this process (:func:`match_documents`) and each
    partition of the Spark job (:mod:`vigil.text.spark_match`). Returns (indicator, row,
    kind, cue, rule hash) per match.
    """
    norm = [normalise(f"{r[1] or ''} {r[2] or ''}") for r in rows]
    index = LiteralIndex(norm)
    by_mask: dict[int, list[int]] = defaultdict(list)
    for pos, row in enumerate(rows):
        by_mask[row[7]].append(pos)
    by_indicator: dict[str, list[int]] = defaultdict(list)
    for mask, positions in by_mask.items():
        for bit, ind_id in enumerate(bits):
            if mask >> bit & 1:
                by_indicator[ind_id] += positions
    out = []
    for ind_id, positions in by_indicator.items():
        t0 = perf_counter()
        rule, st = rules[ind_id], stats[ind_id]
        for pos in rule.match_many(norm, sorted(positions), index):
            row = rows[pos]
            # A line break, not a space, between title and body: the headline is its own
            # sentence for the claim window, and offsets stay those of the matched text.
            text = f"{row[1] or ''}\n{row[2] or ''}"
            kind, cue = classify(text, rule.span_normalised(norm[pos]), row[6])
            st.matched += 1
            st.occurrences += kind == "occurrence"
            st.claims += kind == "claim"
            out.append((ind_id, row, kind, cue, rule.hash))
        st.seconds += perf_counter() - t0
    return out


def _rows(out: list[tuple], theatre: str, source: str, matched_at: datetime) -> list[tuple]:
    return [
        (theatre, ind, source, r[0], r[3], r[4], r[5], r[6], kind, cue, "rules", 1.0, h, matched_at)
        for ind, r, kind, cue, h in out
    ]


def insert_matches(con, rows: Sequence[tuple]) -> None:
    """Insert ``text_matches`` rows: (theatre, indicator, source, source_id, published_at,
    available_at, outlet, language, kind, cue, method, score, rule_hash, matched_at)."""
    for lo in range(0, len(rows), _VALUES_ROWS):
        part = rows[lo : lo + _VALUES_ROWS]
        holes = ", ".join(["(" + ", ".join(["?"] * 14) + ")"] * len(part))
        con.execute(
            f"INSERT INTO text_matches ({_COLUMNS}) VALUES {holes}", [v for r in part for v in r]
        )


@dataclass(frozen=True)
class DailyRate:
    """One day of an indicator's feed-normalised text series."""

    day: date
    feeds: int  # feeds that published at least one item that day
    items: float  # their items (the denominators)
    matched: int  # matched documents of those feeds
    rate: float  # mean over the feeds of matched_f / items_f


def daily_rates(
    con,
    theatre: str,
    indicator: str,
    *,
    as_of: date | None = None,
    kinds: Sequence[str] = ("occurrence",),
    methods: Sequence[str] = ("rules",),
    source: str = "rss",
) -> list[DailyRate]:
    """The indicator's daily text series, normalised by each feed's volume.

    .. math:: r_d = \\frac{1}{|F_d|} \\sum_{f \\in F_d} \\frac{m_{f,d}}{n_{f,d}}

    where :math:`F_d` are the feeds with :math:`n_{f,d} > 0` items on day :math:`d`
    (``rss.feed_items_total``) and :math:`m_{f,d}` their documents matched with a kind in
    ``kinds`` by a method in ``methods``. With ``as_of``, only records available by the
    end of that day are used (``available_at <= as_of + 1 day``, midnight included: a
    day's total is complete, and stamped, at the next midnight).
    """
    end = None if as_of is None else datetime(as_of.year, as_of.month, as_of.day) + timedelta(1)
    kind_list = ", ".join("?" * len(kinds)) or "NULL"
    method_list = ", ".join("?" * len(methods)) or "NULL"
    sql = f"""
        WITH totals AS (
            SELECT period_start AS day, feed, sum(value) AS items
            FROM observations WHERE series = 'rss.feed_items_total' AND source = ?
              AND (?::TIMESTAMP IS NULL OR available_at <= ?::TIMESTAMP)
            GROUP BY ALL HAVING sum(value) > 0),
        hits AS (
            SELECT CAST(published_at AS DATE) AS day, outlet AS feed,
                   count(DISTINCT source_id) AS n
            FROM text_matches WHERE theatre = ? AND indicator = ? AND source = ?
              AND kind IN ({kind_list}) AND method IN ({method_list})
              AND (?::TIMESTAMP IS NULL OR available_at <= ?::TIMESTAMP)
            GROUP BY ALL)
        SELECT t.day, count(*), sum(t.items), sum(coalesce(h.n, 0)),
               avg(coalesce(h.n, 0) / t.items)
        FROM totals t LEFT JOIN hits h USING (day, feed) GROUP BY t.day ORDER BY t.day"""
    params = [source, end, end, theatre, indicator, source, *kinds, *methods, end, end]
    return [DailyRate(*row) for row in con.execute(sql, params).fetchall()]
