"""Settings: one table of name, default and help; each can be overridden by ``VIGIL_<NAME>``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import UsageError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return f"VIGIL_{self.name.upper()}"

    def get(self) -> str:
        return os.environ.get(self.env) or self.default


SETTINGS = {
    s.name: s
    for s in (
        Setting("db", "vigil.duckdb", "Path of the DuckDB evidence store."),
        Setting(
            "cache",
            str(Path.home() / ".cache" / "vigil"),
            "Folder where live downloads are cached (one sub-folder per source).",
        ),
        Setting(
            "max_reject_share",
            "0.01",
            "A batch whose share of malformed rows exceeds this fails and loads nothing.",
        ),
        Setting("data", "../shared/data", "Data folder laid out like ../shared/data."),
        Setting(
            "memory_limit",
            "1GB",
            "DuckDB memory limit; larger loads spill to disk instead of exhausting RAM.",
        ),
        Setting(
            "watch_schedule",
            "",
            "`vigil watch` cadences per source, overriding the defaults and the theatre's "
            "watch.yaml, e.g. 'gdelt=15m,rss=30m,acled=7d' (docs/WATCH.md).",
        ),
        Setting(
            "watch_max_backfill",
            "96",
            "`vigil watch`: missed GDELT 15-minute intervals fetched per cycle at most "
            "(96 = one day); the rest follows in the next cycles.",
        ),
    )
}


def get(name: str) -> str:
    """Current value of setting ``name`` (environment first, then default)."""
    return SETTINGS[name].get()


def get_share(name: str) -> float:
    """A setting that must be a share between 0 and 1, with an error naming the variable."""
    raw = get(name)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise UsageError(
            f"{SETTINGS[name].env}={raw!r} is not a share between 0 and 1", "e.g. 0.01 for 1 %"
        )
    return value
