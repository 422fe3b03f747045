"""`vigil demo`: the main job, a scripted tour of the commands on the real data.

It ingests the data folder, then runs what an analyst would, each through the same API
the commands use: the indicators, a stored 2021–2023 replay (the dashboard's history), the
latest assessment and its briefing, and the August 2025 case (two analyses of Belarus as
documents and the graded notes derived from them, assessed without and with them). It
lives with the shells because it is a tour of them: what it prints is what the commands
print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil import settings
from vigil.briefing.render import chromium
from vigil.cli import analyst
from vigil.cli.brief import brief
from vigil.cli.common import (
    DEFAULT_DB,
    DbOption,
    app,
    handle_errors,
    out,
    pct,
    workspace,
)
from vigil.cli.indicators import indicators
from vigil.cli.ingest import load_with_progress, print_reports, status
from vigil.cli.scenarios import assess_cmd
from vigil.errors import UsageError


@app.command()
@handle_errors
def demo(
    data: Annotated[
        Path, typer.Option("--data", envvar="VIGIL_DATA", help="Data folder like ../shared/data.")
    ] = Path(settings.SETTINGS["data"].default),
    db: DbOption = DEFAULT_DB,
    analyses: Annotated[
        Path | None,
        typer.Option(
            "--analyses",
            help="Folder of the two August 2025 analyses of Belarus (one of its draft defence "
            "law, one of its alliance posture; default: ../shared/seeds, beside --data).",
        ),
    ] = None,
    # the option's first name, kept working for scripts that use it
    old_name: Annotated[Path | None, typer.Option("--seeds", hidden=True)] = None,
) -> None:
    """The main job: store, indicators, a 2021–2023 replay, the latest assessment and
    briefing, and the August 2025 case built from two analyses of Belarus written that month."""
    if not data.is_dir():
        raise UsageError(
            f"no data folder at {data}",
            "pass --data DIR (a folder laid out like ../shared/data), or fetch live sources: "
            "`vigil ingest gdelt --live` (no credentials), `vigil ingest acled --live` "
            "(ACLED_USERNAME, ACLED_PASSWORD), `vigil ingest rss --live`",
        )
    out.print(f"Building the evidence store {db} from {data} …", highlight=False)
    print_reports(load_with_progress(db, data=data, quiet=False), "text")
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
    _demo_case(data, db, analyses or old_name or data.parent / "seeds", pdf)
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


def _demo_case(data: Path, db: Path, folder: Path, pdf: bool) -> None:
    """Assess the case's date without and with the analysts' evidence, and brief it."""
    if not folder.is_dir() or not CASE.is_dir():
        out.print(f"\n(no August 2025 case: the analyses are not at {folder}; --analyses DIR)")
        return
    out.print(
        f"\nThe August 2025 case: loading the two analyses of Belarus (its draft defence law; "
        f"its alliance posture) from {folder} (in place) and the notes derived from them "
        f"({CASE / 'notes.yaml'}) …",
        highlight=False,
    )
    ws = workspace(db, "belarus", data, write=True, quiet=True)
    without = ws.assess(CASE_DAY, 90, notes=False, store=False).to_dict()
    ws.close()
    analyst.ingest_documents([], CASE / "documents.yaml", "belarus", db, "text", folder=folder)
    analyst.ingest_notes([CASE / "notes.yaml"], "belarus", db, "text")
    ws = workspace(db, "belarus", data, write=True, quiet=True)
    with_notes = ws.assess(CASE_DAY, 90, store=False).to_dict()
    ws.close()
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


#: the demo's replay: the first years of the theatre's text evidence, fortnightly
DEMO_REPLAY = ("2021-01-01", "2023-12-31", 14)


@handle_errors
def _demo_replay(data: Path, db: Path) -> None:
    """Store the replay's assessments (the dashboard's history) and print each outcome's
    peak with its date, rather than the full table `vigil replay` prints."""
    first, last, step = DEMO_REPLAY
    ws = workspace(db, "belarus", data, write=True, quiet=True)
    replayed = ws.replay(first, last, step, horizon=90, charts=Path("out"))
    results = replayed.results
    charts = ", ".join(str(p) for p in replayed.charts)
    out.print(f"stored {len(results)} assessments; charts: {charts}", highlight=False)
    for o in results[0]["outcomes"]:
        peak = max(results, key=lambda r, oid=o["id"]: _outcome(r, oid))
        out.print(
            f"  {o['id']:<34} peak {pct(_outcome(peak, o['id'])):>7} on {peak['as_of']}",
            highlight=False,
            markup=False,
        )


def _outcome(result: dict, outcome_id: str) -> float:
    return next(x["probability"] for x in result["outcomes"] if x["id"] == outcome_id)
