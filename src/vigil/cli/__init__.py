"""Command line: thin commands over the library; errors become one line and an exit code.

The commands live in :mod:`vigil.cli.ingest` (loading and inspecting the store) and
:mod:`vigil.cli.indicators` (a theatre's indicators), :mod:`vigil.cli.scenarios`
(assess, simulate, replay) and :mod:`vigil.cli.forecast` (backtest, forecast); importing
them registers them on ``app``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil import settings, sources
from vigil.cli.brief import brief  # noqa: F401  (registers brief)
from vigil.cli.common import DEFAULT_DB, DbOption, _handle_errors, app, out
from vigil.cli.forecast import backtest  # noqa: F401  (registers backtest, forecast)
from vigil.cli.indicators import indicators
from vigil.cli.ingest import _print_reports, _run_batches, status
from vigil.cli.scenarios import assess_cmd
from vigil.errors import UsageError
from vigil.ingest import plan_folder
from vigil.store import connect

__all__ = ["app", "run"]


@app.command()
@_handle_errors
def demo(
    data: Annotated[
        Path, typer.Option("--data", envvar="VIGIL_DATA", help="Data folder like ../shared/data.")
    ] = Path(settings.SETTINGS["data"].default),
    db: DbOption = DEFAULT_DB,
) -> None:
    """The main job: build the evidence store from a data folder, the indicators, the scenarios."""
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
    out.print(
        "\nMatching documents to the Belarus indicators and computing them …", highlight=False
    )
    indicators(theatre="belarus", as_of=None, evidence=1, data=data, db=db, fmt="text")
    out.print("\nAssessing the scenarios (90 days ahead) …", highlight=False)
    assess_cmd(theatre="belarus", as_of=None, horizon=90, since=None, data=data, db=db, fmt="text")
    out.print(
        "Next: `vigil indicators --as-of 2022-02-15` (any date: only what was knowable then), "
        "`vigil evidence russian_buildup --as-of 2022-02-15`, "
        "`vigil plot --from 2021-01-01 --to 2023-12-31`, "
        "`vigil assess --as-of 2022-02-20 --since 2022-01-01`, "
        "`vigil simulate --as-of 2022-02-20`, `vigil replay --from 2021-01-01 --to 2023-12-31`",
        highlight=False,
        markup=False,
    )


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)
