"""The frozen records the public API returns: each holds what the CLI prints and the
dashboard shows, with ``to_dict()`` (the JSON ``--format json`` prints, unchanged) and,
where the result is a table, ``to_frame()`` (a pandas DataFrame, one row per item)."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.service import look

if TYPE_CHECKING:
    import pandas as pd

    from vigil.indicators.compute import IndicatorValue
    from vigil.indicators.evidence import EvidenceItem
    from vigil.indicators.readings import IndicatorReading
    from vigil.service.assess import Assessment


def _frame(rows: list[dict], columns: list[str] | None = None) -> pd.DataFrame:
    """Rows as a DataFrame with ``columns`` in order, present even when there are no rows
    (a caller's ``df["probability"]`` must not depend on the result being non-empty)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


#: the columns of each table view (an empty result has them too)
INDICATOR_COLUMNS = ["indicator", "state", "score", "trend", "change_point", "reading",
                     "reading_label", "observed", "evidence"]  # fmt: skip
EVIDENCE_COLUMNS = ["kind", "source", "source_id", "date", "title", "url", "category",
                    "country", "series", "value", "outlet", "match_kind", "cue"]  # fmt: skip
SCENARIO_COLUMNS = ["set", "scenario", "prior", "probability", "low", "high", "leading"]
OUTCOME_COLUMNS = ["outcome", "probability", "low", "high", "observed"]
RUNG_COLUMNS = ["set", "rung", "assessed", "simulated", "days_median", "days_p10", "days_p90"]


@dataclass(frozen=True)
class Indicators:
    """Every indicator of a theatre as of a date: its value against its own baseline beside
    the scenario model's reading of it (:func:`vigil.service.look.indicators_as_of`)."""

    theatre: str
    as_of: dt.date
    items: tuple[tuple[IndicatorValue, IndicatorReading], ...]

    def to_dict(self) -> dict:
        return {
            "theatre": self.theatre,
            "as_of": self.as_of.isoformat(),
            "indicators": [look.indicator_json(v, r) for v, r in self.items],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator: its state and score against its own baseline, trend,
        change point, the model's reading (``observed`` False when blind), evidence count."""
        rows = []
        for v, r in self.items:
            rows.append(
                {
                    "indicator": v.id,
                    "state": v.state,
                    "score": v.score,
                    "trend": v.trend.direction,
                    "change_point": v.change_point,
                    "reading": r.state if r else None,
                    "reading_label": r.label if r else None,
                    "observed": bool(r and r.state != "blind"),
                    "evidence": len(v.evidence),
                }
            )
        return _frame(rows, INDICATOR_COLUMNS)


@dataclass(frozen=True)
class Evidence:
    """The evidence items behind one indicator as of a date, and the analysts' graded notes
    standing on it."""

    indicator: str
    as_of: dt.date
    notes: tuple[dict, ...]
    items: tuple[EvidenceItem, ...]

    def to_dict(self) -> dict:
        return {
            "indicator": self.indicator,
            "as_of": self.as_of.isoformat(),
            # graded analyst notes standing on the date (docs/NOTES.md)
            "notes": list(self.notes),
            "evidence": [look.evidence_json(e) for e in self.items],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per evidence item: kind, source, date, title, link, and for series their
        value; for headlines how they matched (``match_kind``, ``cue``)."""
        return _frame([look.evidence_json(e) for e in self.items], EVIDENCE_COLUMNS)


@dataclass(frozen=True)
class AssessmentResult:
    """One dated assessment: scenario sets, outcomes, contributions, coverage, ACH and
    sensitivity (``data``, the stored JSON), and what changed since an earlier date."""

    assessment: Assessment
    data: dict
    changes: dict | None = None

    def to_dict(self) -> dict:
        data = copy.deepcopy(self.data)  # a copy: the record stays as it was
        return {**data, "changes": copy.deepcopy(self.changes)} if self.changes else data

    def to_frame(self) -> pd.DataFrame:
        """One row per scenario: set, scenario, prior, probability and its 90 % interval."""
        return _frame(
            [
                {
                    "set": s["id"],
                    "scenario": sc["id"],
                    "prior": sc["prior"],
                    "probability": sc["probability"],
                    "low": sc["interval"][0],
                    "high": sc["interval"][1],
                    "leading": sc["id"] == s["leading"],
                }
                for s in self.data["scenario_sets"]
                for sc in s["scenarios"]
            ],
            SCENARIO_COLUMNS,
        )

    def outcomes_frame(self) -> pd.DataFrame:
        """One row per outcome: probability within the horizon, interval, observed."""
        return _frame(
            [
                {
                    "outcome": o["id"],
                    "probability": o["probability"],
                    "low": o["interval"][0],
                    "high": o["interval"][1],
                    "observed": bool(o.get("observed")),
                }
                for o in self.data["outcomes"]
            ],
            OUTCOME_COLUMNS,
        )


@dataclass(frozen=True)
class Replay:
    """Assessments over a range of dates (each as known on its date), and their charts."""

    horizon_days: int
    results: tuple[dict, ...]
    charts: tuple[Path, ...] = ()

    def rows(self) -> list[dict]:
        return [
            {
                "as_of": r["as_of"],
                **{o["id"]: o["probability"] for o in r["outcomes"]},
                **{f"leading:{s['id']}": s["leading"] for s in r["scenario_sets"]},
                # outcomes observed under way on the date (seen, not foreseen)
                "observed": [o["id"] for o in r["outcomes"] if o.get("observed")],
            }
            for r in self.results
        ]

    def to_dict(self) -> dict:
        return {
            "horizon_days": self.horizon_days,
            "rows": self.rows(),
            "charts": [str(p) for p in self.charts],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per date: ``as_of``, each outcome's probability (a column per outcome id),
        each set's leading scenario (``leading:<set>``) and the outcomes ``observed``."""
        rows = self.rows()
        return _frame(rows, None if rows else ["as_of", "observed"])


@dataclass(frozen=True)
class SimulationResult:
    """Monte Carlo escalation chains from one date, with consequences for Europe."""

    theatre: str
    as_of: dt.date
    data: dict
    chart: Path | None = None

    def to_dict(self) -> dict:
        return {"theatre": self.theatre, "as_of": self.as_of.isoformat(),
                **copy.deepcopy(self.data)}  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        """One row per rung: the assessed and simulated probability of reaching it, and
        the days to reach it (median, 10th and 90th percentiles)."""
        return _frame(
            [
                {
                    "set": s["id"],
                    "rung": r["id"],
                    "assessed": r["assessed"],
                    "simulated": r["simulated"],
                    "days_median": r["time_to_event"]["median"],
                    "days_p10": r["time_to_event"]["p10"],
                    "days_p90": r["time_to_event"]["p90"],
                }
                for s in self.data["sets"]
                for r in s["rungs"][1:]
            ],
            RUNG_COLUMNS,
        )


@dataclass(frozen=True)
class Report:
    """A scored report (a backtest) or a table of forecasts, as the JSON the CLI prints;
    ``to_frame()`` gives its main table (``rows``, ``outcomes`` or ``models``)."""

    data: dict
    table: str

    def to_dict(self) -> dict:
        return copy.deepcopy(self.data)  # a copy: the record stays as it was

    def to_frame(self) -> pd.DataFrame:
        return _frame(copy.deepcopy(list(self.data.get(self.table) or [])))


@dataclass(frozen=True)
class Charts:
    """Chart files written (a PNG and a script-free HTML page)."""

    files: tuple[Path, ...]

    def to_dict(self) -> dict:
        return {"files": [str(p) for p in self.files]}
