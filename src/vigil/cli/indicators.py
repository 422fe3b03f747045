"""Commands over a theatre's indicators: indicators, evidence, plot, embed."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil import coverage, settings, watch
from vigil.analyst.store import notes_in_force
from vigil.assess import note_item
from vigil.cli.common import (
    DEFAULT_DB,
    MAX_LIMIT,
    MAX_STEP,
    DbOption,
    FormatOption,
    _check_format,
    _handle_errors,
    app,
    date_range,
    err,
    open_store,
    out,
    safe,
)
from vigil.errors import StoreBusyError
from vigil.indicators.evidence import evidence_for
from vigil.indicators.plot import histories, render_html, render_png
from vigil.specs import TheatreSpec, load_theatre
from vigil.text import embed as text_embed

TheatreOption = Annotated[
    str, typer.Option("--theatre", help="Theatre id (a folder under theatres/) or a path.")
]
DataOption = Annotated[
    Path,
    typer.Option("--data", envvar="VIGIL_DATA", help="Data folder (Natural Earth borders)."),
]
DEFAULT_DATA = Path(settings.SETTINGS["data"].default)
#: points per timeline in one plot, at most: ten years daily; more is a mistyped date
MAX_PLOT_POINTS = 3660
AS_OF_HELP = "YYYY-MM-DD (default: the last day most of the theatre's evidence covers)."


def _prepared(
    db: Path,
    theatre: str | TheatreSpec,
    data: Path,
    as_of: str | None,
    *,
    quiet: bool,
    rules: dict | None = None,
    dated: bool = True,
    stores: bool = True,
):
    """Open the store, load the theatre (unless given loaded), bring matches (with the
    extra text ``rules``, e.g. outcome resolvers) and border distances up to date.

    Returns the connection, the theatre and the as-of date (``as_of``, checked before any
    work, or the day the theatre's evidence covers, :func:`vigil.coverage.covered_until`;
    None when not ``dated`` and no ``as_of``: a backtest chooses its own dates).

    A command that ``stores`` nothing itself (indicators, evidence, plot, simulate) writes
    only text matches; when another process holds the store (`vigil serve`) it reads it
    read-only instead, with the matches as they stand, and says so.
    """
    day = watch.parse_date(as_of) if as_of else None
    spec = theatre if isinstance(theatre, TheatreSpec) else load_theatre(theatre)
    cache = Path(settings.get("cache"))
    try:
        con = open_store(db, write=True)
    except StoreBusyError:
        if stores:
            raise
        con = open_store(db)
        err.print(
            f"warning: {safe(db)} is held by another process (vigil serve?): read-only, "
            "documents loaded since the last matching are not matched",
            highlight=False,
            markup=False,
        )
        watch.register_borders(con, spec, data, cache)
        return con, spec, day or (coverage.covered_until(con, spec) if dated else None)
    with (
        err.status("matching documents to indicators…", spinner="dots")
        if (err.is_terminal and not quiet)
        else contextlib.nullcontext()
    ):
        watch.prepare_evidence(con, spec, data, cache, rules)
    return con, spec, day or (coverage.covered_until(con, spec) if dated else None)


@app.command()
@_handle_errors
def indicators(
    theatre: TheatreOption = "belarus",
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    evidence: Annotated[int, typer.Option("--evidence", min=0, max=1000, help="Items each.")] = 3,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Every indicator's state, score, trend and top evidence as of a date."""
    _check_format(fmt)
    con, spec, day = _prepared(db, theatre, data, as_of, quiet=fmt == "json", stores=False)
    values = watch.indicators_as_of(con, spec, day, evidence_limit=evidence)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "theatre": spec.theatre.id,
                    "as_of": day.isoformat(),
                    "indicators": [watch.indicator_json(v, r) for v, r in values],
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
        "reading (level or blind)",
        "top evidence",
        title=f"{spec.theatre.name} — indicators as of {day}",
    )
    colours = {"high": "bold red", "elevated": "yellow", "insufficient": "dim", "blind": "dim"}
    for v, r in values:
        top = v.evidence[0] if v.evidence else None
        table.add_row(
            escape(v.id),
            f"[{colours.get(v.state, 'green')}]{v.state}[/]",
            "—" if v.score is None else f"{v.score:+.1f}",
            v.trend.direction,
            str(v.change_point or ""),
            _reading_cell(r, colours),
            escape(safe(f"{top.date} {top.title}"[:70])) if top else "",
        )
    out.print(table)
    out.print(
        "state: the change against the indicator's own baseline; reading: what the scenario "
        "model weighs, the higher of level and change, or blind where the sources did not "
        "cover the topic (`--format json` gives every part and reason)",
        highlight=False,
        markup=False,
    )


def _reading_cell(r, colours: dict) -> str:
    return f"[{colours.get(r.state, 'green')}]{r.state}[/]{r.label.removeprefix(r.state)}"


@app.command("evidence")
@_handle_errors
def evidence_cmd(
    indicator: Annotated[str, typer.Argument(help="Indicator id (see `vigil indicators`).")],
    theatre: TheatreOption = "belarus",
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="Most items.")] = 20,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """The evidence items behind one indicator's value, with their links."""
    _check_format(fmt)
    con, spec, day = _prepared(db, theatre, data, as_of, quiet=fmt == "json", stores=False)
    spec.indicator(indicator)  # a clear error for an unknown id
    items = evidence_for(con, spec, indicator, day, limit)
    notes = notes_in_force(con, spec.theatre.id, indicator, day)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "indicator": indicator,
                    "as_of": day.isoformat(),
                    # graded analyst notes standing on the date (docs/NOTES.md)
                    "notes": notes,
                    "evidence": [watch.evidence_json(e) for e in items],
                }
            )
        )
        return
    for n in notes:
        item = note_item(n)
        out.print(
            safe(f"{n['observed']} note {n['id']} → {n['state']}, graded {n['grade_meaning']}: "
                 f"{item['title']}"),
            highlight=False, markup=False,
        )  # fmt: skip
    for e in items:
        tag = f" [{e.match_kind}{': ' + e.cue if e.cue else ''}]" if e.match_kind else ""
        out.print(
            safe(f"{e.date} {e.kind:<11} {e.source}:{e.source_id}{tag} {e.title}"),
            highlight=False,
            markup=False,
        )
        if e.url:
            out.print(safe(f"    {e.url}"), highlight=False, markup=False)
    if not items and not notes:
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
    step: Annotated[
        int, typer.Option("--step", min=1, max=MAX_STEP, help="Days between points.")
    ] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PNG and HTML.")] = Path(
        "out"
    ),
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Indicator timelines as a PNG and an interactive, offline HTML page."""
    first, last = date_range(start, end, step, most=MAX_PLOT_POINTS, each="point")
    con, spec, _ = _prepared(db, theatre, data, None, quiet=False, stores=False)
    for ind in indicator or []:
        spec.indicator(ind)
    frames = histories(con, spec, first, last, indicator or None, step)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{spec.theatre.id}_indicators_{first}_{last}"
    png = render_png(frames, out_dir / f"{stem}.png", theatre=spec)
    html = render_html(frames, out_dir / f"{stem}.html", theatre=spec)
    out.print(f"wrote {png}\nwrote {html}", highlight=False, markup=False)


@app.command("embed")
@_handle_errors
def embed_cmd(
    theatre: TheatreOption = "belarus",
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=-1.0, max=1.0, help="Cosine a headline must reach."),
    ] = text_embed.THRESHOLD,
    precision: Annotated[
        str, typer.Option("--precision", help="auto, float32 or bfloat16.")
    ] = "auto",
    source: Annotated[str, typer.Option("--source", help="Documents of this source.")] = "rss",
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Embed new headlines and match them to the indicators' exemplars ([embed] extra).

    Only documents without a vector for the pinned model are embedded; matching then
    rescores every embedded document, so a new threshold or exemplar applies to all.
    """
    _check_format(fmt)
    spec = load_theatre(theatre)
    embedder = text_embed.load_embedder(precision=precision)
    con = open_store(db, write=True)
    todo = [0]

    def progress(done: int, total: int) -> None:
        todo[0] = total
        if err.is_terminal and fmt != "json":
            err.print(f"embedded {done:,}/{total:,}", end="\r", highlight=False)

    started = time.perf_counter()
    new = text_embed.embed_documents(con, embedder, source=source, progress=progress)
    embedded = time.perf_counter() - started
    report = text_embed.match_embeddings(con, spec, embedder, threshold=threshold, source=source)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "theatre": spec.theatre.id,
                    "source": source,
                    "precision": embedder.precision,
                    "embedded": new,
                    "embed_seconds": round(embedded, 2),
                    "threshold": threshold,
                    "indicators": [
                        {
                            "id": s.indicator,
                            "matched": s.matched,
                            "occurrences": s.occurrences,
                            "claims": s.claims,
                        }
                        for s in report.indicators
                    ],
                }
            )
        )
        return
    out.print(
        f"embedded {new:,} new {source} documents in {embedded:.1f} s ({embedder.precision}); "
        f"matched at cosine >= {threshold}:",
        highlight=False,
    )
    table = Table("indicator", "matched", "occurrences", "claims")
    for s in report.indicators:
        table.add_row(escape(s.indicator), str(s.matched), str(s.occurrences), str(s.claims))
    out.print(table)
