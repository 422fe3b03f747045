"""Shared machinery for *wide* and JSON series files (GPR, fires, losses, Natural Earth).

One input row (a day, a month, a country) holds many values, one per column, so each
non-empty value cell becomes one observation and **rows_in counts staged cells, not
input lines**: the ingest reconciles ``rows_in = loaded + duplicates + rejected`` over
cells, a bad cell is rejected alone (its reason names the column), and the input line
count is kept in the batch notes. A line that cannot be split into the header's fields
is one parse reject. Each observation's ``raw`` is the key column plus its own cell, so a
revision of one value updates one observation.

Readers parse in Python into text :class:`Parsed` records (``RecordReader.parse``) and
type them in SQL (``RecordReader.select`` via :func:`cell_select`), so typing failures
become reasons, never lost rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.errors import InputError
from vigil.sources.base import Reader, Reject, Stage, open_text
from vigil.sources.tabular import (
    Range,
    check_required,
    latest_date,
    range_checks,
    settle_keys,
    wide_fields,
)

if TYPE_CHECKING:
    import duckdb

RECORDS = "_vigil_records"
#: text fields of every parsed record: ``seq`` is its place in the file, ``problem`` a reason
#: found in Python (an unknown code), ``aux`` a reader's own extra text
_NAMES = "line seq period col cell series geo unit attrs problem aux raw"
FIELDS = tuple(_NAMES.split())


@dataclass
class Parsed:
    """Text records parsed from a file, lines that could not be parsed, and notes."""

    records: list[dict[str, str | None]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, line: int, **values: str | None) -> None:
        self.records.append({"line": str(line), "seq": str(len(self.records)), **values})


class RecordReader(Reader):
    """A file parsed in Python into one text record per observation, typed in SQL."""

    kind = "observations"
    pattern: re.Pattern[str]

    def matches(self, path: Path) -> bool:
        return bool(self.pattern.match(path.name))

    @abstractmethod
    def parse(self, path: Path) -> Parsed:
        """Text records (one per value cell), parse rejects and notes of ``path``."""

    @abstractmethod
    def select(self, parsed: Parsed) -> str:
        """The SQL select-list over ``src`` (see :func:`cell_select`)."""

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Stage:
        parsed = self.parse(path)
        stage = stage_records(con, table, parsed, self.select(parsed))
        return settle_keys(con, table, stage, self, path, key="key")

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        wanted = set(raws)
        found: dict[str, int] = {}
        for rec in self.parse(path).records:
            if rec["raw"] in wanted:
                found.setdefault(rec["raw"], int(rec["line"]))
        return found


def stage_records(con: duckdb.DuckDBPyConnection, table: str, parsed: Parsed, select: str) -> Stage:
    """Run ``select`` over the parsed records into TEMP ``table`` (adds raw, record_hash)."""
    params = {f"c{i}": [r.get(name) for r in parsed.records] for i, name in enumerate(FIELDS)}
    cols = ", ".join(f"unnest($c{i}::VARCHAR[]) AS {name}" for i, name in enumerate(FIELDS))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {RECORDS} AS SELECT {cols}", params)
    # ORDER BY seq: staged rows follow the file, so a staged table is the same on every run.
    con.execute(
        f"""CREATE TEMP TABLE {table} AS
            SELECT *, md5(raw) AS record_hash FROM (
                SELECT {select}, src.raw AS raw FROM {RECORDS} AS src
                ORDER BY src.seq::BIGINT)"""
    )
    con.execute(f"DROP TABLE {RECORDS}")
    staged = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    # The reject share is judged over input lines, not cells: one broken line of a
    # 115-column file must weigh as one line in 1,495, not one cell in 100,000.
    lines = {r["line"] for r in parsed.records} | {str(r.line) for r in parsed.rejects}
    return Stage(
        staged + len(parsed.rejects), tuple(parsed.rejects), tuple(parsed.notes), len(lines)
    )


def value_range(low: float | None, high: float | None, where: str | None = None) -> Range:
    """A :class:`Range` on a record's value (``where``: SQL choosing the records, e.g. by unit)."""
    return Range(
        "", "TRY_CAST(src.cell AS DOUBLE)", low, high, "src.cell", where, column_sql="src.col"
    )


def q(sql: str) -> str:
    """SQL for a reason fragment: the value quoted, or the word empty."""
    return f"coalesce('''' || {sql} || '''', 'empty')"


def cell_select(
    *,
    period: str,
    period_end: str,
    freq: str,
    id_period: str,
    lag_days: int,
    basis: str,
    period_name: str,
    period_format: str,
    available: str | None = None,
    checks: Sequence[tuple[str, str]] = (),
    key: str = "src.series || '|' || src.geo",
    earliest: date | None = None,
    ranges: Sequence[Range] = (),
) -> str:
    """Select-list turning a text record into an observation.

    ``period``/``period_end`` are SQL DATE expressions over ``src.period``;
    ``available_at`` is the end of the period plus ``lag_days`` unless ``available``
    (SQL, ``{end}`` = period end) says otherwise; ``checks`` are extra (condition,
    reason) pairs tried after the period, the Python-found problem and the number;
    ``source_id`` is ``key`` (SQL) and the period formatted by ``id_period``. The period
    must lie from ``earliest`` (the source's first period) to the run date; ``ranges``
    bound the value (``value_range`` builds them), checked after the rest.
    """
    end = period_end
    avail = (
        available.format(end=end)
        if available
        else (f"({end} + INTERVAL 1 DAY)::TIMESTAMP + INTERVAL {lag_days} DAY")
    )
    value = "TRY_CAST(src.cell AS DOUBLE)"
    basis = basis.replace("'", "''")
    extra = "".join(f"\n        WHEN {cond} THEN {reason}" for cond, reason in checks)
    # a period the source published: from its first to the run date (files carry no date)
    when = [Range(period_name, period, earliest, latest_date(), text="src.period")]
    extra += "\n        " + range_checks([*when, *ranges])
    return f"""
    {key} || '|' || strftime({period}, '{id_period}') AS source_id,
    src.series AS series, src.geo AS geo, {period} AS period_start, {end} AS period_end,
    '{freq}' AS freq, {value} AS value, src.unit AS unit, src.attrs AS attrs,
    {avail} AS available_at, '{basis}' AS available_basis, NULL::VARCHAR AS url,
    CASE
        WHEN {period} IS NULL
            THEN '{period_name} ' || {q("src.period")} || ' is not a {period_format} date'
        WHEN src.problem IS NOT NULL THEN src.problem
        WHEN {value} IS NULL OR NOT isfinite({value})
            THEN src.col || ' ' || {q("src.cell")} || ' is not a number'{extra}
    END AS _reject"""


Rows = list[tuple[int, list[str]]]


def csv_rows(
    path: Path, label: str, required: Sequence[str]
) -> tuple[list[str], Rows, list[Reject]]:
    """Header, (line, fields) rows and parse rejects of a header'd UTF-8 CSV file."""
    rows: Rows = []
    rejects: list[Reject] = []
    try:
        with open_text(path) as fh, wide_fields():  # type: ignore[attr-defined]
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = next(reader, [])
            check_required(path, header, required, label)
            line = reader.line_num
            for fields in reader:
                start, line = line + 1, reader.line_num
                if line > start:
                    # Series files never hold line breaks inside a field: this is a stray
                    # quote that merged rows, so fail rather than lose them silently.
                    raise InputError(
                        f"{path}: line {start}: a quoted field runs on to line {line}, "
                        f"merging {line - start + 1} lines into one row (a stray quote)",
                        "fix the quoting or re-download the file; nothing was loaded",
                    )
                if not fields:
                    continue  # a blank line holds no row
                if len(fields) != len(header):
                    reason = f"expected {len(header)} fields, found {len(fields)}"
                    rejects.append(Reject(start, "parse", reason, ",".join(fields)))
                else:
                    rows.append((start, fields))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"{path}: not a readable UTF-8 CSV file ({exc})",
            "re-download it or check that it was given to the right SOURCE",
        ) from exc
    return header, rows, rejects


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def cells_note(rows: int, cells: int, skipped: int, what: str = "empty") -> str:
    return f"{rows} input rows → {cells} observations; {skipped} {what} cells skipped"


def json_array(path: Path, label: str, key: str | None = None) -> list[tuple[int, Any]]:
    """(line, item) for each item of the file's top-level JSON array (or of its ``key``)."""
    try:
        with open_text(path) as fh:  # type: ignore[attr-defined]
            text = fh.read().decode("utf-8-sig")
        # Decode item by item so that each keeps the line it starts on, for rejects.
        decoder, pos = json.JSONDecoder(), 0
        if key is not None:
            found = re.search(r'"' + re.escape(key) + r'"\s*:\s*(?=\[)', text)
            pos = found.end() if found else len(text)
        pos = _skip_ws(text, pos)
        if not text.startswith("[", pos):
            where = f"a {key!r} array" if key else "a JSON array"
            raise InputError(
                f"{path}: not a {label}: expected {where}",
                "check that the file was given to the right SOURCE",
            )
        items, line, last, pos = [], 1, 0, _skip_ws(text, pos + 1)
        while not text.startswith("]", pos):
            item, end = decoder.raw_decode(text, pos)
            line, last = line + text.count("\n", last, pos), pos
            items.append((line, item))
            pos = _skip_ws(text, end)
            if text.startswith(",", pos):
                pos = _skip_ws(text, pos + 1)
            elif not text.startswith("]", pos):
                raise json.JSONDecodeError("expected ',' or ']'", text, pos)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: not valid UTF-8 JSON ({exc})",
            "re-download it: the file is probably truncated",
        ) from exc
    return items


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
