"""`vigil watch`: schedules, GDELT backfill and its cap, failing sources backing off,
restart without reloading, a clean stop on SIGTERM, and `--once` through the CLI.

Everything runs against the local HTTP server (conftest's ``http_server``) impersonating
GDELT's ``lastupdate.txt``/``masterfilelist.txt``/exports and an RSS feed, with an injected
clock: no test waits for a schedule."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import signal
import threading
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import Reply
from gdelt_rows import row
from vigil.errors import UsageError
from vigil.service import watch as W  # noqa: N812
from vigil.service.watch import Watcher, backoff, parse_duration, read_state, schedules
from vigil.sources.http import Fetcher
from vigil.store import connect
from vigil.theatre import load_theatre

T0 = dt.datetime(2022, 2, 20, 10, 20, tzinfo=dt.UTC)
ROWS = 5  # events per GDELT interval


def stamps(first: str, n: int) -> list[str]:
    t = dt.datetime.strptime(first, "%Y%m%d%H%M%S")
    return [(t + i * W.INTERVAL).strftime("%Y%m%d%H%M%S") for i in range(n)]


class GdeltFeed:
    """GDELT's feed on the local server: publish intervals, count what was requested."""

    def __init__(self, server) -> None:
        self.server, self.lines, self.next_id = server, [], 900000001
        self.base = f"{server.url}/gdeltv2/"

    def publish(self, *names: str) -> None:
        for stamp in names:
            name = f"{stamp}.export.CSV"
            lines = []
            for _ in range(ROWS):
                lines.append(row(GLOBALEVENTID=str(self.next_id), DATEADDED=stamp,
                                 SQLDATE=stamp[:8]))  # fmt: skip
                self.next_id += 1
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.writestr(name, "".join(x + "\n" for x in lines))
            body = buf.getvalue()
            self.server.route(f"/gdeltv2/{name}.zip", Reply(body=body))
            md5 = hashlib.md5(body).hexdigest()
            self.lines.append(f"{len(body)} {md5} {self.base}{name}.zip")
        mentions = f"99 {'0' * 32} {self.base}{names[-1]}.mentions.CSV.zip"
        self.server.route("/gdeltv2/lastupdate.txt", Reply(body=f"{self.lines[-1]}\n{mentions}\n"))
        self.server.route("/gdeltv2/masterfilelist.txt", Reply(body="\n".join(self.lines) + "\n"))

    def count(self, suffix: str) -> int:
        return sum(1 for r in self.server.requests if r[1].endswith(suffix))


def feed(*items: tuple[str, str]) -> str:
    body = "".join(
        f"<item><title>{title}</title><link>https://example.test/{guid}</link>"
        f"<guid>{guid}</guid><pubDate>Sun, 20 Feb 2022 09:00:00 GMT</pubDate>"
        "<description>Belarus border exercise</description></item>"
        for guid, title in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
        f"<language>en</language>{body}</channel></rss>"
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture
def env(tmp_path, http_server, shared_data):
    """A store path, the fake GDELT, the clock, the log, and a Watcher factory."""
    gdelt = GdeltFeed(http_server)
    clock, lines, waits, calls = Clock(), [], [], []

    def make(**kw) -> Watcher:
        args = {
            "data": shared_data,
            "cache": tmp_path / "cache",
            "sources": ["gdelt", "rss"],
            "options": {"gdelt": {"base_url": gdelt.base},
                        "rss": {"feeds": f"{http_server.url}/feed.xml"}},
            "clock": clock,
            "sleep": lambda s: clock.advance(seconds=s),
            "log": lines.append,
            "fetcher": lambda cache: Fetcher(cache, retries=1, sleep=waits.append),
            "on_assessed": lambda con, spec, lib, result, previous: calls.append(
                ("assessed", result["as_of"], previous and previous["as_of"])),
            "publish": lambda con: calls.append(("publish",)),
        }  # fmt: skip
        return Watcher(tmp_path / "v.duckdb", "belarus", **{**args, **kw})

    class Env:
        pass

    e = Env()
    e.db, e.server, e.gdelt, e.clock, e.lines, e.waits, e.calls, e.make = (
        tmp_path / "v.duckdb", http_server, gdelt, clock, lines, waits, calls, make
    )  # fmt: skip
    return e


def query(db: Path, sql: str):
    con = connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_cycles_load_new_intervals_and_items_on_their_schedules(env) -> None:
    s = stamps("20220220101500", 3)
    env.gdelt.publish(s[0])
    env.server.route("/feed.xml", Reply(body=feed(("g1", "Troops at the border"))))
    w = env.make()
    assert w.run(once=True) == 1
    assert f"{T0:%Y-%m-%dT%H:%MZ} gdelt: 1 interval, {ROWS} rows loaded" in env.lines[0]
    assert env.lines[1].startswith(f"{T0:%Y-%m-%dT%H:%MZ} rss: 1 new file, 1 rows loaded")
    assert query(env.db, "SELECT count(*) FROM events") == [(ROWS,)]
    assert query(env.db, "SELECT count(*) FROM documents") == [(1,)]
    assert env.calls == [("assessed", "2022-02-20", None), ("publish",)]

    env.clock.advance(minutes=15)  # GDELT is due again, RSS (hourly) is not
    env.gdelt.publish(s[1])
    env.lines.clear()
    w.run(once=True)
    assert "gdelt: 1 interval" in env.lines[0]
    assert "rss: not due until 2022-02-20T11:20Z" in env.lines[1]
    assert env.calls[-2:] == [("assessed", "2022-02-20", "2022-02-20"), ("publish",)]

    env.clock.advance(minutes=46)  # both due; the feed has a new item
    env.gdelt.publish(s[2])
    env.server.route(
        "/feed.xml", Reply(body=feed(("g1", "Troops at the border"), ("g2", "Drills go on")))
    )
    w.run(once=True)
    assert query(env.db, "SELECT count(*) FROM events") == [(3 * ROWS,)]
    assert query(env.db, "SELECT count(*) FROM documents") == [(2,)]
    rows = query(env.db, "SELECT status, as_of, summary FROM watch_cycles ORDER BY cycle_id")
    assert [r[0] for r in rows] == ["done"] * 3
    assert rows[0][1] == dt.date(2022, 2, 20)
    summary = json.loads(rows[1][2])["sources"]
    assert summary["gdelt"]["intervals"] == 1 and summary["rss"]["status"] == "not due"
    assert read_state(connect(env.db), "gdelt")["gdelt"]["last_interval"] == s[2]
    assert query(env.db, "SELECT count(*) FROM assessments WHERE theatre = 'belarus'")[0][0] > 0


def test_gap_is_backfilled_from_masterfilelist_and_the_cap_cuts_it(env) -> None:
    s = stamps("20220220101500", 6)
    env.gdelt.publish(s[0])
    w = env.make(sources=["gdelt"], max_backfill=3)
    w.run(once=True)
    assert env.gdelt.count("masterfilelist.txt") == 0  # one interval: lastupdate.txt only
    env.gdelt.publish(*s[1:])  # five intervals missed
    env.clock.advance(minutes=80)
    env.lines.clear()
    w.run(once=True)
    assert env.gdelt.count("masterfilelist.txt") == 1
    assert any("5 intervals missed since 20220220101500; the cap (--max-backfill 3) limits "
               "this cycle to 3" in line for line in env.lines)  # fmt: skip
    assert "3 intervals, 15 rows loaded" in next(x for x in env.lines if "rows loaded" in x)
    assert "(capped: 3 of 5 missed intervals)" in " ".join(env.lines)
    assert read_state(connect(env.db), "gdelt")["gdelt"]["last_interval"] == s[3]
    # the cut backfill leaves GDELT due at once: the next cycle (same time) finishes it
    assert w.due_at("gdelt") is None
    w.run(once=True)
    assert query(env.db, "SELECT count(*) FROM events") == [(6 * ROWS,)]
    assert query(env.db, "SELECT count(*) FROM batches") == [(6,)]
    assert w.due_at("gdelt") == env.clock.now + dt.timedelta(minutes=15)


def test_5xx_and_429_on_one_source_back_off_while_the_others_load(env) -> None:
    env.server.route("/gdeltv2/lastupdate.txt", Reply(503, "busy"))
    env.server.route("/feed.xml", Reply(body=feed(("g1", "Troops at the border"))))
    w = env.make()
    w.run(once=True)
    gdelt_line = next(x for x in env.lines if " gdelt: " in x)
    assert "gdelt: failed: GET" in gdelt_line and "HTTP 503" in gdelt_line
    assert "retry in 1 min (failure 1)" in gdelt_line
    assert "rss: 1 new file, 1 rows loaded" in " ".join(env.lines)
    assert query(env.db, "SELECT count(*) FROM documents") == [(1,)]
    state = read_state(connect(env.db), "gdelt")["gdelt"]
    assert state["failures"] == 1 and "HTTP 503" in state["last_error"]

    env.clock.advance(seconds=30)  # inside the back-off: not due
    assert "gdelt" not in w._due_sources()
    env.clock.advance(seconds=31)
    env.server.route("/gdeltv2/lastupdate.txt", Reply(429, "slow down", {"Retry-After": "7"}))
    env.lines.clear()
    w.run(once=True)
    assert "HTTP 429" in env.lines[0] and "retry in 2 min (failure 2)" in env.lines[0]
    assert 7.0 in env.waits  # Retry-After honoured inside the fetch
    # the second cycle's only due source failed: the cycle failed (cron sees exit 1)
    statuses = [r[0] for r in query(env.db, "SELECT status FROM watch_cycles ORDER BY cycle_id")]
    assert statuses == ["done", "failed"] and w.last_status == "failed"

    env.gdelt.publish("20220220101500")  # the server recovers
    env.clock.advance(minutes=2, seconds=1)
    w.run(once=True)
    state = read_state(connect(env.db), "gdelt")["gdelt"]
    assert state["failures"] == 0 and state["last_error"] is None
    assert query(env.db, "SELECT count(*) FROM events") == [(ROWS,)]
    assert backoff(1) == dt.timedelta(minutes=1) and backoff(20) == W.RETRY_CAP


def test_restart_resumes_without_reloading(env) -> None:
    env.gdelt.publish("20220220101500")
    env.server.route(
        "/feed.xml",
        Reply(body=feed(("g1", "Troops at the border")), headers={"ETag": '"v1"'}),
        Reply(304),
    )
    env.make().run(once=True)
    batches = query(env.db, "SELECT batch_id, source, input FROM batches ORDER BY batch_id")
    exports = env.gdelt.count(".export.CSV.zip")
    env.clock.advance(minutes=61)  # both due; nothing new upstream
    env.lines.clear()
    env.make().run(once=True)  # a new process: state comes from the store
    assert "gdelt: up to date, 0 rows loaded" in env.lines[0]
    assert "rss: 0 new files, 0 rows loaded" in env.lines[1]
    assert env.gdelt.count(".export.CSV.zip") == exports
    assert query(env.db, "SELECT batch_id, source, input FROM batches ORDER BY batch_id") == batches
    assert env.server.requests[-1][2].get("If-None-Match") == '"v1"'
    # nothing new: no second assessment, but a new snapshot (it carries the cycle's time)
    assert [c[0] for c in env.calls] == ["assessed", "publish", "publish"]


def test_sigterm_mid_cycle_stops_after_the_file_and_the_next_run_resumes(env) -> None:
    s = stamps("20220220101500", 5)
    env.gdelt.publish(s[0])
    env.make(sources=["gdelt"]).run(once=True)
    env.gdelt.publish(*s[1:])
    env.clock.advance(minutes=70)
    sent = []

    def log(line: str) -> None:
        env.lines.append(line)
        if " gdelt: 1/4 intervals" in line and not sent:
            sent.append(1)  # the signal comes from another thread, as from `kill`
            t = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM))
            t.start()
            t.join()

    before = signal.getsignal(signal.SIGTERM)
    w = env.make(sources=["gdelt"], log=log)
    assert w.run() == 1  # not once: the stop ends the loop
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored
    assert "stopping after the current file (SIGTERM)" in " ".join(env.lines)
    row_ = query(env.db, "SELECT status, as_of FROM watch_cycles ORDER BY cycle_id DESC")[0]
    assert row_ == ("stopped", None)
    # whole batches only: the interval under way finished, the next never started
    assert query(env.db, "SELECT count(*) FROM batches") == [(2,)]
    assert query(env.db, "SELECT count(*) FROM events") == [(2 * ROWS,)]
    state = read_state(connect(env.db))
    assert state["gdelt"]["last_interval"] == s[1] and state["watch"]["pending_assessment"]
    assert len(env.calls) == 2  # the first run's assessment and publish only

    env.lines.clear()
    env.make(sources=["gdelt"]).run(once=True)  # resumes at once (no wait for the cadence)
    assert "gdelt: 3 intervals" in " ".join(env.lines)
    assert query(env.db, "SELECT count(*) FROM events") == [(5 * ROWS,)]
    assert env.calls[-2][0] == "assessed"


def test_stop_flag_from_a_thread_before_the_cycle(env) -> None:
    env.gdelt.publish("20220220101500")
    w = env.make(sources=["gdelt"])
    threading.Thread(target=w.stop).start()
    w._stop.wait(5)
    assert w.run() == 0  # stopped before any cycle began: nothing started


def test_schedules_defaults_theatre_file_and_environment(tmp_path, monkeypatch) -> None:
    spec = load_theatre("belarus")
    default = schedules(spec)
    assert default["gdelt"].every == dt.timedelta(minutes=15)
    assert default["rss"].every == dt.timedelta(hours=1)
    assert default["acled"].every == dt.timedelta(days=7)
    assert default["ucdp"].every == dt.timedelta(days=30)
    assert all(s.reason for s in default.values())
    folder = tmp_path / "t"
    import shutil

    shutil.copytree(spec.folder, folder)
    (folder / "watch.yaml").write_text("schedule: {rss: 30m, acled: 1d}\n")
    local = load_theatre(folder)
    monkeypatch.setenv("VIGIL_WATCH_SCHEDULE", "acled=2d")
    got = schedules(local, {"gdelt": "20m"})
    assert got["rss"].every == dt.timedelta(minutes=30)
    assert got["acled"].every == dt.timedelta(days=2)  # the environment over the theatre
    assert got["gdelt"].every == dt.timedelta(minutes=20)  # the caller over everything
    monkeypatch.setenv("VIGIL_WATCH_SCHEDULE", "nosuch=1h")
    with pytest.raises(UsageError, match="unknown source 'nosuch'"):
        schedules(local)
    with pytest.raises(UsageError, match="shorter than a minute"):
        parse_duration("5s")
    with pytest.raises(UsageError, match="is not a duration"):
        parse_duration("soon")
    assert parse_duration("1w") == dt.timedelta(days=7)
    assert W.default_sources(spec) == ("gdelt", "rss")
    monkeypatch.setenv("UCDP_TOKEN", "x")
    assert W.default_sources(spec) == ("gdelt", "rss", "ucdp")


def test_cli_once(env, shared_data, monkeypatch, tmp_path) -> None:
    from vigil.cli import app

    env.gdelt.publish("20220220101500")
    monkeypatch.setenv("VIGIL_CACHE", str(tmp_path / "cli-cache"))
    result = CliRunner().invoke(
        app,
        [
            "watch",
            "--theatre",
            "belarus",
            "--once",
            "--source",
            "gdelt",
            "--option",
            f"gdelt.base_url={env.gdelt.base}",
            "--db",
            str(env.db),
            "--data",
            str(shared_data),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"gdelt: 1 interval, {ROWS} rows loaded" in result.output
    assert "cycle 1 done, assessed 2022-02-20 (h90)" in result.output
    assert query(env.db, "SELECT count(*) FROM events") == [(ROWS,)]
    bad = CliRunner().invoke(app, ["watch", "--once", "--source", "naturalearth",
                                   "--db", str(env.db)])  # fmt: skip
    assert bad.exit_code != 0 and "has no watch schedule" in bad.output


def test_a_listed_interval_that_keeps_failing_is_passed_over(env) -> None:
    """GDELT lists an export it serves broken: after SKIP_AFTER failed cycles it is recorded
    and passed over, and the feed goes on (a malformed master-list line is passed over)."""
    s = stamps("20220220101500", 3)
    env.gdelt.publish(s[0])
    env.make(sources=["gdelt"]).run(once=True)
    env.gdelt.publish(s[1], s[2])
    env.server.route(f"/gdeltv2/{s[1]}.export.CSV.zip", Reply(404, "nf"))
    for _ in range(W.SKIP_AFTER):
        env.clock.advance(hours=7)  # past any back-off
        env.make(sources=["gdelt"]).run(once=True)
    state = read_state(connect(env.db), "gdelt")["gdelt"]
    assert [x["interval"] for x in state["skipped_intervals"]] == [s[1]]
    assert "passed over" in " ".join(env.lines)
    env.clock.advance(hours=7)
    env.make(sources=["gdelt"]).run(once=True)
    assert read_state(connect(env.db), "gdelt")["gdelt"]["last_interval"] == s[2]


def test_the_watcher_refuses_to_start_on_a_misspelt_alert_rule(tmp_path) -> None:
    import shutil

    import vigil
    from vigil.errors import InputError

    folder = tmp_path / "belarus"
    shutil.copytree(Path(__file__).resolve().parents[1] / "theatres" / "belarus", folder)
    (folder / "alerts.yaml").write_text("rules:\n  - {id: a, kind: band, outcomes: [nope]}\n")
    with pytest.raises(InputError, match="'nope' is not an outcome"):
        vigil.watcher(tmp_path / "v.duckdb", str(folder))
    assert not (tmp_path / "v.duckdb").exists()  # refused before the store
