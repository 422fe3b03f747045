"""Benchmark: every indicator of a theatre as of one date, on a copy of a full store.

Goal: all indicators as of one date in ≤ 2 s on 2 cores. The store is copied first (the
run writes ``text_matches`` when they are missing and a TEMP border table), the process is
pinned to two cores and DuckDB to two threads. Reported per as-of date: the first call
(``cold``: compiles the Ibis templates, once per process) and the median of the next
``--repeat`` calls (``warm``), the states found, and a per-stage split; then one
indicator's weekly history over a year.

Run: ``python benchmarks/indicators.py --db vigil.duckdb --data ../shared/data``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores, store_arguments, store_copy, timed  # noqa: E402
from vigil.indicators import compute_indicators, indicator_history  # noqa: E402
from vigil.indicators.compute import evaluate, load_vintages, lookback  # noqa: E402
from vigil.indicators.evidence import evidence_batch  # noqa: E402
from vigil.theatre import load_theatre  # noqa: E402

DATES = ("2021-07-15", "2022-02-15", "2022-11-15", "2023-07-10")


def prepare(con, theatre, data: Path, cache: Path) -> str:
    """Border distances and text matches, as the daily job would have them."""
    notes = []
    from vigil.geo import refresh_border_distances

    rows = refresh_border_distances(con, theatre.theatre, data, cache)
    notes.append(f"{rows} event-border distances")
    have = con.execute("SELECT count(*) FROM text_matches WHERE theatre = ?",
                       [theatre.theatre.id]).fetchone()[0]  # fmt: skip
    if not have:
        from vigil.text.match import match_documents

        started = time.perf_counter()
        match_documents(con, theatre)
        notes.append(f"text matched in {time.perf_counter() - started:.1f} s (not timed below)")
    return "; ".join(notes)


def stages(con, theatre, as_of: dt.date) -> dict[str, float]:
    """Seconds per stage of one warm call: queries, per-indicator assessment, evidence."""
    start = as_of - dt.timedelta(days=max(lookback(i) for i in theatre.indicators))
    vint, t_load = timed(load_vintages, con, theatre.theatre.id, theatre.indicators, start, as_of)
    t0 = time.perf_counter()
    for ind in theatre.indicators:
        evaluate(ind, vint[ind.id], as_of)
    t_assess = time.perf_counter() - t0
    _, t_evidence = timed(evidence_batch, con, theatre.theatre.id, theatre.indicators, as_of)
    return {"queries": t_load, "assess": t_assess, "evidence": t_evidence}


def main(argv: list[str] | None = None) -> int:
    args = store_arguments(__doc__, DATES, argv)
    if args is None:
        return 1
    pinned = pin_two_cores()
    theatre = load_theatre(args.theatre)
    with store_copy(args.db) as (con, tmp):
        notes = prepare(con, theatre, args.data, tmp / "cache")
        print(f"{len(theatre.indicators)} indicators of {args.theatre}; {pinned}; {notes}\n")
        print(f"{'as of':<12}{'cold s':>8}{'warm s':>8}{'queries':>9}{'assess':>8}"
              f"{'evidence':>10}  states")  # fmt: skip
        worst = 0.0
        for i, day in enumerate(dt.date.fromisoformat(d) for d in args.dates):
            values, cold = timed(compute_indicators, con, theatre, day)
            warm = statistics.median(
                timed(compute_indicators, con, theatre, day)[1] for _ in range(args.repeat)
            )
            split = stages(con, theatre, day)
            worst = max(worst, warm, cold if i else warm)
            counts = Counter(v.state for v in values)
            found = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            print(f"{day!s:<12}{cold:>8.2f}{warm:>8.2f}{split['queries']:>9.2f}"
                  f"{split['assess']:>8.2f}{split['evidence']:>10.2f}  {found}")  # fmt: skip
        ind = theatre.indicators[0].id
        _, hist = timed(indicator_history, con, theatre, ind, dt.date(2022, 1, 1),
                        dt.date(2022, 12, 31), 7)  # fmt: skip
        print(f"\nhistory of {ind}, 2022 weekly (53 dates): {hist:.2f} s")
        print(f"goal ≤ 2 s per date (after the first, compiling call): worst {worst:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
