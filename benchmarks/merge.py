"""Benchmark of the ingest merge: does its cost stay flat as the store grows?

1. Build a store of N GDELT-shaped event rows (default 1 M and 10 M; ``--large`` adds 50 M):
   the typed columns of the 4,525 real rows in ``gdelt_raw_samples``, recombined (row i
   takes its fields from real row i and its SOURCEURL from real row 7919·i, both mod
   4,525), GLOBALEVENTIDs 900000000 + i appended in time order, 3,000 per 15 minutes.
2. Two batches of 3,000 rows, staged as the ingest stages them:
   *realistic* — 2,900 new ids just above the stored maximum and 100 revisions of ids
   from the last stored day (288,000 rows); *adversarial* — 3,000 ids spread uniformly
   through the stored range, half revised, half identical.
3. Time, on the same store in the same run, each batch's merge with the plan before
   this change (the baseline: every stored row of the source joined) and with
   :func:`vigil.store.merge.merge_staged`; each inside a transaction rolled back, so every
   repetition sees the same store. Both must give the same counts. Also the lookup step
   alone (the part that grows) for each option considered: (a) the old join, (b) the
   key range as a filter in one query, (b+) range + key-only semi-join + fetch by row id
   (chosen), (c) a separate narrow key table.
4. Store bytes per row with raw lines kept and dropped (``VIGIL_KEEP_RAW=no``): the
   GDELT-shaped store at the smallest N, and with ``--db`` the record tables of a real store.

Run: ``python benchmarks/merge.py`` (about 3 minutes; ``--rows 1000000`` for a quick run,
``--json PATH`` also writes the figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from common import pin_two_cores  # noqa: E402
from vigil.sources.gdelt import ExportReader  # noqa: E402
from vigil.store import connect  # noqa: E402
from vigil.store import merge as store_merge  # noqa: E402

BASE_ID = 900_000_000
PER_BATCH = 3_000  # rows per 15 minutes, like the real exports (2,111 and 2,414 rows)
DAY = 96 * PER_BATCH
STEP_US = 900_000_000 // PER_BATCH  # microseconds between rows
STAGE = "_vigil_stage"


# ------------------------------------------------------------------ the store


def build_store(path: Path, n: int, data: Path, keep_raw: bool = True) -> float:
    """Write ``n`` GDELT-shaped events to a new store at ``path``; seconds taken."""
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    con = connect(path)
    con.execute("SET threads TO 2")
    _templates(con, data)
    k = con.execute("SELECT count(*) FROM _tpl").fetchone()[0]
    cols = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
    raw = f"({BASE_ID} + i)::VARCHAR || chr(9) || a._rest || chr(9) || b._url"
    special = {
        "source": "'gdelt'",
        "source_id": f"({BASE_ID} + i)::VARCHAR",
        "raw": raw if keep_raw else "NULL",
        "record_hash": f"md5({raw})",
        "available_at": f"TIMESTAMP '2021-01-01' + to_microseconds((i * {STEP_US})::BIGINT)",
        "batch_id": f"i // {PER_BATCH}",
    }
    select = ", ".join(special.get(c, f"a.{c}") for c in cols)
    for lo in range(0, n, 1_000_000):  # appended in id (time) order, as batches are
        hi = min(n, lo + 1_000_000)
        con.execute(
            f"""INSERT INTO events ({", ".join(cols)})
                SELECT {select} FROM range({lo}, {hi}) g(i)
                JOIN _tpl a ON a._k = g.i % {k} JOIN _tpl b ON b._k = (g.i * 7919) % {k}
                ORDER BY i"""
        )
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


def _templates(con, data: Path) -> None:
    """TEMP ``_tpl``: the real sample rows as the GDELT reader stages them."""
    files = sorted((data / "gdelt_raw_samples").glob("*.export.CSV*"))
    if not files:
        raise SystemExit(f"no GDELT samples under {data / 'gdelt_raw_samples'}")
    reader = ExportReader()
    for i, f in enumerate(files):
        reader.stage(con, f, f"_tpl{i}")
    union = " UNION ALL ".join(f"SELECT * FROM _tpl{i}" for i in range(len(files)))
    con.execute(
        f"""CREATE TEMP TABLE _tpl AS
            SELECT row_number() OVER () - 1 AS _k, *,
                   regexp_extract(raw, '^[^\\t]*\\t(.*)\\t[^\\t]*$', 1) AS _rest,
                   regexp_extract(raw, '[^\\t]*$') AS _url
            FROM ({union})"""
    )


# ------------------------------------------------------------------ the batches

_COPY = "* EXCLUDE (source, batch_id)"
_REVISE = """REPLACE (raw || ' (revised)' AS raw, md5(raw || ' (revised)') AS record_hash,
                      available_at + INTERVAL 1 HOUR AS available_at)"""


def stage_batch(con, shape: str, lo: int, hi: int) -> None:
    """TEMP ``_vigil_stage`` holding one batch of ``shape`` (see the module docstring)."""
    con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    if shape == "realistic":
        new = PER_BATCH - 100
        picked = f"SELECT DISTINCT ({hi} - hash(i) % {DAY})::VARCHAR AS id FROM range(100) t(i)"
        sql = f"""SELECT {_COPY} REPLACE ((source_id::BIGINT + {new})::VARCHAR AS source_id,
                         available_at + INTERVAL 15 MINUTE AS available_at)
                  FROM events WHERE source_id::BIGINT > {hi - new}
                  UNION ALL BY NAME
                  SELECT {_COPY} {_REVISE} FROM events WHERE source_id IN ({picked})"""
    else:
        span = hi - lo + 1
        ids = f"""SELECT id, min(i) % 2 = 0 AS rev FROM (
                     SELECT ({lo} + hash(i) % {span})::VARCHAR AS id, i
                     FROM range({PER_BATCH}) t(i))
                  GROUP BY id"""
        sql = f"""SELECT {_COPY} {_REVISE} FROM events
                  WHERE source_id IN (SELECT id FROM ({ids}) WHERE rev)
                  UNION ALL BY NAME
                  SELECT {_COPY} FROM events
                  WHERE source_id IN (SELECT id FROM ({ids}) WHERE NOT rev)"""
    con.execute(f"CREATE TEMP TABLE {STAGE} AS {sql}")
    con.execute(f"ALTER TABLE {STAGE} ADD COLUMN _reject VARCHAR")  # as readers stage


# ------------------------------------------------------------------ the plans


def old_merge(con, stage: str, table: str, source: str, batch_id: int) -> store_merge.MergeCounts:
    """The earlier merge (the baseline): every stored row of the source joined,
    replaced rows deleted by key over the whole table."""
    staged = {r[0] for r in con.execute(f"DESCRIBE {stage}").fetchall()}
    store_merge._refuse_conflicts(con, stage, "FALSE", "FALSE")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vigil_plan AS
        SELECT rid, source_id, {store_merge._ACTION} AS action, stored, newer FROM (
            SELECT s.rowid AS rid, s.source_id, FALSE AS is_delete, FALSE AS is_dup,
                   row_number() OVER (PARTITION BY s.source_id
                                      ORDER BY s.available_at DESC, s.record_hash DESC) AS rn,
                   t.source_id IS NOT NULL AS stored,
                   coalesce(t.record_hash = s.record_hash, FALSE) AS same,
                   coalesce(s.available_at >= t.available_at, FALSE) AS newer,
                   coalesce(d.deleted_at >= s.available_at, FALSE) AS tomb_known
            FROM {stage} s
            LEFT JOIN (SELECT source_id, record_hash, available_at FROM {table}
                       WHERE source = $src) t USING (source_id)
            LEFT JOIN (SELECT source_id, deleted_at FROM tombstones
                       WHERE source = $src AND kind = $kind) d USING (source_id))""",
        {"src": source, "kind": table},
    )
    plan = dict(con.execute("SELECT action, count(*) FROM _vigil_plan GROUP BY 1").fetchall())
    if plan.get("update"):
        con.execute(
            f"""DELETE FROM {table} WHERE source = $src AND source_id IN (
                    SELECT source_id FROM _vigil_plan WHERE action = 'update')""",
            {"src": source},
        )
    store_merge._insert(con, stage, table, staged, source, batch_id, True)
    con.execute("DROP TABLE _vigil_plan")
    return store_merge.MergeCounts(plan.get("new", 0), plan.get("update", 0), plan.get("dup", 0), 0)


def new_merge(con, stage: str, table: str, source: str, batch_id: int) -> store_merge.MergeCounts:
    return store_merge.merge_staged(con, stage, table, source, batch_id)


#: the lookup step of each option: the stored (key, hash, time) of the staged keys
LOOKUPS = {
    "(a) join every stored row": [
        """CREATE OR REPLACE TEMP TABLE _l AS SELECT s.source_id, t.record_hash, t.available_at
           FROM _vigil_stage s JOIN (SELECT source_id, record_hash, available_at FROM events
           WHERE source = 'gdelt') t USING (source_id)"""
    ],
    "(b) key range, one query": [
        """CREATE OR REPLACE TEMP TABLE _l AS SELECT s.source_id, t.record_hash, t.available_at
           FROM _vigil_stage s JOIN (SELECT source_id, record_hash, available_at FROM events
           WHERE source = 'gdelt' AND source_id BETWEEN $lo AND $hi) t USING (source_id)"""
    ],
    "(b+) range, keys, fetch by row id": [
        """CREATE OR REPLACE TEMP TABLE _l AS SELECT rowid AS trid FROM events
           WHERE source = 'gdelt' AND source_id BETWEEN $lo AND $hi
             AND source_id IN (SELECT source_id FROM _vigil_stage)""",
        """CREATE OR REPLACE TEMP TABLE _l AS SELECT source_id, record_hash, available_at
           FROM events WHERE rowid IN (SELECT trid FROM _l)""",
    ],
    "(c) narrow key table": [
        """CREATE OR REPLACE TEMP TABLE _l AS SELECT s.source_id, t.record_hash, t.available_at
           FROM _vigil_stage s JOIN (SELECT source_id, record_hash, available_at FROM _keys
           WHERE source = 'gdelt' AND source_id BETWEEN $lo AND $hi) t USING (source_id)"""
    ],
}


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_merges(con, shape: str, repeat: int) -> dict:
    """Old and new merge of one staged batch, each rolled back; counts must agree."""
    out, counts = {}, {}
    for name, fn in (("old", old_merge), ("new", new_merge)):

        def once(fn=fn, name=name):
            con.execute("BEGIN TRANSACTION")
            counts[name] = fn(con, STAGE, "events", "gdelt", 10**9)
            con.execute("ROLLBACK")

        out[name] = _median(once, repeat)
    if counts["old"] != counts["new"]:
        raise SystemExit(f"{shape}: the plans disagree: {counts}")
    out["counts"] = counts["new"].__dict__
    return out


def time_lookups(con, repeat: int) -> dict:
    bounds = con.execute(f"SELECT min(source_id), max(source_id) FROM {STAGE}").fetchone()
    params = {"lo": bounds[0], "hi": bounds[1]}
    out = {}
    for name, steps in LOOKUPS.items():

        def once(steps=steps):
            for sql in steps:
                con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})

        out[name] = _median(once, repeat)
    return out


# ------------------------------------------------------------------ bytes


def store_bytes(path: Path) -> int:
    return path.stat().st_size + (
        path.with_suffix(path.suffix + ".wal").stat().st_size
        if path.with_suffix(path.suffix + ".wal").exists()
        else 0
    )


def real_bytes(db: Path, tmp: Path) -> dict:
    """Bytes per record of a real store's record tables with raw kept and dropped."""
    out = {}
    for keep in (True, False):
        target = tmp / f"real_{keep}.duckdb"
        con = connect(target)
        con.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
        for kind in ("events", "observations", "documents"):
            cols = [r[0] for r in con.execute(f"DESCRIBE {kind}").fetchall()]
            have = {r[0] for r in con.execute(f"DESCRIBE src.{kind}").fetchall()}
            sel = ", ".join(
                "NULL" if c == "raw" and not keep else (c if c in have else "NULL") for c in cols
            )
            con.execute(f"INSERT INTO {kind} SELECT {sel} FROM src.{kind} ORDER BY batch_id")
        rows = con.execute(
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM observations) "
            "+ (SELECT count(*) FROM documents)"
        ).fetchone()[0]
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
        con.close()
        out["kept" if keep else "dropped"] = store_bytes(target) / rows
        out["rows"] = rows
        target.unlink()
    return out


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--large", action="store_true", help="also 50,000,000 rows (~15 GB, slow)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--db", type=Path, help="a real store: also its bytes/record, raw kept/dropped")
    ap.add_argument("--tmp", type=Path, help="folder for the stores (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    sizes = sorted(set(args.rows + ([50_000_000] if args.large else [])))
    print(f"pinned: {pin_two_cores()}")

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        result: dict = {"sizes": {}}
        for n in sizes:
            path = tmp / f"store_{n}.duckdb"
            built = build_store(path, n, args.data)
            entry = {"build_s": built, "bytes_per_row_raw_kept": store_bytes(path) / n}
            con = connect(path)
            con.execute("SET threads TO 2")
            con.execute(  # option (c): a narrow key table, stored and checkpointed
                "CREATE TABLE _keys AS SELECT source, source_id, record_hash, available_at "
                "FROM events; CHECKPOINT"
            )
            lo, hi = BASE_ID, BASE_ID + n - 1
            for shape in ("realistic", "adversarial"):
                stage_batch(con, shape, lo, hi)
                entry[shape] = time_merges(con, shape, args.repeat)
                entry[shape]["lookup"] = time_lookups(con, args.repeat)
            con.close()
            if n == sizes[0]:
                dropped = tmp / "noraw.duckdb"
                build_store(dropped, n, args.data, keep_raw=False)
                entry["bytes_per_row_raw_dropped"] = store_bytes(dropped) / n
                dropped.unlink()
            path.unlink()
            result["sizes"][n] = entry
            report(n, entry)
        if args.db:
            result["real_store"] = real_bytes(args.db, tmp)
            r = result["real_store"]
            print(
                f"\n{args.db} ({r['rows']:,} records): {r['kept']:.0f} B/record with raw, "
                f"{r['dropped']:.0f} without ({r['dropped'] / r['kept']:.2f})"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def report(n: int, e: dict) -> None:
    print(f"\n{n:,} stored rows (built in {e['build_s']:.0f} s)")
    print(f"  {'batch':12s} {'old s':>8s} {'new s':>8s} {'new/old':>8s}  counts")
    for shape in ("realistic", "adversarial"):
        t = e[shape]
        print(
            f"  {shape:12s} {t['old']:8.4f} {t['new']:8.4f} {t['new'] / t['old']:8.2f}  "
            f"{t['counts']}"
        )
    print("  lookup step alone, s (realistic / adversarial):")
    for name in LOOKUPS:
        print(
            f"    {name:36s} {e['realistic']['lookup'][name]:.4f} / "
            f"{e['adversarial']['lookup'][name]:.4f}"
        )
    line = f"  store bytes/row: {e['bytes_per_row_raw_kept']:.0f} with raw"
    if "bytes_per_row_raw_dropped" in e:
        kept, dropped = e["bytes_per_row_raw_kept"], e["bytes_per_row_raw_dropped"]
        line += f", {dropped:.0f} without ({dropped / kept:.2f})"
    print(line)


if __name__ == "__main__":
    raise SystemExit(main())
