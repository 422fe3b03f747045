"""Shared machinery for delimited-text sources, read by DuckDB with rejects kept.

Why DuckDB's reader: it streams, parses ~300 k rows/s on two cores, and with
``store_rejects`` it records every malformed line with its number and text instead of
failing or silently skipping (SOURCES.md §4.1). Every column is read as VARCHAR so
that the raw row is kept exactly; typing and validation happen in the reader's SQL,
where a failed cast becomes a ``_reject`` reason rather than a lost row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import InputError
from vigil.sources.base import Reader, Reject, Stage, first_line, open_text

if TYPE_CHECKING:
    import duckdb

REJECTS_TABLE = "_vigil_csv_rejects"
REJECTS_SCAN = "_vigil_csv_scans"


#: DuckDB's ``read_csv`` default ``max_line_size`` (2 MiB): a longer line is a parse reject
#: there, so no field that reached a staged row is longer than this
MAX_FIELD_CHARS = 2_097_152


@contextlib.contextmanager
def wide_fields() -> Iterator[None]:
    """Let Python's csv module read fields up to :data:`MAX_FIELD_CHARS` (default: 128 KiB).

    A long quoted description (a pasted article) is legitimate in free-text sources, and
    the rows DuckDB staged must be found again by Python's csv on the error path; without
    this a field over 131,072 characters raises "field larger than field limit". The limit
    stays bounded (DuckDB's own line limit), so a stray quote cannot make csv buffer a whole
    file; the process-wide setting is restored on exit.
    """
    before = csv.field_size_limit()
    csv.field_size_limit(max(before, MAX_FIELD_CHARS))
    try:
        yield
    finally:
        csv.field_size_limit(before)


def header_names(path: Path, delim: str) -> list[str]:
    """Column names from a file's header line (BOM stripped)."""
    line = first_line(path).decode("utf-8-sig", errors="replace")
    if not line:
        return []
    try:
        with wide_fields():
            return next(csv.reader([line], delimiter=delim))
    except csv.Error as exc:
        raise InputError(
            f"{path}: the header line cannot be read as CSV ({exc})",
            "check that the file was given to the right SOURCE (`vigil sources`)",
        ) from exc


def read_csv_sql(
    path: Path, columns: dict[str, str], *, delim: str, header: bool, quote: str, escape: str
) -> str:
    """A ``read_csv(...)`` call that keeps rejects and never guesses the format."""
    cols = "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in columns.items()) + "}"
    return (
        f"read_csv({_lit(str(path))}, delim={_lit(delim)}, quote={_lit(quote)}, "
        f"escape={_lit(escape)}, header={str(header).lower()}, columns={cols}, "
        "auto_detect=false, strict_mode=true, store_rejects=true, "
        f"rejects_table='{REJECTS_TABLE}', rejects_scan='{REJECTS_SCAN}')"
    )


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def collect_rejects(con: duckdb.DuckDBPyConnection) -> tuple[Reject, ...]:
    """One Reject per malformed line DuckDB recorded in the last scan (none for non-CSV)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [REJECTS_TABLE]
    ).fetchone()[0]
    if not exists:
        return ()
    rows = con.execute(
        f"""SELECT line, string_agg(DISTINCT error_type::VARCHAR, ', '),
                   arg_min(error_message, coalesce(column_idx, 0)), any_value(csv_line),
                   any_value(column_name)
            FROM {REJECTS_TABLE} GROUP BY line ORDER BY line"""
    ).fetchall()
    return tuple(
        Reject(
            line=int(line),
            error_type=etype,
            reason=_reason(etype, msg),
            raw=(raw or "").rstrip("\r\n"),
            column=col,
        )
        for line, etype, msg, raw, col in rows
    )


def _reason(error_type: str, message: str) -> str:
    first = message.split("\n")[0].strip()
    return f"{error_type.lower()}: {first}" if first else error_type.lower()


def drop_reject_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {REJECTS_TABLE}")
    con.execute(f"DROP TABLE IF EXISTS {REJECTS_SCAN}")


@dataclass(frozen=True)
class CsvSpec:
    """How to read one header'd CSV format and map it to a record kind.

    ``select`` is a SQL select-list over the alias ``src`` producing the record
    kind's columns plus ``_reject`` (NULL or a reason); ``raw`` and ``record_hash``
    are added here. ``required`` columns must be in the header, in any order, so a
    file given to the wrong adapter fails at once with the names it lacks.
    """

    def compiled(self) -> str:
        """``select`` with its ranges compiled in."""
        checks = range_checks(self.ranges()) if self.ranges else ""
        return self.select.replace("/*ranges*/", checks)

    kind: str
    label: str
    patterns: tuple[str, ...]
    required: tuple[str, ...]
    select: str
    delim: str = ","
    #: the format never has line breaks inside a field (see ``_refuse_merged_lines``)
    single_line: bool = True
    #: the plausible ranges (:class:`Range`), built at stage time (dates may end today);
    #: compiled where ``select`` holds the marker ``/*ranges*/``
    ranges: Callable[[], Sequence[Range]] | None = None
    #: the file's name for the key, in conflict reasons (:func:`settle_keys`)
    key: str = "key"


class CsvReader(Reader):
    """A header'd CSV file read through :class:`CsvSpec`."""

    def __init__(self, spec: CsvSpec) -> None:
        self.spec = spec
        self.kind = spec.kind
        self.label = spec.label

    def matches(self, path: Path) -> bool:
        return any(path.match(p) for p in self.spec.patterns)

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Stage:
        names = header_names(path, self.spec.delim)
        check_required(path, names, self.spec.required, self.label)
        columns = {n: "VARCHAR" for n in names}
        stage = stage_select(
            con,
            path,
            table,
            self.spec.compiled(),
            read_csv_sql(path, columns, delim=self.spec.delim, header=True, quote='"', escape='"'),
            single_line=self.spec.single_line,
        )
        return settle_keys(con, table, stage, self, path, key=self.spec.key)

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        return locate_csv_records(path, raws, self.spec.delim)


def check_required(path: Path, names: Sequence[str], required: Sequence[str], label: str) -> None:
    """Fail with the missing column names when a header lacks required columns."""
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(
            f"{path}: header repeats column(s) {', '.join(dupes)}",
            "fix the header so every column name is unique",
        )
    missing = [c for c in required if c not in names]
    if missing:
        shown = ", ".join(names[:8]) + ("…" if len(names) > 8 else "")
        raise InputError(
            f"{path}: not a {label}: header lacks {', '.join(missing)} (found: {shown})",
            "check that the file was given to the right SOURCE (`vigil sources`)",
        )


def stage_select(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    select: str,
    source_sql: str,
    raw_sql: str = "to_json(src)::VARCHAR",
    joins: str = "",
    single_line: bool = False,
) -> Stage:
    """Run ``select`` over ``source_sql`` into TEMP ``table``; return counts and rejects."""
    drop_reject_tables(con)
    con.execute(
        f"""CREATE TEMP TABLE {table} AS
            SELECT *, md5(raw) AS record_hash FROM (
                SELECT {select}, {raw_sql} AS raw FROM {source_sql} AS src {joins}
            )"""
    )
    rejects = collect_rejects(con)
    drop_reject_tables(con)
    _refuse_merged_lines(con, path, table, rejects, single_line)
    staged = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return Stage(rows_in=staged + len(rejects), rejects=rejects)


def _refuse_merged_lines(con, path: Path, table: str, rejects, single_line: bool) -> None:
    """Fail when a stray quote made the parser merge lines: counts would hide the loss.

    An unterminated quote swallows the rest of the file into one "row"; one reject would
    then stand for hundreds of lines. In a format that never has line breaks inside a
    field, a staged value holding one means two quotes merged the lines between them.
    """
    for r in rejects:
        if "unquoted value" in r.error_type.lower():
            raise InputError(
                f"{path}: line {r.line}: a quoted field is never closed, so the parser "
                "would swallow every line from there to the end of the file",
                "fix the stray quote (or re-download the file); nothing was loaded",
            )
    if not single_line:
        return
    merged = con.execute(
        f"SELECT count(*), any_value(raw) FROM {table} WHERE contains(raw, '\\n')"
    ).fetchone()
    if merged[0]:
        raise InputError(
            f"{path}: {merged[0]} row(s) hold a line break inside a field, which this format "
            f"never has: a stray quote merged lines (first: {merged[1][:120]})",
            "fix the quoting or re-download the file; nothing was loaded",
        )


def locate_csv_records(path: Path, raws: Sequence[str], delim: str = ",") -> dict[str, int]:
    """Record numbers (header = 1) of rows whose JSON ``raw`` equals a CSV record.

    Error path only: DuckDB reports record numbers for parse errors, but a row that
    parsed and then failed validation has lost its position, so find it again.
    """
    wanted: dict[tuple, str] = {}
    for raw in raws:
        obj = json.loads(raw)
        wanted[tuple((k, v or "") for k, v in obj.items())] = raw
    found: dict[str, int] = {}
    with open_text(path) as fh, wide_fields():  # type: ignore[attr-defined]
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delim)
        try:
            names = next(reader, [])
            for number, row in enumerate(reader, start=2):
                key = tuple(zip(names, row, strict=False))
                if key in wanted:
                    found[wanted[key]] = number
        except csv.Error:
            # A field even DuckDB could not have staged (over MAX_FIELD_CHARS): the rows
            # located so far keep their lines, the others are reported without one.
            pass
    return found


def in_file_order(read_sql: str, names: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """(source, raw) SQL for stage_select that number rows by file position in ``_pos``.

    Joins may reorder rows (DuckDB builds its hash table on the smaller side); readers
    whose own post-processing (numbering reused ids, notes) must follow the file use
    ``_pos`` and :func:`restore_file_order`. The ingest itself never relies on row order.
    """
    source = f"(SELECT *, row_number() OVER () AS _pos FROM {read_sql})"
    pairs = ", ".join(
        "'" + n.replace("'", "''") + "': src.\"" + n.replace('"', '""') + '"' for n in names
    )
    return source, "to_json({" + pairs + "})::VARCHAR"


def restore_file_order(con, table: str) -> None:
    """Rewrite staged ``table`` in ``_pos`` order and drop ``_pos``."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT * EXCLUDE (_pos) FROM {table} ORDER BY _pos"
    )


# ---------------------------------------------------------------- plausibility

#: the quantile of a file's dates taken as the end of its body
BODY_PERCENTILE = 0.99
#: the allowance past the body, as a share of the body's span (1st to 99th percentile)…
BODY_SPAN_SHARE = 0.10
#: …and at least this many days
BEYOND_BODY_MIN_DAYS = 60


def reject_beyond_body(
    con: duckdb.DuckDBPyConnection, table: str, column: str = "occurred_on"
) -> int:
    """Quarantine the rows of staged ``table`` dated far beyond the body of their own file
    (a mistyped year: ``2024-02-24`` in a file of 2022 incidents); return how many.

    A row is rejected (``_reject`` set, so the ingest counts it in the batch's ``rejected``
    and keeps it in ``rejects`` with its line) when ``column`` lies more than N days after
    the file's 99th-percentile date. Only rows not already rejected are judged, and only
    they define the body. The rule reads the file alone, never a calendar: a file's rows
    sample one data stream, and the stream ends where the file's dates thin out.

    * **The body ends at the 99th percentile** (``quantile_disc``: a date of the file). A
      few typos among thousands of rows cannot move it, as up to 1% of the rows may lie
      past it, yet it sits at the end of the real stream (CIR 2022: 12 days before its
      last true row; UCDP Ukraine 2014-2022q1: 88 days). A file of under 100 dated rows is
      never judged: its 99th percentile is its last row, so nothing lies beyond it.
    * **N is a tenth of the body's span S** (1st to 99th percentile), at least
      :data:`BEYOND_BODY_MIN_DAYS`. At the body's mean rate the last 1% of rows would
      follow within ~S/98; real streams thin out at their end (collection effort decays,
      a conflict quietens: the last 1% of CIR 2022 came at about a quarter of its mean
      rate, of UCDP 2014-2022q1 at a third), so N lets the tail run ten times slower than
      the mean: 1% of the rows at a tenth of the rate last ~S/10. The 60-day floor keeps a
      short file (a month's API window) from being judged to the week. A mistyped year
      lands ~365 days out; a row past ``p99 + N`` follows a silence that the file's own
      history does not explain.

    If more than 1% of a file's rows are misdated the percentile lands among them and they
    pass: such a file needs a human eye, not this guard. The reason names the row's date,
    the percentile, N and the span of the rest of the file.
    """
    p99, p01 = con.execute(
        f"""SELECT quantile_disc({column}, {BODY_PERCENTILE}),
                   quantile_disc({column}, {round(1 - BODY_PERCENTILE, 6)})
            FROM {table} WHERE _reject IS NULL"""
    ).fetchone()
    if p99 is None:
        return 0
    allowance = max(BEYOND_BODY_MIN_DAYS, round((p99 - p01).days * BODY_SPAN_SHARE))
    beyond = f"{column} > DATE '{p99:%Y-%m-%d}' + {allowance}"
    first, last = con.execute(
        f"SELECT min({column}), max({column}) FROM {table} WHERE _reject IS NULL AND NOT {beyond}"
    ).fetchone()
    rejected = con.execute(
        f"""UPDATE {table} SET _reject = 'date ' || strftime({column}, '%Y-%m-%d') || ' lies '
                || ({column} - DATE '{p99:%Y-%m-%d}') || ' days after the 99th percentile of '
                || 'this file''s dates ({p99:%Y-%m-%d}; at most {allowance} allowed): the rest '
                || 'of the file spans {first:%Y-%m-%d} … {last:%Y-%m-%d}, so the date is '
                || 'likely mistyped (a wrong year?); correct it in the file and ingest again'
            WHERE _reject IS NULL AND {beyond}"""
    ).fetchone()
    return int(rejected[0]) if rejected else 0


# ---------------------------------------------------------------- plausible ranges

#: a count of people or events of one place and period can never exceed everyone alive
#: (8.2 billion in 2025); 10^10 leaves room for growth and rejects 1e308 and infinity
MAX_COUNT = 10_000_000_000


def latest_date() -> date:
    """The last date a row may carry when its file gives no later bound: the run's UTC
    date plus one day, as a source in a zone ahead of UTC may already be on tomorrow."""
    return datetime.now(UTC).date() + timedelta(days=1)


@dataclass(frozen=True)
class Range:
    """One column's allowed values, ``low`` … ``high`` inclusive (numbers, or dates).

    A reader lists its ranges in a table (``RANGES``) and compiles them with
    :func:`range_checks` into the ``_reject`` CASE of its select, after the checks that the
    value parses at all: a value outside its range is rejected with a reason naming the
    column, the value as written and the range ("GoldsteinScale 'nan' is outside
    -10…10"). NaN and ±infinity are outside every range. ``None`` leaves a side open.

    ``value`` is SQL for the typed value; ``text`` SQL for the value as written (default:
    the typed value as text); ``where`` SQL limiting the rows the range applies to (a
    wide file's unit); ``column_sql`` SQL naming the column per row, instead of
    ``column``. Each entry of a table carries a one-line comment: why these bounds.
    """

    column: str
    value: str
    low: float | date | None
    high: float | date | None
    text: str | None = None
    where: str | None = None
    column_sql: str | None = None

    def shown(self) -> str:
        """The range as a reason writes it: ``-10…10``, ``at least 0``, ``at most 2026-12-08``."""
        low, high = _show(self.low), _show(self.high)
        if low is not None and high is not None:
            return f"{low}…{high}"
        return f"at least {low}" if low is not None else f"at most {high}"


def _show(bound: float | date | None) -> str | None:
    if bound is None or isinstance(bound, date):
        return None if bound is None else bound.isoformat()
    return f"{bound:,.0f}" if float(bound).is_integer() else f"{bound:g}"


def _sql(bound: float | date) -> str:
    return f"DATE '{bound.isoformat()}'" if isinstance(bound, date) else repr(float(bound))


def range_checks(ranges: Sequence[Range]) -> str:
    """``WHEN … THEN reason`` branches rejecting values outside their :class:`Range`."""
    branches = []
    for r in ranges:
        v = f"({r.value})"
        dated = isinstance(r.low, date) or isinstance(r.high, date)
        finite = f"isfinite({v})" if dated else f"isfinite({v}::DOUBLE)"
        outside = [f"NOT {finite}"]
        outside += [f"{v} < {_sql(r.low)}"] if r.low is not None else []
        outside += [f"{v} > {_sql(r.high)}"] if r.high is not None else []
        where = f"({r.where}) AND " if r.where else ""
        name = r.column_sql or _lit(r.column)
        text = r.text or f"{v}::VARCHAR"
        branches.append(
            f"WHEN {where}{v} IS NOT NULL AND ({' OR '.join(outside)}) THEN {name} || ' ' || "
            f"coalesce('''' || {text} || '''', 'empty') || ' is outside {r.shown()}'"
        )
    return "\n    ".join(branches)


# ---------------------------------------------------------------- one key, one row


def settle_keys(
    con: duckdb.DuckDBPyConnection,
    table: str,
    stage: Stage,
    reader: Reader,
    path: Path,
    *,
    key: str,
    resolve: tuple[str, str] | None = None,
) -> Stage:
    """Apply the in-file key rule to staged ``table``; return ``stage`` with its note.

    The rule, the same for every source (see :mod:`vigil.store.merge`): within one file,
    rows that share a ``source_id`` and are identical (same ``record_hash``) are copies,
    and the merge counts all but one as duplicates. Rows that share a ``source_id`` with
    *different* content cannot both be the record: every row of that key is rejected,
    with a reason naming ``key`` (the file's name for the key column), the value and the
    lines ("GLOBALEVENTID 123 appears on lines 4 and 9 with different content").

    A reader whose source documents which copy is right passes ``resolve`` = (SQL ORDER
    BY over the staged columns, best first; a description of the rule): the first row of
    each such key is kept and the others are marked ``_dup`` (the merge counts them as
    duplicates), and the batch notes name the keys and the rule. Only rows not already
    rejected and not tombstones (``_delete``) are judged.
    """
    cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    tombstones = "_delete" in cols

    def judged(alias: str = "") -> str:
        tomb = f" AND NOT coalesce({alias}_delete, FALSE)" if tombstones else ""
        return f"{alias}_reject IS NULL{tomb}"

    live = judged()
    conflicts = con.execute(
        f"""SELECT source_id FROM {table} WHERE {live}
            GROUP BY source_id HAVING count(DISTINCT record_hash) > 1 ORDER BY source_id"""
    ).fetchall()
    if not conflicts:
        return stage
    ids = [r[0] for r in conflicts]
    con.execute("CREATE OR REPLACE TEMP TABLE _vigil_conflict_ids (source_id VARCHAR)")
    con.executemany("INSERT INTO _vigil_conflict_ids VALUES (?)", [[i] for i in ids])
    listed = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    if resolve is not None:
        order, rule = resolve
        if "_dup" not in cols:
            con.execute(f"ALTER TABLE {table} ADD COLUMN _dup BOOLEAN DEFAULT FALSE")
        con.execute(
            f"""UPDATE {table} SET _dup = TRUE WHERE rowid IN (
                    SELECT rid FROM (
                        SELECT rowid AS rid, row_number() OVER (
                            PARTITION BY source_id ORDER BY {order}) AS n
                        FROM {table} WHERE {live}
                          AND source_id IN (SELECT source_id FROM _vigil_conflict_ids))
                    WHERE n > 1)"""
        )
        con.execute("DROP TABLE _vigil_conflict_ids")
        note = (
            f"{len(ids)} {key} value(s) appear on rows with different content; {rule}, "
            f"the others counted as duplicates: {listed}"
        )
        return replace(stage, notes=(*stage.notes, note))
    rows = con.execute(
        f"""SELECT source_id, raw FROM {table} WHERE {live}
            AND source_id IN (SELECT source_id FROM _vigil_conflict_ids)"""
    ).fetchall()
    lines = reader.locate(path, sorted({raw for _, raw in rows}))
    by_id: dict[str, set[int]] = {}
    for source_id, raw in rows:
        found = by_id.setdefault(source_id, set())
        if raw in lines:
            found.add(lines[raw])
    reasons = [[_conflict_reason(key, i, sorted(by_id[i])), i] for i in ids]
    con.execute("CREATE OR REPLACE TEMP TABLE _vigil_conflicts (reason VARCHAR, source_id VARCHAR)")
    con.executemany("INSERT INTO _vigil_conflicts VALUES (?, ?)", reasons)
    con.execute(
        f"""UPDATE {table} AS t SET _reject = c.reason FROM _vigil_conflicts c
            WHERE t.source_id = c.source_id AND {judged("t.")}"""
    )
    con.execute("DROP TABLE _vigil_conflicts")
    con.execute("DROP TABLE _vigil_conflict_ids")
    return stage


def _conflict_reason(key: str, source_id: str, lines: list[int]) -> str:
    if len(lines) >= 2:
        where = ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"
        return f"{key} {source_id} appears on lines {where} with different content"
    return f"{key} {source_id} appears more than once in this file with different content"
