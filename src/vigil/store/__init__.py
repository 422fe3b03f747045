"""The DuckDB evidence store: schema, migrations and read helpers."""

from vigil.store.db import connect, pending_migrations, transaction

__all__ = ["connect", "pending_migrations", "transaction"]
