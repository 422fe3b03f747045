"""Scenario history charts: each set's probabilities and the outcomes over time.

Drawn from stored or replayed assessment JSON (:func:`vigil.service.assess.assessment_json`), as
a PNG (matplotlib on an Agg canvas, for print) and a self-contained HTML page of inline SVG
(:mod:`vigil.charts`, the dashboard's drawing: no script, opens offline), each chart with its
numbers in a table. Each point is an assessment made with what was known on its date.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vigil import charts

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
    """Each set's scenario probabilities, then the outcomes (log scale, 90 % intervals
    shaded, observed-under-way dates ringed), as one page of SVG charts with their numbers."""
    path = Path(path)
    per_set, outcomes = frames(results)
    sections = []
    for set_id, df in per_set.items():
        series = [
            {
                "name": str(col),
                "points": [(d.date(), v) for d, v in zip(df.index, df[col], strict=True)],
                "class": f"s{k % len(charts.PALETTE)}",
            }
            for k, col in enumerate(df.columns)
        ]
        chart = charts.line_chart(
            series, width=1200, height=300, y_min=0, y_max=1, percent=True,
            y_label="probability", title=f"{set_id}: probability of each scenario",
        )  # fmt: skip
        sections.append(("", chart + charts.data_table(series, percent=True)))
    series = []
    for oid, df in outcomes.groupby("id", sort=False) if len(outcomes) else []:
        days = [d.date() for d in df["as_of"]]
        series.append(
            {
                "name": str(oid),
                "points": list(zip(days, df["p"], strict=True)),
                "interval": list(zip(days, df["lo"], df["hi"], strict=True)),
                "marked": [d for d, seen in zip(days, df["observed"], strict=True) if seen],
            }
        )
    chart = charts.line_chart(
        series, width=1200, height=420, percent=True, log=True, y_label="P(within horizon)",
        title="outcomes within the horizon (90 % intervals shaded; log scale; ringed: observed "
        "under way on the date)",
    )  # fmt: skip
    sections.append(("", chart + charts.data_table(series, percent=True)))
    page = charts.page(
        "Scenario probabilities as assessed on each date",
        sections,
        note="Each point is an assessment made with what was known on its date.",
    )
    path.write_text(page, encoding="utf-8")
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
