"""Command line: thin shells over the public API (:mod:`vigil.api`): each command parses
its options, calls one Workspace method and renders the record; errors become one line and
an exit code (:func:`vigil.cli.common.handle_errors`).

The commands live in :mod:`vigil.cli.ingest` (loading and inspecting the store),
:mod:`vigil.cli.analyst` (documents and graded notes), :mod:`vigil.cli.indicators` (a
theatre's indicators), :mod:`vigil.cli.scenarios` (assess, simulate, replay),
:mod:`vigil.cli.forecast` (backtest, forecast), :mod:`vigil.cli.brief`,
:mod:`vigil.cli.export`, :mod:`vigil.cli.serve` (the dashboard) and :mod:`vigil.cli.demo`
(the main job); importing them registers them on ``app``. They share only the public
helpers of :mod:`vigil.cli.common`.
"""

from __future__ import annotations

import sys

from vigil.cli import (
    alerts,  # noqa: F401  (registers alerts)
    analyst,  # noqa: F401  (registers note, notes, documents)
    demo,  # noqa: F401  (registers demo)
)
from vigil.cli.brief import brief  # noqa: F401  (registers brief)
from vigil.cli.common import app
from vigil.cli.export import export_cmd  # noqa: F401  (registers export)
from vigil.cli.forecast import backtest  # noqa: F401  (registers backtest, forecast)
from vigil.cli.indicators import indicators  # noqa: F401  (registers indicators, evidence, …)
from vigil.cli.ingest import status  # noqa: F401  (registers ingest, status, rejects, sources)
from vigil.cli.scenarios import assess_cmd  # noqa: F401  (registers assess, replay, simulate)
from vigil.cli.serve import serve  # noqa: F401  (registers serve)
from vigil.cli.watch import watch_cmd  # noqa: F401  (registers watch)

__all__ = ["app", "run"]


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)
