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
            "engine",
            "duckdb",
            "What runs the evidence queries: duckdb (the store itself) or spark (docs/SCALE.md).",
        ),
        Setting(
            "spark_master",
            "local[2]",
            "--engine spark: local[N], spark://host:7077 or a Spark Connect sc://host:15002.",
        ),
        Setting(
            "lake",
            "",
            "--engine spark: the folder of the store's Parquet mirror (default: under the "
            "cache folder); on a cluster, a path every worker sees.",
        ),
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
        Setting(
            "keep_raw",
            "yes",
            "Keep each record's input line in the store's `raw` column ('no': stored as "
            "NULL, which halves the demo store and shrinks GDELT's events ~5x). Revisions "
            "are detected either way: record_hash, the line's md5, is taken when it is read.",
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


_YES, _NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")


def get_flag(name: str) -> bool:
    """A yes/no setting, with an error naming the variable for any other value."""
    raw = get(name).strip().lower()
    if raw in _YES or raw in _NO:
        return raw in _YES
    raise UsageError(
        f"{SETTINGS[name].env}={get(name)!r} is neither yes nor no",
        f"use one of {', '.join(_YES)} or {', '.join(_NO)}",
    )
