"""Benchmark: how the costs grow with the store, on GDELT-shaped data of 1M, 10M and 50M rows.

For each size, in a fresh child process (so peak memory is its own), pinned to two cores
with DuckDB on two threads:

1. generate the rows (``benchmarks/scale_data.py``: fitted to the real GDELT samples,
   three years 2021–2023, ids increasing with time) as GDELT export files of
   ``--file-days`` days, and load **every row** through the real adapter and merge
   (``vigil.ingest.ingest_file``); generation is timed apart from ingest. GDELT's own
   date check (SQLDATE at most 366 days before the file's stamp) rejects the rows dated a
   year back that fall before a file's last day (≈0.5 %; the rows are counted);
2. merge one 15-minute export (2,400 rows, as many as the samples hold) into the full
   store (median of three);
3. store bytes per row (after a CHECKPOINT);
4. every Belarus indicator as of ``--as-of`` on DuckDB (border distances and text matches
   prepared first, timed apart; the first call, then the median of two more, or one more
   from 10M rows) and on local Spark (``local[2]``: session start, lake sync and queries
   timed apart);
5. peak RSS of the Python process (DuckDB runs inside it) and of Spark's JVM.

Run: ``python benchmarks/scale.py --sizes 1000000 10000000`` (``--quick``: 100k rows).
Prints a Markdown table; JSON to ``benchmarks/out/scale.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import scale_data as sd  # noqa: E402
from common import pin_two_cores, timed  # noqa: E402

AS_OF = "2022-11-15"


def _jvm_peak_gb() -> float:
    """Peak RSS (VmHWM) of this process's child JVMs, GB (Spark's driver in local mode)."""
    peak = 0
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] != me:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, IndexError):
            continue
    return round(peak / 1024 / 1024, 2)


def _rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)


def run_size(n: int, args) -> dict:
    """Every measure for one size (runs in the child process)."""
    from vigil.ingest import ingest_file
    from vigil.query import attach
    from vigil.query.lake import Lake
    from vigil.query.spark import SparkEngine, spark_session
    from vigil.service.look import indicators_as_of, prepare_evidence
    from vigil.sources.gdelt import ADAPTER
    from vigil.store import connect
    from vigil.theatre import load_theatre

    out: dict = {"rows": n, "pinned": pin_two_cores(), "file_days": args.file_days}
    spec = load_theatre(args.theatre)
    day = dt.date.fromisoformat(args.as_of)
    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work, prefix=f"scale-{n}-") as tmp:
        tmp = Path(tmp)
        db = tmp / "store.duckdb"
        con = connect(db)
        con.execute("SET threads TO 2")
        gen_s = ingest_s = 0.0
        loaded = rejected = files = 0
        for i0, i1, name in sd.day_ranges(n, days=args.file_days):
            path = tmp / name
            _, s = timed(sd.write_rows, path, args.seed, n, i0, i1)
            gen_s += s
            report, s = timed(ingest_file, con, ADAPTER, path)
            ingest_s += s
            loaded, rejected, files = loaded + report.loaded, rejected + report.rejected, files + 1
            path.unlink()
        out["ingest"] = {"files": files, "loaded": loaded, "rejected": rejected,
                         "generate_s": round(gen_s, 1), "ingest_s": round(ingest_s, 1),
                         "rows_per_s": round(n / ingest_s)}  # fmt: skip
        print(f"[{n:,}] ingested {loaded:,} ({rejected:,} rejected) in {ingest_s:.1f} s "
              f"(+{gen_s:.1f} s generating)", flush=True)  # fmt: skip

        merges = []
        for k in range(3):
            at = sd.END + dt.timedelta(minutes=15 * k)
            batch = sd.write_batch(
                tmp, args.seed + 1 + k, at, first_id=sd.FIRST_ID + n + k * 10_000
            )
            report, s = timed(ingest_file, con, ADAPTER, batch)
            assert report.loaded == 2400 and not report.rejected, report
            merges.append(s)
            batch.unlink()
        out["merge_15min_s"] = round(statistics.median(merges), 3)
        con.execute("CHECKPOINT")
        rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
        out["store_bytes_per_row"] = round(db.stat().st_size / rows, 1)
        out["store_gb"] = round(db.stat().st_size / 1e9, 2)

        prepared, out["prepare_s"] = timed(prepare_evidence, con, spec, args.data, tmp / "cache")
        out["border_rows"] = prepared.border_rows
        _, cold = timed(indicators_as_of, con, spec, day)
        warm = [timed(indicators_as_of, con, spec, day)[1] for _ in range(_repeats(n))]
        values = indicators_as_of(con, spec, day)
        out["duckdb"] = {"cold_s": round(cold, 2), "warm_s": round(statistics.median(warm), 2),
                         "states": _states(values)}  # fmt: skip
        out["rss_after_duckdb_gb"] = _rss_gb()
        print(f"[{n:,}] DuckDB indicators: cold {cold:.2f} s, warm {statistics.median(warm):.2f} s",
              flush=True)  # fmt: skip

        if not args.no_spark:
            session, start_s = timed(spark_session, "local[2]")
            engine = SparkEngine(session, Lake(tmp / "lake"))
            _, sync_s = timed(engine.sync, con)
            con2 = attach(con, engine)
            _, cold = timed(indicators_as_of, con2, spec, day)
            warm = [timed(indicators_as_of, con2, spec, day)[1] for _ in range(_repeats(n))]
            values = indicators_as_of(con2, spec, day)
            _, resync_s = timed(engine.sync, con)  # nothing changed: the cost of checking
            out["spark"] = {"session_s": round(start_s, 1), "sync_s": round(sync_s, 1),
                            "resync_s": round(resync_s, 2), "cold_s": round(cold, 2),
                            "warm_s": round(statistics.median(warm), 2),
                            "states": _states(values),
                            "lake_gb": round(_du(tmp / "lake") / 1e9, 2),
                            "jvm_peak_gb": _jvm_peak_gb()}  # fmt: skip
            print(f"[{n:,}] Spark indicators: sync {sync_s:.1f} s, cold {cold:.2f} s, "
                  f"warm {statistics.median(warm):.2f} s", flush=True)  # fmt: skip
            session.stop()
        con.close()
    out["peak_rss_gb"] = _rss_gb()
    return out


def _repeats(n: int) -> int:
    """Warm passes after the cold one: two, or one from 10M rows (a Spark pass over 50M
    rows on two cores takes minutes)."""
    return 2 if n < 10_000_000 else 1


def _states(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v, _ in values:
        counts[v.state] = counts.get(v.state, 0) + 1
    return dict(sorted(counts.items()))


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def table(results: list[dict]) -> str:
    """The Markdown table of the measured sizes."""
    head = ("| rows | ingest rows/s | merge 15-min batch, s | store bytes/row | "
            "prepare (borders), s | DuckDB indicators cold / warm, s | Spark lake sync, s | "
            "Spark indicators cold / warm, s | peak RSS Python / JVM, GB |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    lines = [head]
    for r in results:
        sp = r.get("spark", {})
        spark = f"{sp['cold_s']} / {sp['warm_s']}" if sp else "—"
        lines.append(
            f"| {r['rows']:,} | {r['ingest']['rows_per_s']:,} | {r['merge_15min_s']} | "
            f"{r['store_bytes_per_row']} | {r['prepare_s']:.1f} | "
            f"{r['duckdb']['cold_s']} / {r['duckdb']['warm_s']} | {sp.get('sync_s', '—')} | "
            f"{spark} | {r['peak_rss_gb']} / {sp.get('jvm_peak_gb', '—')} |"
        )
    return "\n".join(lines)


def readme_table(results: list[dict]) -> str:
    """The README's short table: how each cost grows, and the two engines side by side."""
    lines = [
        "| rows | ingest, rows/s | one 15-min batch merged, s | store, bytes/row | every "
        "indicator on DuckDB, s | on Spark `local[2]`, s | Spark ÷ DuckDB | peak memory "
        "(Python + JVM), GB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        duck, sp = r["duckdb"]["warm_s"], r.get("spark", {})
        spark = sp.get("warm_s")
        lines.append(
            f"| {r['rows']:,} | {r['ingest']['rows_per_s']:,} | {r['merge_15min_s']} | "
            f"{r['store_bytes_per_row']:.0f} | {duck} | {spark if spark else '—'} | "
            f"{f'{spark / duck:.0f}×' if spark else '—'} | "
            f"{r['peak_rss_gb']} + {sp.get('jvm_peak_gb', '—')} |"
        )
    return "\n".join(lines)


def write_docs(results: list[dict], root: Path) -> None:
    """Replace the measured blocks of the README and docs/BENCHMARKS.md (between
    ``<!-- scale:start -->`` and ``<!-- scale:end -->``) with these results."""
    blocks = {
        root / "README.md": readme_table(results),
        root / "docs" / "BENCHMARKS.md": "Measured with `python benchmarks/scale.py` on the "
        "2-vCPU development machine (DuckDB 2.0.0, pyspark 4.0.5, Java 17); warm times are "
        "the median after a first call.\n\n" + table(results),
    }
    for path, body in blocks.items():
        text = path.read_text(encoding="utf-8")
        head, rest = text.split("<!-- scale:start -->", 1)
        _, tail = rest.split("<!-- scale:end -->", 1)
        path.write_text(f"{head}<!-- scale:start -->\n{body}\n<!-- scale:end -->{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000, 50_000_000])
    ap.add_argument("--quick", action="store_true", help="one small size (100,000 rows)")
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--theatre", default="belarus")
    ap.add_argument("--as-of", default=AS_OF)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--file-days", type=int, default=30, help="days of rows per export file")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vigil-scale",
                    help="where the stores are built (removed after each size)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--docs", type=Path, metavar="JSON",
                    help="only write the README's and BENCHMARKS.md's tables from a results "
                    "file (benchmarks/out/scale.json)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(run_size(args.child, args)), flush=True)
        return 0
    if args.docs:
        write_docs(json.loads(args.docs.read_text()), HERE.parent)
        return 0
    sizes = [100_000] if args.quick else args.sizes
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    passed = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--quick"]
    for n in sizes:
        if shutil.disk_usage(tempfile.gettempdir()).free < n * 400:
            print(f"skipping {n:,} rows: too little free disk", file=sys.stderr)
            continue
        proc = subprocess.run(
            [sys.executable, __file__, *_without_sizes(passed), "--child", str(n)],
            stdout=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                results.append(json.loads(line[7:]))
            else:
                print(line, flush=True)
        if proc.returncode:
            print(f"{n:,} rows failed (exit {proc.returncode})", file=sys.stderr)
        name = "scale-quick.json" if args.quick else "scale.json"
        (args.out / name).write_text(json.dumps(results, indent=2))
    print()
    print(table(results))
    return 0


def _without_sizes(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if a == "--sizes":
            skip = True
            continue
        if skip and not a.startswith("--"):
            continue
        skip = False
        out.append(a)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
