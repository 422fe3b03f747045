"""Commands over a theatre's indicators: indicators, evidence, plot, embed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil.cli.common import (
    AS_OF_HELP,
    DEFAULT_DATA,
    DEFAULT_DB,
    MAX_LIMIT,
    MAX_STEP,
    DataOption,
    DbOption,
    FormatOption,
    FromOption,
    TheatreOption,
    ToOption,
    app,
    as_of_date,
    check_format,
    date_range,
    err,
    handle_errors,
    open_store,
    out,
    safe,
    workspace,
)
from vigil.service.assess import note_item
from vigil.text import embed as text_embed
from vigil.theatre import load_theatre

#: points per timeline in one plot, at most: ten years daily; more is a mistyped date
MAX_PLOT_POINTS = 3660


@app.command()
@handle_errors
def indicators(
    theatre: TheatreOption = "belarus",
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    evidence: Annotated[int, typer.Option("--evidence", min=0, max=1000, help="Items each.")] = 3,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Every indicator's state, score, trend and top evidence as of a date."""
    check_format(fmt)
    day = as_of_date(as_of)
    ws = workspace(db, theatre, data, quiet=fmt == "json", prepare="indicators")
    result = ws.indicators(day, evidence=evidence)
    if fmt == "json":
        out.print_json(json.dumps(result.to_dict()))
        return
    spec, day, values = ws.spec, result.as_of, result.items
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
@handle_errors
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
    check_format(fmt)
    day = as_of_date(as_of)
    ws = workspace(db, theatre, data, quiet=fmt == "json", prepare="indicators")
    result = ws.evidence(indicator, day, limit=limit)
    if fmt == "json":
        out.print_json(json.dumps(result.to_dict()))
        return
    day, notes, items = result.as_of, result.notes, result.items
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
@handle_errors
def plot(
    start: FromOption,
    end: ToOption,
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
    ws = workspace(db, theatre, data, prepare="indicators")
    charts = ws.plot(first, last, step=step, indicators=indicator or (), out=out_dir)
    out.print("\n".join(f"wrote {p}" for p in charts.files), highlight=False, markup=False)


@app.command("embed")
@handle_errors
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
    check_format(fmt)
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
