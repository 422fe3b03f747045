"""`vigil brief`: the analyst's briefing as Markdown, self-contained HTML and PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    AsOfOption,
    DataOption,
    DbOption,
    HorizonOption,
    TheatreOption,
    app,
    as_of_date,
    handle_errors,
    out,
    workspace,
)
from vigil.errors import UsageError
from vigil.service.assess import NOW_DAYS


@app.command()
@handle_errors
def brief(
    theatre: TheatreOption = "belarus",
    as_of: AsOfOption = None,
    horizon: HorizonOption = 90,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the briefing.")] = Path(
        "briefings"
    ),
    since: Annotated[
        str | None,
        typer.Option("--since", help="Compare with this date (default: the previous stored)."),
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print a PDF.")] = True,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write briefing.md, a self-contained briefing.html and briefing.pdf for a date."""
    if horizon <= NOW_DAYS:
        raise UsageError(f"--horizon {horizon} is too short", f"use {NOW_DAYS + 1} or more")
    day, before = as_of_date(as_of), as_of_date(since, "--since")
    ws = workspace(db, theatre, data, write=True)
    written = ws.brief(day, out_dir, horizon=horizon, since=before, pdf=pdf)
    out.print("\n".join(f"wrote {p}" for p in written.files), highlight=False, markup=False)
