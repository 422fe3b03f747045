"""The DuckDB evidence store: schema, migrations and read helpers."""

from vigil.store.db import connect, pending_migrations

__all__ = ["connect", "pending_migrations"]
