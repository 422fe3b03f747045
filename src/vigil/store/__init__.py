"""The DuckDB evidence store: schema, migrations and read helpers."""

from vigil.store.db import connect, has_table, open_store, pending_migrations, transaction
from vigil.store.snapshot import Snapshot, publish, published, snapshot_path

#: the ``documents.source`` of an analyst document's passages (:mod:`vigil.documents`).
#: They are matched like any document, and cited as evidence, but they are not a sample of
#: the news: they never enter a text rate, a topic's coverage or an outcome's resolver;
#: only graded notes (:mod:`vigil.analyst`) carry an analyst's reading into the model.
ANALYST_SOURCE = "analyst"

__all__ = [
    "ANALYST_SOURCE",
    "Snapshot",
    "connect",
    "has_table",
    "open_store",
    "pending_migrations",
    "publish",
    "published",
    "snapshot_path",
    "transaction",
]
