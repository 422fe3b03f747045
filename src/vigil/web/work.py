"""Expensive dashboard work, bounded: one worker, a short queue, single-flight, short waits.

Why: an uncached indicator timeline runs the indicator pipeline over its whole window (seconds
of CPU), and the simulation's first run is a Monte Carlo of 20,000 paths. Both need the base
connection (it holds the border-distance TEMP table), so they can only run one at a time
anyway. Unbounded, each request for one queued behind that lock while holding one of the
request threads (FastAPI runs sync routes in a pool of 40) and the CPUs: with 20 clients and
cold timelines in the mix, cached pages waited behind them (p95 383 ms, max 58 s, timeouts).

The design, each part for one failure:

* one dedicated worker thread runs every computation, in submission order: the work the
  connection serialises anyway, never more than one core's worth, never on a request thread;
* single-flight: requests for the same key share one computation (ten requests for one cold
  timeline compute it once);
* a short queue: beyond ``queue_max`` computations waiting, a request is refused at once
  rather than adding to a backlog nobody will wait for;
* a short wait: a request waits at most ``wait_s`` for its result, then gets
  :class:`BusyError` (HTTP 503 with ``Retry-After``). The computation goes on and its result
  is cached, so the retry is answered from the cache;
* at most ``waiters_max`` request threads wait at once, so cheap pages always find a thread.

Precomputation alone would not do: the timeline window and step are the caller's, so most
timelines cannot be known in advance (the defaults are warmed at startup: :meth:`warm`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from vigil.errors import VigilError

T = TypeVar("T")

WAIT_S = 2.0  #: longest a request waits for a computation (most cold timelines take less)
QUEUE_MAX = 4  #: computations waiting to start, at most (a few seconds of backlog)
WAITERS_MAX = 16  #: request threads waiting at once, at most (of the 40 that serve requests)
FIRST_GUESS_S = 2.0  #: a computation's expected duration before one has been timed


class BusyError(VigilError):
    """The server is computing something else (or this, and it is not done yet): HTTP 503
    with ``Retry-After``."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"busy computing {what}", f"retry in {retry_after} s")
        self.what = what
        self.retry_after = retry_after


class Computations:
    """Runs expensive, cacheable work on one worker thread, within bounds (see the module)."""

    def __init__(
        self,
        wait_s: float = WAIT_S,
        queue_max: int = QUEUE_MAX,
        waiters_max: int = WAITERS_MAX,
    ) -> None:
        self.wait_s = wait_s
        self.queue_max = queue_max
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vigil-compute")
        self._lock = threading.Lock()
        self._flights: dict[Hashable, Future] = {}  #: submitted, not finished
        self._queued: list[Hashable] = []  #: submitted, not started, in order
        self._running_since: float | None = None
        self._mean_s = FIRST_GUESS_S  #: running mean of durations, for Retry-After
        self._waiters = threading.BoundedSemaphore(waiters_max)
        self._stop = threading.Event()
        self.computed = 0  #: computations run (tests check single-flight with it)

    def run(self, key: Hashable, what: str, fn: Callable[[], T]) -> T:
        """``fn()``'s result, computed once for concurrent callers with the same ``key``;
        :class:`BusyError` if it cannot be had within the bounds. ``fn`` should cache what it
        computes, so that a retry after a :class:`BusyError` finds it."""
        future = self._submit(key, what, fn)
        if not self._waiters.acquire(blocking=False):
            raise BusyError(what, self.retry_after(key))
        try:
            return future.result(timeout=self.wait_s)
        except TimeoutError:
            raise BusyError(what, self.retry_after(key)) from None
        finally:
            self._waiters.release()

    def retry_after(self, key: Hashable | None = None) -> int:
        """Whole seconds until ``key`` (or, for None, a new computation) should be done."""
        with self._lock:
            remaining = 0.0
            if self._running_since is not None:
                elapsed = time.monotonic() - self._running_since
                remaining = max(self._mean_s - elapsed, 0.0)
            if key is not None and key in self._flights and key not in self._queued:
                ahead = 0  # running now
            else:
                ahead = self._queued.index(key) + 1 if key in self._queued else len(self._queued)
                ahead += 1  # itself
            return max(1, math.ceil(remaining + ahead * self._mean_s))

    def idle(self) -> bool:
        with self._lock:
            return not self._flights

    def warm(
        self, jobs: Callable[[], Iterable[tuple[Hashable, str, Callable[[], object]]]]
    ) -> threading.Thread:
        """Run the ``jobs()`` in a background thread, each only when nothing else is waiting,
        so that requests always go first; errors are skipped (the request will show them)."""

        def warming() -> None:
            try:
                listed = list(jobs())
            except Exception:  # e.g. no stored assessment: nothing to warm
                return
            for key, what, fn in listed:
                while not self.idle():
                    if self._stop.wait(0.2):
                        return
                if self._stop.is_set():
                    return
                try:
                    self._submit(key, what, fn).result()
                except Exception:  # a bad default: its page will say why when asked
                    continue

        thread = threading.Thread(target=warming, name="vigil-warm", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop warming, drop what waits, and wait for the computation under way (it holds
        the connection that is about to close)."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, key: Hashable, what: str, fn: Callable[[], T]) -> Future:
        with self._lock:
            if key in self._flights:  # single-flight: join the computation under way
                return self._flights[key]
            if len(self._queued) >= self.queue_max:
                busy = True
            else:
                busy = False
                self._queued.append(key)
                future = self._pool.submit(self._job, key, fn)
                self._flights[key] = future
        if busy:
            raise BusyError(what, self.retry_after())
        return future

    def _job(self, key: Hashable, fn: Callable[[], T]) -> T:
        started = time.monotonic()
        with self._lock:
            self._queued.remove(key)
            self._running_since = started
        try:
            return fn()
        finally:
            took = time.monotonic() - started
            with self._lock:
                self._running_since = None
                self._mean_s = 0.7 * self._mean_s + 0.3 * took
                self.computed += 1
                # fn cached its result before returning, so a request arriving now finds the
                # cache, not a finished flight
                del self._flights[key]
