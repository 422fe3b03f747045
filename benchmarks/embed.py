"""Benchmark of the embedding matcher (the optional ``[embed]`` extra), in one run.

1. On a sample of ``--sample`` headlines (default 2,000): the encoder in float32 (the
   baseline) and in the precision ``auto`` picks on this CPU, and the cosine agreement of
   the two sets of vectors.
2. On a throw-away copy of the store: :func:`embed_documents` over every document with no
   vector yet (the first run; goal on 2 cores: all ~133k headlines <= 10 min), then again
   (the incremental run: nothing new), then :func:`match_embeddings` for every indicator.

Run: ``python benchmarks/embed.py --db vigil.duckdb`` (``--json PATH`` also writes the
figures). Needs ``pip install -e '.[embed]'``; without it the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from vigil.errors import InputError  # noqa: E402
from vigil.store import connect  # noqa: E402
from vigil.text import embed  # noqa: E402
from vigil.theatre import load_theatre  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("VIGIL_DB", "vigil.duckdb"))
    ap.add_argument("--theatre", default="belarus")
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    try:
        auto = embed.load_embedder(precision="auto")
        fp32 = embed.load_embedder(precision="float32")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    theatre = load_theatre(args.theatre)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store.duckdb"
        shutil.copyfile(args.db, copy)
        with connect(copy) as con:
            sample = [
                embed.headline(t, b)
                for t, b in con.execute(
                    "SELECT title, body FROM documents WHERE source = 'rss' "
                    f"USING SAMPLE reservoir({int(args.sample)} ROWS) REPEATABLE (7)"
                ).fetchall()
            ]
            t_fp32, v_fp32 = _timed(fp32, sample)
            t_auto, v_auto = _timed(auto, sample)
            agree = (v_fp32 * v_auto).sum(axis=1)
            print(f"cores: {os.cpu_count()}; sample: {len(sample):,} headlines")
            print(f"float32: {len(sample) / t_fp32:7.1f} headlines/s")
            print(
                f"{auto.precision:8}: {len(sample) / t_auto:7.1f} headlines/s "
                f"({t_fp32 / t_auto:.2f}x float32; cosine to float32: mean {agree.mean():.6f}, "
                f"min {agree.min():.6f})"
            )
            # a first run: vectors a user may already have made do not count
            con.execute("DELETE FROM doc_embeddings WHERE model_sha = ?", [embed.MODEL_SHA256])
            t0 = time.perf_counter()
            first = embed.embed_documents(con, auto)
            t_first = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = embed.embed_documents(con, auto)
            t_again = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = embed.match_embeddings(con, theatre, auto)
            t_match = time.perf_counter() - t0
    rate = first / t_first if t_first else 0.0
    print(f"first run: {first:,} documents in {t_first:.1f} s ({rate:.1f}/s, {auto.precision})")
    print(f"second run: {again:,} new documents in {t_again:.2f} s")
    matched = sum(s.matched for s in report.indicators)
    print(
        f"matching {len(report.indicators)} indicators at cosine >= {embed.THRESHOLD}: "
        f"{t_match:.1f} s, {matched:,} matches"
    )
    if args.json:
        figures = {
            "sample": len(sample),
            "float32_per_s": len(sample) / t_fp32,
            "auto_precision": auto.precision,
            "auto_per_s": len(sample) / t_auto,
            "cosine_mean": float(agree.mean()),
            "cosine_min": float(agree.min()),
            "first_documents": first,
            "first_s": t_first,
            "second_documents": again,
            "second_s": t_again,
            "match_s": t_match,
            "matches": matched,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def _timed(embedder, texts) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    vectors = embedder(texts)
    return time.perf_counter() - t0, vectors


if __name__ == "__main__":
    sys.exit(main())
