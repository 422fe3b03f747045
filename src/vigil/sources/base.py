"""The adapter contract: how a source's files become staged records.

An :class:`Adapter` owns one source (``gdelt``, ``acled``…). It holds one or more
:class:`Reader` objects, each for one file format of that source. A reader turns a
file into a TEMP table whose columns are the record kind's columns (see
``store.migrations``) plus two bookkeeping columns:

* ``_reject``: NULL for a good row, else the reason the row cannot be loaded;
* ``_delete`` (optional): TRUE for a tombstone, a source's notice that a record was
  withdrawn (ACLED's deleted events), applied when no newer version is stored.

Parse-level rejects (wrong column count, bad encoding…) that never reach the table
are returned in :class:`Stage`. The reader never writes to the store: the ingest
layer merges, counts and commits.
"""

from __future__ import annotations

import gzip
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from vigil.sources.http import Fetched, Fetcher


@dataclass(frozen=True)
class Reject:
    """One input row that could not be loaded."""

    line: int | None
    error_type: str
    reason: str
    raw: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Stage:
    """What a reader staged: how many input rows it saw and the ones it could not parse."""

    rows_in: int
    rejects: tuple[Reject, ...] = ()
    notes: tuple[str, ...] = ()
    #: input lines, when a line holds many records (wide files): the reject share is
    #: then judged over lines
    lines_in: int | None = None


class Reader(ABC):
    """Reads one file format of a source into a staging table of one record kind."""

    kind: str = "events"
    #: human description used in error messages ("GDELT 2.0 event export")
    label: str = ""

    @abstractmethod
    def matches(self, path: Path) -> bool:
        """True when ``path``'s name says it is this reader's format."""

    @abstractmethod
    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Stage:
        """Create TEMP table ``table`` from ``path`` and return the parse counts."""

    def locate(self, path: Path, raws: list[str]) -> dict[str, int]:
        """Line numbers of rows (by their ``raw`` text) that failed validation after parsing."""
        return {}


@dataclass
class Adapter:
    """A source: its readers, the data-folder names it recognises, and live fetching."""

    name: str
    description: str
    readers: Sequence[Reader]
    folders: tuple[str, ...] = ()
    live_help: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def reader_for(self, path: Path) -> Reader:
        """The reader for ``path``, or an InputError naming what this adapter accepts."""
        for reader in self.readers:
            if reader.matches(path):
                return reader
        accepted = "; ".join(r.label for r in self.readers)
        raise InputError(
            f"{path}: not a file the {self.name} adapter reads (it reads: {accepted})",
            "check the file name and the SOURCE argument (`vigil sources` lists them)",
        )

    def files_in(self, folder: Path) -> list[Path]:
        """Every file below ``folder`` that one of this adapter's readers takes, sorted."""
        return sorted(
            p for p in folder.rglob("*") if p.is_file() and any(r.matches(p) for r in self.readers)
        )

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        """Download the source's current files into the cache; return paths to ingest."""
        raise InputError(
            f"the {self.name} adapter has no live feed",
            "download its files and run `vigil ingest SOURCE PATH`",
        )


def open_text(path: Path) -> Iterable[bytes]:
    """Binary line iterator over a plain or gzip-compressed file."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


#: the longest first line (a header or a first record) read into memory to check a file
FIRST_LINE_MAX = 1 << 20


def first_line(path: Path) -> bytes:
    """The first line of a (possibly gzipped) file, without its newline; b'' if empty.

    Bounded: a first line over :data:`FIRST_LINE_MAX` bytes (3 GB of tabs in a small
    gzip, a sparse file of NUL bytes) fails as an InputError instead of being read whole.
    """
    with open_text(path) as fh:  # type: ignore[attr-defined]
        line = fh.readline(FIRST_LINE_MAX + 1)
    if len(line) > FIRST_LINE_MAX and not line.endswith(b"\n"):
        if not line.strip(b"\0"):
            raise InputError(
                f"{path}: the file begins with {FIRST_LINE_MAX:,}+ NUL bytes and no text "
                "(a zero-filled or sparse file, not a data file)",
                "the file looks truncated or corrupt: re-download it",
            )
        raise InputError(
            f"{path}: line 1 is longer than 1 MiB with no line break: not a text data "
            "file of this kind",
            "the file looks truncated or corrupt: re-download it, or check that it was "
            "given to the right SOURCE (`vigil sources`)",
        )
    return line.rstrip(b"\r\n")


def locate_lines(path: Path, raws: set[str], *, skip: int = 0) -> dict[str, int]:
    """Map each raw line text in ``raws`` to its 1-based line number in ``path``.

    Used only on the error path, for rows that parsed but failed validation in SQL,
    where DuckDB no longer knows the line. ``skip`` lines (a header) are counted.
    """
    found: dict[str, int] = {}
    if not raws:
        return found
    with open_text(path) as fh:  # type: ignore[attr-defined]
        for number, line in enumerate(fh, start=1):
            if number <= skip:
                continue
            text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
            if text in raws and text not in found:
                found[text] = number
                if len(found) == len(raws):
                    break
    return found
