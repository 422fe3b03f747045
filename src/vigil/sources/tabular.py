"""Shared machinery for delimited-text sources, read by DuckDB with rejects kept.

Why DuckDB's reader: it streams, parses ~300 k rows/s on two cores, and with
``store_rejects`` it records every malformed line with its number and text instead of
failing or silently skipping (SOURCES.md §4.1). Every column is read as VARCHAR so
that the raw row is kept exactly; typing and validation happen in the reader's SQL,
where a failed cast becomes a ``_reject`` reason rather than a lost row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import InputError
from vigil.sources.base import Reader, Reject, Stage, first_line, open_text

if TYPE_CHECKING:
    import duckdb

REJECTS_TABLE = "_vigil_csv_rejects"
REJECTS_SCAN = "_vigil_csv_scans"


def header_names(path: Path, delim: str) -> list[str]:
    """Column names from a file's header line (BOM stripped)."""
    line = first_line(path).decode("utf-8-sig", errors="replace")
    return next(csv.reader([line], delimiter=delim)) if line else []


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

    kind: str
    label: str
    patterns: tuple[str, ...]
    required: tuple[str, ...]
    select: str
    delim: str = ","
    #: the format never has line breaks inside a field (see ``_refuse_merged_lines``)
    single_line: bool = True


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
        return stage_select(
            con,
            path,
            table,
            self.spec.select,
            read_csv_sql(path, columns, delim=self.spec.delim, header=True, quote='"', escape='"'),
            single_line=self.spec.single_line,
        )

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
    with open_text(path) as fh:  # type: ignore[attr-defined]
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delim)
        names = next(reader, [])
        for number, row in enumerate(reader, start=2):
            key = tuple(zip(names, row, strict=False))
            if key in wanted:
                found[wanted[key]] = number
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
