"""Indicator timelines: the score as of each date, with state bands and thresholds.

Two renderings of the same histories (:func:`vigil.indicators.indicator_history` frames):
a PNG (matplotlib, drawn on an Agg canvas without touching pyplot's global backend, for
print) and a self-contained HTML page of inline SVG (:mod:`vigil.charts`, the dashboard's
drawing: no script, opens offline), each chart with its numbers in a table. Each date's
value uses only what was available by that date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vigil import charts
from vigil.indicators.compute import indicator_history
from vigil.theatre import TheatreSpec, Thresholds

#: band colours per state (normal is left blank)
STATE_COLOURS = {"elevated": "#f5a623", "high": "#d0021b", "insufficient": "#9b9b9b"}


def histories(
    con,
    theatre: TheatreSpec,
    start: dt.date,
    end: dt.date,
    indicator_ids: Iterable[str] | None = None,
    step_days: int = 1,
) -> dict[str, pd.DataFrame]:
    """:func:`indicator_history` of each indicator (all of the theatre's by default)."""
    ids = list(indicator_ids) if indicator_ids is not None else [i.id for i in theatre.indicators]
    return {i: indicator_history(con, theatre, i, start, end, step_days) for i in ids}


def plot_timeline(
    con,
    theatre: TheatreSpec,
    start: dt.date,
    end: dt.date,
    path: str | Path,
    indicator_ids: Iterable[str] | None = None,
    step_days: int = 7,
) -> Path:
    """Compute the histories and write ``path`` (``.png`` or ``.html``, by its suffix).

    Weekly by default: each date is recomputed from what was available then (~20-50 ms per
    indicator and date), so a daily three-year timeline of 17 indicators takes minutes.
    """
    path = Path(path)
    writers = {".png": render_png, ".html": render_html}
    if path.suffix.lower() not in writers:
        raise ValueError(f"{path}: use a .png or .html file name")
    frames = histories(con, theatre, start, end, indicator_ids, step_days)
    return writers[path.suffix.lower()](frames, path, theatre=theatre)


def state_runs(frame: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Contiguous runs of one state: ``(first, end, state)``, ``end`` exclusive (the next
    date, or the last date plus one step)."""
    if frame.empty:
        return []
    dates = pd.to_datetime(frame["as_of"]).reset_index(drop=True)
    step = dates.diff().median() if len(dates) > 1 else pd.Timedelta(days=1)
    states = frame["state"].reset_index(drop=True)
    runs, first = [], 0
    for i in range(1, len(states) + 1):
        if i == len(states) or states[i] != states[first]:
            stop = dates[i] if i < len(states) else dates[i - 1] + step
            runs.append((dates[first], stop, str(states[first])))
            first = i
    return runs


def _thresholds(theatre: TheatreSpec | None, indicator_id: str) -> Thresholds:
    if theatre is None:
        return Thresholds()
    return theatre.indicator(indicator_id).thresholds


def _label(theatre: TheatreSpec | None, indicator_id: str) -> str:
    return theatre.indicator(indicator_id).name if theatre is not None else indicator_id


def render_png(
    frames: dict[str, pd.DataFrame],
    path: str | Path,
    *,
    theatre: TheatreSpec | None = None,
    title: str | None = None,
) -> Path:
    """One panel per indicator: score line, state bands, dashed threshold lines."""
    path = Path(path)
    n = max(len(frames), 1)
    fig = Figure(figsize=(12, 1.9 * n + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (ind_id, frame) in zip(axes, frames.items(), strict=False):
        dates = pd.to_datetime(frame["as_of"])
        score = pd.to_numeric(frame["score"], errors="coerce")
        for first, stop, state in state_runs(frame):
            if state in STATE_COLOURS:
                ax.axvspan(first, stop, color=STATE_COLOURS[state], alpha=0.25, lw=0)
        ax.plot(dates, score, color="#222222", lw=1.2)
        th = _thresholds(theatre, ind_id)
        for level, colour in ((th.elevated, STATE_COLOURS["elevated"]),
                              (th.high, STATE_COLOURS["high"])):  # fmt: skip
            ax.axhline(level, color=colour, ls="--", lw=0.8)
        ax.set_ylabel("z")
        ax.set_title(_label(theatre, ind_id), loc="left", fontsize=9)
        finite = score[np.isfinite(score)]
        top = max(th.high + 1, float(finite.max()) + 0.5 if len(finite) else 0)
        ax.set_ylim(min(-2.0, float(finite.min()) - 0.5 if len(finite) else -2.0), top)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path


def render_html(
    frames: dict[str, pd.DataFrame],
    path: str | Path,
    *,
    theatre: TheatreSpec | None = None,
    title: str | None = None,
) -> Path:
    """The same panels as one page of SVG charts: score line, the runs of each state
    shaded, the elevated and high zones from the thresholds; the numbers in a table."""
    path = Path(path)
    sections = []
    for ind_id, frame in frames.items():
        name = _label(theatre, ind_id)
        th = _thresholds(theatre, ind_id)
        days = [d.date() for d in pd.to_datetime(frame["as_of"])]
        scores = pd.to_numeric(frame["score"], errors="coerce")
        series = [{"name": name, "points": list(zip(days, scores, strict=True))}]
        spans = [
            {"from": first.date(), "to": stop.date(), "class": state, "label": state}
            for first, stop, state in state_runs(frame)
            if state in STATE_COLOURS
        ]
        finite = scores[np.isfinite(scores)]
        chart = charts.line_chart(
            series, width=1200, height=240, y_label="score (z)", spans=spans,
            y_min=min([-2.0, *(finite - 0.5)]), y_max=max([th.high + 1, *(finite + 0.5)]),
            bands=[
                {"from": th.elevated, "to": th.high, "class": "elevated", "label": "elevated"},
                {"from": th.high, "to": None, "class": "high", "label": "high"},
            ],
            title=f"{name}: score as known on each date",
        )  # fmt: skip
        table = _state_table(days, scores, frame)
        sections.append(("", chart + table))
    page = charts.page(
        title or "Indicator timelines",
        sections,
        note="Shaded behind the line: the dates an indicator read elevated, high or "
        "insufficient; bands: the elevated and high zones of its thresholds. Each date's "
        "score uses only what was available by that date.",
    )
    path.write_text(page, encoding="utf-8")
    return path


def _state_table(days: list, scores: pd.Series, frame: pd.DataFrame) -> str:
    """The numbers behind a panel: score, state and trend on each date."""
    notes = {"state": dict(zip(days, frame["state"].astype(str), strict=True))}
    if "trend_direction" in frame:
        notes["trend"] = dict(zip(days, frame["trend_direction"].astype(str), strict=True))
    series = [{"name": "score (z)", "points": list(zip(days, scores, strict=True))}]
    return charts.data_table(series, notes=notes)
