"""Benchmarks for ingestion; figures are ratios against DuckDB's own reader, in one run.

1. A generated 1,000,000-row GDELT 2.0 export: ``vigil`` ingest (parse, validate,
   normalise, merge into a file store) against DuckDB's raw ``read_csv`` of the same file
   into a table of the same file-backed kind. Goal: ≥ 0.5 of raw throughput; peak RSS
   under 1.5 GB. Each side runs in a fresh process, so peak RSS is its own.
2. The full ``vigil ingest --data DIR`` of the shared data folder into a fresh store.

Run: ``make bench`` (or ``python benchmarks/run.py --rows 1000000 --data ../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from vigil.sources.gdelt import COLUMNS  # noqa: E402

CODES = [
    "010",
    "020",
    "036",
    "042",
    "043",
    "051",
    "057",
    "111",
    "112",
    "120",
    "130",
    "138",
    "141",
    "154",
    "172",
    "173",
    "180",
    "190",
    "193",
    "194",
    "195",
]
PLACES = [
    ("BO", "Minsk, Horad Minsk, Belarus", "53.9", "27.5667"),
    ("UP", "Kyiv, Kyyiv, Misto, Ukraine", "50.4333", "30.5167"),
    ("PL", "Warsaw, Mazowieckie, Poland", "52.25", "21"),
    ("LH", "Vilnius, Vilniaus Apskritis, Lithuania", "54.6833", "25.3167"),
    ("RS", "Moscow, Moskva, Russia", "55.7522", "37.6156"),
    ("US", "Washington, District of Columbia, United States", "38.8951", "-77.0364"),
]


def generate(path: Path, n: int, seed: int = 7) -> None:
    """Write ``n`` codebook-shaped rows (~430 bytes each, like real exports)."""
    rng = random.Random(seed)
    index = {c: i for i, c in enumerate(COLUMNS)}
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            code = rng.choice(CODES)
            fips, name, lat, lon = rng.choice(PLACES)
            f = [""] * 61
            f[index["GLOBALEVENTID"]] = str(1_000_000_000 + i)
            f[index["SQLDATE"]] = "20220220"
            f[index["MonthYear"]] = "202202"
            f[index["Year"]] = "2022"
            f[index["FractionDate"]] = "2022.1370"
            f[index["Actor1Code"]] = "RUSMIL"
            f[index["Actor1Name"]] = "RUSSIA"
            f[index["Actor1CountryCode"]] = "RUS"
            f[index["Actor2Code"]] = "UKR"
            f[index["Actor2Name"]] = "UKRAINE"
            f[index["Actor2CountryCode"]] = "UKR"
            f[index["IsRootEvent"]] = "1"
            f[index["EventCode"]] = code
            f[index["EventBaseCode"]] = code
            f[index["EventRootCode"]] = code[:2]
            f[index["QuadClass"]] = "4"
            f[index["GoldsteinScale"]] = "-10.0"
            f[index["NumMentions"]] = str(rng.randint(1, 40))
            f[index["NumSources"]] = "1"
            f[index["NumArticles"]] = "5"
            f[index["AvgTone"]] = f"{rng.uniform(-10, 3):.6f}"
            for prefix in ("Actor1Geo_", "Actor2Geo_", "ActionGeo_"):
                f[index[prefix + "Type"]] = "4"
                f[index[prefix + "FullName"]] = name
                f[index[prefix + "CountryCode"]] = fips
                f[index[prefix + "ADM1Code"]] = fips + "05"
                f[index[prefix + "Lat"]] = lat
                f[index[prefix + "Long"]] = lon
                f[index[prefix + "FeatureID"]] = "-2960561"
            f[index["DATEADDED"]] = "20220220101500"
            f[index["SOURCEURL"]] = f"https://www.example-news.com/world/europe/{i}-story.html"
            fh.write("\t".join(f) + "\n")


RAW = """
import duckdb, sys, time
cols = {c: 'VARCHAR' for c in sys.argv[3].split(',')}
con = duckdb.connect(sys.argv[2])
con.execute("SET memory_limit = '1GB'")
t = time.perf_counter()
con.execute("CREATE TABLE raw AS SELECT * FROM read_csv(?, delim='\\t', quote='', escape='',"
            " header=false, columns=?, auto_detect=false)", [sys.argv[1], cols])
print(time.perf_counter() - t)
"""

VIGIL = """
import sys, time
from pathlib import Path
from vigil.store import connect
from vigil.ingest import ingest_file
from vigil.sources.gdelt import ADAPTER
con = connect(sys.argv[2])
t = time.perf_counter()
r = ingest_file(con, ADAPTER, Path(sys.argv[1]))
print(time.perf_counter() - t)
assert r.loaded == int(sys.argv[3]), r
"""


def run_child(code: str, *args: str) -> tuple[float, float]:
    """Run ``code`` in a fresh interpreter; return (seconds it printed, peak RSS GB)."""
    wrapper = (
        "import resource, runpy, sys\n"
        f"exec(compile({code!r}, 'bench', 'exec'))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *args], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return float(out[-2]), int(out[-1]) / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"rows": args.rows, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        src = Path(tmp) / "20220220101500.export.CSV"
        t = time.perf_counter()
        generate(src, args.rows)
        results["file_mb"] = round(src.stat().st_size / 1e6, 1)
        print(
            f"generated {args.rows:,} rows ({results['file_mb']} MB) in "
            f"{time.perf_counter() - t:.1f}s",
            flush=True,
        )
        raw_s, raw_gb = run_child(RAW, str(src), str(Path(tmp) / "raw.duckdb"), ",".join(COLUMNS))
        vig_s, vig_gb = run_child(VIGIL, str(src), str(Path(tmp) / "vigil.duckdb"), str(args.rows))
        results["gdelt"] = {
            "duckdb_read_csv_s": round(raw_s, 2),
            "duckdb_peak_rss_gb": round(raw_gb, 2),
            "vigil_ingest_s": round(vig_s, 2),
            "vigil_peak_rss_gb": round(vig_gb, 2),
            "throughput_ratio": round(raw_s / vig_s, 2),
            "vigil_rows_per_s": round(args.rows / vig_s),
        }
        if args.data.is_dir():
            # Kept after the run: benchmarks/text_match.py and indicators.py read it.
            full_db = args.out / "full.duckdb"
            for stale in (full_db, full_db.with_suffix(".duckdb.wal")):
                stale.unlink(missing_ok=True)
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "vigil.cli",
                    "ingest",
                    "--data",
                    str(args.data),
                    "--db",
                    str(full_db),
                    "--format",
                    "json",
                ],
                check=True,
                capture_output=True,
                env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")},
            )
            results["ingest_data_s"] = round(time.perf_counter() - t, 1)
    g = results["gdelt"]
    print(
        f"\n| measure | DuckDB read_csv (baseline) | vigil ingest | ratio |\n|---|---|---|---|\n"
        f"| {args.rows:,}-row GDELT export, seconds | {g['duckdb_read_csv_s']} | "
        f"{g['vigil_ingest_s']} | {g['throughput_ratio']} of raw throughput |\n"
        f"| peak RSS, GB | {g['duckdb_peak_rss_gb']} | {g['vigil_peak_rss_gb']} | |"
    )
    if "ingest_data_s" in results:
        print(f"| full `ingest --data` of {args.data}, seconds | | {results['ingest_data_s']} | |")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
