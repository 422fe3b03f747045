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
from vigil.api import Workspace, date_range  # noqa: F401  (date_range: for the commands)
from vigil.dates import parse_date
from vigil.display import neutralise
from vigil.errors import UsageError, VigilError
from vigil.store import open_store as store_open

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Vigil: auditable early warning for armed-conflict escalation.",
)
# Piped output (logs, CI, the README transcript) gets a fixed width instead of 80.
_WIDTH = None if sys.stdout.isatty() else 132
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)
_state: dict = {"debug": False}


def debugging() -> bool:
    """Whether --debug was given: errors then raise with their traceback."""
    return _state["debug"]


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
#   they stand (Workspace with write=None);
# * readers, read-only, so they run beside `vigil serve` (which opens read-only too):
#   `status`, `rejects`, `notes`, `documents`, `forecast`, `backtest` (the forecaster).
def open_store(db: Path, *, write: bool = False, create: bool = False):
    """The store at ``db`` for the running command (closed when it ends): see
    :func:`vigil.store.open_store`."""
    return track(store_open(db, write=write, create=create))


TheatreOption = Annotated[
    str, typer.Option("--theatre", help="Theatre id (a folder under theatres/) or a path.")
]
DataOption = Annotated[
    Path,
    typer.Option("--data", envvar="VIGIL_DATA", help="Data folder (Natural Earth borders)."),
]
DEFAULT_DATA = Path(settings.SETTINGS["data"].default)
FromOption = Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD.")]
ToOption = Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD.")]
AS_OF_HELP = "YYYY-MM-DD (default: the last day most of the theatre's evidence covers)."
AsOfOption = Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)]
HorizonOption = Annotated[
    int, typer.Option("--horizon", min=1, max=730, help="Days ahead the scenarios cover.")
]
ForecastOption = Annotated[
    bool,
    typer.Option(
        "--forecast",
        help="Add the statistical forecaster as evidence (needs ACLED country-month data).",
    ),
]
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


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
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
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="What runs the evidence queries: duckdb (default) or spark (docs/SCALE.md). "
            "Env: VIGIL_ENGINE.",
        ),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="With --engine spark: local[2] (default), spark://host:7077 or "
            "sc://host:15002 (Spark Connect).",
        ),
    ] = None,
    lake: Annotated[
        Path | None,
        typer.Option("--lake", help="With --engine spark: the folder of the store's mirror."),
    ] = None,
) -> None:
    """Vigil: collect evidence, match indicators, assess scenarios, brief."""
    _state["debug"] = debug
    _state["engine"] = {"engine": engine, "spark_master": spark_master, "lake": lake}


def check_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r}", "use --format text or --format json")


def parse_options(pairs: list[str]) -> dict[str, str]:
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


def workspace(
    db: Path,
    theatre: str | None,
    data: Path,
    *,
    write: bool | None = None,
    quiet: bool = False,
    prepare: str | None = "scenarios",
) -> Workspace:
    """The API's workspace for the running command (closed when it ends), with the
    evidence prepared (``prepare``: "scenarios", "indicators" or None) under a spinner.

    ``write``: True for the commands that store assessments (a busy store is an error),
    None for those that only match text (read-only beside `vigil serve`, with a warning),
    False for readers.
    """
    import vigil

    # checked for every command; the forecaster's (no theatre) read no evidence through it
    engine = _state.get("engine") or {}
    ws = track(
        vigil.open(db, theatre, data=data, write=write, scenarios=prepare == "scenarios", **engine)
    )
    if ws.notice:
        err.print(f"warning: {safe(ws.notice)}", highlight=False, markup=False)
    if prepare:
        spin = err.is_terminal and not quiet and not ws.read_only
        ws.prepare(
            scenarios=prepare == "scenarios",
            progress=(lambda: err.status("matching documents to indicators…", spinner="dots"))
            if spin
            else None,
        )
    return ws


def as_of_date(value: str | None, option: str = "--as-of"):
    """A date option parsed before the store opens (a typo costs nothing), or None."""
    return parse_date(value, option) if value else None


def pct(p: float | None) -> str:
    """A probability as a percentage to one decimal; "<0.1%" below 0.1 %, "–" for none."""
    if p is None:
        return "–"
    return f"{100 * p:.1f}%" if p >= 0.001 else "<0.1%"
