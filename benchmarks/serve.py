"""Benchmark of ``vigil serve``: dashboard latency under 20 concurrent clients.

Starts the real server (``python -m vigil.cli serve``) on a free localhost port against a
store that already holds assessments, warms each page up (its first request fills the
caches), then lets ``--clients`` threads, each with its own keep-alive ``httpx.Client``,
make ``--requests`` GETs apiece, one target at a time. Targets: ``/`` (the overview page;
goal: p95 <= 100 ms with 20 clients), ``/api/overview`` and, as the baseline measured in
the same run, ``/api/health`` (the framework's floor). Each target's p95 is also given as a
ratio to the baseline's. The load generator shares the CPUs with the server, so the figures
are pessimistic on a small machine.

A second phase, ``mix``, is the starvation test of issue 13 (defect 6): ``--clients``
clients make ``--mix-requests`` requests each over cached pages and the API, one in
``MIX_COLD_EVERY`` an indicator timeline nobody asked for before (cold: seconds of CPU).
Goal: p95 <= 250 ms over all of them and no timeouts. Then ``burst``: 10 concurrent
requests for one cold timeline, then for 10 different cold timelines (when the last is
answered, and how). With ``--compare-src DIR`` (e.g. ``git archive HEAD src`` unpacked), the
phases run first against the server from DIR, then against this tree, in the same run, and
the figures are also given as ratios (after / before).

It is a benchmark, not a test: latency depends on the machine and its load, so it is
reported, never asserted in the test suite.

Run: ``python benchmarks/serve.py --db benchmarks/out/full.duckdb --data ../shared/data``
(writes ``benchmarks/out/serve.json``; ``--json PATH`` to write elsewhere; ``--only-mix`` skips
the per-target phase).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores  # noqa: E402

BASELINE = "/api/health"
TARGETS = ("/", "/api/overview", BASELINE)
GOAL_PATH, GOAL_MS = "/", 100.0
#: cached pages and API calls (their first request fills the caches: warmed before the clock);
#: the evidence search is left out: an uncached full-text scan of 100-300 ms on its own
MIX_CHEAP = (
    "/", "/api/overview", "/api/health", "/api/indicators", "/indicators", "/scenarios",
    "/api/assessments", "/ach", "/api/map/events?limit=200",
    "/api/sets/belarus_role/history",
)  # fmt: skip
MIX_COLD_EVERY = 25  #: one request in 25 (4 %) is a cold timeline
MIX_GOAL_MS = 250.0
CLIENT_TIMEOUT_S = 60.0  #: a request unanswered by then counts as a timeout
INDICATORS = (
    "russian_buildup", "domestic_control", "nuclear_posture", "logistics_buildup",
    "sabotage_diversion", "geopolitical_risk", "belarus_non_involvement",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    db: str, data: Path, port: int, log, src: Path = HERE.parent / "src"
) -> subprocess.Popen:
    paths = [str(src), os.environ.get("PYTHONPATH", "")]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, paths))}
    cmd = [sys.executable, "-m", "vigil.cli", "serve", "--db", db, "--data", str(data),
           "--port", str(port)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop_server(server: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server`: SIGTERM, then SIGKILL after 10 s."""
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


def wait_healthy(server: subprocess.Popen, base: str, log, timeout: float = 60.0) -> dict:
    """The server's health once it answers; else exit with the end of its ``log``."""
    try:
        return _healthy(server, base, timeout)
    except RuntimeError as exc:
        log.seek(0)
        sys.exit(f"{exc}\n{log.read()[-2000:]}")


def _healthy(server: subprocess.Popen, base: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            r = httpx.get(base + BASELINE, timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{BASELINE} did not answer within {timeout:.0f} s")


def _clients(base: str, clients: int, work, timeout: float = CLIENT_TIMEOUT_S):
    """Run ``work(k, client)`` in ``clients`` threads, each with its keep-alive connection
    opened before the clock starts; return every row the threads returned and the wall time."""
    rows: list = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=timeout) as c:
            c.get(BASELINE)
            barrier.wait()
            mine = work(k, c)
        with lock:
            rows.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return rows, time.perf_counter() - t0


def load(base: str, path: str, clients: int, requests: int) -> dict:
    """``clients`` threads, ``requests`` GETs each; latencies in ms and the wall time."""

    def work(_k: int, c: httpx.Client) -> list[tuple[float, bool]]:
        mine = []
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                ok = c.get(path).status_code == 200
            except httpx.HTTPError:
                ok = False
            mine.append(((time.perf_counter() - t0) * 1000, ok))
        return mine

    rows, wall = _clients(base, clients, work, timeout=30)
    latencies = [ms for ms, _ in rows]
    errors = sum(not ok for _, ok in rows)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(latencies), 2),
        "req_per_s": round(len(latencies) / wall, 1),
    }


def cold_timeline(seed: int) -> str:
    """A timeline URL no other request in the run asks for: a one-year window starting on a
    distinct day of 2021-2024 (seeds below 1400 x the number of indicators)."""
    start = dt.date(2021, 1, 1) + dt.timedelta(days=seed % 1400)
    end = start + dt.timedelta(days=365)
    indicator = INDICATORS[(seed // 1400) % len(INDICATORS)]
    return f"/api/indicators/{indicator}/timeline?start={start}&end={end}"


def _summary(rows: list[tuple[str, float, str]], wall: float) -> dict:
    """rows: (kind, ms, outcome) with outcome a status code, "timeout" or "error"."""
    ms = [r[1] for r in rows]
    q = statistics.quantiles(ms, n=100, method="inclusive")
    out = {
        "requests": len(rows),
        "ok": sum(r[2] == "200" for r in rows),
        "busy_503": sum(r[2] == "503" for r in rows),
        "timeouts": sum(r[2] == "timeout" for r in rows),
        "errors": sum(r[2] not in ("200", "503", "timeout") for r in rows),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "max_ms": round(max(ms), 1),
        "req_per_s": round(len(rows) / wall, 1),
    }
    for kind in ("cheap", "cold"):
        mine = [r[1] for r in rows if r[0] == kind]
        if len(mine) > 1:
            qk = statistics.quantiles(mine, n=100, method="inclusive")
            out[f"{kind}_p95_ms"], out[f"{kind}_max_ms"] = round(qk[94], 1), round(max(mine), 1)
    return out


def _get(c: httpx.Client, path: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        outcome = str(c.get(path).status_code)
    except httpx.TimeoutException:
        outcome = "timeout"
    except httpx.HTTPError:
        outcome = "error"
    return (time.perf_counter() - t0) * 1000, outcome


def mix(base: str, clients: int, requests: int, seed0: int) -> dict:
    """Cached pages with a cold timeline one request in ``MIX_COLD_EVERY`` (see the module)."""

    def work(k: int, c: httpx.Client) -> list[tuple[str, float, str]]:
        mine = []
        for i in range(requests):
            if (i + k) % MIX_COLD_EVERY == 0:
                kind, path = "cold", cold_timeline(seed0 + k * requests + i)
            else:
                kind, path = "cheap", MIX_CHEAP[(i + k) % len(MIX_CHEAP)]
            mine.append((kind, *_get(c, path)))
        return mine

    return _summary(*_clients(base, clients, work))


def burst(base: str, paths: list[str]) -> dict:
    """All ``paths`` at once, one client each: when the last is answered, and how."""
    with ThreadPoolExecutor(len(paths)) as pool:

        def one(path: str) -> tuple[float, str]:
            with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as c:
                return _get(c, path)

        got = list(pool.map(one, paths))
    return {
        "requests": len(got),
        "last_answer_ms": round(max(ms for ms, _ in got), 1),
        "outcomes": {o: sum(x == o for _, x in got) for o in sorted({x for _, x in got})},
    }


def run_server_phases(args, src: Path, seed0: int, per_target: bool) -> tuple[dict, dict]:
    """Start the server from ``src``, warm it, run the phases; (health, figures)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    figures: dict = {}
    with tempfile.TemporaryFile("w+") as log:
        server = start_server(args.db, args.data, port, log, src)
        try:
            health = wait_healthy(server, base, log)
            if health["stored_assessments"] == 0:
                sys.exit(f"{args.db} holds no stored assessments: run "
                         f"`vigil replay --db {args.db}` or `vigil demo` first")  # fmt: skip
            warm = (*TARGETS, *MIX_CHEAP) if per_target else MIX_CHEAP
            with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as c:
                for path in warm:
                    for _ in range(args.warmup):
                        c.get(path)
            if per_target:
                figures["targets"] = {
                    p: load(base, p, args.clients, args.requests) for p in TARGETS
                }
            figures["mix"] = mix(base, args.clients, args.mix_requests, seed0)
            figures["burst_same"] = burst(base, [cold_timeline(seed0 + 7000)] * 10)
            figures["burst_distinct"] = burst(
                base, [cold_timeline(seed0 + 8400 + i * 97) for i in range(10)]
            )
        finally:
            stop_server(server)
    return health, figures


def print_mix(label: str, f: dict) -> None:
    m = f["mix"]
    print(f"{label:7} mix: {m['requests']} reqs, {m['ok']} ok, {m['busy_503']} 503, "
          f"{m['timeouts']} timeouts, {m['errors']} errors; p50 {m['p50_ms']:.1f} ms, "
          f"p95 {m['p95_ms']:.1f} ms, max {m['max_ms']:.1f} ms (cheap p95 "
          f"{m.get('cheap_p95_ms', 0):.1f}, max {m.get('cheap_max_ms', 0):.1f}; cold p95 "
          f"{m.get('cold_p95_ms', 0):.1f}, max {m.get('cold_max_ms', 0):.1f}); "
          f"{m['req_per_s']:.1f} req/s")  # fmt: skip
    for name in ("burst_same", "burst_distinct"):
        b = f[name]
        print(f"{label:7} {name}: last answered after {b['last_answer_ms']:.0f} ms, "
              f"{b['outcomes']}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(HERE / "out" / "full.duckdb"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50, help="per client and target")
    ap.add_argument("--warmup", type=int, default=20, help="sequential requests per target")
    ap.add_argument("--mix-requests", type=int, default=100, help="per client, mixed phase")
    ap.add_argument("--compare-src", type=Path, help="a src/ tree to measure first (before)")
    ap.add_argument("--only-mix", action="store_true", help="skip the per-target phase")
    ap.add_argument("--json", type=Path, default=HERE / "out" / "serve.json")
    args = ap.parse_args(argv)
    if not Path(args.db).exists():
        sys.exit(f"no store at {args.db}: run `vigil replay --db {args.db}` or `vigil demo` first")
    pinned = pin_two_cores()  # the server inherits it
    runs: dict[str, dict] = {}
    if args.compare_src:
        # the same windows: each server starts with empty caches, so they are cold in both
        runs["before"] = run_server_phases(args, args.compare_src, 0, not args.only_mix)[1]
    health, runs["after"] = run_server_phases(args, HERE.parent / "src", 0, not args.only_mix)
    after = runs["after"]
    print(
        f"{health['stored_assessments']} stored assessments; {args.clients} clients; "
        f"{pinned}, shared by the server and the load generator (figures are pessimistic)"
    )
    figures: dict = {"cpus": pinned, "clients": args.clients,
                     "stored_assessments": health["stored_assessments"], "runs": runs}  # fmt: skip
    if "targets" in after:
        results = after["targets"]
        floor = results[BASELINE]["p95_ms"]
        for r in results.values():
            r["p95_vs_baseline"] = round(r["p95_ms"] / floor, 1)
        print(f"{args.requests} requests per client and target")
        print(f"{'target':15} {'reqs':>5} {'errs':>4} {'p50':>7} {'p95':>7} {'p99':>7} "
              f"{'max':>7} {'req/s':>7} {'p95/base':>8}")  # fmt: skip
        for path, r in results.items():
            print(f"{path:15} {r['requests']:5} {r['errors']:4} {r['p50_ms']:7.1f} "
                  f"{r['p95_ms']:7.1f} {r['p99_ms']:7.1f} {r['max_ms']:7.1f} "
                  f"{r['req_per_s']:7.1f} {r['p95_vs_baseline']:7.1f}x")  # fmt: skip
        goal = results[GOAL_PATH]
        met = goal["p95_ms"] <= GOAL_MS and goal["errors"] == 0
        print(f"overview p95 {goal['p95_ms']:.1f} ms (goal <= {GOAL_MS:.0f} ms with "
              f"{args.clients} clients): {'PASS' if met else 'FAIL'}")  # fmt: skip
        figures["goal"] = {"path": GOAL_PATH, "p95_ms": GOAL_MS, "met": met}
    for label, f in runs.items():
        print_mix(label, f)
    if "before" in runs:
        b, a = runs["before"]["mix"], after["mix"]
        ratios = {
            k: round(a[k] / b[k], 3) if b[k] else None
            for k in ("p95_ms", "max_ms", "cheap_p95_ms", "req_per_s")
            if k in a and k in b
        }
        ratios["burst_same_last"] = round(
            after["burst_same"]["last_answer_ms"] / runs["before"]["burst_same"]["last_answer_ms"],
            3,
        )
        ratios["burst_distinct_last"] = round(
            after["burst_distinct"]["last_answer_ms"]
            / runs["before"]["burst_distinct"]["last_answer_ms"], 3)  # fmt: skip
        figures["after_over_before"] = ratios
        print("after / before:", ", ".join(f"{k} {v}" for k, v in ratios.items()))
    m = after["mix"]
    mix_met = m["p95_ms"] <= MIX_GOAL_MS and m["timeouts"] == 0 and m["errors"] == 0
    print(f"mix p95 {m['p95_ms']:.1f} ms, {m['timeouts']} timeouts (goal <= {MIX_GOAL_MS:.0f} ms, "
          f"none, with {args.clients} clients and cold timelines): "
          f"{'PASS' if mix_met else 'FAIL'}")  # fmt: skip
    figures["mix_goal"] = {"p95_ms": MIX_GOAL_MS, "timeouts": 0, "met": mix_met}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
