"""`vigil watch`: the monitoring loop (:mod:`vigil.service.watch`) as a command.

:func:`vigil.api.watcher` plugs the alerts and the dashboard's snapshot into the loop's
``on_assessed`` and ``publish`` hooks; this shell parses and logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.api import watcher as api_watcher
from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    DataOption,
    DbOption,
    HorizonOption,
    TheatreOption,
    app,
    err,
    handle_errors,
    parse_options,
    safe,
)
from vigil.errors import UsageError


def _source_options(pairs: list[str]) -> dict[str, dict[str, str]]:
    """``--option gdelt.base_url=URL`` → {"gdelt": {"base_url": URL}}."""
    options: dict[str, dict[str, str]] = {}
    for key, value in parse_options(pairs).items():
        source, dot, name = key.partition(".")
        if not dot or not source or not name:
            raise UsageError(
                f"--option {key}={value} names no source",
                "use SOURCE.KEY=VALUE, e.g. rss.feeds=URL",
            )
        options.setdefault(source, {})[name] = value
    return options


def _schedule(pairs: list[str]) -> dict[str, str]:
    schedule = {}
    for pair in pairs:
        source, sep, every = pair.partition("=")
        if not sep or not source:
            raise UsageError(f"--every {pair!r} is not SOURCE=DURATION", "e.g. --every rss=30m")
        schedule[source] = every
    return schedule


@app.command("watch")
@handle_errors
def watch_cmd(
    theatre: TheatreOption = "belarus",
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle over the due sources and exit (cron).")
    ] = False,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="Watch this source (repeatable; default: gdelt and rss, plus acled/ucdp "
            "when their credentials are set).",
        ),
    ] = None,
    max_backfill: Annotated[
        int | None,
        typer.Option(
            "--max-backfill",
            min=1,
            max=100_000,
            help="Missed GDELT intervals fetched per cycle at most (default 96 = one day; "
            "env VIGIL_WATCH_MAX_BACKFILL).",
        ),
    ] = None,
    every: Annotated[
        list[str] | None,
        typer.Option(
            "--every",
            help="SOURCE=DURATION cadence, e.g. rss=30m (repeatable; env VIGIL_WATCH_SCHEDULE).",
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="Live option SOURCE.KEY=VALUE, e.g. rss.feeds=URL (repeatable)."
        ),
    ] = None,
    horizon: HorizonOption = 90,
    db: DbOption = DEFAULT_DB,
    data: DataOption = DEFAULT_DATA,
    sinks: Annotated[
        Path | None,
        typer.Option("--sinks", help="Alert sinks file (YAML: stdout, jsonl, webhook, smtp)."),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", envvar="VIGIL_CACHE", help="Download cache (env VIGIL_CACHE)."),
    ] = None,
) -> None:
    """Keep the store current: fetch each source on its schedule, load, re-assess, alert.

    One line per source per cycle on stderr. SIGTERM or Ctrl-C finish the file being
    loaded and stop; the next start resumes where this one stopped (docs/WATCH.md).
    """
    watcher = api_watcher(
        db,
        theatre,
        sinks=sinks,
        data=data,
        cache=cache,
        sources=source or None,
        horizon=horizon,
        max_backfill=max_backfill,
        schedule=_schedule(every or []),
        options=_source_options(option or []),
        log=lambda line: err.print(safe(line), highlight=False, markup=False),
    )
    if not once:
        names = ", ".join(
            f"{s} every {_every(watcher.schedules[s].every)}" for s in watcher.sources
        )
        err.print(
            safe(f"watching {watcher.spec.theatre.id}: {names}"), highlight=False, markup=False
        )
    watcher.run(once=once)
    if once and watcher.last_status == "failed":
        raise typer.Exit(1)  # every due source failed: cron should hear of it


def _every(delta) -> str:
    s = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
