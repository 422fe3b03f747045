"""Indicators: daily evidence series, robust baselines, values as of a date, evidence, plots.

``compute_indicators(con, theatre, as_of)`` is the entry point; see ``compute`` for the
method and ``series`` for how events, observations and matched text become daily series.
"""

from vigil.indicators.compute import (
    IndicatorValue,
    KindStat,
    Trend,
    compute_indicators,
    indicator_history,
)
from vigil.indicators.evidence import EvidenceItem, evidence_for

__all__ = [
    "EvidenceItem",
    "IndicatorValue",
    "KindStat",
    "Trend",
    "compute_indicators",
    "evidence_for",
    "indicator_history",
]
