"""The briefing as files: assess, simulate, compare with the previous assessment, compose
(:mod:`vigil.briefing.document`) and render Markdown, self-contained HTML and, when a
browser is present, PDF. The CLI's `vigil brief`, the demo and ``Workspace.brief`` call
:func:`write_briefing`; nothing here prints."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from vigil.briefing.document import Inputs, build
from vigil.briefing.render import to_html, to_markdown, to_pdf
from vigil.errors import UsageError
from vigil.indicators.capability import capability_notes
from vigil.scenarios import audit
from vigil.scenarios.plot import render_reach_png
from vigil.scenarios.resolve import load_resolvers
from vigil.service import assess as A  # noqa: N812
from vigil.service import look
from vigil.store.status import store_status


@dataclass(frozen=True)
class Briefing:
    """What :func:`write_briefing` wrote, and the assessment it stored."""

    folder: Path
    files: tuple[Path, ...]
    assessment: dict

    def to_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "files": [str(p) for p in self.files],
            "as_of": self.assessment["as_of"],
            "theatre": self.assessment["theatre"],
        }


def write_briefing(
    con,
    spec,
    library,
    day: dt.date,
    horizon: int,
    out_dir: Path,
    *,
    since: dt.date | None = None,
    pdf: bool = True,
) -> Briefing:
    """Write ``<out_dir>/<theatre>_<day>/briefing.{md,html[,pdf]}`` and the reach chart;
    the assessment is stored. ``since``: the date to compare with (default: the latest
    stored assessment of this model and horizon before ``day``)."""
    if horizon <= A.NOW_DAYS:
        raise UsageError(f"--horizon {horizon} is too short", f"use {A.NOW_DAYS + 1} or more")
    if since is not None and since >= day:
        raise UsageError(f"--since {since} is not before {day}", "pick an earlier date")
    # one load of the store: both horizons (the assessment's and the simulation's start),
    # and every indicator of the theatre for the indicators table
    every = [i.id for i in spec.indicators]
    reader = A.reader_for(con, spec, library, day, (horizon, A.NOW_DAYS), every)
    resolvers = load_resolvers(con, spec, library)
    assessed = A.assess(con, spec, library, day, horizon, reader=reader, resolvers=resolvers)
    result = A.assessment_json(assessed)
    previous = _previous(con, spec, library, result, day, horizon, since)
    audit.save(con, result)
    end = {s.set_id: s.probability for s in assessed.sets}  # unrounded, unlike the JSON's
    sim = A.simulate_from(
        con, spec, library, day, end, horizon, reader=reader, resolvers=resolvers
    ).to_json()
    folder = Path(out_dir) / f"{spec.theatre.id}_{day}"
    folder.mkdir(parents=True, exist_ok=True)
    reach = render_reach_png(sim, folder / "reach.png", title=f"Escalation paths from {day}")
    inputs = Inputs(
        theatre=spec.theatre.id,
        theatre_name=spec.theatre.name,
        as_of=day.isoformat(),
        assessment=result,
        indicators=[
            look.indicator_json(v, r)
            for v, r in look.indicators_as_of(con, spec, day, 3, reader=reader)
        ],
        simulation=sim,
        changes=audit.diff(previous, result) if previous else None,
        thresholds={i.id: (i.thresholds.elevated, i.thresholds.high) for i in spec.indicators},
        charts={"reach": str(reach)},
        sources=_sources(con),
        capability=capability_notes(con, spec, day),
        recommendations=[
            {"outcome": o.id, **r.model_dump()} for _, o in library.outcomes() for r in o.recommend
        ],
    )
    blocks = build(inputs)
    md = folder / "briefing.md"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page = folder / "briefing.html"
    page.write_text(to_html(blocks, f"{spec.theatre.name}: briefing as of {day}"), encoding="utf-8")
    written = [md, page] + ([to_pdf(page, folder / "briefing.pdf")] if pdf else [])
    return Briefing(folder, tuple(written), result)


def _previous(con, spec, library, result, day, horizon, since) -> dict | None:
    """The assessment to compare with: ``since``'s (stored or made now), else the latest
    stored one of this model and horizon before ``day``."""
    if since is not None:
        return A.stored_or_new(con, spec, library, since, horizon)
    older = audit.history(
        con, spec.theatre.id, horizon, result["model_hash"], dt.date.min, day - dt.timedelta(days=1)
    )
    return older[-1] if older else None


def _sources(con) -> list[dict]:
    rows = []
    for s in store_status(con)["sources"]:
        firsts = [k["first"] for k in s["kinds"].values() if k["first"]]
        lasts = [k["last"] for k in s["kinds"].values() if k["last"]]
        if firsts:
            rows.append({"source": s["source"], "first": min(firsts), "last": max(lasts)})
    return rows
