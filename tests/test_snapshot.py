"""Serving while updating: the published snapshot (atomic), readers that fall back to it
while another process writes the store, and a dashboard that follows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import httpx
import pytest

from served import serving
from vigil.api import Workspace
from vigil.errors import StoreBusyError
from vigil.store import connect, open_store, publish, published, snapshot_path
from vigil.store.snapshot import is_snapshot, meta_path
from vigil.web import data as web_data
from vigil.web.app import create_app
from vigil.web.data import Dashboard

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"

# A writer in another process: holds the store open for writing (as `vigil watch` does) and
# obeys one command a line on stdin, answering "ok" on stdout.
WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_snapshot import add_alert, add_assessment
    from vigil.store import connect, publish
    db = {db!r}
    con = connect(db)
    print("ok", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "assess":
            add_assessment(con, arg)
        elif cmd == "alert":
            add_alert(con, arg)
        elif cmd == "publish":
            publish(con, db)
        elif cmd == "quit":
            break
        print("ok", flush=True)
    con.close()
    """
)


def model_hash() -> str:
    ws = Workspace(":memory:", "belarus")
    try:
        return ws.model_hash
    finally:
        ws.close()


_HASH: list[str] = []


def add_assessment(con, as_of: str) -> None:
    """A stored assessment row (only what the dashboard's date list reads)."""
    if not _HASH:
        _HASH.append(model_hash())
    result = {"theatre": "belarus", "as_of": as_of, "horizon_days": 90,
              "model_hash": _HASH[0], "scenario_sets": [], "outcomes": []}  # fmt: skip
    con.execute(
        "INSERT INTO assessments VALUES (?, 'belarus', ?, 90, ?, now()::TIMESTAMP, ?)",
        [f"belarus|{as_of}|90|{_HASH[0]}", as_of, _HASH[0], json.dumps(result)],
    )


def add_alert(con, as_of: str) -> None:
    con.execute(
        "INSERT INTO alerts VALUES (?, 'belarus', 'r1', 'band', 'invasion', ?, "
        "now()::TIMESTAMP, ?, '{\"p\": 0.7}')",
        [f"a-{as_of}", as_of, f"crossed likely {HOSTILE}"],
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts, self.handlers = 0, []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


class Writer:
    def __init__(self, db: Path) -> None:
        code = WRITER.format(tests=str(Path(__file__).parent), db=str(db))
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        self._wait()

    def _wait(self) -> None:
        line = self.proc.stdout.readline()
        assert line.strip() == "ok", f"writer said {line!r}"

    def __call__(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self._wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        self.proc.stdout.close()


@pytest.fixture
def store(tmp_path) -> Path:
    db = tmp_path / "vigil.duckdb"
    con = connect(db)
    add_assessment(con, "2022-02-01")
    con.close()
    return db


@pytest.fixture
def writer(store):
    w = Writer(store)
    yield w
    w.close()


def test_snapshot_path_is_beside_the_store() -> None:
    assert snapshot_path(Path("a/vigil.duckdb")) == Path("a/vigil.snapshot.duckdb")
    assert meta_path(Path("a/vigil.duckdb")) == Path("a/vigil.snapshot.json")


def test_publish_is_atomic_and_an_open_reader_keeps_its_snapshot(store) -> None:
    con = connect(store)
    assert published(store) is None
    path = publish(con, store)
    assert path == snapshot_path(store) and published(store).path == path
    meta = json.loads(meta_path(store).read_text())
    assert meta["snapshot"] == path.name and meta["bytes"] == path.stat().st_size
    old = duckdb.connect(str(path), read_only=True)
    assert old.execute("SELECT count(*) FROM assessments").fetchone()[0] == 1

    # a reader polling the snapshot path while it is republished: always a whole store
    stop, seen, bad = threading.Event(), [], []

    def poll() -> None:
        while not stop.is_set():
            try:
                with path.open("rb") as fh:
                    head = fh.read(16)
                    size = os.fstat(fh.fileno()).st_size
            except FileNotFoundError:
                bad.append("missing")
                continue
            seen.append(size)
            if head[8:12] != b"DUCK" or size < 4096:
                bad.append((head, size))

    thread = threading.Thread(target=poll)
    thread.start()
    for k in range(5):
        add_assessment(con, f"2022-03-0{k + 1}")
        publish(con, store)
    stop.set()
    thread.join()
    con.close()
    assert seen and not bad
    # the reader opened before keeps reading the snapshot it opened
    assert old.execute("SELECT count(*) FROM assessments").fetchone()[0] == 1
    old.close()
    new = duckdb.connect(str(path), read_only=True)
    assert new.execute("SELECT count(*) FROM assessments").fetchone()[0] == 6
    new.close()
    names = sorted(p.name for p in store.parent.iterdir())
    assert names == ["vigil.duckdb", "vigil.snapshot.duckdb", "vigil.snapshot.json"]


def test_a_reader_beside_a_writer_reads_the_snapshot_and_says_so(store, writer) -> None:
    with pytest.raises(StoreBusyError):  # nothing published yet: busy, as before
        open_store(store)
    writer("assess 2022-02-15")
    writer("publish")
    con = open_store(store)
    try:
        assert is_snapshot(con, store) is not None
        assert con.execute("SELECT count(*) FROM assessments").fetchone()[0] == 2
    finally:
        con.close()
    with pytest.raises(StoreBusyError):  # a writer still fails
        open_store(store, write=True)
    ws = Workspace(store, None, write=False)
    try:
        assert ws.snapshot is not None and "snapshot published at" in ws.notice
    finally:
        ws.close()
    # another process: a read-only command works, and says what it read
    vigil = Path(sys.executable).parent / "vigil"
    r = subprocess.run(
        [str(vigil), "status", "--db", str(store), "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "snapshot published at" in r.stderr and "lock" not in r.stderr.lower()
    assert json.loads(r.stdout)["totals"]


def test_dashboard_answers_during_cycles_and_follows_new_snapshots(
    store, writer, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(web_data, "CHECK_S", 0.0)
    writer("publish")
    dash = Dashboard(store, data_dir=tmp_path, briefings=tmp_path / "none")
    try:
        with serving(create_app(dash, warm=False)) as base, httpx.Client(base_url=base) as c:
            assert c.get("/api/assessments").json()["dates"] == ["2022-02-01"]
            health = c.get("/api/health").json()
            assert health["freshness"]["served_from"] == "snapshot"
            assert health["freshness"]["last_cycle"] is None
            r = c.get("/alerts")
            assert r.status_code == 200 and 'data-testid="no-alerts"' in r.text
            assert c.get("/api/alerts").json() == {"total": 0, "shown": 0, "items": []}

            # a cycle: requests keep coming while the writer stores and publishes
            codes: list[int] = []
            stop = threading.Event()

            def load() -> None:
                with httpx.Client(base_url=base) as cc:
                    while not stop.is_set():
                        for path in ("/api/assessments", "/api/health", "/alerts"):
                            codes.append(cc.get(path).status_code)

            threads = [threading.Thread(target=load) for _ in range(3)]
            for t in threads:
                t.start()
            writer("assess 2022-02-15")
            writer("alert 2022-02-15")
            writer("publish")
            dates = []
            for _ in range(100):
                dates = c.get("/api/assessments").json()["dates"]
                if len(dates) == 2:
                    break
            writer("assess 2022-03-01")
            writer("publish")
            stop.set()
            for t in threads:
                t.join()
            assert codes and set(codes) == {200}, sorted(set(codes))
            assert dates == ["2022-02-01", "2022-02-15"]
            assert c.get("/api/assessments").json()["dates"][-1] == "2022-03-01"

            alerts = c.get("/api/alerts").json()
            assert alerts["total"] == 1
            item = alerts["items"][0]
            assert (item["rule"], item["kind"], item["subject"], item["as_of"]) == (
                "r1", "band", "invasion", "2022-02-15"
            )  # fmt: skip
            assert item["message"].endswith(HOSTILE)  # the API returns it as stored
            page = c.get("/alerts").text
            tags = _Tags()
            tags.feed(page)
            assert tags.scripts == 0 and tags.handlers == []  # the source text stays inert
            assert "&lt;script&gt;" in page and 'data-testid="alert"' in page
            assert 'data-testid="served-from">snapshot published' in c.get("/").text
    finally:
        dash.close()
    assert not dash._views  # every view closed, old ones included


def test_dashboard_on_a_free_store_serves_the_store(store, tmp_path) -> None:
    dash = Dashboard(store, data_dir=tmp_path, briefings=tmp_path / "none")
    try:
        assert dash.freshness()["served_from"] == "store"
        assert not dash.refresh(force=True)  # nothing to follow
    finally:
        dash.close()


def test_serve_publishes_a_free_store_first_so_a_later_watcher_finds_it_free(tmp_path) -> None:
    """`vigil serve` on a free store with no current snapshot publishes one and serves it:
    the store itself stays unheld for a `vigil watch` started afterwards."""
    from vigil.store.snapshot import current, publish_free

    db = tmp_path / "v.duckdb"
    con = connect(db)
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    assert current(db) is None
    publish_free(db)
    assert current(db) is not None
    con = connect(db)  # written again after the publish: the snapshot is stale
    con.execute("INSERT INTO t VALUES (2)")
    con.close()
    os.utime(db)  # the store's mtime moves past the snapshot's
    assert current(db) is None
    publish_free(db)
    snap = current(db)
    assert snap is not None
    with duckdb.connect(str(snap.path), read_only=True) as r:
        assert r.execute("SELECT count(*) FROM t").fetchone() == (2,)
