"""`vigil alerts`: the alerts stored for a theatre, newest first (a reader: runs beside
`vigil serve` and `vigil watch`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    MAX_LIMIT,
    DbOption,
    FormatOption,
    TheatreOption,
    app,
    as_of_date,
    check_format,
    handle_errors,
    out,
    safe,
    workspace,
)


@app.command("alerts")
@handle_errors
def alerts_cmd(
    theatre: TheatreOption = "belarus",
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only alerts of assessments on or after YYYY-MM-DD."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=MAX_LIMIT)] = 50,
    db: DbOption = DEFAULT_DB,
    fmt: FormatOption = "text",
) -> None:
    """Alerts raised by the theatre's alert rules (alerts.yaml), newest first."""
    check_format(fmt)
    day = as_of_date(since, "--since")
    ws = workspace(db, theatre, DEFAULT_DATA, write=False, prepare=None)
    report = ws.alerts(day, limit=limit)
    if fmt == "json":
        out.print_json(json.dumps(report.to_dict()))
        return
    alerts = report.data["alerts"]
    if not alerts:
        out.print(
            f"no alerts stored for {escape(safe(ws.theatre))}" + (f" since {day}" if day else ""),
            highlight=False,
        )
        return
    table = Table("as of", "rule", "kind", "subject", "message", "delivered",
                  title=f"Alerts, {escape(safe(ws.theatre))}", title_justify="left")  # fmt: skip
    for a in alerts:
        table.add_row(
            a["as_of"], escape(safe(a["rule"])), a["kind"], escape(safe(a["subject"])),
            escape(safe(a["message"])), escape(safe(_delivered(a["deliveries"]))),
        )  # fmt: skip
    out.print(table)


def _delivered(deliveries: list[dict]) -> str:
    """``mail ✓, hook ✗ (2)``: each sink, and the attempts of those still failing."""
    return (
        ", ".join(
            f"{d['sink']} ✓" if d["status"] == "sent" else f"{d['sink']} ✗ ({d['attempts']})"
            for d in deliveries
        )
        or "–"
    )
