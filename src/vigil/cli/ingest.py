"""Commands that load and inspect the store: sources, ingest, status, rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil import sources
from vigil.api import load as api_load
from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    MAX_LIMIT,
    DbOption,
    FormatOption,
    app,
    check_format,
    debugging,
    err,
    handle_errors,
    out,
    parse_options,
    safe,
    workspace,
)
from vigil.errors import UsageError
from vigil.service.load import Load


@app.command("sources")
@handle_errors
def sources_cmd(fmt: FormatOption = "text") -> None:
    """List the source adapters, the data folders they read and what --live fetches."""
    check_format(fmt)
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
@handle_errors
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
    check_format(fmt)
    if source in ("documents", "notes"):
        from vigil.cli import analyst  # the analyst's own evidence (docs/NOTES.md)

        if source == "documents":
            analyst.ingest_documents(paths or [], manifest, theatre, db, fmt)
        else:
            analyst.ingest_notes(paths or [], theatre, db, fmt)
        return
    if manifest is not None:
        raise UsageError("--manifest lists documents: `vigil ingest documents --manifest FILE`")
    loaded = load_with_progress(
        db, source, paths or [], data=data, live=live, options=parse_options(option or []),
        force=force, max_reject_share=max_reject_share, quiet=fmt == "json",
    )  # fmt: skip
    print_reports(loaded, fmt)
    _exit_on_failures(list(loaded.failures), fmt)


def load_with_progress(db: Path, source=None, paths=(), *, quiet: bool, **request):
    """:func:`vigil.api.load` with a progress bar on stderr (a terminal only) and the
    live fetch's warnings printed as they come."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=err, transient=True, disable=quiet or not err.is_terminal
    ) as bar:
        task = bar.add_task("loading", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, total=total, completed=done, description=label or "loaded")

        def warn(text: str) -> None:
            err.print(f"warning: {safe(text)}", highlight=False, markup=False)

        return api_load(
            db, source, paths, progress=progress, on_warning=warn, raise_bugs=debugging(),
            **request,
        )  # fmt: skip


def _exit_on_failures(failures: list, fmt: str) -> None:
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


def print_reports(loaded: Load, fmt: str) -> None:
    """The batches of a load as a table (or JSON), with notes and what was not loaded."""
    reports, skipped = loaded.reports, loaded.skipped
    if fmt == "json":
        out.print_json(json.dumps(loaded.to_dict(), default=str))
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
@handle_errors
def status(db: DbOption = DEFAULT_DB, fmt: FormatOption = "text") -> None:
    """Per source: records, date range, rejects and the last batch."""
    check_format(fmt)
    info = workspace(db, None, DEFAULT_DATA, write=False, prepare=None).status()
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
@handle_errors
def rejects(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="Most rows to show.")
    ] = 20,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Rows that could not be loaded, with file, line and reason."""
    check_format(fmt)
    found = workspace(db, None, DEFAULT_DATA, write=False, prepare=None).rejects(
        source, limit=limit
    )
    if fmt == "json":
        out.print_json(json.dumps(found.to_dict()))
        return
    rows = [tuple(r.values()) for r in found.to_dict()["rejects"]]
    for batch, src, inp, line, etype, reason, _ in rows:
        out.print(
            safe(f"[{src} batch {batch}] {Path(inp).name}:{line or '?'}: {etype}: {reason}"),
            highlight=False,
            markup=False,
        )
    if not rows:
        out.print("no rejects")
