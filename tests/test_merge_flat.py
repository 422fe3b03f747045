"""The merge whose cost stays flat (issue 16): still idempotent and reconciling.

The merge now reads only the stored rows inside the batch's key range, matches keys first
and fetches hashes and deletes by row id (``vigil.store.merge``). These tests hold it to
the module's rules for both batch shapes the benchmark times (new ids above the stored
ones with revisions of recent ids; ids spread through the stored range), across key-range
edges, with ids whose string order is not their numeric order, over several row groups,
against a plain model of the rules; and with raw lines not kept (``VIGIL_KEEP_RAW=no``).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from gdelt_rows import row, rows, write
from vigil.errors import ReconciliationError, UsageError
from vigil.ingest import ingest_file
from vigil.sources.gdelt import ADAPTER
from vigil.store import connect
from vigil.store.merge import merge_staged

NAME = "20220220101500.export.CSV"
COLUMNS = """source_id VARCHAR, occurred_on DATE, occurred_until DATE, category VARCHAR,
    available_at TIMESTAMP, available_basis VARCHAR, raw VARCHAR, record_hash VARCHAR,
    _delete BOOLEAN"""


def stage(con, batch: list[tuple[str, str, int, bool]]) -> None:
    """TEMP ``_vigil_stage`` of (source_id, content, hour, is_delete) rows."""
    con.execute("DROP TABLE IF EXISTS _vigil_stage")
    con.execute(f"CREATE TEMP TABLE _vigil_stage ({COLUMNS})")
    con.executemany(
        "INSERT INTO _vigil_stage VALUES (?, DATE '2022-02-20', DATE '2022-02-20', 'CONSULT', "
        "TIMESTAMP '2022-02-20' + to_hours(?::BIGINT), 'test', ?, md5(?), ?)",
        [[k, hour, content, content, delete] for k, content, hour, delete in batch],
    )


def merge(con, batch, batch_id: int = 1, keep_raw: bool = True):
    stage(con, batch)
    con.execute("BEGIN TRANSACTION")
    counts = merge_staged(con, "_vigil_stage", "events", "src", batch_id, keep_raw=keep_raw)
    con.execute("COMMIT")
    return counts


def stored(con) -> dict[str, tuple[str, int]]:
    rows_ = con.execute(
        "SELECT source_id, raw, hour(available_at) + 24 * (day(available_at) - 20) "
        "FROM events WHERE source = 'src'"
    ).fetchall()
    keys = [r[0] for r in rows_]
    assert len(keys) == len(set(keys)), "a key is stored twice"
    return {k: (raw, hour) for k, raw, hour in rows_}


def tombstones(con) -> dict[str, int]:
    return dict(
        con.execute(
            "SELECT source_id, hour(deleted_at) + 24 * (day(deleted_at) - 20) FROM tombstones"
        ).fetchall()
    )


class Model:
    """The module docstring's rules, written plainly, for batches without conflicts."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, int]] = {}
        self.tombs: dict[str, int] = {}

    def merge(self, batch) -> tuple[int, int, int, int]:
        new = updated = dups = deleted = 0
        by_key: dict[str, list] = {}
        for r in batch:
            by_key.setdefault(r[0], []).append(r)
        for key, group in by_key.items():
            dups += len(group) - 1  # identical copies (the batches here hold no conflicts)
            _, content, hour, delete = group[0]
            tomb = self.tombs.get(key)
            known = tomb is not None and tomb >= hour
            have = self.rows.get(key)
            if delete:
                if known:
                    dups += 1
                    continue
                deleted += 1
                if have and hour >= have[1]:
                    del self.rows[key]
                self.tombs[key] = hour
            elif known:
                deleted += 1  # withdrawn
            elif have is None:
                new += 1
                self.rows[key] = (content, hour)
            elif have[0] == content or hour < have[1]:
                dups += 1
            else:
                updated += 1
                self.rows[key] = (content, hour)
        return new, updated, dups, deleted


# ids whose string order differs from their numeric order, and the edges around them
IDS = ["9", "10", "11", "99", "100", "999", "1000", "999999999", "1000000000", "1000000001",
       "2", "20", "200", "A1", "a1", "0", "00", "1"]  # fmt: skip


def random_batch(rng: random.Random, ids: list[str]) -> list[tuple[str, str, int, bool]]:
    batch = []
    for key in rng.sample(ids, rng.randint(1, len(ids))):
        if rng.random() < 0.15:
            batch.append((key, "", rng.randint(0, 40), True))
            continue
        content, hour = f"{key}:{rng.randint(0, 2)}", rng.randint(0, 40)
        batch += [(key, content, hour, False)] * rng.choice((1, 1, 1, 2))
    rng.shuffle(batch)
    return batch


@pytest.mark.parametrize("seed", range(12))
def test_random_batches_follow_the_rules(con, seed: int) -> None:
    rng, model = random.Random(seed), Model()
    for batch_id in range(1, 16):
        batch = random_batch(rng, IDS)
        counts = merge(con, batch, batch_id)
        expected = model.merge(batch)
        got = (counts.new, counts.updated, counts.duplicates, counts.deleted)
        assert got == expected, batch
        assert sum(got) == len(batch)  # rows_in = loaded + duplicates + deleted
        assert stored(con) == model.rows
        assert tombstones(con) == model.tombs
        again = merge(con, batch, batch_id + 100)  # the same batch again changes nothing
        assert (again.loaded, again.duplicates + again.deleted) == (0, len(batch))
        assert stored(con) == model.rows


def test_key_range_is_string_order_not_numeric(con) -> None:
    # a batch of "9" and "10": numerically 9..10, as strings "10".."9", holding "100" and
    # "1000000000", which must be found (not re-inserted) though numerically outside
    merge(con, [(k, f"{k}:a", 1, False) for k in ("100", "1000000000", "9", "10", "8")])
    counts = merge(con, [(k, f"{k}:b", 2, False) for k in ("9", "10", "100", "1000000000")])
    assert (counts.new, counts.updated) == (0, 4)
    assert {k: v[0] for k, v in stored(con).items()} == {
        "100": "100:b", "1000000000": "1000000000:b", "9": "9:b", "10": "10:b", "8": "8:a"
    }  # fmt: skip


def test_revisions_at_both_edges_of_the_range(con) -> None:
    merge(con, [(str(k), f"{k}:a", 1, False) for k in range(500, 600)])
    # the batch's smallest and largest keys are exactly revised stored keys; neighbours
    # just outside the range stay as they were
    counts = merge(con, [("510", "510:b", 2, False), ("590", "590:b", 2, False),
                         ("550", "550:a", 1, False)])  # fmt: skip
    assert (counts.new, counts.updated, counts.duplicates) == (0, 2, 1)
    got = stored(con)
    assert got["510"][0] == "510:b" and got["590"][0] == "590:b"
    assert got["509"][0] == "509:a" and got["591"][0] == "591:a"


def test_older_version_after_newer_and_tombstone(con) -> None:
    merge(con, [("7", "v2", 5, False)])
    older = merge(con, [("7", "v1", 3, False)])
    assert (older.loaded, older.duplicates) == (0, 1)
    assert stored(con)["7"] == ("v2", 5)
    gone = merge(con, [("7", "", 6, True)])
    assert gone.deleted == 1 and "7" not in stored(con)
    back = merge(con, [("7", "v2", 5, False)])  # an older file cannot bring it back
    assert (back.loaded, back.deleted) == (0, 1) and "7" not in stored(con)
    later = merge(con, [("7", "v3", 8, False)])  # a later version can
    assert later.new == 1 and stored(con)["7"] == ("v3", 8)


def test_other_sources_keys_are_never_touched(con) -> None:
    merge(con, [("5", "mine", 1, False)])
    con.execute("UPDATE events SET source = 'other'")
    counts = merge(con, [("5", "mine", 1, False)])
    assert counts.new == 1
    assert con.execute("SELECT count(*) FROM events WHERE source = 'other'").fetchone() == (1,)


def test_conflicting_batch_is_still_refused(con) -> None:
    with pytest.raises(ReconciliationError, match="different content"):
        merge(con, [("5", "a", 1, False), ("5", "b", 1, False)])


@pytest.fixture
def big(tmp_path: Path):
    """A file store of 300,000 GDELT-like rows over three row groups, checkpointed, so
    that the key range and row-id fetches are exercised across row groups and segments."""
    con = connect(tmp_path / "big.duckdb")
    con.execute(
        """INSERT INTO events (source, source_id, occurred_on, occurred_until, category,
               available_at, available_basis, raw, record_hash, batch_id)
           SELECT 'src', (900000000 + i)::VARCHAR, DATE '2022-02-20', DATE '2022-02-20',
                  'CONSULT', TIMESTAMP '2022-02-20' + to_hours((i // 100000)::BIGINT), 'test',
                  'v' || i, md5('v' || i), 1 + i // 3000
           FROM range(300000) t(i)"""
    )
    con.execute("CHECKPOINT")
    yield con
    con.close()


def _ids(con) -> tuple[int, int]:
    return con.execute("SELECT count(*), count(DISTINCT source_id) FROM events").fetchone()


@pytest.mark.parametrize("shape", ["realistic", "adversarial"])
def test_both_shapes_over_row_groups(big, shape: str) -> None:
    rng = random.Random(16)
    if shape == "realistic":  # new ids above the stored ones, 3 % revisions of recent ones
        new = [(str(900300000 + i), f"n{i}", 3, False) for i in range(2900)]
        old = rng.sample(range(288000, 300000), 100)
    else:  # ids spread through the whole stored range
        new = []
        old = rng.sample(range(300000), 3000)
    revised = [(str(900000000 + i), f"v{i}'", 3, False) for i in old[::2]]
    same = [(str(900000000 + i), f"v{i}", i // 100000, False) for i in old[1::2]]
    batch = new + revised + same
    counts = merge(big, batch, 999)
    assert (counts.new, counts.updated, counts.duplicates) == (len(new), len(revised), len(same))
    assert _ids(big) == (300000 + len(new),) * 2
    for key, content, _, _ in revised[:20] + new[:5]:
        assert big.execute("SELECT raw FROM events WHERE source_id = ?", [key]).fetchone() == (
            content,
        )
    big.execute("CHECKPOINT")  # row ids may move now; the next merge finds them afresh
    again = merge(big, batch, 1000)
    assert (again.loaded, again.duplicates) == (0, len(batch))
    assert _ids(big) == (300000 + len(new),) * 2


# ------------------------------------------------------------- raw lines not kept


def test_raw_column_is_nullable_after_migration(con) -> None:
    nullable = con.execute(
        "SELECT table_name, is_nullable FROM information_schema.columns "
        "WHERE column_name = 'raw' AND table_name IN ('events', 'observations', 'documents')"
    ).fetchall()
    assert sorted(nullable) == [("documents", "YES"), ("events", "YES"), ("observations", "YES")]


def test_dropped_raw_still_detects_revisions_and_loads_idempotently(
    con, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("VIGIL_KEEP_RAW", "no")
    lines = rows(20)
    first = ingest_file(con, ADAPTER, write(tmp_path / NAME, lines))
    assert first.loaded == 20
    got = con.execute("SELECT count(raw), min(record_hash) = max(record_hash) FROM events")
    assert got.fetchone() == (0, False)
    line = lines[3]
    stored_hash = con.execute(
        "SELECT record_hash FROM events WHERE source_id = '900000004'"
    ).fetchone()[0]
    assert stored_hash == hashlib.md5(line.encode()).hexdigest()  # the line's md5, kept
    again = ingest_file(con, ADAPTER, tmp_path / NAME, force=True)
    assert (again.loaded, again.duplicates) == (0, 20)
    revised = [row(GLOBALEVENTID="900000004", NumMentions="99", DATEADDED="20220220103000")]
    later = ingest_file(con, ADAPTER, write(tmp_path / "20220220103000.export.CSV", revised))
    assert (later.updated, later.duplicates) == (1, 0)
    assert con.execute(
        "SELECT mentions, raw FROM events WHERE source_id = '900000004'"
    ).fetchone() == (99, None)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 20
    monkeypatch.setenv("VIGIL_KEEP_RAW", "yes")  # a store may hold both kinds of row
    kept = [row(GLOBALEVENTID="900000005", NumMentions="7", DATEADDED="20220220104500")]
    ingest_file(con, ADAPTER, write(tmp_path / "20220220104500.export.CSV", kept))
    assert con.execute("SELECT raw FROM events WHERE source_id = '900000005'").fetchone() == (
        kept[0],
    )


def test_keep_raw_setting_refuses_other_values(con, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_KEEP_RAW", "sometimes")
    with pytest.raises(UsageError, match="VIGIL_KEEP_RAW='sometimes' is neither yes nor no"):
        ingest_file(con, ADAPTER, write(tmp_path / NAME, rows(2)))
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_merge_without_raw_keeps_hash_of_the_line(con) -> None:
    counts = merge(con, [("1", "line one", 1, False)], keep_raw=False)
    assert counts.new == 1
    assert con.execute("SELECT raw, record_hash FROM events").fetchone() == (
        None,
        hashlib.md5(b"line one").hexdigest(),
    )
    assert merge(con, [("1", "line one", 1, False)], keep_raw=False).duplicates == 1
    assert merge(con, [("1", "line two", 2, False)], keep_raw=False).updated == 1
