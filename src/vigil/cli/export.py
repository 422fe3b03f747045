"""The `export` command: a theatre's tables as CSV and Parquet (docs/EXPORTS.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    MAX_STEP,
    DataOption,
    DbOption,
    FromOption,
    HorizonOption,
    TheatreOption,
    ToOption,
    app,
    handle_errors,
    out,
    safe,
    workspace,
)
from vigil.dates import parse_date
from vigil.errors import UsageError
from vigil.service import export as E  # noqa: N812

#: --format: the service's formats, or both
FORMATS = {"csv": ("csv",), "parquet": ("parquet",), "both": E.FORMATS}


@app.command("export")
@handle_errors
def export_cmd(
    start: FromOption,
    end: ToOption,
    step: Annotated[
        int, typer.Option("--step", min=1, max=MAX_STEP, help="Days between dates.")
    ] = 14,
    theatre: TheatreOption = "belarus",
    horizon: HorizonOption = 90,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or both.")] = "both",
    table: Annotated[
        list[str] | None,
        typer.Option("--table", help=f"Only these (repeatable): {', '.join(E.TABLES)}."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the files.")] = Path("exports"),
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Indicators, readings, assessments, outcomes, evidence and forecasts as files."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", "use --format csv, parquet or both")
    args = {
        "start": parse_date(start, "--from"), "end": parse_date(end, "--to"),
        "step_days": step, "horizon_days": horizon, "formats": FORMATS[fmt],
        "tables": table or None, "data": data,
    }  # fmt: skip
    E.check(**args)  # bad arguments fail before the store is touched
    # the export stores nothing: beside `vigil serve` it reads the matches as they stand
    ws = workspace(db, theatre, data)
    result = ws.export(
        args["start"], args["end"], step=step, horizon=horizon, out=out_dir,
        formats=args["formats"], tables=args["tables"],
    )  # fmt: skip
    for name, paths in result.files.items():
        for path in paths:
            out.print(
                safe(f"wrote {path} ({result.rows[name]:,} rows)"), highlight=False, markup=False
            )
    for name, why in result.skipped.items():
        out.print(safe(f"left out {name}: {why}"), highlight=False, markup=False)
    if result.computed:
        out.print(
            f"{len(result.computed)} of {len(result.dates)} dates had no stored assessment: "
            "computed for the export, not stored (`vigil replay` stores them)",
            highlight=False,
            markup=False,
        )
