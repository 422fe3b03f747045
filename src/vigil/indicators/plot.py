"""Indicator timelines: the score as of each date, with state bands and thresholds.

Two renderings of the same histories (:func:`vigil.indicators.indicator_history` frames):
a PNG (matplotlib, drawn on an Agg canvas without touching pyplot's global backend) and a
self-contained interactive HTML page (plotly with the library embedded, so it opens
offline). Each date's value uses only what was available by that date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from vigil.indicators.compute import indicator_history
from vigil.specs import TheatreSpec, Thresholds

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
    """The same panels as an interactive page with plotly embedded (works offline)."""
    path = Path(path)
    names = [_label(theatre, i) for i in frames]
    fig = make_subplots(
        rows=max(len(frames), 1), cols=1, shared_xaxes=True, subplot_titles=names or None,
        vertical_spacing=min(0.06, 0.5 / max(len(frames), 1)),
    )  # fmt: skip
    shapes: list[dict] = []
    for row, (ind_id, frame) in enumerate(frames.items(), start=1):
        custom = np.stack([frame["state"].astype(str), frame["trend_direction"].astype(str)], -1)
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(frame["as_of"]), y=pd.to_numeric(frame["score"], errors="coerce"),
                mode="lines", name=ind_id, customdata=custom, line={"color": "#222222"},
                hovertemplate="%{x|%Y-%m-%d}: z=%{y:.2f} %{customdata[0]} "
                "(%{customdata[1]})<extra>" + ind_id + "</extra>",
            ),
            row=row, col=1,
        )  # fmt: skip
        shapes.extend(_html_shapes(frame, _thresholds(theatre, ind_id), row))
    fig.update_layout(
        height=220 * max(len(frames), 1) + 120, showlegend=False, title=title,
        template="plotly_white", shapes=shapes,
    )  # fmt: skip
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path


def _html_shapes(frame: pd.DataFrame, th: Thresholds, row: int) -> list[dict]:
    # shapes given at once: add_vrect per band re-validates the figure (seconds for 17 rows)
    x, y = f"x{row if row > 1 else ''}", f"y{row if row > 1 else ''}"
    shapes = [
        {"type": "rect", "xref": x, "yref": f"{y} domain", "x0": first, "x1": stop, "y0": 0,
         "y1": 1, "fillcolor": STATE_COLOURS[state], "opacity": 0.25, "line": {"width": 0},
         "layer": "below"}
        for first, stop, state in state_runs(frame) if state in STATE_COLOURS
    ]  # fmt: skip
    for level, state in ((th.elevated, "elevated"), (th.high, "high")):
        line = {"color": STATE_COLOURS[state], "dash": "dash", "width": 1}
        shapes.append({"type": "line", "xref": f"{x} domain", "yref": y, "x0": 0, "x1": 1,
                       "y0": level, "y1": level, "line": line})  # fmt: skip
    return shapes
