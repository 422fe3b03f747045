"""`vigil serve`: the read-only dashboard and JSON API on localhost."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.common import (
    DEFAULT_DATA,
    DEFAULT_DB,
    DataOption,
    DbOption,
    HorizonOption,
    TheatreOption,
    app,
    handle_errors,
    out,
)
from vigil.errors import StoreBusyError, UsageError
from vigil.store.snapshot import current, publish_free
from vigil.web import LOOPBACK_HOSTS


@app.command()
@handle_errors
def serve(
    theatre: TheatreOption = "belarus",
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    briefings: Annotated[
        Path, typer.Option("--briefings", help="Folder of `vigil brief` output.")
    ] = Path("briefings"),
    horizon: HorizonOption = 90,
    public: Annotated[
        bool,
        typer.Option("--public", help="Allow a --host other than loopback (no auth: beware)."),
    ] = False,
    data: DataOption = DEFAULT_DATA,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Serve the dashboard and /api/ (read-only) on http://127.0.0.1:8000."""
    import uvicorn  # only this command needs the server

    from vigil.web.app import create_app
    from vigil.web.data import Dashboard

    if host not in LOOPBACK_HOSTS and not public:
        raise UsageError(
            f"--host {host} would expose the dashboard beyond this machine",
            "it has no authentication; add --public if that is what you want",
        )
    if Path(db).is_file() and not _readable(current(db)):
        # serve snapshots only, so that a `vigil watch` started later finds the store free
        # (a writer holding it, a watcher between its publishes, has a snapshot to serve)
        with contextlib.suppress(StoreBusyError):
            publish_free(db)
    dash = Dashboard(db, theatre, data_dir=data, briefings=briefings, horizon_days=horizon)
    if dash.view.snapshot is not None:
        when = dash.view.snapshot.published_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        out.print(
            f"Serving the snapshot of {db} published at {when}, and each newer one that "
            "`vigil watch` publishes (the store itself stays free for it).",
            highlight=False,
            markup=False,
        )
    shown = f"[{host}]" if ":" in host else host
    out.print(
        f"Vigil dashboard for {dash.spec.theatre.name}: http://{shown}:{port}/ "
        f"({len(dash.stored)} stored assessments; API schema at /api/openapi.json). "
        "Ctrl-C stops it.",
        highlight=False,
        markup=False,
    )
    try:
        hosts = ["*"] if public else [*LOOPBACK_HOSTS, host]
        uvicorn.run(create_app(dash, hosts), host=host, port=port, log_level="warning")
    finally:
        dash.close()


def _readable(snap) -> bool:
    """A current snapshot that opens and answers: a corrupt one is republished (when the
    store is free) rather than refused."""
    if snap is None:
        return False
    import duckdb

    try:
        with duckdb.connect(str(snap.path), read_only=True) as con:
            con.execute("SELECT count(*) FROM schema_migrations").fetchone()
    except duckdb.Error:
        return False
    return True
