"""Shared pieces of the command line: the app, consoles, options and error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.markup import escape

from vigil import __version__, settings
from vigil.display import neutralise
from vigil.errors import StoreBusyError, StoreError, StoreOutdatedError, UsageError, VigilError
from vigil.store import connect

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Vigil: auditable early warning for armed-conflict escalation.",
)
# Piped output (logs, CI, the README transcript) gets a fixed width instead of 80.
_WIDTH = None if sys.stdout.isatty() else 132
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)
_state = {"debug": False}
#: connections opened by the running command, closed when it returns (a CLI process ends
#: anyway, but tests and `vigil demo` run several commands in one process)
_open: list = []


def track(con):
    """Close ``con`` when the command that opened it ends."""
    _open.append(con)
    return con


# How each command opens the store (every one through open_store):
#
# * creators, write=True, create=True: they load data, so a missing store is what they
#   build: `ingest` (and `ingest documents|notes`), `demo`, `note add`, `note withdraw`;
# * writers, write=True: they write derived tables (text matches in `prepare_evidence`,
#   embeddings) or stored assessments, but refuse to create a missing store, which would
#   only be a mistyped --db: `assess`, `replay`, `brief` (store assessments), `embed`, and,
#   for their text matching only, `indicators`, `evidence`, `plot`, `simulate`,
#   `backtest --model scenarios` — these last store nothing else, so when another process
#   holds the store (`vigil serve`) they fall back to read-only, using the matches as
#   they stand (cli.indicators._prepared);
# * readers, read-only, so they run beside `vigil serve` (which opens read-only too):
#   `status`, `rejects`, `notes`, `documents`, `forecast`, `backtest` (the forecaster).
def open_store(db: Path, *, write: bool = False, create: bool = False):
    """The store at ``db`` for the running command (closed when it ends).

    Only a command that loads data may ``create`` it: to any other, a missing file is a
    mistyped --db, and creating an empty store there would hide the mistake.
    """
    if not create and str(db) != ":memory:" and not Path(db).exists():
        raise StoreError(
            f"no store at {db}",
            "check --db (or VIGIL_DB); `vigil ingest --data DIR` or `vigil demo` builds one",
        )
    if write:
        return track(connect(db))
    try:
        return track(connect(db, read_only=True))
    except duckdb.ConnectionException as exc:
        # This process already has the store open for writing (a command run inside
        # another, as `vigil demo` runs its steps), and DuckDB opens a file one way per
        # process: share that way. No other process can hold it meanwhile anyway.
        if "different configuration" not in str(exc):
            raise
        return track(connect(db))
    except StoreOutdatedError as exc:
        # A store from an older vigil: migrating is no change to its data, so a reader
        # does it, as every command did before readers opened read-only; unless another
        # process holds the store, when the error says what to do.
        try:
            connect(db).close()
        except StoreBusyError:
            raise exc from None
    return track(connect(db, read_only=True))


DbOption = Annotated[
    Path, typer.Option("--db", envvar="VIGIL_DB", help="DuckDB store (env VIGIL_DB).")
]
DEFAULT_DB = Path(settings.SETTINGS["db"].default)
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]
#: the largest --limit: integer options are bounded so that no value overflows DuckDB's
#: BIGINT or a date (a usage error instead of a store error)
MAX_LIMIT = 10_000_000
#: the longest --step, in days (ten years)
MAX_STEP = 3650


def date_range(start: str, end: str, step: int, *, most: int, each: str) -> tuple:
    """``--from``/``--to``/``--step`` checked: ordered, and at most ``most`` dates, so that a
    mistyped year is a usage error rather than hours of silent work."""
    from vigil.watch import parse_date

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if last < first:
        raise UsageError("--to is before --from", "swap the dates")
    count = (last - first).days // step + 1
    if count > most:
        raise UsageError(
            f"--from {first} --to {last} --step {step} asks for {count:,} {each}s; "
            f"at most {most:,} in one run",
            f"narrow the range or raise --step (e.g. --step {-(-count * step // most)})",
        )
    return first, last


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark = len(_open)
        try:
            return func(*args, **kwargs)
        except VigilError as exc:
            if _state["debug"]:
                raise
            err.print(
                f"[bold red]error:[/] {escape(safe(exc.message))}", highlight=False, soft_wrap=True
            )
            if exc.hint:
                err.print(
                    f"  hint: {safe(exc.hint)}", highlight=False, markup=False, soft_wrap=True
                )
            raise typer.Exit(exc.exit_code) from None
        except duckdb.Error as exc:
            if _state["debug"]:
                raise
            first = safe(str(exc).splitlines()[0])
            err.print(f"error: store error: {first}", highlight=False, markup=False)
            err.print(
                "  hint: run again with --debug and report it with the command you ran",
                highlight=False,
                markup=False,
            )
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted: the batch in progress was rolled back; "
                "the store holds only batches reported as loaded",
                highlight=False,
            )
            raise typer.Exit(130) from None
        finally:
            while len(_open) > mark:
                _open.pop().close()

    return wrapper


def _version(value: bool) -> None:
    if value:
        out.print(f"vigil {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Vigil: collect evidence, match indicators, assess scenarios, brief."""
    _state["debug"] = debug


def _check_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r}", "use --format text or --format json")


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--option {pair!r} is not KEY=VALUE", "e.g. --option since=2022-02-20"
            )
        options[key] = value
    return options


def safe(text: object) -> str:
    """Text from sources (or a file name) as one terminal line: control and bidi
    characters made visible, and a newline shown as ``\\n``, so that a crafted name
    cannot forge a line of output."""
    return neutralise(text).replace("\n", "\\n")
