"""Vigil: an open, auditable early-warning system for armed-conflict escalation.

``vigil.open(db, theatre=..., data=...)`` gives a :class:`vigil.api.Workspace`, the public
Python API (see the README's "Using Vigil from Python"); ``vigil.load(db, data=...)`` loads
evidence; ``vigil.watcher(db, ...)`` is the monitoring loop. They are imported on first
use, so that ``import vigil`` stays cheap for the modules that only need the version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Workspace", "__version__", "load", "open", "watcher"]

if TYPE_CHECKING:
    from vigil.api import Workspace, load, open, watcher


def __getattr__(name: str) -> Any:
    if name in ("open", "load", "watcher", "Workspace"):
        from vigil import api

        return getattr(api, name)
    raise AttributeError(f"module 'vigil' has no attribute {name!r}")
