"""Source adapters, registered by name in ``REGISTRY`` exactly as an extension would be."""

from __future__ import annotations

import importlib

from vigil.errors import UsageError
from vigil.sources.base import Adapter, Reader, Reject, Stage

REGISTRY: dict[str, Adapter] = {}

# Built-in adapters: each module defines ``ADAPTER``. A third-party adapter calls
# ``register`` the same way.
BUILTINS = (
    "acled",
    "cir",
    "fires",
    "frontex",
    "gdelt",
    "gpr",
    "losses",
    "naturalearth",
    "rss",
    "ucdp",
)


def register(adapter: Adapter) -> Adapter:
    """Add ``adapter`` to the registry (replacing one of the same name)."""
    REGISTRY[adapter.name] = adapter
    return adapter


def get(name: str) -> Adapter:
    """The adapter called ``name``, or a usage error listing the known ones."""
    _load_builtins()
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UsageError(f"unknown source {name!r}", f"choose one of: {known}") from None


def all_adapters() -> list[Adapter]:
    """Every registered adapter, sorted by name."""
    _load_builtins()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def _load_builtins() -> None:
    for module in BUILTINS:
        mod = importlib.import_module(f"vigil.sources.{module}")
        REGISTRY.setdefault(mod.ADAPTER.name, mod.ADAPTER)


__all__ = ["REGISTRY", "Adapter", "Reader", "Reject", "Stage", "all_adapters", "get", "register"]
