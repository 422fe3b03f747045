"""Benchmark of the forecaster's backtest: the whole run's time and its skill, in one run.

1. Builds the acled-escalation panel from the store (every monthly origin), runs the
   rolling-origin backtest 2015–2025 for both horizons and all five models (goal: ≤ 60 s on
   2 cores, audit included) and times each stage.
2. Scores the 2020–2025 predictions of that run: Brier skill against no-change (the bar of
   the ViEWS escalation competition; goal: above 0 for the best model) and against the base
   rate, for onsets and escalations.

Run: ``python benchmarks/backtest.py --db vigil.duckdb --data ../shared/data`` (``--json
PATH`` also writes the figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores  # noqa: E402
from vigil.forecast import panel as P  # noqa: E402, N812
from vigil.forecast.backtest import BacktestConfig, run_backtest  # noqa: E402
from vigil.forecast.predict import panel_builder  # noqa: E402
from vigil.forecast.scores import score_table  # noqa: E402
from vigil.store import connect  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("VIGIL_DB", "vigil.duckdb"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    pinned = pin_two_cores()
    t_all = time.perf_counter()
    with connect(args.db) as con:
        t0 = time.perf_counter()
        build = panel_builder(con, args.data)
        counts = P.load_counts(con)
        origins = P.monthly_origins(counts.months[0].date().replace(day=15), dt.date(2025, 12, 15))
        panel = build(None, origins, True)
        t_panel = time.perf_counter() - t0
        config = BacktestConfig(2015, 2025)
        result = run_backtest(panel, config, build)
    total = time.perf_counter() - t_all
    pred = result.predictions
    recent = pred[pred["year"] >= 2020]
    figures = {
        "cpus": pinned,
        "rows": len(panel),
        "panel_s": t_panel,
        **result.seconds,
        "total_s": total,
        "horizons": {},
    }
    print(
        f"{pinned}; panel {len(panel):,} rows in {t_panel:.2f} s; audit "
        f"{result.seconds['audit']:.2f} s; fit and predict {result.seconds['fit_predict']:.1f} s; "
        f"whole backtest {total:.1f} s (goal <= 60 s)"
    )
    for h in config.horizons:
        table = score_table(recent[recent["horizon"] == h], list(config.models))
        print(
            f"\n{h}-month horizon, 2020-2025 ({table['base_rate']['overall']['n']:,} forecasts, "
            f"base rate {table['base_rate']['overall']['base_rate']:.3f})"
        )
        print(
            f"{'model':10} {'Brier':>7} {'BSS/no-change':>14} {'BSS/base':>9} "
            f"{'onset':>7} {'escal.':>7} {'AUC-PR':>7}"
        )
        rows = {}
        for m in config.models:
            o = table[m]["overall"]
            rows[m] = o | {"onset": table[m]["onset"], "escalation": table[m]["escalation"]}
            print(
                f"{m:10} {o['brier']:7.4f} {o['bss_vs_no_change']:+14.3f} "
                f"{o['bss_vs_base_rate']:+9.3f} {table[m]['onset']['bss_vs_no_change']:+7.3f} "
                f"{table[m]['escalation']['bss_vs_no_change']:+7.3f} {o['auc_pr']:7.3f}"
            )
        best = max(config.models, key=lambda m: rows[m]["bss_vs_no_change"] or -9)
        print(f"best: {best}, BSS vs no-change {rows[best]['bss_vs_no_change']:+.3f} (goal > 0)")
        figures["horizons"][str(h)] = {"best": best, "models": rows}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
