"""Text matching as a Spark job: the same rules and code path, the same bookkeeping.

With ``--engine spark`` (the store's connection attached to a
:class:`~vigil.query.spark.SparkEngine`), :func:`vigil.text.match.match_documents` plans
in the store as always (what to examine, what to invalidate, what is withdrawn) and only
the matching itself, the costly part, runs on Spark:

1. the plan's keys (source id, batch, the BIGINT mask of the indicators to examine, and
   the document's language, which the lake does not mirror) are written by DuckDB to a
   Parquet file beside the lake, where every worker reads it;
2. Spark joins them to the lake's ``documents`` (synced just before, so the lake holds
   every document of the plan, in the version the plan names: the join is on the batch
   too), spreads the rows over the cluster's cores and runs :func:`_match_partition` on
   each partition (``mapInArrow``): the rules are shipped as their specs (JSON), compiled
   once per partition, and every chunk goes through :func:`vigil.text.match.match_chunk`,
   the function the local path calls, so a document matches, and is tagged, alike;
3. the workers write the matches (indicator, source id, kind, cue), each partition's
   rule times and its count of documents as Parquet beside the lake; DuckDB reads them,
   takes each match's published/available times, outlet and language from the store (the
   system of record), and the same ``insert_matches`` and ``record_examined`` write them
   in the run's one transaction. Nothing is collected through the driver's sockets (which
   pyspark leaves for the garbage collector to close) and the driver never holds more
   than the matches.

Only what a run examines travels: an incremental run with nothing new starts no job.
A lake that lacks a planned document (not synced) fails the run instead of recording
coverage that was never examined.

Workers import :mod:`vigil`: a local master uses this interpreter; a cluster's workers
need Vigil installed in the Python that ``PYSPARK_PYTHON`` names.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import StoreError
from vigil.text.match import CHUNK, IndicatorMatch, Matcher, match_chunk
from vigil.text.rules import CompiledRule, compile_rule
from vigil.theatre import TextRule

if TYPE_CHECKING:  # the workers import this module: not the query layer (ibis, pandas)
    from vigil.query.spark import SparkEngine

#: what a partition returns: a match (source_id set), or one per indicator its rule time
#: (source_id NULL, ``seconds``), or its count of documents (indicator NULL, ``docs``)
SCHEMA = "indicator string, source_id string, kind string, cue string, seconds double, docs long"
_KEYS = """
    SELECT t.source_id, t.batch_id, t.mask, d.language
    FROM (SELECT source_id, any_value(batch_id) AS batch_id,
                 bit_or(1::BIGINT << bit) AS mask
          FROM _vigil_text_todo GROUP BY source_id) t
    JOIN documents d ON d.source = ? AND d.source_id = t.source_id"""
_FOUND = """
    SELECT f.indicator, f.source_id, f.kind, f.cue, d.published_at, d.available_at,
           d.outlet, d.language
    FROM {found} f JOIN documents d ON d.source = ? AND d.source_id = f.source_id
    WHERE f.source_id IS NOT NULL"""
#: documents per partition below which splitting further costs more than it saves
_MIN_PARTITION = 2_000


def spark_matcher(engine: SparkEngine) -> Matcher:
    """The matcher :func:`vigil.text.match.match_documents` runs with ``engine``."""
    _local_python(engine.session)
    return partial(match_on_spark, engine)


def match_on_spark(
    engine: SparkEngine, con, source: str, rules: dict[str, CompiledRule], stats
) -> list[tuple]:
    """Match the plan's documents (``_vigil_text_todo`` on ``con``) on Spark.

    Returns what :func:`vigil.text.match.match_chunk` returns, rows laid out as
    :data:`vigil.text.match.ROW` (the store's values), and counts ``stats``.
    """
    n_keys = con.execute("SELECT count(DISTINCT source_id) FROM _vigil_text_todo").fetchone()[0]
    if not n_keys:
        return []
    work = engine.lake.path / "_work"
    work.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex
    keys, found = work / f"text-todo-{run}.parquet", work / f"text-found-{run}"
    try:
        con.execute(
            f"COPY ({_KEYS}) TO '{_quote(keys)}' (FORMAT parquet, COMPRESSION zstd)", [source]
        )
        _job(engine.session, keys, found, source, rules, n_keys)
        table = f"read_parquet('{_quote(found / 'part-*.parquet')}')"
        docs = con.execute(
            f"SELECT coalesce(sum(docs), 0) FROM {table} WHERE indicator IS NULL"
        ).fetchone()[0]
        if docs != n_keys:
            raise StoreError(
                f"the lake holds {docs} of the {n_keys} documents this run must examine",
                "the lake was synced just before, so another process may be rewriting it, or "
                "the workers read another path: give each store its own --lake, on a path "
                "every worker sees, and run again",
            )
        for ind, secs in con.execute(
            f"SELECT indicator, sum(seconds) FROM {table} WHERE source_id IS NULL "
            "AND indicator IS NOT NULL GROUP BY 1"
        ).fetchall():
            stats[ind].seconds += secs
        rows = con.execute(_FOUND.format(found=table), [source]).fetchall()
    finally:
        keys.unlink(missing_ok=True)
        shutil.rmtree(found, ignore_errors=True)
    out = []
    for ind, sid, kind, cue, published, available, outlet, language in rows:
        st = stats[ind]
        st.matched += 1
        st.occurrences += kind == "occurrence"
        st.claims += kind == "claim"
        row = (sid, None, None, published, available, outlet, language, None)
        out.append((ind, row, kind, cue, rules[ind].hash))
    return out


def _job(
    session, keys: Path, found: Path, source: str, rules: dict[str, CompiledRule], n_keys: int
) -> None:
    """The Spark job: the lake's documents of the plan, matched per partition (Arrow),
    written to ``found`` (Parquet; nothing is collected through the driver's sockets)."""
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's convention

    docs = session.table("documents").where(F.col("source") == source)
    # as the local path: a passage is matched on its own words, not its document's title
    title = F.when(F.col("doc_type") == "passage", F.lit(None)).otherwise(F.col("title"))
    todo = docs.join(session.read.parquet(str(keys)), ["source_id", "batch_id"]).select(
        "source_id", title.alias("title"), "body", "language", "mask"
    )
    parts = max(1, min(_parallelism(session), -(-n_keys // _MIN_PARTITION)))
    specs = {ind: (rule.rule.model_dump(mode="json"), rule.hash) for ind, rule in rules.items()}
    job = todo.repartition(parts).mapInArrow(partial(_match_partition, specs), SCHEMA)
    job.write.parquet(str(found))


def _match_partition(specs: dict[str, tuple[dict, str]], batches: Iterator) -> Iterator:
    """One partition: compile the rules once, match its rows chunk by chunk."""
    import pyarrow as pa

    rules = {ind: _compile(spec, digest) for ind, (spec, digest) in specs.items()}
    bits = list(rules)
    stats = {ind: IndicatorMatch(ind, rule.hash) for ind, rule in rules.items()}
    schema = pa.schema([("indicator", pa.string()), ("source_id", pa.string()),
                        ("kind", pa.string()), ("cue", pa.string()),
                        ("seconds", pa.float64()), ("docs", pa.int64())])  # fmt: skip
    pending: list[tuple] = []
    docs = 0

    def emit(rows: list[tuple]):
        found = match_chunk(rows, bits, rules, stats)
        return pa.RecordBatch.from_pylist(
            [{"indicator": i, "source_id": r[0], "kind": k, "cue": c} for i, r, k, c, _ in found],
            schema=schema,
        )

    for batch in batches:
        cols = batch.to_pydict()
        docs += batch.num_rows
        pending += [
            (sid, title, body, None, None, None, lang, mask)
            for sid, title, body, lang, mask in zip(
                cols["source_id"], cols["title"], cols["body"], cols["language"], cols["mask"],
                strict=True,
            )
        ]  # fmt: skip
        while len(pending) >= CHUNK:
            yield emit(pending[:CHUNK])
            pending = pending[CHUNK:]
    if pending:
        yield emit(pending)
    tail = [{"indicator": ind, "seconds": st.seconds} for ind, st in stats.items()]
    yield pa.RecordBatch.from_pylist([*tail, {"docs": docs}], schema=schema)


def _compile(spec: dict, digest: str) -> CompiledRule:
    """A rule from its spec, refused if it is not the rule the driver planned with."""
    rule = compile_rule(TextRule.model_validate(spec))
    if rule.hash != digest:
        raise StoreError(
            f"a Spark worker compiled a rule to hash {rule.hash[:12]}, not {digest[:12]}",
            "install the same Vigil version on the workers as on the driver",
        )
    return rule


def _parallelism(session) -> int:
    try:
        return int(session.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect has no context: its default partitioning
        return int(session.conf.get("spark.default.parallelism", "4") or 4)


def _local_python(session) -> None:
    """A local master's workers run this interpreter (the one Vigil is installed in),
    not whatever ``python3`` is first on the PATH, unless ``PYSPARK_PYTHON`` says."""
    if os.environ.get("PYSPARK_PYTHON"):
        return
    try:
        context = session.sparkContext
    except Exception:  # Spark Connect: the server's workers, the server's Python
        return
    if context.master.startswith("local"):
        context.pythonExec = sys.executable


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
