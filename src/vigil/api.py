"""Vigil's public Python API: one :class:`Workspace` per store and theatre.

    import vigil

    with vigil.open("vigil.duckdb", theatre="belarus", data="../shared/data") as ws:
        a = ws.assess("2022-02-20", horizon=90)
        a.to_frame()            # one row per scenario
        a.outcomes_frame()      # one row per outcome

Every method returns a frozen record (:mod:`vigil.service.records`) with ``to_dict()`` —
the JSON the CLI prints with ``--format json`` — and, where the result is a table,
``to_frame()``. The prerequisites of a dated look (matching new documents to the
indicators' text rules, the border-distance table of geolocated events) happen inside, once
per workspace. The CLI and the dashboard are shells over this class: they parse, call it
and render.

Dates may be given as ``datetime.date`` or ISO strings; ``None`` means the default as-of
date, the last day most of the theatre's evidence covers
(:func:`vigil.coverage.covered_until`).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from vigil import coverage, settings
from vigil.dates import parse_date
from vigil.errors import StoreBusyError, StoreError, UsageError
from vigil.scenarios.spec import ScenarioLibrary, load_scenarios
from vigil.service import assess as A  # noqa: N812
from vigil.service import look
from vigil.service.records import (
    AssessmentResult,
    Charts,
    Evidence,
    Indicators,
    Replay,
    Report,
    SimulationResult,
)
from vigil.store import open_store
from vigil.theatre import TheatreSpec, load_theatre

if TYPE_CHECKING:
    import pandas as pd

DateLike = dt.date | str | None
#: assessments in one replay, at most: about a second each, so 2,000 is half an hour of
#: work; more is a mistyped date (a daily replay of five years is 1,826)
MAX_REPLAY = 2000
#: points per timeline in one plot, at most: ten years daily
MAX_PLOT_POINTS = 3660


def load(
    db: str | Path = settings.SETTINGS["db"].default,
    source: str | None = None,
    paths: Sequence[str | Path] = (),
    *,
    data: str | Path | None = None,
    live: bool = False,
    options: dict[str, str] | None = None,
    force: bool = False,
    max_reject_share: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    raise_bugs: bool = False,
):
    """Load evidence into ``db`` (created if missing): every recognised folder of ``data``,
    the ``paths`` of ``source``, or its ``live`` feed. Each file is its own transaction and
    loads are idempotent (a file already loaded is skipped unless ``force``); a file that
    fails is reported in the result while the others load. The request is checked before the
    store is touched. Returns a :class:`vigil.service.load.Load` (``to_dict()`` is `vigil
    ingest --format json`). ``progress(done, total, label)`` hears each file."""
    from vigil.service import load as L  # noqa: N812

    if max_reject_share is not None and not 0 <= max_reject_share <= 1:
        raise UsageError(f"max_reject_share {max_reject_share!r} is not a share from 0 to 1")
    work, skipped = L.plan(
        source, [Path(p) for p in paths], Path(data) if data is not None else None,
        live=live, options=options, on_warning=on_warning,
    )  # fmt: skip
    con = open_store(Path(db), write=True, create=True)
    try:
        reports, failures = L.load(con, work, force=force, max_reject_share=max_reject_share,
                                   progress=progress, raise_bugs=raise_bugs)  # fmt: skip
    finally:
        con.close()
    return L.Load(tuple(reports), tuple(failures), tuple(skipped))


def watcher(
    db: str | Path = settings.SETTINGS["db"].default,
    theatre: str | TheatreSpec = "belarus",
    *,
    sinks: str | Path | None = None,
    alerts: bool = True,
    publish: bool = True,
    **options,
):
    """The monitoring loop (:class:`vigil.service.watch.Watcher`; ``run(once=...)`` runs it)
    over ``db``: each source fetched on its schedule and loaded, the theatre re-assessed at
    the new default date, its alert rules (``theatres/<id>/alerts.yaml``) evaluated on each
    new assessment and the new alerts sent to the ``sinks`` file's sinks (stored either
    way), and, with ``publish``, a snapshot of the store published after each cycle for the
    dashboard and the read-only commands (:mod:`vigil.store.snapshot`). ``options``: the
    Watcher's (``sources``, ``horizon``, ``max_backfill``, ``schedule``, ``options``,
    ``log``, ``data``, ``cache``…). The sinks file and the theatre's alert rules are checked
    before anything starts."""
    from vigil.alerts import check_and_send, check_rules, load_sinks
    from vigil.scenarios.spec import load_scenarios
    from vigil.service.watch import Watcher
    from vigil.store.snapshot import publish as publish_snapshot

    loaded = load_sinks(_path(sinks, "sinks")) if sinks is not None else None
    if alerts:  # a misspelt outcome refuses to start, rather than failing mid-cycle
        spec = theatre if isinstance(theatre, TheatreSpec) else load_theatre(theatre)
        check_rules(spec, load_scenarios(spec))
        theatre = spec
    hooks: dict = {}
    if alerts:

        def on_assessed(con, spec, library, result, previous) -> None:
            check_and_send(con, spec, result, previous, loaded)

        hooks["on_assessed"] = on_assessed
    if publish:
        hooks["publish"] = lambda con: publish_snapshot(con, _path(db, "db"))
    return Watcher(db, theatre, **hooks, **options)


ENGINES = ("duckdb", "spark")


def _engine_name(engine: str | None) -> str:
    name = engine if engine is not None else settings.get("engine")
    if name not in ENGINES:
        raise UsageError(
            f"unknown engine {name!r}", f"use one of {', '.join(ENGINES)} (docs/SCALE.md)"
        )
    return name


def _guarded(method: Callable) -> Callable:
    """One call at a time per workspace (its DuckDB connection and the TEMP border table are
    not safe across threads), and a clear error after :meth:`Workspace.close`."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._lock:
            if self._closed:
                raise UsageError("this workspace is closed", "open another with vigil.open(...)")
            return method(self, *args, **kwargs)

    return call


class Workspace:
    """One theatre over one store.

    ``write``: True to write (stored assessments, text matches; fails when another process
    holds the store), False to read only (beside a running `vigil serve`), None (default)
    to write when possible and otherwise read with the text matches as they stand
    (:attr:`notice` says so). ``create``: make a missing store (only loading data should).
    ``data``: the data folder (Natural Earth borders for border distances; the forecaster's
    neighbours); ``cache``: where derived files are cached. ``scenarios``: load and check
    the scenario library now, before the store opens (otherwise on first use). ``theatre``
    None: the forecaster's methods only. ``migrate`` False: a read-only open of a store made
    by an older Vigil fails (saying how to migrate) instead of migrating it first.

    ``engine``: what runs the evidence queries (default: the ``engine`` setting,
    ``duckdb``). ``"spark"`` runs them on Spark (``spark_master``: ``local[2]``,
    ``spark://…`` or a Spark Connect ``sc://…``) over a Parquet mirror of the store in
    ``lake`` (default under ``cache``), kept in step before each use; results are the
    same (docs/SCALE.md).
    """

    def __init__(
        self,
        db: str | Path,
        theatre: str | TheatreSpec | None = "belarus",
        *,
        data: str | Path | None = None,
        cache: str | Path | None = None,
        write: bool | None = None,
        create: bool = False,
        scenarios: bool = False,
        migrate: bool = True,
        engine: str | None = None,
        spark_master: str | None = None,
        lake: str | Path | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._closed = False
        self.db = _path(db, "db")
        self.data = _path(data if data is not None else settings.get("data"), "data")
        self.cache = _path(cache if cache is not None else settings.get("cache"), "cache")
        if write is not None:
            _flag("write", write)
        engine_name = _engine_name(engine)
        if engine_name == "spark":  # pyspark and Java are checked before the store opens
            from vigil.query.spark import check_available

            check_available(spark_master or settings.get("spark_master"))
        if theatre is not None and not isinstance(theatre, str | TheatreSpec):
            raise UsageError(
                f"theatre must be a theatre id or folder, not {type(theatre).__name__}",
                "e.g. theatre='belarus'",
            )
        # the theatre is loaded and checked before any work on the store
        if theatre is None:  # the forecaster's methods need no theatre
            self._spec = None
        else:
            self._spec = theatre if isinstance(theatre, TheatreSpec) else load_theatre(theatre)
        if scenarios:
            _ = self.library
        self.notice: str | None = None
        from vigil.store.snapshot import is_snapshot  # a busy store is read in its snapshot

        self.con = self._open_store(write, create, migrate)
        #: the published snapshot read instead of the busy store (None: the store itself)
        self.snapshot = None if str(self.db) == ":memory:" else is_snapshot(self.con, self.db)
        if self.snapshot is not None:
            when = self.snapshot.published_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            self.notice = (
                f"reading the snapshot published at {when}: the store is being updated by "
                "another process (vigil watch?)"
            )
        self.read_only = write is False or self.notice is not None
        self._prepared: set[str] = set()
        #: what runs the evidence queries: the store itself, or Spark over its lake
        self.engine = None
        if engine_name != "duckdb" and self._spec is not None:  # no theatre: no evidence read
            self._open_spark(spark_master, lake)

    def _open_store(self, write: bool | None, create: bool, migrate: bool):
        if write is False:
            return open_store(self.db, migrate=migrate)
        try:
            return open_store(self.db, write=True, create=create)
        except StoreBusyError:
            if write:
                raise
            self.notice = (
                f"{self.db} is held by another process (vigil serve?): read-only, "
                "documents loaded since the last matching are not matched"
            )
            return open_store(self.db)

    def _open_spark(self, master: str | None, lake: str | Path | None) -> None:
        from vigil.query import attach
        from vigil.query.spark import open_spark

        folder = _path(lake or settings.get("lake") or self._default_lake(), "lake")
        self.engine = open_spark(self.con, folder, master or settings.get("spark_master"))
        self.con = attach(self.con, self.engine)

    def _default_lake(self) -> Path:
        """``<cache>/lake/<store name>-<hash of its path>``: one mirror per store."""
        import hashlib

        digest = hashlib.sha256(os.path.realpath(self.db).encode()).hexdigest()[:12]
        # only characters Spark reads literally; a reader of the published snapshot keeps
        # its own mirror, so it never rewrites the writer's with older data
        name = re.sub(r"[^A-Za-z0-9_-]", "_", self.db.stem)[:40]
        kind = "-snapshot" if self.snapshot is not None else ""
        return self.cache / "lake" / f"{name}{kind}-{digest}"

    # -------------------------------------------------------------- life cycle
    def close(self) -> None:
        """Close the store (waits for a call under way); later calls are a UsageError."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        name = self._spec.theatre.id if self._spec else "no theatre"
        return f"<vigil.Workspace {name} on {self.db} ({mode})>"

    @property
    def spec(self) -> TheatreSpec:
        """The theatre: indicators, rules, sources (``theatres/<id>/theatre.yaml``)."""
        if self._spec is None:
            raise UsageError(
                "this workspace was opened without a theatre",
                "vigil.open(db, theatre='belarus', ...) for indicators and scenarios",
            )
        return self._spec

    @cached_property
    def library(self) -> ScenarioLibrary:
        """The theatre's scenario sets, outcomes and chains (loaded on first use)."""
        return load_scenarios(self.spec)

    @property
    def theatre(self) -> str:
        return self.spec.theatre.id

    @_guarded
    def prepare(self, *, scenarios: bool = True, progress: Callable | None = None) -> None:
        """Bring text matches (the indicators' rules, and with ``scenarios`` the outcome
        resolvers' too) and border distances up to date; each once per workspace. A
        read-only workspace registers border distances only and reads the matches as they
        stand. ``progress``: a context manager factory shown while matching (the CLI's
        spinner)."""
        key = "scenarios" if scenarios else "indicators"
        if key in self._prepared or "scenarios" in self._prepared:
            return
        if self.read_only:
            look.refresh_borders(self.con, self.spec, self.data, self.cache)
        else:
            rules = self.library.text_rules() if scenarios else None
            if progress is None:
                look.prepare_evidence(self.con, self.spec, self.data, self.cache, rules)
            else:
                with progress():
                    look.prepare_evidence(self.con, self.spec, self.data, self.cache, rules)
        if self.engine is not None:  # the lake follows what preparing wrote
            self.engine.sync(self.con.store)
        self._prepared.add(key)

    @_guarded
    def as_of(self, value: DateLike = None, what: str = "as_of") -> dt.date:
        """``value`` as a date, or the default: the last day most of the evidence covers."""
        if value is not None:
            return as_date(value, what)
        return coverage.covered_until(self.con, self.spec)

    def _day(self, value: DateLike, *, scenarios: bool = True) -> dt.date:
        day = _optional_date(value, "as_of")  # checked before any work
        self.prepare(scenarios=scenarios)
        return self.as_of(day)

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise StoreError(
                f"{what} stores its result, but {self.db} is open read-only"
                + (" (another process holds it)" if self.notice else ""),
                "stop the other process, or pass store=False",
            )

    def _extra(self, forecast: bool) -> list:
        """The statistical forecaster as extra scenario evidence (imported only when asked:
        it loads scikit-learn and LightGBM)."""
        if not forecast:
            return []
        from vigil.forecast.predict import panel_builder
        from vigil.service.forecast_evidence import ForecastEvidence

        return [ForecastEvidence(panel_builder(self.con, self.data), self.con)]

    # -------------------------------------------------------------- indicators
    @_guarded
    def indicators(self, as_of: DateLike = None, *, evidence: int = 3) -> Indicators:
        """Every indicator's state, score, trend and top ``evidence`` items, beside the
        scenario model's reading of it (observed or blind), as of a date."""
        _bounded("evidence", evidence, 0, 1000)
        day = self._day(as_of, scenarios=False)
        items = look.indicators_as_of(self.con, self.spec, day, evidence_limit=evidence)
        return Indicators(self.theatre, day, tuple(items))

    @_guarded
    def evidence(self, indicator: str, as_of: DateLike = None, *, limit: int = 20) -> Evidence:
        """The evidence items behind one indicator's value, with the analysts' graded notes
        standing on the date."""
        from vigil.analyst.store import notes_in_force
        from vigil.indicators.evidence import evidence_for

        _bounded("limit", limit, 1, 10_000_000)
        day = self._day(as_of, scenarios=False)
        self.spec.indicator(indicator)  # a clear error for an unknown id
        items = evidence_for(self.con, self.spec, indicator, day, limit)
        notes = notes_in_force(self.con, self.theatre, indicator, day)
        return Evidence(indicator, day, tuple(notes), tuple(items))

    @_guarded
    def plot(
        self,
        start: DateLike,
        end: DateLike,
        *,
        step: int = 7,
        indicators: Sequence[str] = (),
        out: str | Path = "out",
    ) -> Charts:
        """Indicator timelines as a PNG and a script-free HTML page in ``out``."""
        from vigil.indicators.plot import histories, render_html, render_png

        first, last = date_range(start, end, step, most=MAX_PLOT_POINTS, each="point")
        self.prepare(scenarios=False)
        indicators = _names(indicators, "indicators")
        for ind in indicators:
            self.spec.indicator(ind)
        frames = histories(self.con, self.spec, first, last, list(indicators) or None, step)
        folder = _folder(_path(out, "out"))
        stem = f"{self.theatre}_indicators_{first}_{last}"
        png = render_png(frames, folder / f"{stem}.png", theatre=self.spec)
        html = render_html(frames, folder / f"{stem}.html", theatre=self.spec)
        return Charts((png, html))

    @_guarded
    def timeline(
        self, indicator: str, start: DateLike, end: DateLike, step: int = 7
    ) -> pd.DataFrame:
        """One indicator's score and state as known on every ``step``-th date (each from
        the evidence available on its date): columns ``as_of``, ``score``, ``state``…"""
        from vigil.indicators.compute import indicator_history

        first, last = date_range(start, end, step, most=MAX_PLOT_POINTS, each="point")
        self.spec.indicator(indicator)
        self.prepare(scenarios=False)
        return indicator_history(self.con, self.spec, indicator, first, last, step)

    @_guarded
    def capability(self, as_of: DateLike = None) -> list[dict]:
        """Where the war stands as of a date: the posture-and-capability levels (losses,
        fires, area held…), each attributed to its series."""
        from vigil.indicators.capability import capability_notes

        return capability_notes(self.con.cursor(), self.spec, self.as_of(as_of))

    # -------------------------------------------------------------- scenarios
    @_guarded
    def assess(
        self,
        as_of: DateLike = None,
        horizon: int = 90,
        *,
        since: DateLike = None,
        forecast: bool = False,
        notes: bool = True,
        store: bool = True,
    ) -> AssessmentResult:
        """Scenario probabilities with intervals, contributions, ACH and sensitivity as of a
        date, ``horizon`` days ahead; stored (unless ``store`` is False or ``notes`` is
        False: the store keeps what the evidence, notes included, says). ``since``: also
        say what changed since that date, and why. ``forecast``: add the statistical
        forecaster as evidence."""
        _bounded("horizon", horizon, 1, 730)
        _flag("forecast", forecast), _flag("notes", notes), _flag("store", store)
        before = _optional_date(since, "since")
        if store and notes:
            self._writable("assess")
        day = self._day(as_of)
        if before is not None and before >= day:
            raise UsageError(
                f"--since {before} is not before --as-of {day}", "pick an earlier date"
            )
        extra = self._extra(forecast)
        reader = A.reader_for(self.con, self.spec, self.library, day, [horizon], notes=notes)
        assessed = A.assess(self.con, self.spec, self.library, day, horizon, extra=extra,
                            reader=reader)  # fmt: skip
        result = A.assessment_json(assessed)
        if store and notes:
            from vigil.scenarios import audit

            audit.save(self.con, result)
        changes = None
        if before is not None:
            from vigil.scenarios import audit

            earlier = A.stored_or_new(self.con, self.spec, self.library, before, horizon,
                                      extra=extra, store=store and notes)  # fmt: skip
            changes = audit.diff(earlier, result)
        return AssessmentResult(assessed, result, changes)

    @_guarded
    def replay(
        self,
        start: DateLike,
        end: DateLike,
        step: int = 14,
        *,
        horizon: int = 90,
        forecast: bool = False,
        charts: str | Path | None = None,
        store: bool = True,
    ) -> Replay:
        """Assess every ``step``-th day from ``start`` to ``end`` (each as known on its date),
        store each assessment (unless ``store`` is False), and, given a ``charts`` folder,
        chart them there as a PNG and a script-free HTML page."""
        from vigil.scenarios import audit
        from vigil.scenarios.plot import render_html, render_png

        _bounded("horizon", horizon, 1, 730)
        _flag("forecast", forecast), _flag("store", store)
        first, last = date_range(start, end, step, most=MAX_REPLAY, each="assessment")
        folder = None if charts is None else _path(charts, "charts")
        if store:
            self._writable("replay")
        self.prepare()
        days = [first + dt.timedelta(days=i) for i in range(0, (last - first).days + 1, step)]
        extra = self._extra(forecast)
        assessed = A.replay(self.con, self.spec, self.library, days, horizon, extra=extra)
        results = tuple(A.assessment_json(a) for a in assessed)
        if store:
            for r in results:
                audit.save(self.con, r)
        files: tuple[Path, ...] = ()
        if folder is not None:
            _folder(folder)
            stem = f"{self.theatre}_scenarios_{first}_{last}_h{horizon}"
            files = (
                render_png(list(results), folder / f"{stem}.png"),
                render_html(list(results), folder / f"{stem}.html"),
            )
        return Replay(horizon, results, files)

    @_guarded
    def simulate(
        self,
        as_of: DateLike = None,
        horizon: int = 90,
        *,
        paths: int = 100_000,
        seed: int = 0,
        chart: str | Path | None = None,
    ) -> SimulationResult:
        """Monte Carlo escalation chains from the assessment of ``as_of``: paths start from
        the 7-day assessment and reach the ``horizon``'s; with consequences for Europe.
        ``chart``: a folder for a PNG of the reach curves. Stores nothing."""
        from vigil.scenarios.plot import render_reach_png
        from vigil.scenarios.resolve import load_resolvers

        check_simulation_horizon(horizon)
        _bounded("paths", paths, 100, 2_000_000)
        _bounded("seed", seed, 0, 2**32 - 1)
        day = self._day(as_of)
        # one load of the store for both horizons (the end's and the simulation's start)
        reads = {
            "reader": A.reader_for(self.con, self.spec, self.library, day, (horizon, A.NOW_DAYS)),
            "resolvers": load_resolvers(self.con, self.spec, self.library),
        }
        end = A.assess(self.con, self.spec, self.library, day, horizon, with_evidence=False,
                       **reads)  # fmt: skip
        sim = A.simulate_from(
            self.con, self.spec, self.library, day, {s.set_id: s.probability for s in end.sets},
            horizon, paths=paths, seed=seed, **reads,
        ).to_json()  # fmt: skip
        path = None
        if chart is not None:
            folder = _folder(_path(chart, "chart"))
            path = render_reach_png(
                sim,
                folder / f"{self.theatre}_simulation_{day}_h{horizon}.png",
                title=f"{self.spec.theatre.name}: escalation paths from {day}, {paths:,} paths",
            )
        return SimulationResult(self.theatre, day, sim, path)

    @_guarded
    def simulate_stored(self, assessment: dict, *, paths: int = A.SIM_PATHS) -> dict:
        """Escalation chains from a stored assessment (its JSON, :meth:`stored`): paths
        start from the 7-day assessment of its date and reach its probabilities."""
        _bounded("paths", paths, 100, 2_000_000)
        keys = {"scenario_sets", "as_of", "horizon_days"}
        if not isinstance(assessment, dict) or not keys <= assessment.keys():
            raise UsageError(
                "simulate_stored needs a stored assessment's JSON", "take one from ws.stored()"
            )
        as_date(assessment["as_of"], "the assessment's as_of")
        _bounded("the assessment's horizon_days", assessment["horizon_days"], 8, 730)
        # stored probabilities are rounded to 4 decimals: renormalised over each ladder
        end = {
            s["id"]: _normalised([sc["probability"] for sc in s["scenarios"]])
            for s in assessment["scenario_sets"]
        }
        day = dt.date.fromisoformat(assessment["as_of"])
        self.prepare(scenarios=False)
        sim = A.simulate_from(
            self.con, self.spec, self.library, day, end, assessment["horizon_days"], paths=paths
        )
        return {"as_of": assessment["as_of"], **sim.to_json()}

    @_guarded
    def brief(
        self,
        as_of: DateLike = None,
        out: str | Path = "briefings",
        *,
        horizon: int = 90,
        since: DateLike = None,
        pdf: bool | None = None,
    ):
        """Write ``briefing.md``, a self-contained ``briefing.html`` and (``pdf``; default:
        when Chromium is installed) ``briefing.pdf`` for a date into ``out``; the
        assessment is stored. Returns a :class:`vigil.service.brief.Briefing`."""
        from vigil.briefing.render import chromium
        from vigil.service.brief import write_briefing

        _bounded("horizon", horizon, 1, 730)
        before = _optional_date(since, "since")
        self._writable("brief")
        day = self._day(as_of)
        pdf = chromium() is not None if pdf is None else pdf
        return write_briefing(
            self.con,
            self.spec,
            self.library,
            day,
            horizon,
            _folder(_path(out, "out")),
            since=before,
            pdf=pdf,
        )

    @_guarded
    def stored(self, horizon: int = 90, start: DateLike = None, end: DateLike = None) -> list:
        """The stored assessments of the current model and ``horizon``, oldest first (what
        the dashboard shows)."""
        from vigil.scenarios import audit

        _bounded("horizon", horizon, 1, 730)
        first = _optional_date(start, "start") or dt.date.min
        last = _optional_date(end, "end") or dt.date.max
        # a cursor of its own: the dashboard calls this from request threads
        cur = self.con.cursor()
        return audit.history(cur, self.theatre, horizon, self.model_hash, first, last)

    @_guarded
    def status(self) -> dict:
        """Per source: records by kind with their date range, rejects and the last batch;
        and the store's totals (`vigil status --format json`)."""
        from vigil.store.status import store_status

        return store_status(self.con.cursor())

    @_guarded
    def rejects(self, source: str | None = None, *, limit: int = 20) -> Report:
        """Rows that could not be loaded, with file, line and reason (`vigil rejects`)."""
        _bounded("limit", limit, 1, 10_000_000)
        if source is not None and not isinstance(source, str):
            raise UsageError(f"source must be a source name, not {source!r}", "see vigil sources")
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        rows = (
            self.con.cursor()
            .execute(
                f"SELECT batch_id, source, input, line, error_type, reason, raw FROM rejects "
                f"{where} ORDER BY batch_id, line LIMIT {int(limit)}",
                params,
            )
            .fetchall()
        )
        keys = ("batch_id", "source", "input", "line", "error_type", "reason", "raw")
        return Report({"rejects": [dict(zip(keys, r, strict=True)) for r in rows]}, "rejects")

    @_guarded
    def alerts(self, since: DateLike = None, *, limit: int = 50) -> Report:
        """The theatre's stored alerts, newest first, each with its evidence and deliveries
        (`vigil alerts`); ``since``: those raised by assessments on or after that date."""
        from vigil.alerts import list_alerts

        _bounded("limit", limit, 1, 10_000_000)
        day = _optional_date(since, "since")
        found = list_alerts(self.con.cursor(), self.theatre, since=day, limit=limit)
        return Report({"alerts": found}, "alerts")

    @property
    def model_hash(self) -> str:
        """The hash of the theatre's indicators and scenario model: stored assessments of
        another model are kept apart."""
        return A.model_hash(self.spec, self.library)

    @_guarded
    def backtest(
        self,
        start: DateLike = None,
        end: DateLike = None,
        *,
        step: int = 14,
        horizon: int = 90,
    ) -> Report:
        """Replay the scenario model every ``step`` days and score every outcome the data
        can settle: Brier, skill against the prior and climatology with block-bootstrap
        intervals, warnings and reliability. Stores nothing."""
        from vigil.service.scenario_backtest import backtest_scenarios

        _bounded("horizon", horizon, 8, 730)
        _bounded("step", step, 1, 3650)
        first, last = _optional_date(start, "start"), _optional_date(end, "end")
        if first and last and last < first:
            raise UsageError("the backtest ends before it starts", "swap the dates")
        self.prepare()
        report = backtest_scenarios(self.con, self.spec, self.library, horizon, step, first, last)
        return Report(report, "outcomes")

    # -------------------------------------------------------------- forecaster
    @_guarded
    def forecast(
        self,
        as_of: DateLike = None,
        horizon: int = 3,
        *,
        model: str = "ensemble",
        countries: Sequence[str] = (),
        top: int | None = 15,
    ) -> Report:
        """The statistical forecaster: P(political violence reaches max(10, 2 × its
        12-month mean)) within ``horizon`` months, per country (ISO3), as of a date
        (default: today's)."""
        from vigil.service.country_forecast import forecast

        _bounded("horizon", horizon, 1, 12)
        countries = _names(countries, "countries")
        if top is not None:
            _bounded("top", top, 1, 10_000)
        day = _optional_date(as_of, "as_of") or dt.date.today()
        return Report(forecast(self.con, self.data, day, horizon, model, countries, top), "rows")

    @_guarded
    def backtest_forecaster(
        self,
        first: int = 2015,
        last: int = 2025,
        *,
        horizons: Sequence[int] = (),
        models: Sequence[str] = (),
        out: str | Path = "out",
        task: str = "acled-escalation",
    ) -> Report:
        """Rolling-origin backtest of the forecaster over test years ``first``…``last``:
        proper scores against no-change and base-rate baselines, one reliability PNG per
        horizon in ``out``."""
        from vigil.service.country_forecast import backtest, check_model, check_task

        check_years(first, last)
        check_task(task)
        if isinstance(horizons, int):
            horizons = (horizons,)
        models = _names(models, "models")
        for m in models:
            check_model(m)
        for h in horizons:
            _bounded("horizon", h, 1, 12)
        report = backtest(
            self.con, self.data, first, last, horizons=horizons, models=models,
            out_dir=_folder(_path(out, "out")), task=task,
        )  # fmt: skip
        return Report(report, "models")

    # -------------------------------------------------------------- exports
    @_guarded
    def export(
        self,
        start: DateLike,
        end: DateLike,
        *,
        step: int = 14,
        horizon: int = 90,
        out: str | Path = "exports",
        formats: Sequence[str] = ("csv", "parquet"),
        tables: Sequence[str] | None = None,
        forecast_model: str = "ensemble",
    ):
        """Write indicators, readings, assessments, outcomes, evidence and the forecaster's
        country-month table over a date range as CSV and/or Parquet (docs/EXPORTS.md);
        returns a :class:`vigil.service.export.ExportResult`. Dates without a stored
        assessment are computed for the export, not stored (``stored`` column false)."""
        from vigil.service.export import check, export

        first, last = as_date(start, "start"), as_date(end, "end")
        _bounded("step", step, 1, 3650)
        _bounded("horizon", horizon, 1, 730)
        formats = _names(formats, "formats")
        tables = None if tables is None else _names(tables, "tables")
        args = {
            "start": first, "end": last, "step_days": step, "horizon_days": horizon,
            "formats": formats, "tables": tables, "data": self.data,
            "forecast_model": forecast_model,
        }  # fmt: skip
        check(**args)  # bad arguments fail before any work
        self.prepare()
        return export(self.con, self.spec, self.library, out=_path(out, "out"), **args)


def date_range(start: DateLike, end: DateLike, step: int, *, most: int, each: str) -> tuple:
    """``start``/``end``/``step`` checked: ordered, and at most ``most`` dates, so that a
    mistyped year is a usage error rather than hours of silent work."""
    first, last = as_date(start, "--from"), as_date(end, "--to")
    _bounded("step", step, 1, 3650)
    if last < first:
        raise UsageError("--to is before --from", "swap the dates")
    count = (last - first).days // step + 1
    if count > most:
        raise UsageError(
            f"--from {first} --to {last} --step {step} asks for {count:,} {each}s; "
            f"at most {most:,} in one run",
            f"narrow the range or raise --step (e.g. --step {-(-count * step // most)})",
        )
    return first, last


def check_simulation_horizon(horizon: int) -> None:
    """A simulation (and a briefing, which holds one) starts from the 7-day assessment: its
    horizon must be longer."""
    _bounded("horizon", horizon, 1, 730)
    if horizon <= A.NOW_DAYS:
        raise UsageError(
            f"--horizon {horizon} is too short to simulate: paths start from the "
            f"{A.NOW_DAYS}-day assessment",
            f"use --horizon {A.NOW_DAYS + 1} or more (vigil assess covers short horizons)",
        )


def check_years(first: int, last: int) -> None:
    """Years within the dates Vigil accepts, in order."""
    from vigil.dates import EARLIEST, LATEST

    for option, year in (("--from", first), ("--to", last)):
        if isinstance(year, bool) or not isinstance(year, int):
            raise UsageError(f"{option} must be a year (an integer), not {year!r}")
        if not EARLIEST.year <= year <= LATEST.year:
            raise UsageError(
                f"{option} {year} is outside the years Vigil covers "
                f"({EARLIEST.year} to {LATEST.year})"
            )
    if last < first:
        raise UsageError("--to is before --from", "swap the years")


def as_date(value: object, what: str = "as_of") -> dt.date:
    """A date argument: a ``datetime.date`` (a datetime counts as its day) or an ISO string,
    within the dates Vigil accepts; anything else is a :class:`UsageError` naming it."""
    if isinstance(value, str):
        return parse_date(value, what)
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        raise UsageError(
            f"{what} must be a date or a YYYY-MM-DD string, not {type(value).__name__}",
            "e.g. '2022-02-20' or datetime.date(2022, 2, 20)",
        )
    return parse_date(value.isoformat(), what)  # the one range check


def _optional_date(value: object, what: str) -> dt.date | None:
    return None if value is None else as_date(value, what)


def _path(value: object, what: str) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value:
        return Path(value)
    raise UsageError(f"{what} must be a path, not {value!r}", "e.g. 'vigil.duckdb' or a Path")


def _folder(path: Path) -> Path:
    """``path`` as a folder that exists (made if missing), or a UsageError naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot write to {path}: {exc.strerror or exc}", "choose a folder you can write to"
        ) from None
    return path


def _flag(name: str, value: object) -> bool:
    """A yes/no argument: True or False only ("no" is truthy, and would store)."""
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, not {value!r}")
    return value


def _names(value: object, what: str, default: Sequence[str] = ()) -> tuple[str, ...]:
    """Names given as one string or a sequence of strings (one string is one name)."""
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise UsageError(f"{what} must be a name or a list of names, not {value!r}")


def _normalised(ps: list[float]) -> list[float]:
    total = sum(ps)
    return [p / total for p in ps] if total > 0 else ps


def _bounded(name: str, value: int, lo: int, hi: int) -> None:
    """Integer arguments in range: a usage error rather than an overflow deep down."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UsageError(f"{name} must be an integer from {lo:,} to {hi:,}, not {value!r}")


#: ``vigil.open(db, theatre, data=...)``: the way in is the Workspace itself (one signature,
#: documented once, on the class)
open = Workspace
