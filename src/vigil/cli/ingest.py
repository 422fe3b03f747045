"""Commands that load and inspect the store: sources, ingest, status, rejects."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil import settings, sources
from vigil.cli.common import (
    DEFAULT_DB,
    MAX_LIMIT,
    DbOption,
    FormatOption,
    _check_format,
    _handle_errors,
    _parse_options,
    _state,
    app,
    err,
    open_store,
    out,
    safe,
)
from vigil.errors import UsageError, VigilError
from vigil.ingest import BatchReport, NotLoaded, ingest_file, plan_folder
from vigil.sources.http import Fetcher
from vigil.store.status import store_status


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
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", help="documents: a YAML list of files with their metadata."),
    ] = None,
    theatre: Annotated[
        str, typer.Option("--theatre", help="documents and notes: the theatre they inform.")
    ] = "belarus",
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Load files, a data folder or a live feed into the store (idempotent, per-file atomic).

    `vigil ingest documents PATH...` loads an analyst's own documents (.txt, .md, .html,
    .pdf, .docx; docs/NOTES.md) and `vigil ingest notes FILE...` graded notes."""
    _check_format(fmt)
    if source in ("documents", "notes"):
        from vigil.cli import analyst  # the analyst's own evidence (docs/NOTES.md)

        if source == "documents":
            analyst.ingest_documents(paths or [], manifest, theatre, db, fmt)
        else:
            analyst.ingest_notes(paths or [], theatre, db, fmt)
        return
    if manifest is not None:
        raise UsageError("--manifest lists documents: `vigil ingest documents --manifest FILE`")
    work, skipped = _ingest_plan(source, paths or [], data, live, _parse_options(option or []))
    con = open_store(db, write=True, create=True)
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
            except Exception as exc:  # a bug: named, and the other files still load
                if _state["debug"]:
                    raise
                failures.append(_bug(path, exc))
            progress.advance(task)
    return reports, failures


def _bug(path: Path, exc: Exception) -> Failure:
    """A failure no error of Vigil's explains (damaged input is an InputError by then):
    its type and message, and how to report it. KeyboardInterrupt is no Exception: it
    still stops the run."""
    text = " ".join(str(exc).split()) or "(no message)"
    return Failure(
        str(path),
        f"{path}: {type(exc).__name__}: {text}",
        "this is a bug in vigil, not in the file: run again with --debug and report it "
        "with the command you ran",
    )


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
    con = open_store(db)
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
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="Most rows to show.")
    ] = 20,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Rows that could not be loaded, with file, line and reason."""
    _check_format(fmt)
    con = open_store(db)
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
