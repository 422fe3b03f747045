"""Benchmark of `vigil watch` while `vigil serve` is under load.

Three processes, as in use: the dashboard (``python -m vigil.cli serve``, reading the
published snapshots), the watcher (a child of this script: a :func:`vigil.watcher` with
its real alert and snapshot hooks, driven by a fake clock advanced 15 minutes per cycle,
next to a local HTTP server that impersonates GDELT's ``lastupdate.txt``,
``masterfilelist.txt`` and 15-minute export zips and two RSS feeds) and this script's
client threads (``benchmarks/serve.py``'s cached pages and API calls, each client with its
keep-alive connection, for as long as a phase lasts).

Steps: copy ``--db`` to a temporary folder; publish its snapshot; start the dashboard;
phase A: the load for ``--baseline-s`` seconds with no watcher (the baseline, measured in
the same run); phase B: the same load while the watcher runs ``--cycles`` cycles (before
each, the fake upstream publishes one new GDELT interval of ``--rows`` events and
``--items`` new items in each feed; RSS is polled every cycle, not hourly), and for
``SETTLE_S`` seconds after the last publish (the dashboard swaps in a new snapshot up to
:data:`vigil.web.data.CHECK_S` seconds after it appears, with empty caches).

Reported: per cycle the seconds of fetch+load (both sources), assess (match + assessment
+ alerts) and publish (checkpoint + copy + swap of the snapshot), and the whole cycle; the
dashboard's p50/p95/max in both phases and the ratio B/A; and that nothing is lost: after
the watcher stops, every published GDELT event and RSS item is in the store exactly once,
each interval is one batch, every cycle is ``done``, no dashboard request failed, the fake
upstream answered every request (no 404), and neither log mentions a lock.

It is a benchmark, not a test: timings depend on the machine. Everything runs pinned to
two CPUs (the dashboard, the watcher and the load generator share them: pessimistic).

Run: ``python benchmarks/watch.py --db vigil.duckdb --data ../shared/data`` (about 1-2
minutes with the defaults; ``--cycles``, ``--clients``, ``--baseline-s`` raise the load;
writes ``benchmarks/out/watch.json``, ``--json PATH`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import hashlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores  # noqa: E402
from serve import (  # noqa: E402
    BASELINE,
    MIX_CHEAP,
    free_port,
    start_server,
    stop_server,
    wait_healthy,
)

#: the first fake interval: after everything in the real store (its assessments end 2025-09-01)
T0 = dt.datetime(2025, 9, 2, 8, 0, tzinfo=dt.UTC)
INTERVAL = dt.timedelta(minutes=15)
FIRST_EVENT_ID = 990_000_001  #: above every GLOBALEVENTID in the real store
SETTLE_S = 5.0  #: phase B goes on this long after the last cycle (snapshot swap + cold caches)
CLIENT_TIMEOUT_S = 60.0
CYCLE_KEYS = (
    "cycle",
    "status",
    "fetch_load_s",
    "assess_s",
    "publish_s",
    "cycle_s",
    "rows",
    "hooks",
)
LOCK_WORDS = ("conflicting lock", "could not set lock", "lock on file", "storebusy")


# ---------------------------------------------------------------- the fake upstream
def gdelt_row(**fields: str) -> str:
    """One GDELT 2.0 export line (61 tab-separated fields; as tests/gdelt_rows.py)."""
    from vigil.sources.gdelt import COLUMNS

    base = {
        "GLOBALEVENTID": "0", "SQLDATE": "20250902", "MonthYear": "202509", "Year": "2025",
        "FractionDate": "2025.6685", "Actor1Code": "RUSMIL", "Actor1Name": "RUSSIA",
        "Actor1CountryCode": "RUS", "Actor1Type1Code": "MIL", "Actor2Code": "BLR",
        "Actor2Name": "BELARUS", "Actor2CountryCode": "BLR", "IsRootEvent": "1",
        "EventCode": "154", "EventBaseCode": "154", "EventRootCode": "15", "QuadClass": "4",
        "GoldsteinScale": "-7.2", "NumMentions": "10", "NumSources": "2",
        "NumArticles": "10", "AvgTone": "-3.5", "ActionGeo_Type": "4",
        "ActionGeo_FullName": "Asipovichy, Mahilyowskaya Voblasts', Belarus",
        "ActionGeo_CountryCode": "BO", "ActionGeo_ADM1Code": "BO06", "ActionGeo_Lat": "53.3",
        "ActionGeo_Long": "28.6333", "ActionGeo_FeatureID": "-2000000",
        "DATEADDED": "20250902080000", "SOURCEURL": "https://example.org/news/1",
    }  # fmt: skip
    values = base | fields
    return "\t".join(values.get(c, "") for c in COLUMNS)


class Upstream:
    """GDELT and two RSS feeds on a loopback server (as tests/test_watch.py's fakes):
    :meth:`publish` adds one interval and new items; every request and non-200 is counted."""

    def __init__(self, rows: int, items: int) -> None:
        self.rows, self.items = rows, items
        self.routes: dict[str, tuple[bytes, str | None]] = {}  # path -> (body, etag)
        self.lock = threading.Lock()
        self.requests, self.not_ok = 0, []
        self.index: list[str] = []
        self.next_id = FIRST_EVENT_ID
        self.events: dict[str, list[str]] = {}  # interval stamp -> its GLOBALEVENTIDs
        self.feed_items: dict[str, list[tuple[str, str, str]]] = {"feed1": [], "feed2": []}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # fmt: skip
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.gdelt_base = f"{self.url}/gdeltv2/"
        self.feeds = f"{self.url}/feed1.xml,{self.url}/feed2.xml"

    def _handler(self):
        up = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with up.lock:
                    up.requests += 1
                    body, etag = up.routes.get(self.path.split("?", 1)[0], (None, None))
                if body is None:
                    up.not_ok.append(f"404 {self.path}")
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def publish(self, when: dt.datetime, cycle: int) -> None:
        stamp = when.strftime("%Y%m%d%H%M%S")
        name = f"{stamp}.export.CSV"
        ids = [str(self.next_id + i) for i in range(self.rows)]
        self.next_id += self.rows
        lines = [gdelt_row(GLOBALEVENTID=i, DATEADDED=stamp, SQLDATE=stamp[:8],
                           SOURCEURL=f"https://example.org/news/{i}") for i in ids]  # fmt: skip
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(name, "".join(x + "\n" for x in lines))
        body = buf.getvalue()
        self.events[stamp] = ids
        self.index.append(
            f"{len(body)} {hashlib.md5(body).hexdigest()} {self.gdelt_base}{name}.zip"
        )
        mentions = f"99 {'0' * 32} {self.gdelt_base}{stamp}.mentions.CSV.zip"
        pub = email.utils.format_datetime(when - dt.timedelta(minutes=5), usegmt=True)
        routes = {
            f"/gdeltv2/{name}.zip": (body, None),
            "/gdeltv2/lastupdate.txt": (f"{self.index[-1]}\n{mentions}\n".encode(), None),
            "/gdeltv2/masterfilelist.txt": (("\n".join(self.index) + "\n").encode(), None),
        }
        for feed, items in self.feed_items.items():
            for k in range(self.items):
                link = f"https://bench.vigil.test/{feed}/c{cycle}i{k}"
                items.append((link, f"Belarus border exercise {feed} cycle {cycle} item {k}",
                              pub))  # fmt: skip
            xml = "".join(
                f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{when_}</pubDate><description>Troops and armour move near the "
                "Belarus border; exercise continues</description></item>"
                for link, title, when_ in reversed(items)
            )
            head = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            doc = f"{head}<title>{feed}</title><language>en</language>{xml}</channel></rss>"
            routes[f"/{feed}.xml"] = (doc.encode(), f'"{feed}-{cycle}"')
        with self.lock:
            self.routes |= routes


# ---------------------------------------------------------------- the watcher (child)
def child(args) -> int:
    """Run the fake upstream and ``--cycles`` watcher cycles; write the figures as JSON."""
    import vigil
    from vigil.store import connect

    up = Upstream(args.rows, args.items)
    clock = {"now": T0}
    lines: list[str] = []
    watcher = vigil.watcher(
        args.db, args.theatre, data=args.data, cache=Path(args.child) / "cache",
        sources=["gdelt", "rss"], schedule={"rss": "15m"},
        options={"gdelt": {"base_url": up.gdelt_base}, "rss": {"feeds": up.feeds}},
        clock=lambda: clock["now"],
        sleep=lambda s: clock.__setitem__("now", clock["now"] + dt.timedelta(seconds=s)),
        log=lambda line: (lines.append(line), print(line, file=sys.stderr, flush=True)),
    )  # fmt: skip
    published = watcher.publish
    publishes: list[tuple[float, float]] = []  # (wall start, seconds)

    def timed_publish(con) -> None:
        t0 = time.time()
        try:
            published(con)
        finally:
            publishes.append((t0, time.time() - t0))

    watcher.publish = timed_publish
    cycles = []
    for i in range(args.cycles):
        if i:
            clock["now"] += INTERVAL
        up.publish(clock["now"], i)
        n_pub = len(publishes)
        start = time.time()
        ran = watcher.run(max_cycles=1)
        wall = time.time() - start
        con = connect(args.db, read_only=True)
        try:
            row = con.execute("SELECT cycle_id, status, summary FROM watch_cycles "
                              "ORDER BY cycle_id DESC LIMIT 1").fetchone()  # fmt: skip
        finally:
            con.close()
        summary = json.loads(row[2]) if row[2] else {}
        sources = summary.get("sources", {})
        pub = publishes[n_pub:]
        cycles.append({
            "cycle": i + 1, "ran": ran, "status": row[1], "start": start,
            "fetch_load_s": round(sum(s.get("seconds", 0) for s in sources.values()), 3),
            "assess_s": (summary.get("assessment") or {}).get("seconds", 0.0),
            "publish_s": round(sum(p[1] for p in pub), 3),
            "publish_at": [round(p[0], 3) for p in pub],
            "cycle_s": round(wall, 3),
            "rows": {k: s.get("rows", 0) for k, s in sources.items()},
            "source_status": {k: s.get("status") for k, s in sources.items()},
            "hooks": summary.get("hooks", {}),
        })  # fmt: skip
    Path(args.child, "result.json").write_text(json.dumps({
        "cycles": cycles, "events": up.events, "items": up.feed_items,
        "upstream_requests": up.requests, "upstream_not_ok": up.not_ok, "log": lines,
    }))  # fmt: skip
    up.httpd.shutdown()
    return 0


# ---------------------------------------------------------------- the load (this process)
class Load:
    """``clients`` threads over MIX_CHEAP until :meth:`stop`; rows (t_start, ms, outcome)."""

    def __init__(self, base: str, clients: int) -> None:
        self.base, self.clients = base, clients
        self.rows: list[tuple[float, float, str]] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(k,)) for k in range(clients)]

    def _client(self, k: int) -> None:
        mine = []
        with httpx.Client(base_url=self.base, timeout=CLIENT_TIMEOUT_S) as c:
            i = k
            while not self.done.is_set():
                path = MIX_CHEAP[i % len(MIX_CHEAP)]
                i += 1
                t0 = time.time()
                try:
                    r = c.get(path)
                    outcome = str(r.status_code)
                    if r.status_code != 200:
                        outcome += f" {path} {r.text[:60]!r}"
                except httpx.TimeoutException:
                    outcome = f"timeout {path}"
                except httpx.HTTPError as exc:
                    outcome = f"error {path} {type(exc).__name__}"
                mine.append((t0, (time.time() - t0) * 1000, outcome))
        with self.lock:
            self.rows.extend(mine)

    def start(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> list[tuple[float, float, str]]:
        self.done.set()
        for t in self.threads:
            t.join()
        return self.rows


def summary(rows: list[tuple[float, float, str]]) -> dict:
    ms = [r[1] for r in rows]
    q = statistics.quantiles(ms, n=100, method="inclusive")
    q_ok = statistics.quantiles([r[1] for r in rows if r[2] == "200"], n=100, method="inclusive")
    span = max(r[0] + r[1] / 1000 for r in rows) - min(r[0] for r in rows)
    return {
        "requests": len(rows),
        "busy_503": sum(r[2].startswith("503") for r in rows),
        "failed": sum(r[2] != "200" and not r[2].startswith("503") for r in rows),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p95_ok_ms": round(q_ok[94], 1),  #: the 200 answers only
        "max_ms": round(max(ms), 1),
        "req_per_s": round(len(rows) / span, 1),
    }


def lost_check(db: Path, result: dict, cycles: int) -> dict:
    """After the watcher stopped: each published event, interval and item in the store once."""
    from vigil.store import connect

    con = connect(db, read_only=True)
    try:
        ids = [i for v in result["events"].values() for i in v]
        got = dict(con.execute(
            "SELECT source_id, count(*) FROM events WHERE source = 'gdelt' AND source_id IN "
            "(SELECT unnest(?::VARCHAR[])) GROUP BY 1", [ids]).fetchall())  # fmt: skip
        intervals = {
            s: con.execute("SELECT count(*) FROM batches WHERE source = 'gdelt' AND input LIKE ?",
                           [f"%{s}.export.CSV%"]).fetchone()[0]
            for s in result["events"]
        }  # fmt: skip
        links = [link for items in result["items"].values() for link, _, _ in items]
        docs = dict(con.execute(
            "SELECT url, count(*) FROM documents WHERE source = 'rss' AND url IN "
            "(SELECT unnest(?::VARCHAR[])) GROUP BY 1", [links]).fetchall())  # fmt: skip
        statuses = [r[0] for r in con.execute("SELECT status FROM watch_cycles").fetchall()]
    finally:
        con.close()
    out = {
        "events_published": len(ids),
        "events_missing": sum(i not in got for i in ids),
        "events_duplicated": sum(n > 1 for n in got.values()),
        "intervals_published": len(intervals),
        "intervals_not_one_batch": sorted(s for s, n in intervals.items() if n != 1),
        "items_published": len(links),
        "items_missing": sum(link not in docs for link in links),
        "items_duplicated": sum(n > 1 for n in docs.values()),
        "cycles_done": statuses.count("done"),
        "cycles_not_done": len(statuses) - statuses.count("done"),
    }
    out["nothing_lost"] = (
        out["events_missing"] == out["events_duplicated"] == out["items_missing"]
        == out["items_duplicated"] == out["cycles_not_done"] == 0
        and not out["intervals_not_one_batch"] and out["cycles_done"] == cycles
    )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("vigil.duckdb"), help="store to copy")
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--theatre", default="belarus")
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--baseline-s", type=float, default=15.0, help="phase A's length")
    ap.add_argument("--rows", type=int, default=200, help="GDELT events per interval")
    ap.add_argument("--items", type=int, default=5, help="new items per feed and cycle")
    ap.add_argument("--warmup", type=int, default=5, help="sequential requests per path")
    ap.add_argument("--json", type=Path, default=HERE / "out" / "watch.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: run the watcher here
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    if not args.db.is_file():
        sys.exit(f"no store at {args.db}: build one with `vigil ingest` and `vigil replay`")
    pinned = pin_two_cores()  # the dashboard and the watcher inherit it
    from vigil.store.snapshot import publish_free

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.duckdb"
        shutil.copyfile(args.db, db)
        t0 = time.perf_counter()
        publish_free(db)  # migrates the copy and publishes its first snapshot
        first_publish_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = open(Path(tmp) / "serve.log", "w+")  # noqa: SIM115 - closed below
        watcher_log = open(Path(tmp) / "watch.log", "w+")  # noqa: SIM115
        server = start_server(str(db), args.data, port, server_log)
        try:
            health = wait_healthy(server, base, server_log)
            with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as c:
                for path in MIX_CHEAP:
                    for _ in range(args.warmup):
                        c.get(path)
            print(f"phase A: {args.clients} clients for {args.baseline_s:.0f} s, no watcher",
                  flush=True)  # fmt: skip
            load = Load(base, args.clients).start()
            time.sleep(args.baseline_s)
            phase_a = load.stop()
            print(f"phase B: the same load while the watcher runs {args.cycles} cycles",
                  flush=True)  # fmt: skip
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tmp,
                   "--db", str(db), "--data", str(args.data), "--theatre", args.theatre,
                   "--cycles", str(args.cycles), "--rows", str(args.rows),
                   "--items", str(args.items)]  # fmt: skip
            load = Load(base, args.clients).start()
            t_b = time.time()
            watcher = subprocess.run(cmd, stdout=watcher_log, stderr=subprocess.STDOUT,
                                     check=False)  # fmt: skip
            t_end = time.time()
            time.sleep(SETTLE_S)
            phase_b = load.stop()
            with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as c:
                final = c.get(BASELINE).json()
        finally:
            stop_server(server)
        server_log.seek(0)
        watcher_log.seek(0)
        logs = {"serve": server_log.read(), "watch": watcher_log.read()}
        server_log.close()
        watcher_log.close()
        result_path = Path(tmp) / "result.json"
        if watcher.returncode != 0 or not result_path.exists():
            sys.exit(f"the watcher exited with status {watcher.returncode}\n"
                     f"{logs['watch'][-3000:]}")  # fmt: skip
        result = json.loads(result_path.read_text())
        lost = lost_check(db, result, args.cycles)

    cycles = result["cycles"]
    first = cycles[0]["start"]
    during = [r for r in phase_b if first <= r[0] <= t_end + SETTLE_S]
    a, b = summary(phase_a), summary(during)
    # a 503 is the dashboard's designed "busy, retry after N s" (a cold computation is on
    # its worker): counted apart, with when it came after the last publish; anything else
    # (an error, a timeout, another status) is a failed request
    failed = [r[2] for r in phase_a + phase_b if r[2] != "200" and not r[2].startswith("503")]
    pubs = sorted(p for c in cycles for p in c["publish_at"])
    busy = [r for r in phase_a + phase_b if r[2].startswith("503")]
    busy_paths = sorted({r[2].split()[1] for r in busy})
    after = [r[0] - max((p for p in pubs if p <= r[0]), default=r[0]) for r in busy]
    lock_lines = [line for text in logs.values() for line in text.splitlines()
                  if any(w in line.lower() for w in LOCK_WORDS)]  # fmt: skip
    freshness = final.get("freshness") or {}
    last_pub = max(p for c in cycles for p in c["publish_at"]) if cycles[-1]["publish_at"] else 0
    figures = {
        "cpus": pinned,
        "clients": args.clients,
        "cycles": args.cycles,
        "rows": args.rows,
        "items_per_feed": args.items,
        "store_mb": round(args.db.stat().st_size / 2**20, 1),
        "stored_assessments": health["stored_assessments"],
        "first_publish_s": round(first_publish_s, 2),
        "per_cycle": [{k: c[k] for k in CYCLE_KEYS} for c in cycles],
        "cycle_s_mean": round(statistics.mean(c["cycle_s"] for c in cycles), 2),
        "phase_a": a,
        "phase_b": b,
        "phase_b_s": round(t_end - t_b, 1),
        "p95_b_over_a": round(b["p95_ms"] / a["p95_ms"], 2),
        "p50_b_over_a": round(b["p50_ms"] / a["p50_ms"], 2),
        "p95_ok_b_over_a": round(b["p95_ok_ms"] / a["p95_ok_ms"], 2),
        "requests_failed": len(failed),
        "failures": failed[:10],
        "busy_503": len(busy),
        "busy_paths": busy_paths,
        "busy_s_after_publish": [round(min(after), 1), round(max(after), 1)] if busy else None,
        "upstream_requests": result["upstream_requests"],
        "upstream_not_ok": result["upstream_not_ok"],
        "lock_lines": lock_lines[:10],
        "dashboard_after": {
            "served_from": freshness.get("served_from"),
            "published_at": freshness.get("published_at"),
            "last_publish_unix": round(last_pub, 1),
        },
        "lost": lost,
    }
    ok = (lost["nothing_lost"] and not failed and not lock_lines
          and not result["upstream_not_ok"])  # fmt: skip
    figures["ok"] = ok

    print(f"{pinned}, shared by the dashboard, the watcher and {args.clients} clients; "
          f"store {figures['store_mb']} MB, {args.rows} GDELT rows per interval, "
          f"{args.items} items per feed per cycle")  # fmt: skip
    print(f"{'cycle':>5} {'status':>7} {'fetch+load':>10} {'assess':>7} {'publish':>7} "
          f"{'total s':>7}  rows")  # fmt: skip
    for c in cycles:
        print(f"{c['cycle']:5} {c['status']:>7} {c['fetch_load_s']:10.2f} {c['assess_s']:7.2f} "
              f"{c['publish_s']:7.2f} {c['cycle_s']:7.2f}  {c['rows']}")  # fmt: skip
    print(f"{'phase':18} {'reqs':>5} {'fail':>4} {'503':>4} {'p50':>7} {'p95':>7} "
          f"{'p95(200)':>8} {'max':>7} {'req/s':>6}")  # fmt: skip
    for label, s in (("A (no watcher)", a), ("B (during cycles)", b)):
        print(f"{label:18} {s['requests']:5} {s['failed']:4} {s['busy_503']:4} "
              f"{s['p50_ms']:7.1f} {s['p95_ms']:7.1f} {s['p95_ok_ms']:8.1f} {s['max_ms']:7.1f} "
              f"{s['req_per_s']:6.1f}")  # fmt: skip
    print(f"p95 B/A {figures['p95_b_over_a']}x (200s only {figures['p95_ok_b_over_a']}x), "
          f"p50 B/A {figures['p50_b_over_a']}x; "
          f"requests failed: {len(failed)}; busy 503: {len(busy)} ({', '.join(busy_paths)}"
          f"{'' if not busy else f', {min(after):.1f}-{max(after):.1f} s after a publish'}); "
          f"lock lines: {len(lock_lines)}; upstream non-200: "
          f"{len(result['upstream_not_ok'])}")  # fmt: skip
    print(f"nothing lost: {lost['nothing_lost']} ({lost['events_published']} events, "
          f"{lost['intervals_published']} intervals, {lost['items_published']} RSS items: "
          f"{lost['events_missing']}/{lost['items_missing']} missing, "
          f"{lost['events_duplicated']}/{lost['items_duplicated']} duplicated; "
          f"{lost['cycles_done']} cycles done)")  # fmt: skip
    print(json.dumps(figures, separators=(",", ":")))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures | {"logs_tail": {k: v[-4000:] for k, v in
                                                             logs.items()}}, indent=2))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
