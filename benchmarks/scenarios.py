"""Benchmark: one scenario assessment through the library, and the 2021–2023 replay.

Goals: one assessment (readings of the memory and, for raised indicators, of their
false-alarm history; outcomes under way; every set; evidence items; the stored JSON with
ACH and sensitivity) ≤ 1 s warm, and the fortnightly 2021–2023 replay (79 assessments with
their evidence, as the demo stores them) ≤ 30 s, on 2 cores. The store is copied first
(the run matches text and registers border distances on the copy). The baseline measured
in the same run is ``compute_indicators`` on the same date (what ``vigil indicators``
computes for one date): the assessment's cost is reported as a ratio to it.

Run: ``python benchmarks/scenarios.py --db vigil.duckdb --data ../shared/data``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores, store_arguments, store_copy, timed  # noqa: E402
from vigil.indicators import compute_indicators  # noqa: E402
from vigil.scenarios.spec import load_scenarios  # noqa: E402
from vigil.service import assess as A  # noqa: E402, N812
from vigil.service import look  # noqa: E402
from vigil.theatre import load_theatre  # noqa: E402

DATES = ("2021-07-15", "2022-02-20", "2022-11-15", "2023-08-20")
REPLAY = (dt.date(2021, 1, 1), dt.date(2023, 12, 31), 14)


def one(con, theatre, library, day: dt.date) -> dict:
    """An assessment as `vigil assess` makes it: assessed, evidence attached, JSON built."""
    return A.assessment_json(A.assess(con, theatre, library, day, 90))


def main(argv: list[str] | None = None) -> int:
    args = store_arguments(__doc__, DATES, argv)
    if args is None:
        return 1
    pinned = pin_two_cores()
    theatre = load_theatre(args.theatre)
    library = load_scenarios(theatre)
    with store_copy(args.db) as (con, tmp):
        _, prep = timed(
            look.prepare_evidence, con, theatre, args.data, tmp / "cache",
            library.text_rules(),
        )  # fmt: skip
        print(f"{args.theatre}: {len(library.sets)} sets; {pinned}; matching and border "
              f"distances {prep:.1f} s (not timed below)\n")  # fmt: skip
        print(f"{'as of':<12}{'cold s':>8}{'warm s':>8}{'indicators s':>14}{'ratio':>7}  seen")
        worst = 0.0
        for day in (dt.date.fromisoformat(d) for d in args.dates):
            result, cold = timed(one, con, theatre, library, day)
            warm = statistics.median(
                timed(one, con, theatre, library, day)[1] for _ in range(args.repeat)
            )
            base = statistics.median(
                timed(compute_indicators, con, theatre, day)[1] for _ in range(args.repeat)
            )
            worst = max(worst, warm)
            seen = ", ".join(
                f"{s['id']} {len(s['coverage']['observed'])}/{s['indicators']}"
                for s in result["scenario_sets"]
            )
            print(f"{day!s:<12}{cold:>8.2f}{warm:>8.2f}{base:>14.2f}{warm / base:>7.2f}  {seen}")
        first, last, step = REPLAY
        days = [first + dt.timedelta(days=i) for i in range(0, (last - first).days + 1, step)]
        assessed, t_replay = timed(A.replay, con, theatre, library, days, 90)
        _, t_json = timed(lambda: [A.assessment_json(a) for a in assessed])
        print(f"\nreplay {first}–{last} every {step} days ({len(days)} assessments with "
              f"evidence): {t_replay:.1f} s + {t_json:.1f} s for their JSON = "
              f"{t_replay + t_json:.1f} s, {(t_replay + t_json) / len(days):.2f} s each "
              f"({(t_replay + t_json) / len(days) / worst:.2f}× one warm assessment)")  # fmt: skip
        print(f"goals: ≤ 1 s per assessment (worst warm {worst:.2f} s); replay ≤ 30 s "
              f"({t_replay + t_json:.1f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
