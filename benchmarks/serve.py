"""Benchmark of ``vigil serve``: dashboard latency under 20 concurrent clients.

Starts the real server (``python -m vigil.cli serve``) on a free localhost port against a
store that already holds assessments, warms each page up (its first request fills the
caches), then lets ``--clients`` threads, each with its own keep-alive ``httpx.Client``,
make ``--requests`` GETs apiece, one target at a time. Targets: ``/`` (the overview page;
goal: p95 <= 100 ms with 20 clients), ``/api/overview`` and, as the baseline measured in
the same run, ``/api/health`` (the framework's floor). Each target's p95 is also given as a
ratio to the baseline's. The load generator shares the CPUs with the server, so the figures
are pessimistic on a small machine.

It is a benchmark, not a test: latency depends on the machine and its load, so it is
reported, never asserted in the test suite.

Run: ``python benchmarks/serve.py --db benchmarks/out/full.duckdb --data ../shared/data``
(writes ``benchmarks/out/serve.json``; ``--json PATH`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from common import pin_two_cores  # noqa: E402

BASELINE = "/api/health"
TARGETS = ("/", "/api/overview", BASELINE)
GOAL_PATH, GOAL_MS = "/", 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, data: Path, port: int, log) -> subprocess.Popen:
    paths = [str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, paths))}
    cmd = [sys.executable, "-m", "vigil.cli", "serve", "--db", db, "--data", str(data),
           "--port", str(port)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_healthy(server: subprocess.Popen, base: str, timeout: float = 60.0) -> dict:
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


def load(base: str, path: str, clients: int, requests: int) -> dict:
    """``clients`` threads, ``requests`` GETs each; latencies in ms and the wall time."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        nonlocal errors
        mine, bad = [], 0
        with httpx.Client(base_url=base, timeout=30) as c:
            c.get(BASELINE)  # open the keep-alive connection before the clock starts
            barrier.wait()
            for _ in range(requests):
                t0 = time.perf_counter()
                try:
                    ok = c.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append((time.perf_counter() - t0) * 1000)
                bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(HERE / "out" / "full.duckdb"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50, help="per client and target")
    ap.add_argument("--warmup", type=int, default=20, help="sequential requests per target")
    ap.add_argument("--json", type=Path, default=HERE / "out" / "serve.json")
    args = ap.parse_args(argv)
    if not Path(args.db).exists():
        sys.exit(f"no store at {args.db}: run `vigil replay --db {args.db}` or `vigil demo` first")
    pinned = pin_two_cores()  # the server inherits it
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        server = start_server(args.db, args.data, port, log)
        try:
            try:
                health = wait_healthy(server, base)
            except RuntimeError as exc:
                log.seek(0)
                sys.exit(f"{exc}\n{log.read()[-2000:]}")
            if health["stored_assessments"] == 0:
                sys.exit(f"{args.db} holds no stored assessments: run "
                         f"`vigil replay --db {args.db}` or `vigil demo` first")  # fmt: skip
            with httpx.Client(base_url=base, timeout=60) as c:
                for path in TARGETS:
                    for _ in range(args.warmup):
                        c.get(path)
            results = {p: load(base, p, args.clients, args.requests) for p in TARGETS}
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    floor = results[BASELINE]["p95_ms"]
    for r in results.values():
        r["p95_vs_baseline"] = round(r["p95_ms"] / floor, 1)
    print(f"{health['stored_assessments']} stored assessments; {args.clients} clients x "
          f"{args.requests} requests per target; {pinned}, shared by the server and the "
          "load generator (figures are pessimistic)")  # fmt: skip
    print(f"{'target':15} {'reqs':>5} {'errs':>4} {'p50':>7} {'p95':>7} {'p99':>7} "
          f"{'max':>7} {'req/s':>7} {'p95/base':>8}")  # fmt: skip
    for path, r in results.items():
        print(f"{path:15} {r['requests']:5} {r['errors']:4} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['req_per_s']:7.1f} "
              f"{r['p95_vs_baseline']:7.1f}x")  # fmt: skip
    goal = results[GOAL_PATH]
    met = goal["p95_ms"] <= GOAL_MS and goal["errors"] == 0
    print(f"overview p95 {goal['p95_ms']:.1f} ms (goal <= {GOAL_MS:.0f} ms with "
          f"{args.clients} clients): {'PASS' if met else 'FAIL'}")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    figures = {"cpus": pinned, "clients": args.clients, "requests_per_client": args.requests,
               "stored_assessments": health["stored_assessments"], "targets": results,
               "goal": {"path": GOAL_PATH, "p95_ms": GOAL_MS, "met": met}}  # fmt: skip
    args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
