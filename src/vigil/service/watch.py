"""`vigil watch`: keep a store current, one schedule per source, and re-assess the theatre.

Each cycle: for every watched source that is *due*, fetch its live feed and load each file
(each file is its own transaction, and a file already loaded is skipped, so nothing is
ever loaded twice); then, when anything new arrived, match the new documents to the
indicators (:meth:`vigil.api.Workspace.prepare`), assess the theatre at the new default
as-of date (stored) and call the caller's hooks: ``on_assessed(con, spec, library, result,
previous)`` (alerts) and ``publish(con)`` (the dashboard's snapshot). Nothing here prints:
``log`` hears one line per source per cycle, progress on long work and the cycle's end.

Schedules (:data:`DEFAULT_SCHEDULES`, each with its reason) are overridden, last wins, by
the theatre's optional ``watch.yaml`` (``schedule: {rss: 30m}``), by the setting
``VIGIL_WATCH_SCHEDULE`` (``gdelt=15m,rss=2h``) and by the caller's ``schedules``. A source
is due when its last successful fetch is older than its cadence; a failing source is
retried after 1, 2, 4… minutes (capped at :data:`RETRY_CAP`) while the others go on: a
5xx or a 429 on one source is that source's failure, never the cycle's.

State lives in the store (migration ``0008_watch_and_alerts``): ``watch_state`` holds per
source ``last_success``, ``last_attempt``, ``failures``, ``next_due``, ``last_error`` and
GDELT's ``last_interval``; ``watch_cycles`` one row per cycle. A restart therefore resumes
where the last run stopped. GDELT intervals missed while the watcher was down are fetched
through the ``masterfilelist.txt`` range, from the interval after the last loaded one, at
most ``max_backfill`` intervals per cycle (96 = one day); when the cap cuts a backfill the
log says so and GDELT stays due, so the following cycles continue from there.

Why no scheduler library (APScheduler, schedule): the whole schedule is "due when the last
success is older than the cadence, or after the back-off since the last failure", computed
from the state in the store, which survives restarts by construction. A scheduler library
keeps its own job store (or none), would need to be reconciled with ours on every start,
runs jobs in threads (DuckDB's single connection and the per-file transactions want one
thread), and makes a deterministic test clock harder. The loop below is forty lines, takes
an injectable ``clock`` and ``sleep``, and ``once=True`` runs one cycle (cron, tests).

The store is opened for each cycle and closed between cycles, so other writers (`vigil
note add`, an ingest by hand) can use it while the watcher sleeps. The fetch runs the
adapters' ``fetch_live`` and loads with :func:`vigil.service.load.load`, the same code
:func:`vigil.load` runs, but over the cycle's connection and with the watcher's own
:class:`~vigil.sources.http.Fetcher` (few in-fetch retries: the watcher's back-off does the
rest, so one rate-limited source cannot hold the cycle for minutes).

SIGTERM and Ctrl-C (when :meth:`Watcher.run` runs in the main thread) set the stop flag:
the file being loaded finishes (it is one transaction), nothing further starts, and the
cycle is marked ``stopped``. A second Ctrl-C interrupts at once (the batch under way is
rolled back, as with `vigil ingest`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vigil import settings
from vigil.errors import InputError, UsageError, VigilError
from vigil.theatre import TheatreSpec, load_theatre

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
#: one GDELT 2.0 interval
INTERVAL = dt.timedelta(minutes=15)
#: cycles a listed GDELT interval may fail before it is passed over (and recorded)
SKIP_AFTER = 3


@dataclass(frozen=True)
class Schedule:
    """How often a source is fetched, and why (shown by `vigil watch --help` and the docs)."""

    source: str
    every: dt.timedelta
    reason: str


DEFAULT_SCHEDULES: dict[str, Schedule] = {
    s.source: s
    for s in (
        Schedule("gdelt", INTERVAL, "GDELT 2.0 publishes one event export every 15 minutes"),
        Schedule(
            "rss",
            dt.timedelta(hours=1),
            "news feeds change through the day; hourly conditional GETs are polite (an "
            "unchanged feed answers 304) and keep headlines within the hour",
        ),
        Schedule(
            "acled",
            dt.timedelta(days=7),
            "ACLED releases its data weekly; the API is rate-limited and needs credentials",
        ),
        Schedule(
            "ucdp",
            dt.timedelta(days=30),
            "UCDP's candidate events (GED candidate) are released monthly",
        ),
        Schedule("cir", dt.timedelta(days=1), "the CIR monitor's mirror is updated daily at most"),
        Schedule(
            "losses", dt.timedelta(days=1), "the loss tallies (Oryx, PetroIvaniuk) update daily"
        ),
        Schedule("fires", dt.timedelta(days=7), "the Economist's estimates are updated weekly"),
        Schedule("gpr", dt.timedelta(days=7), "the GPR index's files are refreshed weekly"),
        Schedule("frontex", dt.timedelta(days=30), "Frontex publishes monthly figures"),
    )
}
#: watched when no source is named: no credentials needed; ACLED and UCDP join when their
#: credentials are set (the others need a URL option or change rarely: name them)
DEFAULT_SOURCES = ("gdelt", "rss")
CREDENTIALED = {"acled": ("ACLED_USERNAME", "ACLED_PASSWORD"), "ucdp": ("UCDP_TOKEN",)}
#: the first retry after a failure, doubled per further failure, at most RETRY_CAP
RETRY_BASE = MINUTE
RETRY_CAP = dt.timedelta(hours=6)
#: the longest single sleep, so that a stop is seen promptly even with a plain sleep
MAX_NAP = 30.0


def parse_duration(text: str, what: str = "duration") -> dt.timedelta:
    """``90s``, ``15m``, ``1h``, ``7d`` (or ``1w``) as a timedelta, at least a minute."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(text).lower())
    if not m:
        raise UsageError(f"{what} {text!r} is not a duration", "e.g. 15m, 1h, 7d")
    n, unit = int(m.group(1)), m.group(2)
    seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    if seconds < 60:
        raise UsageError(f"{what} {text!r} is shorter than a minute", "e.g. 15m")
    return dt.timedelta(seconds=seconds)


def _pairs(text: str, what: str) -> dict[str, str]:
    out = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what}: {part!r} is not SOURCE=DURATION", "e.g. gdelt=15m,rss=1h")
        out[key.strip()] = value.strip()
    return out


def theatre_config(spec: TheatreSpec) -> dict:
    """The theatre's optional ``watch.yaml``: ``schedule`` (source → duration), ``sources``
    (the list watched by default) and ``options`` (source → live options)."""
    path = Path(spec.folder) / "watch.yaml"
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})", "fix the file or remove it") from None
    if not isinstance(data, dict) or set(data) - {"schedule", "sources", "options"}:
        raise InputError(
            f"{path}: expected a mapping with schedule, sources and/or options",
            "e.g. schedule: {rss: 30m}",
        )
    return data


def schedules(
    spec: TheatreSpec | None = None, overrides: Mapping[str, str | dt.timedelta] | None = None
) -> dict[str, Schedule]:
    """The effective schedule per source: defaults, then the theatre's ``watch.yaml``, then
    ``VIGIL_WATCH_SCHEDULE``, then ``overrides``."""
    from vigil import sources

    result = dict(DEFAULT_SCHEDULES)
    layers = [
        ("watch.yaml", (theatre_config(spec).get("schedule") or {}) if spec else {}),
        (settings.SETTINGS["watch_schedule"].env, _pairs(settings.get("watch_schedule"), "")),
        ("schedule", dict(overrides or {})),
    ]
    known = {a.name for a in sources.all_adapters()}
    for where, layer in layers:
        if not isinstance(layer, Mapping):
            raise UsageError(f"{where}: the schedule must map sources to durations")
        for source, every in layer.items():
            if source not in known:
                raise UsageError(f"{where}: unknown source {source!r}", "see vigil sources")
            if not isinstance(every, dt.timedelta):
                every = parse_duration(str(every), f"{where}: {source}")
            result[source] = Schedule(source, every, f"set by {where}")
    return result


def default_sources(spec: TheatreSpec | None = None) -> tuple[str, ...]:
    """What is watched when no source is named: the theatre's ``watch.yaml`` list, else
    GDELT, RSS, and ACLED/UCDP when their credentials are in the environment."""
    listed = theatre_config(spec).get("sources") if spec else None
    if listed:
        return tuple(str(s) for s in listed)
    extra = tuple(s for s, env in CREDENTIALED.items() if all(os.environ.get(v) for v in env))
    return DEFAULT_SOURCES + extra


def backoff(failures: int) -> dt.timedelta:
    """The wait before retrying a source after ``failures`` consecutive failures."""
    if failures <= 0:
        return dt.timedelta(0)
    return min(RETRY_BASE * 2 ** min(failures - 1, 30), RETRY_CAP)


# ------------------------------------------------------------------ state in the store
def _now_naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def read_state(con, source: str | None = None) -> dict[str, dict]:
    """``watch_state`` as {source: {key: value}} (values decoded from JSON)."""
    where, params = ("WHERE source = ?", [source]) if source else ("", [])
    rows = con.execute(f"SELECT source, key, value FROM watch_state {where}", params).fetchall()
    out: dict[str, dict] = {}
    for src, key, value in rows:
        out.setdefault(src, {})[key] = json.loads(value) if value is not None else None
    return out


def _write_state(con, source: str, values: Mapping[str, object], now: dt.datetime) -> None:
    for key, value in values.items():
        con.execute(
            "INSERT OR REPLACE INTO watch_state VALUES (?, ?, ?, ?)",
            [source, key, json.dumps(value), _now_naive(now)],
        )


def cycles(con, theatre: str | None = None, limit: int = 20) -> list[dict]:
    """The latest cycles, newest first, with their summaries decoded."""
    where, params = ("WHERE theatre = ?", [theatre]) if theatre else ("", [])
    rows = con.execute(
        f"SELECT cycle_id, theatre, started_at, finished_at, status, as_of, summary "
        f"FROM watch_cycles {where} ORDER BY cycle_id DESC LIMIT {int(limit)}",
        params,
    ).fetchall()
    keys = ("cycle_id", "theatre", "started_at", "finished_at", "status", "as_of", "summary")
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for row in out:
        row["summary"] = json.loads(row["summary"]) if row["summary"] else None
    return out


# ------------------------------------------------------------------ the watcher
class _Stopped(Exception):  # noqa: N818 - a signal, not an error
    """Raised between files when a stop was asked for."""


def _fmt_time(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _wait_text(delta: dt.timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 3600:
        return f"{max(s // 60, 1)} min"
    if s < 86400:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.1f} d".replace(".0 d", " d")


def _stamp_time(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _time_stamp(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S")


class Watcher:
    """The monitoring loop over one store and theatre (see the module's docstring).

    ``sources``: the sources watched (default :func:`default_sources`); ``schedule``:
    source → duration overrides; ``options``: source → live options (``{"gdelt":
    {"base_url": …}}``, over the theatre's ``watch.yaml`` options); ``max_backfill``: GDELT
    intervals fetched per cycle at most (default: the setting ``watch_max_backfill``);
    ``on_assessed(con, spec, library, result, previous)`` and ``publish(con)``: hooks
    called after a cycle that loaded something new; ``log``: one line at a time;
    ``clock`` (aware UTC datetimes) and ``sleep`` (seconds) for tests; ``fetcher``: a
    factory ``cache_dir -> Fetcher``.
    """

    def __init__(
        self,
        db: str | Path,
        theatre: str | TheatreSpec = "belarus",
        *,
        data: str | Path | None = None,
        cache: str | Path | None = None,
        sources: Iterable[str] | None = None,
        horizon: int = 90,
        max_backfill: int | None = None,
        schedule: Mapping[str, str | dt.timedelta] | None = None,
        options: Mapping[str, Mapping[str, str]] | None = None,
        on_assessed: Callable | None = None,
        publish: Callable | None = None,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], object] | None = None,
        fetcher: Callable[[Path], object] | None = None,
    ) -> None:
        from vigil import sources as registry

        self.db = Path(db)
        self.spec = theatre if isinstance(theatre, TheatreSpec) else load_theatre(theatre)
        self.data = Path(data) if data is not None else Path(settings.get("data"))
        self.cache = Path(cache) if cache is not None else Path(settings.get("cache"))
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= 730:
            raise UsageError(f"horizon must be an integer from 1 to 730, not {horizon!r}")
        self.horizon = horizon
        if max_backfill is None:
            raw = settings.get("watch_max_backfill")
            if not raw.isdigit():
                raise UsageError(
                    f"{settings.SETTINGS['watch_max_backfill'].env}={raw!r} is not a count",
                    "e.g. 96 (one day of 15-minute intervals)",
                )
            max_backfill = int(raw)
        if isinstance(max_backfill, bool) or not isinstance(max_backfill, int) or max_backfill < 1:
            raise UsageError(f"max_backfill must be a positive integer, not {max_backfill!r}")
        self.max_backfill = max_backfill
        self.schedules = schedules(self.spec, schedule)
        chosen = tuple(dict.fromkeys(sources)) if sources else default_sources(self.spec)
        for name in chosen:
            registry.get(name)  # an unknown source is a clear error now
            if name not in self.schedules:
                raise UsageError(
                    f"{name} has no watch schedule (it does not change)",
                    "load it once with vigil ingest, or give it one: "
                    f"VIGIL_WATCH_SCHEDULE={name}=30d",
                )
        self.sources = chosen
        base_options = theatre_config(self.spec).get("options") or {}
        self.options = {
            name: {**dict(base_options.get(name) or {}), **dict((options or {}).get(name) or {})}
            for name in chosen
        }
        self.on_assessed, self.publish = on_assessed, publish
        self.log = log or (lambda line: None)
        self.clock = clock or (lambda: dt.datetime.now(UTC))
        self._stop = threading.Event()
        #: how the last cycle ended (done, failed, stopped; None before the first)
        self.last_status: str | None = None
        self.sleep = sleep or self._stop.wait
        self.fetcher_factory = fetcher or _default_fetcher
        self._state: dict | None = None  # read from the store by the first cycle

    # ------------------------------------------------------------ control
    def stop(self) -> None:
        """Ask the loop to stop after the file it is loading (thread- and signal-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _check(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _say(self, text: str) -> None:
        self.log(f"{_fmt_time(self.clock())} {text}")

    def run(self, *, once: bool = False, max_cycles: int | None = None) -> int:
        """Run cycles until stopped (``once``: one cycle; ``max_cycles``: that many);
        returns the number of cycles run. Between cycles it sleeps until the next source
        is due. SIGTERM/SIGINT stop it cleanly when called from the main thread."""
        restore = self._install_signals()
        count = 0
        try:
            while not self._stop.is_set():
                # the first cycle reads the state (and logs when each source is due)
                if once or self._state is None or self._due_sources():
                    try:
                        row = self.cycle()
                        self.last_status = row["status"]
                    except VigilError as exc:  # the store could not be opened (busy?)
                        if once:
                            raise
                        self._say(f"no cycle: {exc.message}; trying again in a minute")
                        self.sleep(RETRY_BASE.total_seconds())
                        continue
                    count += 1
                    if once or (max_cycles is not None and count >= max_cycles):
                        break
                    if row["status"] == "failed":  # no tight loop on a persistent failure
                        self.sleep(RETRY_BASE.total_seconds())
                    continue
                wait = max((self._next_due() - self.clock()).total_seconds(), 1.0)
                self.sleep(min(wait, MAX_NAP))
        finally:
            restore()
        return count

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

        def on_term(signum, frame) -> None:
            self.log(f"{_fmt_time(self.clock())} stopping after the current file (SIGTERM)")
            self.stop()

        def on_int(signum, frame) -> None:
            if self._stop.is_set():  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.log(
                f"{_fmt_time(self.clock())} stopping after the current file "
                "(Ctrl-C again to interrupt now)"
            )
            self.stop()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_int)

        def restore() -> None:
            for s, handler in previous.items():
                signal.signal(s, handler)

        return restore

    # ------------------------------------------------------------ schedule
    def _open(self):
        import vigil

        return vigil.open(self.db, self.spec, data=self.data, cache=self.cache, write=True,
                          create=True)  # fmt: skip

    def _recover(self, con) -> None:
        """Mark cycles a killed process left 'running' as failed (their files are whole:
        each was its own transaction)."""
        con.execute(
            "UPDATE watch_cycles SET status = 'failed', summary = coalesce(summary, ?) "
            "WHERE status = 'running' AND theatre = ?",
            [json.dumps({"error": "the process ended during the cycle"}), self.spec.theatre.id],
        )

    def due_at(self, source: str, state: Mapping | None = None) -> dt.datetime | None:
        """When ``source`` is next due (None: now, it never succeeded)."""
        st = (state if state is not None else self._state or {}).get(source, {})
        if st.get("behind"):  # a backfill the cap cut: continue at once
            base = None
        else:
            last = _parse_iso(st.get("last_success"))
            if last and last > self.clock() + dt.timedelta(minutes=5):
                # a success in the future: this clock went back, or the state was copied
                # from another machine; trusting it would idle the source for that long
                last = None
            base = last + self.schedules[source].every if last else None
        failures = int(st.get("failures") or 0)
        attempt = _parse_iso(st.get("last_attempt"))
        if failures and attempt:
            # a failing source waits for its back-off even when its cadence has passed
            retry = attempt + backoff(failures)
            base = retry if base is None else max(base, retry)
        return base

    def _due_sources(self) -> list[str]:
        now = self.clock()
        return [s for s in self.sources if (d := self.due_at(s)) is None or d <= now]

    def _next_due(self) -> dt.datetime:
        times = [self.due_at(s) for s in self.sources]
        return min((t for t in times if t is not None), default=self.clock())

    # ------------------------------------------------------------ one cycle
    def cycle(self) -> dict:
        """One cycle over the due sources; returns its ``watch_cycles`` row as a dict."""
        started, t0 = self.clock(), time.monotonic()
        ws = self._open()
        con = ws.con
        if self._state is None:
            self._recover(con)
        self._state = read_state(con)
        cycle_id = con.execute("SELECT nextval('watch_cycle_seq')").fetchone()[0]
        con.execute(
            "INSERT INTO watch_cycles VALUES (?, ?, ?, NULL, 'running', NULL, NULL)",
            [cycle_id, self.spec.theatre.id, _now_naive(started)],
        )
        summary: dict = {"sources": {}}
        status, as_of = "done", None
        try:
            new = self._fetch_due(con, summary["sources"])
            pending = bool(self._state.get("watch", {}).get("pending_assessment"))
            if new or pending:
                _write_state(con, "watch", {"pending_assessment": True}, self.clock())
            if self._stop.is_set():
                status = "stopped"
            elif new or pending:
                as_of = self._assess(ws, summary)
                # an alerts hook that failed (a broken rules file) leaves the assessment
                # pending: the next cycle evaluates it again rather than losing its crossings
                hooked = summary.get("hooks", {}).get("on_assessed", "ok") == "ok"
                _write_state(con, "watch", {"pending_assessment": not hooked}, self.clock())
            ran = [r for r in summary["sources"].values() if r.get("status") in ("ok", "failed")]
            if status == "done" and ran and all(r["status"] == "failed" for r in ran):
                status = "failed"  # every due source failed: say so (cron sees the exit code)
        except _Stopped:
            status = "stopped"
        except KeyboardInterrupt:  # a second Ctrl-C: the batch under way was rolled back
            status, summary["error"] = "stopped", "interrupted"
            raise
        except Exception as exc:  # the cycle failed (the store?); the loop goes on
            status = "failed"
            summary["error"] = _error_text(exc)
            self._say(f"cycle failed: {summary['error']}")
        finally:
            finished = self.clock()
            summary["seconds"] = round(time.monotonic() - t0, 3)
            try:
                con.execute(
                    "UPDATE watch_cycles SET finished_at = ?, status = ?, as_of = ?, summary = ? "
                    "WHERE cycle_id = ?",
                    [_now_naive(finished), status, as_of, json.dumps(summary), cycle_id],
                )
                self._state = read_state(con)
                if status == "done":
                    # after every finished cycle, new data or not: readers see the data and
                    # when the watcher last looked (the dashboard shows the last cycle)
                    self._hook("publish", self.publish, summary, con)
            finally:
                ws.close()
        tail = f", assessed {as_of} (h{self.horizon})" if as_of else ""
        self._say(f"cycle {cycle_id} {status}{tail} ({summary['seconds']:.1f} s)")
        return {"cycle_id": cycle_id, "status": status, "as_of": as_of, "summary": summary}

    def _fetch_due(self, con, sources: dict) -> bool:
        """Fetch and load each due source into ``sources`` (its summary); whether anything
        new was loaded."""
        new = False
        for source in self.sources:
            if self._stop.is_set():
                sources[source] = {"status": "stopped", "note": "not started"}
                continue
            due = self.due_at(source)
            if due is not None and due > self.clock():
                sources[source] = {"status": "not due", "next_due": _iso(due)}
                self._say(f"{source}: not due until {_fmt_time(due)}")
                continue
            result = sources[source] = self._run_source(con, source)
            new = new or bool(result["rows"] or result["updated"] or result["deleted"])
        return new

    def _assess(self, ws, summary: dict) -> dt.date:
        t0 = time.monotonic()
        self._say("matching new documents and assessing…")
        ws.prepare()
        day = ws.as_of()
        earlier = ws.stored(self.horizon, start=day - dt.timedelta(days=366), end=day)
        previous = earlier[-1] if earlier else None
        result = ws.assess(day, self.horizon).data
        summary["assessment"] = {
            "as_of": day.isoformat(),
            "horizon": self.horizon,
            "seconds": round(time.monotonic() - t0, 3),
        }
        self._hook("on_assessed", self.on_assessed, summary, ws.con, ws.spec, ws.library,
                   result, previous)  # fmt: skip
        return day

    def _hook(self, name: str, hook: Callable | None, summary: dict, *args) -> None:
        if hook is None:
            return
        try:
            hook(*args)
            summary.setdefault("hooks", {})[name] = "ok"
        except Exception as exc:  # a hook's failure is logged; the watcher goes on
            summary.setdefault("hooks", {})[name] = _error_text(exc)
            self._say(f"{name} failed: {_error_text(exc)}")

    def _run_source(self, con, source: str) -> dict:
        t0 = time.monotonic()
        attempt = self.clock()
        st = self._state.get(source, {})
        result: dict = {"status": "ok", "files": 0, "rows": 0, "updated": 0, "deleted": 0,
                        "skipped": 0, "failed_files": 0}  # fmt: skip
        try:
            if source == "gdelt":
                self._gdelt(con, st, result)
            else:
                self._generic(con, source, result)
        except _Stopped:
            result["status"] = "stopped"
        except Exception as exc:  # any failure of one source is that source's alone
            result["status"] = "failed"
            result["error"] = _error_text(exc)
        result["seconds"] = round(time.monotonic() - t0, 3)
        now = self.clock()
        values: dict = {"last_attempt": _iso(attempt)}
        if result["status"] == "failed" or result["failed_files"]:
            failures = int(st.get("failures") or 0) + 1
            values |= {"failures": failures, "last_error": result.get("error")
                       or f"{result['failed_files']} file(s) failed to load"}  # fmt: skip
            if result["status"] != "failed":
                result["status"] = "failed"
                result["error"] = values["last_error"]
        elif result["status"] == "ok":
            values |= {"failures": 0, "last_error": None, "last_success": _iso(attempt)}
        if "behind" in result:
            values["behind"] = result["behind"]
        self._state.setdefault(source, {}).update(values)
        due = self.due_at(source)
        values["next_due"] = _iso(due or now)
        result["next_due"] = values["next_due"]
        _write_state(con, source, values, now)
        self._state[source]["next_due"] = values["next_due"]
        self._say(f"{source}: {_describe(result, self._state[source], due)}")
        return result

    def _fetcher(self):
        return self.fetcher_factory(self.cache)

    def _load_files(self, con, adapter, fetched: list, result: dict, on_file=None) -> None:
        from vigil.service import load as L  # noqa: N812

        total = len(fetched)
        step = max(total // 10, 1)
        for done, item in enumerate(fetched, start=1):
            self._check()
            reports, failures = L.load(con, [(adapter, item)])
            for r in reports:
                result["files"] += 1
                result["skipped"] += int(r.skipped)
                result["rows"] += r.loaded
                result["updated"] += r.updated
                result["deleted"] += r.deleted
            if failures:
                result["failed_files"] += len(failures)
                result.setdefault("errors", []).extend(f.error for f in failures)
                result["error"] = failures[0].error
                if on_file is not None:
                    return  # GDELT: stop at the first gap, resume there next cycle
            elif on_file is not None:
                on_file(item)
            if total > 1 and (done % step == 0 or done == total):
                self._say(f"{adapter.name}: {done}/{total} files")

    def _generic(self, con, source: str, result: dict) -> None:
        from vigil import sources as registry

        adapter = registry.get(source)
        fetcher = self._fetcher()
        fetched = adapter.fetch_live(fetcher, **self.options.get(source, {}))
        if fetcher.warnings:
            result["warnings"] = list(fetcher.warnings)
        self._load_files(con, adapter, list(fetched), result)

    def _gdelt(self, con, st: dict, result: dict) -> None:
        """The newest interval from lastupdate.txt; missed ones from masterfilelist.txt,
        downloaded and loaded one at a time (a stop comes between two files), each
        loaded interval recorded at once as ``last_interval``."""
        from vigil.sources import gdelt

        adapter = gdelt.ADAPTER
        opts = self.options.get("gdelt", {})
        base = opts.get("base_url", adapter.options["base_url"]).rstrip("/") + "/"
        fetcher = self._fetcher()
        result["intervals"] = 0
        result["behind"] = True  # until this fetch completes: a stopped one resumes at once
        entries, until = self._gdelt_plan(fetcher, base, st.get("last_interval"), result)
        stamps: list[str] = []

        def loaded(item) -> None:
            stamps.append(Path(item.path).name[:14])
            _write_state(con, "gdelt", {"last_interval": stamps[-1]}, self.clock())
            self._state.setdefault("gdelt", {})["last_interval"] = stamps[-1]

        step = max(len(entries) // 10, 1)
        for done, (size, md5, url) in enumerate(entries, start=1):
            self._check()
            stamp = url.rsplit("/", 1)[-1][:14]
            try:
                item = fetcher.download(url, adapter.name, md5=md5, size=size)
            except VigilError as exc:
                if self._skip_interval(con, stamp, exc.message, result):
                    continue
                raise
            self._load_files(con, adapter, [item], result, on_file=loaded)
            result["intervals"] = len(stamps)
            if result["failed_files"]:
                if self._skip_interval(con, stamp, result.get("error", ""), result):
                    result["failed_files"] = 0
                    continue
                return
            if len(entries) > 1 and (done % step == 0 or done == len(entries)):
                self._say(f"gdelt: {done}/{len(entries)} intervals, {result['rows']:,} rows")
        if until and (not stamps or stamps[-1] < until):
            # intervals GDELT never published (its gaps): nothing to wait for
            _write_state(con, "gdelt", {"last_interval": until}, self.clock())
            self._state.setdefault("gdelt", {})["last_interval"] = until
        result["behind"] = "capped" in result

    def _skip_interval(self, con, stamp: str, error: str, result: dict) -> bool:
        """Whether to pass over the listed interval ``stamp`` after its failure: a file GDELT
        lists but serves broken (404, bad MD5, a corrupt zip) would otherwise stop the feed
        for good. It is retried on :data:`SKIP_AFTER` cycles first (a failure may be
        passing), then recorded in ``skipped_intervals`` and passed over."""
        st = self._state.setdefault("gdelt", {})
        failing = st.get("failing") or {}
        count = failing.get("count", 0) + 1 if failing.get("stamp") == stamp else 1
        if count < SKIP_AFTER:
            st["failing"] = {"stamp": stamp, "count": count}
            _write_state(con, "gdelt", {"failing": st["failing"]}, self.clock())
            return False
        skipped = [*(st.get("skipped_intervals") or []), {"interval": stamp, "error": error}]
        st.update(failing=None, skipped_intervals=skipped[-100:], last_interval=stamp)
        _write_state(con, "gdelt", {"failing": None, "skipped_intervals": skipped[-100:],
                                    "last_interval": stamp}, self.clock())  # fmt: skip
        result.setdefault("skipped_intervals", []).append(stamp)
        self._say(f"gdelt: interval {stamp} failed {count} times, passed over: {error}")
        return True

    def _gdelt_plan(self, fetcher, base: str, last: str | None, result: dict):
        """The export entries to fetch after interval ``last``, and the last interval
        they cover (None when up to date)."""
        from vigil.sources import gdelt

        where = base + "lastupdate.txt"
        index = gdelt.parse_index(fetcher.get_text(where), where)
        latest = [e for e in index if gdelt.NAME.match(e[2].rsplit("/", 1)[-1])]
        if not latest:
            raise InputError(f"{where} lists no event export", "try again later")
        newest = result["newest"] = latest[-1][2].rsplit("/", 1)[-1][:14]
        if last and newest <= last:
            return [], None  # up to date
        missed = 1 if not last else int((_stamp_time(newest) - _stamp_time(last)) / INTERVAL)
        if missed <= 1:  # the first run starts at the newest interval: no history
            return latest, newest
        first = _time_stamp(_stamp_time(last) + INTERVAL)
        cut = min(missed, self.max_backfill)
        until = _time_stamp(_stamp_time(last) + cut * INTERVAL)
        if cut < missed:
            result["capped"] = {"missed": missed, "fetched": cut}
            self._say(
                f"gdelt: {missed} intervals missed since {last}; the cap "
                f"(--max-backfill {self.max_backfill}) limits this cycle to {cut}, "
                "the rest follows in the next cycles"
            )
        self._check()
        where = base + "masterfilelist.txt"
        return [
            e for e in _lenient_index(fetcher.get_text(where), where, result, self._say)
            if gdelt.NAME.match(name := e[2].rsplit("/", 1)[-1]) and first <= name[:14] <= until
        ], until  # fmt: skip


def _lenient_index(text: str, where: str, result: dict, say) -> list[tuple[int, str, str]]:
    """masterfilelist.txt's lines, passing over the malformed ones (counted and said): the
    list is a decade long, and one bad line must not stop every backfill."""
    from vigil.sources import gdelt

    entries, bad = [], 0
    for line in text.splitlines():
        try:
            entries.extend(gdelt.parse_index(line, where))
        except InputError:
            bad += 1
    if bad:
        result["bad_index_lines"] = bad
        say(f"gdelt: {where}: {bad} malformed line(s) passed over")
    return entries


def _default_fetcher(cache: Path):
    from vigil.sources.http import Fetcher

    # one quick retry in the fetch; the watcher's own back-off handles longer outages
    return Fetcher(cache, retries=1, backoff=2.0, max_wait=30.0)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, VigilError):
        return exc.message
    return f"{type(exc).__name__}: {' '.join(str(exc).split()) or '(no message)'}"


def _describe(result: dict, state: Mapping, due: dt.datetime | None) -> str:
    """The log line's text after ``source:``."""
    secs = f"({result['seconds']:.1f} s)"
    if result["status"] == "failed":
        failures = int(state.get("failures") or 0)
        when = f"retry in {_wait_text(backoff(failures))}" if failures else "retry next cycle"
        loaded = f"{result['rows']:,} rows loaded before; " if result["rows"] else ""
        return f"failed: {result.get('error')}; {loaded}{when} (failure {failures}) {secs}"
    parts = []
    if "intervals" in result:
        n = result["intervals"]
        parts.append("up to date" if n == 0 and not result["files"]
                     else f"{n} interval{'s' * (n != 1)}")  # fmt: skip
    else:
        fresh = result["files"] - result["skipped"]
        parts.append(f"{fresh} new file{'s' * (fresh != 1)}")
    parts.append(f"{result['rows']:,} rows loaded")
    if result["updated"]:
        parts.append(f"{result['updated']:,} updated")
    if result["deleted"]:
        parts.append(f"{result['deleted']:,} deleted")
    if result.get("warnings"):
        parts.append(f"{len(result['warnings'])} warning(s): {result['warnings'][0]}")
    text = ", ".join(parts)
    if result["status"] == "stopped":
        return f"stopped: {text} {secs}"
    if result.get("capped"):
        c = result["capped"]
        text += f" (capped: {c['fetched']} of {c['missed']} missed intervals)"
    return f"{text} {secs}"


def watch(db: str | Path, theatre: str | TheatreSpec = "belarus", *, once: bool = False,
          **kwargs) -> int:  # fmt: skip
    """Build a :class:`Watcher` and run it; returns the number of cycles run."""
    return Watcher(db, theatre, **kwargs).run(once=once)
