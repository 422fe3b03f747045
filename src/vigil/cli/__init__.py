"""Command line: thin commands over the library; errors become one line and an exit code.

The commands live in :mod:`vigil.cli.ingest` (loading and inspecting the store) and
:mod:`vigil.cli.indicators` (a theatre's indicators), :mod:`vigil.cli.scenarios`
(assess, simulate, replay), :mod:`vigil.cli.forecast` (backtest, forecast),
:mod:`vigil.cli.brief` and :mod:`vigil.cli.serve` (the dashboard); importing them registers
them on ``app``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil import settings, sources
from vigil.briefing.render import chromium
from vigil.cli import analyst  # registers note, notes, documents
from vigil.cli.brief import brief
from vigil.cli.common import DEFAULT_DB, DbOption, _handle_errors, app, open_store, out
from vigil.cli.forecast import backtest  # noqa: F401  (registers backtest, forecast)
from vigil.cli.indicators import indicators
from vigil.cli.ingest import _print_reports, _run_batches, status
from vigil.cli.scenarios import _setup, assess_cmd, pct, replay_and_store
from vigil.cli.serve import serve  # noqa: F401  (registers serve)
from vigil.errors import UsageError
from vigil.ingest import plan_folder
from vigil.watch import parse_date

__all__ = ["app", "run"]


@app.command()
@_handle_errors
def demo(
    data: Annotated[
        Path, typer.Option("--data", envvar="VIGIL_DATA", help="Data folder like ../shared/data.")
    ] = Path(settings.SETTINGS["data"].default),
    db: DbOption = DEFAULT_DB,
    seeds: Annotated[
        Path | None,
        typer.Option("--seeds", help="The August 2025 analyses (default: 'seeds' beside --data)."),
    ] = None,
) -> None:
    """The main job: store, indicators, a 2021–2023 replay, the latest assessment and
    briefing, and the August 2025 case built from two analyses of Belarus's draft defence law."""
    if not data.is_dir():
        raise UsageError(
            f"no data folder at {data}",
            "pass --data DIR (a folder laid out like ../shared/data), or fetch live sources: "
            "`vigil ingest gdelt --live` (no credentials), `vigil ingest acled --live` "
            "(ACLED_USERNAME, ACLED_PASSWORD), `vigil ingest rss --live`",
        )
    out.print(f"Building the evidence store {db} from {data} …", highlight=False)
    work, skipped = plan_folder(data, sources.all_adapters())
    con = open_store(db, write=True, create=True)
    reports, failures = _run_batches(con, work, False, None, quiet=False)
    _print_reports(reports, skipped, "text", failures)
    con.close()
    status(db=db, fmt="text")
    out.print(
        "\nMatching documents to the Belarus indicators and computing them …", highlight=False
    )
    indicators(theatre="belarus", as_of=None, evidence=1, data=data, db=db, fmt="text")
    out.print(
        f"\nReplaying the scenarios over {DEMO_REPLAY[0]} to {DEMO_REPLAY[1]}, one stored "
        f"assessment every {DEMO_REPLAY[2]} days …",
        highlight=False,
    )
    _demo_replay(data, db)
    out.print("\nAssessing the scenarios as of the latest data (90 days ahead) …", highlight=False)
    assess_cmd(theatre="belarus", as_of=None, horizon=90, since=None, data=data, db=db, fmt="text")
    out.print("\nWriting the briefing …", highlight=False)
    pdf = chromium() is not None
    brief(
        theatre="belarus", as_of=None, horizon=90, out_dir=Path("briefings"), since=None,
        pdf=pdf, data=data, db=db,
    )  # fmt: skip
    if not pdf:
        out.print("(no PDF: Chromium is missing; `make install-browser` installs it)")
    _demo_case(data, db, seeds or data.parent / "seeds", pdf)
    out.print(
        f"\nOpen the dashboard: vigil serve --db {db}   (then http://127.0.0.1:8000/)\n"
        "More: `vigil indicators --as-of 2022-02-15` (any date: only what was knowable then), "
        "`vigil evidence russian_buildup --as-of 2022-02-15`, "
        "`vigil assess --as-of 2022-02-20 --since 2022-01-01`, "
        "`vigil simulate --as-of 2022-02-20`, `vigil brief --as-of 2022-02-20`",
        highlight=False,
        markup=False,
    )


#: the August 2025 case: the two analyses as documents, the notes derived from them
CASE = Path(__file__).resolve().parents[3] / "cases" / "belarus-2025-08"
CASE_DAY = "2025-09-01"


def _demo_case(data: Path, db: Path, seeds: Path, pdf: bool) -> None:
    """Assess the case's date without and with the analysts' evidence, and brief it."""
    if not seeds.is_dir() or not CASE.is_dir():
        out.print(f"\n(no August 2025 case: the analyses are not at {seeds}; --seeds DIR)")
        return
    out.print(
        f"\nThe August 2025 case: loading the two analyses of the draft defence law from "
        f"{seeds} (in place) and the notes derived from them ({CASE / 'notes.yaml'}) …",
        highlight=False,
    )
    con, spec, library, day = _setup(db, "belarus", data, CASE_DAY, quiet=True)
    without = _case_assessment(con, spec, library, day, notes=False)
    con.close()
    analyst.ingest_documents([], CASE / "documents.yaml", "belarus", db, "text", folder=seeds)
    analyst.ingest_notes([CASE / "notes.yaml"], "belarus", db, "text")
    con, spec, library, day = _setup(db, "belarus", data, CASE_DAY, quiet=True)
    with_notes = _case_assessment(con, spec, library, day, notes=True)
    con.close()
    out.print(f"As of {CASE_DAY}, 90 days ahead: {with_notes['coverage']['summary']}",
              highlight=False, markup=False)  # fmt: skip
    for o in without["outcomes"]:
        after = _outcome(with_notes, o["id"])
        out.print(f"  {o['id']:<34} without the analyses {pct(o['probability']):>7}   with "
                  f"them {pct(after):>7}", highlight=False, markup=False)  # fmt: skip
    brief(
        theatre="belarus", as_of=CASE_DAY, horizon=90, out_dir=Path("briefings"), since=None,
        pdf=pdf, data=data, db=db,
    )  # fmt: skip


def _case_assessment(con, spec, library, day, *, notes: bool) -> dict:
    from vigil import assess as A  # noqa: N812

    reader = A.reader_for(con, spec, library, day, [90], notes=notes)
    return A.assessment_json(A.assess(con, spec, library, day, 90, reader=reader))


#: the demo's replay: the first years of the theatre's text evidence, fortnightly
DEMO_REPLAY = ("2021-01-01", "2023-12-31", 14)


@_handle_errors
def _demo_replay(data: Path, db: Path) -> None:
    """Store the replay's assessments (the dashboard's history) and print each outcome's
    peak with its date, rather than the full table `vigil replay` prints."""
    first, last, step = DEMO_REPLAY
    con, spec, library, _ = _setup(db, "belarus", data, first, quiet=True)
    days = (parse_date(first, "--from"), parse_date(last, "--to"), step)
    results, png, html = replay_and_store(con, spec, library, days, 90, [], Path("out"))
    out.print(f"stored {len(results)} assessments; charts: {png}, {html}", highlight=False)
    for o in results[0]["outcomes"]:
        peak = max(results, key=lambda r, oid=o["id"]: _outcome(r, oid))
        out.print(
            f"  {o['id']:<34} peak {pct(_outcome(peak, o['id'])):>7} on {peak['as_of']}",
            highlight=False,
            markup=False,
        )


def _outcome(result: dict, outcome_id: str) -> float:
    return next(x["probability"] for x in result["outcomes"] if x["id"] == outcome_id)


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)
