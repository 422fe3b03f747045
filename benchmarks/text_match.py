"""Benchmark of text matching: compiled rules against a naive per-pattern loop, in one run.

1. Normalise every document of the store (title + ' ' + body).
2. For every indicator of the theatre with a text rule, on the same documents (every
   ``--step``-th, default 4: the naive loop is slow): the naive baseline, which searches
   each pattern of each group with its own compiled regex (``all``/``any`` short-circuit,
   no prefilter), and :meth:`CompiledRule.match_many`; the results must be identical.
3. The compiled rules on all documents (goal: ~133k headlines x ~18 indicators <= 20 s on
   2 cores), and the end-to-end :func:`match_documents` (store reads, claim tagging,
   writes) on a throw-away copy of the store.

Run: ``python benchmarks/text_match.py --db vigil.duckdb`` (prints a table; ``--json PATH``
also writes the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from vigil.store import connect  # noqa: E402
from vigil.text.match import match_documents  # noqa: E402
from vigil.text.rules import LiteralIndex, compile_rule, normalise  # noqa: E402
from vigil.theatre import TextRule, load_theatre  # noqa: E402


def naive_matcher(rule: TextRule):
    """The baseline: one compiled regex per pattern, tried one after the other."""
    groups = [[re.compile(p, re.IGNORECASE) for ps in g.values() for p in ps] for g in rule.all]
    exclude = [re.compile(p, re.IGNORECASE) for ps in rule.exclude.values() for p in ps]

    def match(text: str) -> bool:
        return all(any(rx.search(text) for rx in g) for g in groups) and not any(
            rx.search(text) for rx in exclude
        )

    return match


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("VIGIL_DB", "vigil.duckdb"))
    ap.add_argument("--theatre", default="belarus")
    ap.add_argument("--step", type=int, default=4, help="naive baseline on every N-th document")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    theatre = load_theatre(args.theatre)
    with connect(args.db, read_only=True) as con:
        rows = con.execute(
            "SELECT title, body FROM documents WHERE source = 'rss' ORDER BY source_id"
        ).fetchall()
    t0 = time.perf_counter()
    norm = [normalise(f"{t or ''} {b or ''}") for t, b in rows]
    t_norm = time.perf_counter() - t0
    subset = list(range(0, len(norm), args.step))
    sub_texts = [norm[i] for i in subset]
    sub_index, full_index = LiteralIndex(sub_texts), LiteralIndex(norm)

    table = []
    for ind in theatre.indicators:
        if ind.evidence.text is None:
            continue
        naive, rule = naive_matcher(ind.evidence.text), compile_rule(ind.evidence.text)
        t0 = time.perf_counter()
        expected = [i for i, t in enumerate(sub_texts) if naive(t)]
        t_naive = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = rule.match_many(sub_texts, None, sub_index)
        t_sub = time.perf_counter() - t0
        if got != expected:
            raise SystemExit(f"{ind.id}: compiled rule differs from the naive loop")
        t0 = time.perf_counter()
        n_full = len(rule.match_many(norm, None, full_index))
        t_full = time.perf_counter() - t0
        table.append((ind.id, len(expected), t_naive, t_sub, n_full, t_full))

    end_to_end = _end_to_end(args.db, theatre)
    report = _print(table, len(norm), len(subset), t_norm, end_to_end)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _end_to_end(db: str, theatre) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store.duckdb"
        shutil.copyfile(db, copy)
        with connect(copy) as con:
            t0 = time.perf_counter()
            match_documents(con, theatre)
            return time.perf_counter() - t0


def _print(table, n_docs: int, n_sub: int, t_norm: float, end_to_end: float) -> dict:
    print(f"documents: {n_docs:,} (naive baseline on {n_sub:,}); cores: {os.cpu_count()}")
    print(
        f"{'indicator':34} {'hits':>5} {'naive s':>8} {'rules s':>8} {'ratio':>6} "
        f"{'all hits':>8} {'all s':>6}"
    )
    for ind, hits, t_naive, t_sub, n_full, t_full in table:
        ratio = t_naive / t_sub if t_sub else float("inf")
        print(
            f"{ind:34} {hits:5d} {t_naive:8.2f} {t_sub:8.3f} {ratio:6.1f} {n_full:8d} {t_full:6.2f}"
        )
    naive = sum(r[2] for r in table)
    sub = sum(r[3] for r in table)
    full = sum(r[5] for r in table)
    per18 = (full / len(table) * 18) if table else 0.0
    print(
        f"{'total':34} {'':5} {naive:8.2f} {sub:8.3f} {naive / sub if sub else 0:6.1f} "
        f"{'':8} {full:6.2f}"
    )
    print(
        f"normalisation of all documents: {t_norm:.2f} s; rules on all documents: "
        f"{full:.2f} s for {len(table)} indicators ({per18:.1f} s scaled to 18)"
    )
    print(
        f"end to end (match_documents on a copy of the store, claims, writes): {end_to_end:.2f} s"
    )
    return {
        "documents": n_docs,
        "naive_documents": n_sub,
        "indicators": [
            dict(zip(("id", "hits", "naive_s", "rules_s", "all_hits", "all_s"), r, strict=True))
            for r in table
        ],
        "normalise_s": t_norm,
        "rules_all_s": full,
        "ratio": naive / sub if sub else None,
        "end_to_end_s": end_to_end,
    }


if __name__ == "__main__":
    raise SystemExit(main())
