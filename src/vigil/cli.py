"""Command line: thin commands over the library; errors become one line and an exit code."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil import __version__, settings, sources, watch
from vigil.errors import UsageError, VigilError
from vigil.indicators.evidence import evidence_for
from vigil.indicators.plot import histories, render_html, render_png
from vigil.ingest import BatchReport, NotLoaded, ingest_file, plan_folder
from vigil.sources.http import Fetcher
from vigil.specs import load_theatre
from vigil.store import connect
from vigil.store.status import store_status

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

DbOption = Annotated[
    Path, typer.Option("--db", envvar="VIGIL_DB", help="DuckDB store (env VIGIL_DB).")
]
DEFAULT_DB = Path(settings.SETTINGS["db"].default)
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
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


@app.command("sources")
@_handle_errors
def sources_cmd(fmt: FormatOption = "text") -> None:
    """List the source adapters, the data folders they read and what --live fetches."""
    _check_format(fmt)
    rows = [
        {
            "name": a.name,
            "description": a.description,
            "folders": list(a.folders),
            "formats": [r.label for r in a.readers],
            "live": a.live_help,
            "options": dict(a.options),
        }
        for a in sources.all_adapters()
    ]
    if fmt == "json":
        out.print_json(json.dumps({"sources": rows}))
        return
    table = Table("source", "what", "data folder", "live")
    for r in rows:
        table.add_row(r["name"], r["description"], ", ".join(r["folders"]), r["live"] or "—")
    out.print(table)


@app.command()
@_handle_errors
def ingest(
    source: Annotated[str | None, typer.Argument(help="Source name (see `vigil sources`).")] = None,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files to load.")] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Load every recognised folder of a data directory like ../shared/data."
        ),
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="Fetch the source's live feed.")] = False,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Adapter option KEY=VALUE for --live (repeatable)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-merge files already loaded.")] = False,
    max_reject_share: Annotated[
        float | None,
        typer.Option(
            "--max-reject-share",
            min=0.0,
            max=1.0,
            help="Fail a batch above this share of malformed rows "
            "(default 0.01, env VIGIL_MAX_REJECT_SHARE).",
        ),
    ] = None,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Load files, a data folder or a live feed into the store (idempotent, per-file atomic)."""
    _check_format(fmt)
    work, skipped = _ingest_plan(source, paths or [], data, live, _parse_options(option or []))
    con = connect(db)
    reports, failures = _run_batches(con, work, force, max_reject_share, quiet=fmt == "json")
    _print_reports(reports, skipped, fmt, failures)
    _exit_on_failures(failures, fmt)


def _ingest_plan(source, paths, data, live, options):
    if data is not None:
        if source or paths or live:
            raise UsageError("--data loads a whole folder: give no SOURCE, PATH or --live with it")
        return plan_folder(data, sources.all_adapters())
    if source is None:
        raise UsageError(
            "say what to load", "vigil ingest SOURCE PATH... | --data DIR | SOURCE --live"
        )
    adapter = sources.get(source)
    if live:
        if paths:
            raise UsageError("--live fetches files itself: give no PATH with it")
        fetcher = Fetcher(Path(settings.get("cache")))
        fetched = adapter.fetch_live(fetcher, **options)
        for warning in fetcher.warnings:
            err.print(f"warning: {safe(warning)}", highlight=False, markup=False)
        return [(adapter, f) for f in fetched], []
    if not paths:
        raise UsageError(
            f"no files given for {source}", f"vigil ingest {source} PATH... (or --live)"
        )
    return [(adapter, p) for p in paths], []


@dataclass(frozen=True)
class Failure:
    """A file whose batch failed (and was rolled back) while the others went on."""

    input: str
    error: str
    hint: str | None


def _run_batches(con, work, force, share, *, quiet: bool):
    """Load each file as its own batch; a failing file is reported, the others still load."""
    reports: list[BatchReport] = []
    failures: list[Failure] = []
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=err, transient=True, disable=quiet or not err.is_terminal
    ) as progress:
        task = progress.add_task("loading", total=len(work))
        for adapter, item in work:
            path = Path(getattr(item, "path", item))
            progress.update(task, description=f"{adapter.name}: {path.name}")
            try:
                reports.append(
                    ingest_file(
                        con,
                        adapter,
                        path,
                        force=force,
                        max_reject_share=share,
                        published_md5=getattr(item, "md5", None),
                        label=getattr(item, "url", None),
                    )
                )
            except VigilError as exc:
                if _state["debug"]:
                    raise
                failures.append(Failure(str(path), exc.message, exc.hint))
            progress.advance(task)
    return reports, failures


def _exit_on_failures(failures: list[Failure], fmt: str) -> None:
    """Name every failed file (its batch was rolled back) and exit 1."""
    if not failures:
        return
    if fmt != "json":
        for f in failures:
            err.print(f"error: {safe(f.error)}", highlight=False, markup=False)
            if f.hint:
                err.print(f"  hint: {safe(f.hint)}", highlight=False, markup=False)
        err.print(
            f"{len(failures)} file(s) failed and loaded nothing; the other batches above "
            "are committed",
            highlight=False,
            markup=False,
        )
    raise typer.Exit(1)


def safe(text: object) -> str:
    """Text from sources with control characters made visible (no terminal escapes)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), str(text))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _print_reports(
    reports: list[BatchReport], skipped: list[NotLoaded], fmt: str, failures: list[Failure]
) -> None:
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "batches": [r.as_dict() for r in reports],
                    "not_loaded": [{"path": s.path, "reason": s.reason} for s in skipped],
                    "failed": [asdict(f) for f in failures],
                },
                default=str,
            )
        )
        return
    if not reports and not skipped:
        return  # nothing loaded: the errors alone say what happened
    table = Table(
        "source", "input", "rows in", "loaded", "updated", "dupl.", "rejected", "s", title="batches"
    )
    for r in reports:
        name = Path(r.input).name if "://" not in r.input else r.input
        if r.skipped:
            table.add_row(r.source, escape(safe(name)), "—", "—", "—", "—", "—", "", style="dim")
            continue
        table.add_row(
            r.source,
            escape(safe(name)),
            f"{r.rows_in:,}",
            f"{r.loaded:,}",
            f"{r.updated:,}",
            f"{r.duplicates:,}",
            f"{r.rejected:,}",
            f"{r.seconds:.1f}",
        )
    out.print(table)
    done = [r for r in reports if not r.skipped]
    again = len(reports) - len(done)
    out.print(
        f"{len(done)} batch(es) loaded: {sum(r.loaded for r in done):,} records written, "
        f"{sum(r.duplicates for r in done):,} duplicates, "
        f"{sum(r.rejected for r in done):,} rejected (see `vigil rejects`)"
        + (f"; {again} file(s) already loaded, skipped (--force re-merges)" if again else ""),
        highlight=False,
    )
    for r in done:
        for note in r.notes:
            out.print(
                f"  note [{r.source}] {safe(Path(r.input).name)}: {safe(note)}",
                highlight=False,
                markup=False,
            )
    for s in skipped:
        out.print(
            f"  not loaded: {safe(s.path)}: {s.reason}",
            highlight=False,
            markup=False,
            style="yellow",
        )


@app.command()
@_handle_errors
def status(db: DbOption = DEFAULT_DB, fmt: FormatOption = "text") -> None:
    """Per source: records, date range, rejects and the last batch."""
    _check_format(fmt)
    con = connect(db)
    info = store_status(con)
    if fmt == "json":
        out.print_json(json.dumps(info))
        return
    table = Table(
        "source", "kind", "records", "first", "last", "rejects", "last batch", title=f"store {db}"
    )
    for s in info["sources"]:
        last = s["last_batch"] or {}
        for i, (kind, k) in enumerate(sorted(s["kinds"].items())):
            table.add_row(
                s["source"] if i == 0 else "",
                kind,
                f"{k['records']:,}",
                k["first"],
                k["last"],
                f"{s['rejects']:,}" if i == 0 else "",
                (last.get("finished_at") or "")[:19] if i == 0 else "",
            )
    out.print(table)
    t = info["totals"]
    out.print(
        f"{t['events']:,} events, {t['observations']:,} observations, "
        f"{t['documents']:,} documents; {t['batches']} batches, {t['rejects']} rejects",
        highlight=False,
    )


@app.command()
@_handle_errors
def rejects(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most rows to show.")] = 20,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Rows that could not be loaded, with file, line and reason."""
    _check_format(fmt)
    con = connect(db)
    where, params = ("WHERE source = ?", [source]) if source else ("", [])
    rows = con.execute(
        f"SELECT batch_id, source, input, line, error_type, reason, raw FROM rejects {where} "
        f"ORDER BY batch_id, line LIMIT {int(limit)}",
        params,
    ).fetchall()
    keys = ("batch_id", "source", "input", "line", "error_type", "reason", "raw")
    if fmt == "json":
        out.print_json(json.dumps({"rejects": [dict(zip(keys, r, strict=True)) for r in rows]}))
        return
    for batch, src, inp, line, etype, reason, _ in rows:
        out.print(
            safe(f"[{src} batch {batch}] {Path(inp).name}:{line or '?'}: {etype}: {reason}"),
            highlight=False,
            markup=False,
        )
    if not rows:
        out.print("no rejects")


TheatreOption = Annotated[
    str, typer.Option("--theatre", help="Theatre id (a folder under theatres/) or a path.")
]
DataOption = Annotated[
    Path,
    typer.Option("--data", envvar="VIGIL_DATA", help="Data folder (Natural Earth borders)."),
]
DEFAULT_DATA = Path(settings.SETTINGS["data"].default)


def _prepared(db: Path, theatre: str, data: Path, *, quiet: bool):
    """Open the store, load the theatre and bring matches and border distances up to date."""
    spec = load_theatre(theatre)
    con = connect(db)
    with (
        err.status("matching documents to indicators…", spinner="dots")
        if (err.is_terminal and not quiet)
        else contextlib.nullcontext()
    ):
        watch.prepare_evidence(con, spec, data, Path(settings.get("cache")))
    return con, spec


@app.command()
@_handle_errors
def indicators(
    theatre: TheatreOption = "belarus",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: latest data).")
    ] = None,
    evidence: Annotated[int, typer.Option("--evidence", min=0, help="Items each.")] = 3,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Every indicator's state, score, trend and top evidence as of a date."""
    _check_format(fmt)
    con, spec = _prepared(db, theatre, data, quiet=fmt == "json")
    day = watch.parse_date(as_of) if as_of else watch.latest_date(con)
    values = watch.indicators_as_of(con, spec, day, evidence_limit=evidence)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "theatre": spec.theatre.id,
                    "as_of": day.isoformat(),
                    "indicators": [watch.indicator_json(v) for v in values],
                }
            )
        )
        return
    table = Table(
        "indicator",
        "state",
        "score",
        "trend",
        "change",
        "top evidence",
        title=f"{spec.theatre.name} — indicators as of {day}",
    )
    colours = {"high": "bold red", "elevated": "yellow", "insufficient": "dim"}
    for v in values:
        top = v.evidence[0] if v.evidence else None
        table.add_row(
            escape(v.id),
            f"[{colours.get(v.state, 'green')}]{v.state}[/]",
            "—" if v.score is None else f"{v.score:+.1f}",
            v.trend.direction,
            str(v.change_point or ""),
            escape(safe(f"{top.date} {top.title}"[:70])) if top else "",
        )
    out.print(table)


@app.command("evidence")
@_handle_errors
def evidence_cmd(
    indicator: Annotated[str, typer.Argument(help="Indicator id (see `vigil indicators`).")],
    theatre: TheatreOption = "belarus",
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most items.")] = 20,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """The evidence items behind one indicator's value, with their links."""
    _check_format(fmt)
    con, spec = _prepared(db, theatre, data, quiet=fmt == "json")
    spec.indicator(indicator)  # a clear error for an unknown id
    day = watch.parse_date(as_of) if as_of else watch.latest_date(con)
    items = evidence_for(con, spec, indicator, day, limit)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "indicator": indicator,
                    "as_of": day.isoformat(),
                    "evidence": [watch.evidence_json(e) for e in items],
                }
            )
        )
        return
    for e in items:
        tag = f" [{e.match_kind}{': ' + e.cue if e.cue else ''}]" if e.match_kind else ""
        out.print(
            safe(f"{e.date} {e.kind:<11} {e.source}:{e.source_id}{tag} {e.title}"),
            highlight=False,
            markup=False,
        )
        if e.url:
            out.print(safe(f"    {e.url}"), highlight=False, markup=False)
    if not items:
        out.print(f"no evidence for {indicator} as of {day}")


@app.command()
@_handle_errors
def plot(
    start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD.")],
    theatre: TheatreOption = "belarus",
    indicator: Annotated[
        list[str] | None, typer.Option("--indicator", help="Only these (repeatable).")
    ] = None,
    step: Annotated[int, typer.Option("--step", min=1, help="Days between points.")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PNG and HTML.")] = Path(
        "out"
    ),
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Indicator timelines as a PNG and an interactive, offline HTML page."""
    first, last = watch.parse_date(start, "--from"), watch.parse_date(end, "--to")
    if last < first:
        raise UsageError("--to is before --from", "swap the dates")
    con, spec = _prepared(db, theatre, data, quiet=False)
    for ind in indicator or []:
        spec.indicator(ind)
    frames = histories(con, spec, first, last, indicator or None, step)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{spec.theatre.id}_indicators_{first}_{last}"
    png = render_png(frames, out_dir / f"{stem}.png", theatre=spec)
    html = render_html(frames, out_dir / f"{stem}.html", theatre=spec)
    out.print(f"wrote {png}\nwrote {html}", highlight=False, markup=False)


@app.command()
@_handle_errors
def demo(
    data: Annotated[
        Path, typer.Option("--data", envvar="VIGIL_DATA", help="Data folder like ../shared/data.")
    ] = Path(settings.SETTINGS["data"].default),
    db: DbOption = DEFAULT_DB,
) -> None:
    """The main job: build the evidence store from a data folder and show what it holds."""
    if not data.is_dir():
        raise UsageError(
            f"no data folder at {data}",
            "pass --data DIR (a folder laid out like ../shared/data), or fetch live sources: "
            "`vigil ingest gdelt --live` (no credentials), `vigil ingest acled --live` "
            "(ACLED_USERNAME, ACLED_PASSWORD), `vigil ingest rss --live`",
        )
    out.print(f"Building the evidence store {db} from {data} …", highlight=False)
    work, skipped = plan_folder(data, sources.all_adapters())
    con = connect(db)
    reports, failures = _run_batches(con, work, False, None, quiet=False)
    _print_reports(reports, skipped, "text", failures)
    con.close()
    status(db=db, fmt="text")


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    run()
