"""Scenario history charts: each set's probabilities and the outcomes over time.

Drawn from stored or replayed assessment JSON (:func:`vigil.assess.assessment_json`), as
a PNG (matplotlib on an Agg canvas) and a self-contained HTML page (plotly embedded, so it
opens offline). Each point is an assessment made with what was known on its date.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

#: rung colours from calm to severe (ladders have at most this many rungs in practice)
RUNGS = ("#4a90d9", "#7ed321", "#f5a623", "#e8590c", "#d0021b", "#6b0000")


def frames(results: list[dict]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Per set: as_of × scenario probabilities; and as_of × outcome (p, lo, hi)."""
    sets: dict[str, list[dict]] = {}
    outcomes = []
    for r in results:
        day = pd.Timestamp(r["as_of"])
        for s in r["scenario_sets"]:
            sets.setdefault(s["id"], []).append(
                {"as_of": day, **{sc["id"]: sc["probability"] for sc in s["scenarios"]}}
            )
        for o in r["outcomes"]:
            outcomes.append(
                {
                    "as_of": day,
                    "id": o["id"],
                    "p": o["probability"],
                    "lo": o["interval"][0],
                    "hi": o["interval"][1],
                    "observed": bool(o.get("observed")),
                }
            )
    return {k: pd.DataFrame(v).set_index("as_of") for k, v in sets.items()}, pd.DataFrame(outcomes)


def render_png(results: list[dict], path: str | Path) -> Path:
    path = Path(path)
    per_set, outcomes = frames(results)
    n = len(per_set) + 1
    fig = Figure(figsize=(12, 2.4 * n + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (set_id, df) in zip(axes, per_set.items(), strict=False):
        ax.stackplot(
            df.index, df.T.values, labels=list(df.columns), colors=RUNGS[: df.shape[1]], alpha=0.85
        )
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(set_id, loc="left", fontsize=9)
        ax.legend(loc="upper left", fontsize=7, ncols=min(df.shape[1], 5))
    ax = axes[-1]
    for oid, df in outcomes.groupby("id", sort=False) if len(outcomes) else []:
        line = ax.plot(df["as_of"], df["p"], lw=1.3, label=oid)[0]
        ax.fill_between(df["as_of"], df["lo"], df["hi"], color=line.get_color(), alpha=0.15)
        seen = df[df["observed"]]
        ax.scatter(seen["as_of"], seen["p"], s=22, facecolors="none", edgecolors="black", lw=0.8,
                   zorder=3)  # fmt: skip
    if len(outcomes) and outcomes["observed"].any():
        ax.scatter([], [], s=22, facecolors="none", edgecolors="black", label="observed under way")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1.6)  # room above 1 for the circles of outcomes under way
    ax.set_ylabel("P(within horizon)")
    ax.set_title(
        "outcomes (90 % intervals shaded; log scale; circled: observed under way on the date)",
        loc="left", fontsize=9,
    )  # fmt: skip
    ax.legend(loc="lower left", fontsize=7, ncols=4, framealpha=0.9)
    fig.savefig(path, dpi=110)
    return path


def render_html(results: list[dict], path: str | Path) -> Path:
    path = Path(path)
    per_set, outcomes = frames(results)
    n = len(per_set) + 1
    fig = make_subplots(
        rows=n, cols=1, shared_xaxes=True, subplot_titles=[*per_set, "outcomes within the horizon"]
    )
    for row, (set_id, df) in enumerate(per_set.items(), start=1):
        for k, col in enumerate(df.columns):
            fig.add_trace(
                go.Scatter(
                    x=df.index,
                    y=df[col],
                    name=f"{set_id}: {col}",
                    stackgroup=set_id,
                    line={"color": RUNGS[k % len(RUNGS)]},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:.1%}<extra>" + col + "</extra>",
                ),
                row=row,
                col=1,
            )
    for oid, df in outcomes.groupby("id", sort=False) if len(outcomes) else []:
        fig.add_trace(
            go.Scatter(
                x=df["as_of"],
                y=df["p"],
                name=oid,
                mode="lines+markers",
                marker={
                    "symbol": ["circle-open" if o else "circle" for o in df["observed"]],
                    "size": [9 if o else 3 for o in df["observed"]],
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": df["hi"] - df["p"],
                    "arrayminus": df["p"] - df["lo"],
                    "thickness": 0.6,
                },
                customdata=["observed under way" if o else "" for o in df["observed"]],
                hovertemplate="%{x|%Y-%m-%d}: %{y:.2%} %{customdata}<extra>" + oid + "</extra>",
            ),
            row=n,
            col=1,
        )
    fig.update_yaxes(type="log", row=n, col=1)
    fig.update_layout(
        height=260 * n + 100,
        template="plotly_white",
        title="Scenario probabilities as assessed on each date",
    )
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path


def render_reach_png(sim: dict, path: str | Path, *, title: str | None = None) -> Path:
    """One panel per set: P(rung reached by day d) for each rung above the bottom."""
    path = Path(path)
    sets = sim["sets"]
    fig = Figure(figsize=(12, 2.3 * len(sets) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(sets), 1, sharex=True, squeeze=False)[:, 0]
    for ax, s in zip(axes, sets, strict=True):
        for k, rung in enumerate(s["rungs"][1:], start=1):
            colour = RUNGS[k % len(RUNGS)]
            ax.plot(
                range(len(rung["reach_by_day"])),
                rung["reach_by_day"],
                color=colour,
                lw=1.4,
                label=f"{rung['id']} (assessed {rung['assessed']:.1%})",
            )
            ax.axhline(rung["assessed"], color=colour, ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1)
        ax.set_ylabel("P(reached)")
        ax.set_title(s["id"], loc="left", fontsize=9)
        ax.legend(loc="lower right", fontsize=7)
    axes[-1].set_xlabel("days from the as-of date")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path
