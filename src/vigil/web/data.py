"""What the dashboard shows, as JSON-ready dicts: one read-only view of the store.

Every page and every ``/api/`` route calls these methods, so the numbers on screen are
the API's numbers by construction (the browser tests check it). The store is opened
read-only: the server never computes and stores an assessment behind the analyst's back.
It shows what ``vigil assess``, ``replay`` and ``brief`` stored, and computes on request
only what is cheap or cached (indicator timelines, the simulation from the latest
assessment).

The store cannot change while it is open read-only (DuckDB refuses a writer), so results
are cached for as long as one store file is served. While `vigil watch` writes the store,
the dashboard reads the snapshot the watcher publishes after each cycle
(:mod:`vigil.store.snapshot`) and follows it: at most every :data:`CHECK_S` seconds a request
looks at the snapshot's mtime, and a newer one is opened as a new view with empty caches.
Each request (and each computation on the worker) is pinned to one view, so it sees one
snapshot throughout; an old view is closed when its last request finishes.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import itertools
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import duckdb

from vigil import coverage, settings
from vigil.api import Workspace
from vigil.briefing.yardstick import term
from vigil.errors import InputError, UsageError, VigilError
from vigil.geo.borders import country_polygons
from vigil.indicators.capability import WINDOW_DAYS
from vigil.scenarios import audit
from vigil.service import look
from vigil.store import search
from vigil.store.snapshot import Snapshot, current, published
from vigil.store.status import store_status
from vigil.web.work import Computations

TREND_POINTS = 12  #: stored assessments shown as each scenario's trend on the overview
PAGE_MAX = 200  #: evidence rows per page, at most
MAP_MAX = 5000  #: events on the map, at most (most recent first)
CHECK_S = 2.0  #: how often, at most, a request looks for a newer snapshot (one stat)
WARM_MAX_S = 120.0  #: a new snapshot serves after this long even if its warming is not done
ALERTS_MAX = 500  #: alerts listed, at most (newest first)
T = TypeVar("T")
_LINKS = itertools.count(1)  #: names of the hard links snapshots are opened through


class NotFoundError(UsageError):
    """A set, indicator, date or briefing the store does not have (HTTP 404; other usage
    errors are bad parameters, 422)."""


TIMELINE_POINTS = 1100  #: at most, per timeline request (three years daily, 21 weekly)
CACHE_TIMELINES = 64  #: timelines kept, least recently used dropped


@dataclass(frozen=True)
class EvidenceQuery:
    """Filters of the evidence explorer; every one optional."""

    q: str | None = None  #: words in the headline or event summary (case-insensitive)
    kind: str | None = None  #: "document" or "event"
    source: str | None = None
    indicator: str | None = None  #: documents matched to this indicator
    country: str | None = None  #: events in this ISO3 country
    start: dt.date | None = None
    end: dt.date | None = None
    limit: int = 50
    offset: int = 0


class _View:
    """One read-only workspace (on the store or on one published snapshot) and everything
    cached from it: dropped together when a newer snapshot is served."""

    def __init__(self, ws: Workspace, generation: int, snapshot: Snapshot | None, horizon: int):
        self.ws = ws
        self.con = ws.con
        self.generation = generation
        self.snapshot = snapshot  #: None: the store itself
        self.horizon_days = horizon
        # The base connection holds the TEMP border-distance table the indicators need, and
        # a DuckDB connection is not safe across threads: indicator work takes this lock;
        # plain queries use their own cursor.
        self.lock = threading.Lock()
        self.cache: dict[str, object] = {}
        self.timelines: OrderedDict[tuple, dict] = OrderedDict()
        self.timelines_lock = threading.Lock()  # request threads read, the worker writes
        self.users = 0  #: requests and computations pinned to it
        self.retired = False  #: a newer view serves new requests
        self.closed = False

    @cached_property
    def stored(self) -> list[dict]:
        return self.ws.stored(self.horizon_days)


#: the view the running request (or computation) is pinned to
_PINNED: contextvars.ContextVar[_View | None] = contextvars.ContextVar("vigil_view", default=None)


class Dashboard:
    """A theatre's stored assessments, indicators, evidence and briefings, read-only."""

    def __init__(
        self,
        db: Path,
        theatre: str = "belarus",
        *,
        data_dir: Path,
        briefings: Path,
        horizon_days: int = 90,
        work: Computations | None = None,
    ) -> None:
        self.db = Path(db)
        self.data_dir = Path(data_dir)
        self.briefings_dir = Path(briefings)
        self.horizon_days = horizon_days
        self._views_lock = threading.Lock()
        self._next_check = time.monotonic() + CHECK_S
        self._views: list[_View] = []  #: open ones, the current last
        self._following = False  #: serving snapshots: never go back to holding the store
        #: warm each new snapshot before it serves (set by the app when it warms at start)
        self.warm_on_swap = False
        self._warming: int | None = None  #: the snapshot (mtime) being warmed
        snap = current(self.db)
        if snap is not None:
            # a watcher publishes: read its snapshot even while the store is free, so that
            # the watcher (re)starting later finds the store unheld
            ws, snap = self._on_snapshot(snap, theatre)
        else:
            # the API's workspace, read-only: the server never stores behind the analyst's
            # back (an older store is refused, not migrated: `vigil status` migrates it); a
            # store held by a writer is read in its snapshot (:func:`open_store`)
            ws = self._workspace(self.db, theatre)
            snap = ws.snapshot
        self._following = snap is not None
        self._view = self._add_view(ws, snap)
        self.spec = ws.spec
        self.library = ws.library
        self.model_hash = ws.model_hash
        #: the expensive computations (uncached timelines, the simulation), bounded
        self.work = work or Computations()

    def _workspace(self, path: Path, theatre) -> Workspace:
        return Workspace(path, theatre, data=self.data_dir, write=False, migrate=False)

    def _on_snapshot(self, snap: Snapshot, theatre) -> tuple[Workspace, Snapshot]:
        """A workspace on the snapshot published now. DuckDB keeps one database per path in
        a process, so reopening the snapshot's path while an older view has it open would
        give the older file again: the new file is opened through a hard link of its own
        (removed once open; the open file stays readable)."""
        link = snap.path.with_name(f".{snap.path.name}.{os.getpid()}-{next(_LINKS)}")
        try:
            os.link(snap.path, link)
        except OSError:  # no hard links here: the path (fresh only once older views close)
            return self._workspace(snap.path, theatre), snap
        try:
            st = link.stat()  # the very file linked, whatever was published since
            found = Snapshot(snap.path, _utc(st.st_mtime_ns), st.st_mtime_ns)
            return self._workspace(link, theatre), found
        finally:
            with suppress(OSError):
                link.unlink()

    def _add_view(self, ws: Workspace, snap: Snapshot | None) -> _View:
        with self._views_lock:
            generation = self._views[-1].generation + 1 if self._views else 1
            view = _View(ws, generation, snap, self.horizon_days)
            self._views.append(view)
        return view

    def close(self) -> None:
        self.work.close()  # first: a computation under way uses the connection
        with self._views_lock:
            views, self._views = self._views, []
        for view in views:
            view.closed = True
            view.ws.close()

    # ------------------------------------------------------------------ views
    @property
    def view(self) -> _View:
        """The view this request is pinned to (else the current one)."""
        return _PINNED.get() or self._view

    @property
    def ws(self) -> Workspace:
        return self.view.ws

    @property
    def con(self):
        return self.view.con

    @property
    def generation(self) -> int:
        """Which view serves: a new number each time a newer snapshot is swapped in (the
        app's own caches of rendered pages are keyed by it)."""
        return self.view.generation

    @property
    def _lock(self) -> threading.Lock:
        return self.view.lock

    @property
    def _cache(self) -> dict[str, object]:
        return self.view.cache

    @property
    def _timelines(self) -> OrderedDict[tuple, dict]:
        return self.view.timelines

    @property
    def _timelines_lock(self) -> threading.Lock:
        return self.view.timelines_lock

    @contextmanager
    def pinned(self) -> Iterator[_View]:
        """Serve one request from one view: a newer snapshot, if one was published, is
        swapped in first (checked at most every :data:`CHECK_S` s); the view stays open
        until the request ends, whatever is swapped in meanwhile."""
        current = _PINNED.get()
        if current is not None:  # nested: already pinned
            yield current
            return
        self.refresh()
        with self._views_lock:
            view = self._view
            view.users += 1
        token = _PINNED.set(view)
        try:
            yield view
        finally:
            _PINNED.reset(token)
            self._release(view)

    def _release(self, view: _View) -> None:
        with self._views_lock:
            view.users -= 1
            done = view.retired and view.users == 0 and not view.closed
            if done:
                view.closed = True
                self._views.remove(view)
        if done:
            view.ws.close()

    def _bound(self, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` to run on the worker, pinned to this request's view (or, if that one was
        closed while it waited, to the current one)."""
        wanted = self.view

        def job() -> T:
            with self._views_lock:
                view = wanted if not wanted.closed else self._view
                view.users += 1
            token = _PINNED.set(view)
            try:
                return fn()
            finally:
                _PINNED.reset(token)
                self._release(view)

        return job

    def refresh(self, *, force: bool = False) -> bool:
        """Swap in a newer published snapshot, if any; True if one was. Cheap: one ``stat``
        at most every :data:`CHECK_S` seconds (``force``: now)."""
        now = time.monotonic()
        with self._views_lock:
            if not force and now < self._next_check:
                return False
            self._next_check = now + CHECK_S
            current = self._view
        if not self._following:
            return False  # the store itself, held read-only: nobody can change it
        snap = published(self.db)
        if snap is None or (current.snapshot and snap.mtime_ns == current.snapshot.mtime_ns):
            return False
        with self._views_lock:
            if self._warming is not None and self._warming == snap.mtime_ns:
                return False  # this snapshot is being warmed: it serves once ready
        try:
            ws, snap = self._on_snapshot(snap, self.spec)
        except (VigilError, duckdb.Error):  # a corrupt or half-made file: keep serving the
            return False  # current view; the next check (or the next publish) tries again
        view = self._add_view(ws, snap)
        if self.warm_on_swap:
            # the old view serves while the new one computes what its pages show first
            # (the overview, the simulation, the default timelines): a page asked for just
            # after a swap is then served from cache, not answered "busy"
            with self._views_lock:
                self._warming = snap.mtime_ns
            threading.Thread(
                target=self._warm_then_swap, args=(view,), name="vigil-swap", daemon=True
            ).start()
            return True
        self._swap(view)
        return True

    def _warm_then_swap(self, view: _View) -> None:
        with self._views_lock:
            view.users += 1
        token = _PINNED.set(view)
        try:
            jobs = self.warm_jobs()  # bound to the pinned, new view
        except Exception:  # nothing to warm (e.g. no stored assessment): swap as is
            jobs = []
        finally:
            _PINNED.reset(token)
            self._release(view)
        try:
            self.work.warm(lambda: jobs).join(timeout=WARM_MAX_S)
        finally:
            with self._views_lock:
                self._warming = None
            if not view.closed:
                self._swap(view)

    def _swap(self, view: _View) -> None:
        """Serve ``view`` from now on; the old one closes when its last request ends."""
        with self._views_lock:
            old, self._view = self._view, view
            old.retired = True
            idle = old.users == 0 and not old.closed
            if idle:
                old.closed = True
                self._views.remove(old)
        if idle:
            old.ws.close()

    # ------------------------------------------------------------------ freshness
    def freshness(self) -> dict:
        """What is served and how fresh it is: the store or the snapshot (published when),
        the last watch cycle, and each source's last data."""
        if "freshness" not in self._cache:
            self._cache["freshness"] = self._freshness()
        return self._cache["freshness"]  # type: ignore[return-value]

    def _freshness(self) -> dict:
        view = self.view
        cur = self.con.cursor()
        row = cur.execute(
            "SELECT cycle_id, started_at, finished_at, status, as_of FROM watch_cycles "
            "WHERE theatre = ? ORDER BY started_at DESC, cycle_id DESC LIMIT 1",
            [self.spec.theatre.id],
        ).fetchone()
        cycle = None
        if row:
            cycle = {
                "cycle_id": row[0],
                "started_at": _iso(row[1]),
                "finished_at": _iso(row[2]),
                "status": row[3],
                "as_of": _iso(row[4]),
            }
        sources = []
        for s in store_status(cur)["sources"]:
            kinds = s["kinds"].values()
            lasts = [k["last"] for k in kinds if k["last"]]
            until = [k["available_until"] for k in kinds if k["available_until"]]
            sources.append(
                {
                    "source": s["source"],
                    "records": s["records"],
                    "last": max(lasts) if lasts else None,
                    "available_until": max(until) if until else None,
                    "loaded_at": (s["last_batch"] or {}).get("finished_at"),
                }
            )
        return {
            "served_from": "snapshot" if view.snapshot else "store",
            "published_at": view.snapshot.published_at.isoformat() if view.snapshot else None,
            "last_cycle": cycle,
            "sources": sources,
        }

    # ------------------------------------------------------------------ alerts
    def alerts(self) -> dict:
        """The theatre's alerts, newest first (at most :data:`ALERTS_MAX`)."""
        if "alerts" not in self._cache:
            cur = self.con.cursor()
            total = cur.execute(
                "SELECT count(*) FROM alerts WHERE theatre = ?", [self.spec.theatre.id]
            ).fetchone()[0]
            rows = cur.execute(
                "SELECT alert_id, rule, kind, subject, as_of, message, raised_at, evidence "
                "FROM alerts WHERE theatre = ? ORDER BY raised_at DESC, alert_id LIMIT ?",
                [self.spec.theatre.id, ALERTS_MAX],
            ).fetchall()
            items = [
                {
                    "id": r[0],
                    "rule": r[1],
                    "kind": r[2],
                    "subject": r[3],
                    "as_of": _iso(r[4]),
                    "message": r[5],
                    "raised_at": _iso(r[6]),
                    "evidence": _json(r[7]),
                }
                for r in rows
            ]
            self._cache["alerts"] = {"total": total, "shown": len(items), "items": items}
        return self._cache["alerts"]  # type: ignore[return-value]

    # ------------------------------------------------------------------ assessments
    @property
    def stored(self) -> list[dict]:
        """Stored assessments of the current model and horizon, oldest first."""
        return self.view.stored

    def dates(self) -> list[str]:
        return [a["as_of"] for a in self.stored]

    def assessment(self, as_of: str | None = None) -> dict:
        """The stored assessment of ``as_of`` (default: the latest)."""
        if not self.stored:
            raise InputError(
                f"no stored assessments for theatre {self.spec.theatre.id}, "
                f"horizon {self.horizon_days} days, model {self.model_hash[:12]}",
                "run `vigil demo`, or `vigil assess` / `vigil replay` for the dates you want",
            )
        if as_of is None:
            return self.stored[-1]
        found = next((a for a in self.stored if a["as_of"] == as_of), None)
        if found is None:
            raise NotFoundError(
                f"no stored assessment as of {as_of}",
                f"pick one of the {len(self.stored)} dates listed at /api/assessments",
            )
        return found

    def overview(self) -> dict:
        """Current probabilities in yardstick words, the change since the previous stored
        assessment, and each scenario's recent trend."""
        if "overview" not in self._cache:
            self._cache["overview"] = self._overview()
        return self._cache["overview"]  # type: ignore[return-value]

    def _overview(self) -> dict:
        latest = self.assessment()
        previous = self.stored[-2] if len(self.stored) > 1 else None
        before = {
            (s["id"], sc["id"]): sc["probability"]
            for s in (previous or {"scenario_sets": []})["scenario_sets"]
            for sc in s["scenarios"]
        }
        trend = self.stored[-TREND_POINTS:]
        sets = []
        for s in latest["scenario_sets"]:
            rows = []
            for sc in s["scenarios"]:
                old = before.get((s["id"], sc["id"]))
                rows.append(
                    {
                        "id": sc["id"],
                        "name": sc["name"],
                        "probability": sc["probability"],
                        "interval": sc["interval"],
                        "words": term(sc["probability"]),
                        "change": None if old is None else round(sc["probability"] - old, 4),
                        "trend": _trend(trend, s["id"], sc["id"]),
                    }
                )
            sets.append(
                {
                    "id": s["id"],
                    "name": s["name"],
                    "question": s["question"],
                    "leading": s["leading"],
                    "readings_used": s["readings_used"],
                    "indicators": s["indicators"],
                    # how much was seen (older stored assessments lack it: None)
                    "coverage": s.get("coverage"),
                    "observed": s.get("observed", []),
                    "scenarios": rows,
                }
            )
        return {
            "theatre": self.spec.theatre.id,
            "theatre_name": self.spec.theatre.name,
            "as_of": latest["as_of"],
            "previous_as_of": previous["as_of"] if previous else None,
            "horizon_days": self.horizon_days,
            "model_hash": self.model_hash,
            "stored_assessments": len(self.stored),
            "outcomes": [{**o, "words": term(o["probability"])} for o in latest["outcomes"]],
            "sets": sets,
            # what the numbers rest on (older stored assessments lack it: None)
            "coverage": latest.get("coverage"),
        }

    def history(self, set_id: str) -> dict:
        """Every stored probability and interval of one set's scenarios, over time."""
        self._check_set(set_id)
        series: dict[str, dict] = {}
        for a in self.stored:
            s = next(x for x in a["scenario_sets"] if x["id"] == set_id)
            seen = {o["rung"] for o in s.get("observed", [])}
            for sc in s["scenarios"]:
                row = series.setdefault(
                    sc["id"], {"id": sc["id"], "name": sc["name"], "points": []}
                )
                row["points"].append(
                    {
                        "as_of": a["as_of"],
                        "probability": sc["probability"],
                        "interval": sc["interval"],
                        # the rung was observed under way on that date (seen, not foreseen)
                        "observed": sc["id"] in seen,
                    }
                )
        return {
            "set": set_id,
            "horizon_days": self.horizon_days,
            "scenarios": list(series.values()),
        }

    def ach(self, set_id: str, as_of: str | None = None) -> dict:
        """The analysis-of-competing-hypotheses matrix of one set as assessed on a date."""
        self._check_set(set_id)
        a = self.assessment(as_of)
        s = next(x for x in a["scenario_sets"] if x["id"] == set_id)
        return {
            "set": set_id,
            "as_of": a["as_of"],
            "scenarios": [{"id": sc["id"], "name": sc["name"]} for sc in s["scenarios"]],
            "leading": s["leading"],
            **s["ach"],
            "sensitivity": s["sensitivity"],
        }

    def changes(self, as_of: str | None = None, since: str | None = None) -> dict | None:
        """What changed between two stored assessments (default: the latest two)."""
        after = self.assessment(as_of)
        if since is not None:
            before = self.assessment(since)  # a date not stored is a 404 before an order 422
            if since >= after["as_of"]:
                raise UsageError(f"since {since} is not before {after['as_of']}", "swap them")
        else:
            older = [a for a in self.stored if a["as_of"] < after["as_of"]]
            if not older:
                return None
            before = older[-1]
        return audit.diff(before, after, top=8)

    def _check_set(self, set_id: str) -> None:
        ids = [s.id for s in self.library.sets]
        if set_id not in ids:
            raise NotFoundError(f"no scenario set {set_id!r}", f"known sets: {', '.join(ids)}")

    # ------------------------------------------------------------------ indicators
    def indicators(self) -> list[dict]:
        """The theatre's indicators, each with its latest reading in the latest assessment."""
        latest: dict[str, dict] = {}
        if self.stored:
            for s in self.assessment()["scenario_sets"]:
                for c in s["scenarios"][0]["contributions"]:
                    latest.setdefault(c["indicator"], c)
        return [
            {
                "id": i.id,
                "name": i.name,
                "group": i.group,
                "direction": i.direction,
                "elevated": i.thresholds.elevated,
                "high": i.thresholds.high,
                "state": latest.get(i.id, {}).get("state"),
                "reading_date": latest.get(i.id, {}).get("reading_date"),
            }
            for i in self.spec.indicators
        ]

    def timeline(self, indicator: str, start: dt.date, end: dt.date, step_days: int = 7) -> dict:
        """An indicator's score and state as known on every ``step_days``-th date (computed
        on the worker when not cached: :class:`~vigil.web.work.BusyError` if that would take
        too long)."""
        key = self._timeline_key(indicator, start, end, step_days)
        with self._timelines_lock:
            if key in self._timelines:
                self._timelines.move_to_end(key)
                return self._timelines[key]
        return self.work.run(
            ("timeline", self.generation, key),
            f"the {indicator} timeline from {key[1]} to {key[2]}",
            self._bound(lambda: self._compute_timeline(key)),
        )

    def _timeline_key(
        self, indicator: str, start: dt.date, end: dt.date, step_days: int
    ) -> tuple[str, dt.date, dt.date, int]:
        ids = [i.id for i in self.spec.indicators]
        if indicator not in ids:
            raise NotFoundError(f"no indicator {indicator!r}", "see /api/indicators for the ids")
        first, last = self.data_span()
        start, end = max(start, first), min(end, last)  # no evidence outside it
        if start > end:
            raise UsageError(
                f"no data between {start} and {end}", f"the store spans {first} to {last}"
            )
        if (end - start).days // step_days + 1 > TIMELINE_POINTS:
            raise UsageError(
                f"{(end - start).days // step_days + 1} points asked for",
                f"at most {TIMELINE_POINTS}: shorten the range or raise the step",
            )
        return (indicator, start, end, step_days)

    def _compute_timeline(self, key: tuple) -> dict:
        with self._timelines_lock:
            if key in self._timelines:  # warmed while this request waited
                return self._timelines[key]
        indicator, start, end, step_days = key
        with self._lock:
            df = self.ws.timeline(indicator, start, end, step_days)
        ind = self.spec.indicator(indicator)
        found = {
            "id": indicator,
            "name": ind.name,
            "elevated": ind.thresholds.elevated,
            "high": ind.thresholds.high,
            "points": [
                {"as_of": r.as_of.isoformat(), "score": look.json_number(r.score),
                 "state": r.state}
                for r in df.itertuples()
            ],
        }  # fmt: skip
        with self._timelines_lock:
            self._timelines[key] = found
            while len(self._timelines) > CACHE_TIMELINES:
                self._timelines.popitem(last=False)
        return found

    def warm_jobs(self) -> list[tuple]:
        """What to compute before anyone asks (:meth:`Computations.warm`): the cheap caches,
        then the simulation and every indicator's default timeline (the pages' defaults)."""

        def cheap() -> None:
            for view in (self.overview, self.capability, self.facets, self.outlines):
                view()

        lo, hi = self.default_window()
        gen = self.generation
        jobs: list[tuple] = [(("warm", gen, "cheap"), "the overview", self._bound(cheap))]
        if self.stored:
            jobs.append(
                (("simulation", gen), "the simulation", self._bound(self._compute_simulation))
            )
        for ind in self.spec.indicators:
            try:
                key = self._timeline_key(ind.id, lo, hi, 7)
            except UsageError:  # no data in the default window: nothing to warm
                continue
            # the key a request uses, so a request arriving meanwhile joins this computation
            jobs.append((("timeline", gen, key), f"the {ind.id} timeline",
                         self._bound(lambda k=key: self._compute_timeline(k))))  # fmt: skip
        return jobs

    def default_window(self) -> tuple[dt.date, dt.date]:
        """The stored assessments' span, or the three years up to the day the theatre's
        evidence covers (:func:`vigil.coverage.covered_until`)."""
        if self.stored:
            return (
                dt.date.fromisoformat(self.stored[0]["as_of"]),
                dt.date.fromisoformat(self.stored[-1]["as_of"]),
            )
        end = self.covered_until()
        return end - dt.timedelta(days=3 * 365), end

    def covered_until(self) -> dt.date:
        """The default as-of date: the last day most of the theatre's evidence covers."""
        if "covered" not in self._cache:
            self._cache["covered"] = coverage.covered_until(self.con.cursor(), self.spec)
        return self._cache["covered"]  # type: ignore[return-value]

    def data_span(self) -> tuple[dt.date, dt.date]:
        """First and last day a record became available (events, documents, series)."""
        if "span" not in self._cache:
            row = (
                self.con.cursor()
                .execute(
                    "SELECT min(a), max(b) FROM (SELECT min(available_at) a, max(available_at) b "
                    "FROM events UNION ALL SELECT min(available_at), max(available_at) "
                    "FROM documents UNION ALL SELECT min(available_at), max(available_at) "
                    "FROM observations)"
                )
                .fetchone()
            )
            today = dt.date.today()
            self._cache["span"] = (row[0].date(), row[1].date()) if row[0] else (today, today)
        return self._cache["span"]  # type: ignore[return-value]

    def capability(self) -> dict:
        """Where the war stands as of the latest stored assessment (levels, each attributed):
        the briefing's posture-and-capability figures."""
        if "capability" not in self._cache:
            day = dt.date.fromisoformat(self.stored[-1]["as_of"]) if self.stored else None
            day = day or self.covered_until()
            self._cache["capability"] = {
                "as_of": day.isoformat(),
                "window_days": WINDOW_DAYS,
                "series": self.ws.capability(day),
            }
        return self._cache["capability"]  # type: ignore[return-value]

    # ------------------------------------------------------------------ evidence
    def evidence(self, f: EvidenceQuery) -> dict:
        """Documents and events, newest first, filtered; ``total`` counts every match.

        A text query of three characters or more reads its hits from the store's trigram
        index (:mod:`vigil.store.search`: the same hits as the ILIKE scan, rows loaded since
        the index's last refresh scanned); a shorter one scans every text, as before.
        """
        limit = max(1, min(f.limit, PAGE_MAX))
        cur = self.con.cursor()  # its own connection: the search's TEMP table is private
        with search.search(cur, f.q) if f.q else nullcontext() as found:
            sql, params = _evidence_sql(f, self.spec.theatre.id, found)
            rows = cur.execute(
                f"SELECT *, count(*) OVER () AS _total FROM ({sql}) "
                "ORDER BY day DESC, source, source_id LIMIT ? OFFSET ?",
                [*params, limit, max(f.offset, 0)],
            )
            cols = [d[0] for d in rows.description]
            items = [dict(zip(cols, r, strict=True)) for r in rows.fetchall()]
            if items:
                count = items[0]["_total"]
            else:  # a page past the end: count on its own
                count = cur.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
        for item in items:
            del item["_total"]
            item["day"] = item["day"].isoformat()
            item["indicators"] = item["indicators"] or []
        return {"total": count, "limit": limit, "offset": max(f.offset, 0), "items": items}

    def facets(self) -> dict:
        """The values the explorer's filters offer."""
        if "facets" not in self._cache:
            cur = self.con.cursor()
            self._cache["facets"] = {
                "sources": [
                    r[0]
                    for r in cur.execute(
                        "SELECT DISTINCT source FROM (SELECT source FROM events UNION ALL "
                        "SELECT source FROM documents) ORDER BY 1"
                    ).fetchall()
                ],
                "countries": [
                    r[0]
                    for r in cur.execute(
                        "SELECT DISTINCT country FROM events WHERE country IS NOT NULL ORDER BY 1"
                    ).fetchall()
                ],
                "indicators": [i.id for i in self.spec.indicators],
            }
        return self._cache["facets"]  # type: ignore[return-value]

    # ------------------------------------------------------------------ map
    def events_map(
        self,
        start: dt.date | None,
        end: dt.date | None,
        source: str | None = None,
        limit: int = MAP_MAX,
    ) -> dict:
        """Geolocated events in the theatre's countries, newest first (at most ``limit``)."""
        codes = list(self.spec.theatre.countries)
        clauses = ["latitude IS NOT NULL", "longitude IS NOT NULL", "list_contains(?, country)"]
        params: list = [codes]
        if start:
            clauses.append("occurred_on >= ?")
            params.append(start)
        if end:
            clauses.append("occurred_on <= ?")
            params.append(end)
        if source:
            clauses.append("source = ?")
            params.append(source)
        where = " AND ".join(clauses)
        cur = self.con.cursor()
        total = cur.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0]
        rows = cur.execute(
            f"""SELECT source, source_id, occurred_on, category, country, location, summary,
                       longitude, latitude, url
                FROM events WHERE {where}
                ORDER BY occurred_on DESC, source, source_id LIMIT ?""",
            [*params, max(1, min(limit, MAP_MAX))],
        ).fetchall()
        points = [
            {
                "source": r[0],
                "id": r[1],
                "date": r[2].isoformat(),
                "category": r[3],
                "country": r[4],
                "location": r[5],
                "title": r[6],
                "lon": r[7],
                "lat": r[8],
                "url": r[9],
            }
            for r in rows
        ]
        return {"total": total, "shown": len(points), "points": points}

    def focus_bbox(self) -> tuple[float, float, float, float]:
        """The map's extent: the countries on the theatre's watched borders (so a country as
        large as Russia is clipped, not shown whole), padded by 5 %."""
        polygons = self.outlines()
        codes = {c for b in self.spec.theatre.borders for c in b.countries} or set(polygons)
        bounds = [polygons[c].bounds for c in codes if c in polygons]
        x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
        x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
        dx, dy = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
        return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)

    def outlines(self) -> dict:
        """The theatre's country polygons (Natural Earth), cached on disk and here."""
        if "outlines" not in self._cache:
            self._cache["outlines"] = country_polygons(
                self.data_dir, self.spec.theatre, Path(settings.get("cache"))
            )
        return self._cache["outlines"]  # type: ignore[return-value]

    # ------------------------------------------------------------------ simulation
    def simulation(self) -> dict:
        """Escalation chains from the latest stored assessment (computed once)."""
        if "simulation" not in self._cache:
            self.assessment()  # no stored assessment: say so (409), do not queue it
            return self.work.run(
                ("simulation", self.generation),
                "the simulation",
                self._bound(self._compute_simulation),
            )
        return self._cache["simulation"]  # type: ignore[return-value]

    def _compute_simulation(self) -> dict:
        if "simulation" in self._cache:  # warmed while this request waited
            return self._cache["simulation"]  # type: ignore[return-value]
        latest = self.assessment()
        with self._lock:
            sim = self.ws.simulate_stored(latest)
        self._cache["simulation"] = sim
        return self._cache["simulation"]  # type: ignore[return-value]

    # ------------------------------------------------------------------ briefings
    def briefings(self) -> list[dict]:
        """Briefing folders (``THEATRE_DATE``) under the briefings directory, newest first."""
        if not self.briefings_dir.is_dir():
            return []
        found = []
        for folder in self.briefings_dir.iterdir():
            theatre, _, day = folder.name.rpartition("_")
            if folder.is_symlink() or not _is_date(day) or not _plain(folder / "briefing.html"):
                continue
            # links are never followed: nothing outside the archive can be served
            files = sorted(
                p.name for p in folder.iterdir() if p.name in BRIEFING_FILES and _plain(p)
            )
            found.append({"name": folder.name, "theatre": theatre, "as_of": day, "files": files})
        return sorted(found, key=lambda b: (b["as_of"], b["name"]), reverse=True)

    def briefing_file(self, name: str, file: str) -> Path:
        """A briefing's file, only if listed (so no path outside the folder is served)."""
        for b in self.briefings():
            if b["name"] == name and file in b["files"]:
                return self.briefings_dir / name / file
        raise NotFoundError(f"no briefing file {name}/{file}", "see /api/briefings")


BRIEFING_FILES = {"briefing.html": "text/html", "briefing.md": "text/markdown",
                  "briefing.pdf": "application/pdf", "reach.png": "image/png"}  # fmt: skip

# Documents (with the indicators they were matched to) and events, as one list; {documents}
# and {events} are the record tables, or a search's rows of them (vigil.store.search).
_EVIDENCE_SQL = """
WITH m AS (
    SELECT source, source_id, list(DISTINCT indicator ORDER BY indicator) AS indicators
    FROM text_matches WHERE theatre = ? AND NOT contains(indicator, ':')
    GROUP BY source, source_id
)
SELECT 'document' AS kind, d.source, d.source_id, CAST(d.published_at AS DATE) AS day,
       d.title AS text, d.outlet AS outlet, NULL AS category, NULL AS country,
       NULL AS location, d.url, m.indicators
FROM {documents} d LEFT JOIN m ON m.source = d.source AND m.source_id = d.source_id
UNION ALL
SELECT 'event', e.source, e.source_id, e.occurred_on, e.summary, NULL, e.category,
       e.country, e.location, e.url, NULL::VARCHAR[]
FROM {events} e
"""


def _evidence_sql(f: EvidenceQuery, theatre: str, found) -> tuple[str, list]:
    """The explorer's query and its parameters. With ``found`` (an indexed search) the
    record tables are its verified rows and the text filter is already applied; without
    it a text query is the ILIKE scan of every text (queries of one or two characters)."""
    params: list = [theatre]
    tables = {"documents": "documents", "events": "events"}
    if found is not None:
        for table in tables:
            tables[table], extra = found.rows(table)
            params += extra
    where, more = _evidence_filters(f, theatre, scan=found is None)
    return f"SELECT * FROM ({_EVIDENCE_SQL.format(**tables)}) WHERE {where}", params + more


def _evidence_filters(f: EvidenceQuery, theatre: str, *, scan: bool = True) -> tuple[str, list]:
    """The WHERE clause of the explorer's filters; the text query only when ``scan`` (an
    indexed search has applied it to the rows already)."""
    clauses, params = ["TRUE"], []
    if f.kind:
        if f.kind not in ("document", "event"):
            raise UsageError(f"kind {f.kind!r} is not document or event", "drop it or fix it")
        clauses.append("kind = ?")
        params.append(f.kind)
    if f.q and scan:
        clauses.append("text ILIKE ? ESCAPE '\\'")
        params.append(search.contains_pattern(f.q))
    for column, value in (("source", f.source), ("country", f.country)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.indicator:
        clauses.append("list_contains(indicators, ?)")
        params.append(f.indicator)
    if f.start:
        clauses.append("day >= ?")
        params.append(f.start)
    if f.end:
        clauses.append("day <= ?")
        params.append(f.end)
    return " AND ".join(clauses), params


def _trend(stored: list[dict], set_id: str, scenario_id: str) -> list[dict]:
    out = []
    for a in stored:
        s = next((x for x in a["scenario_sets"] if x["id"] == set_id), None)
        sc = s and next((x for x in s["scenarios"] if x["id"] == scenario_id), None)
        if sc:
            out.append({"as_of": a["as_of"], "probability": sc["probability"]})
    return out


def _utc(mtime_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.UTC).replace(microsecond=0)


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def _json(text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # shown as stored


def _plain(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
