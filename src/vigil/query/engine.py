"""Engines that run the evidence queries: DuckDB (the store itself) or any Ibis backend.

Two ways to run one :class:`~vigil.query.tables.Query`:

* :class:`DuckDBEngine`, the default, on the store's connection: the template is compiled
  to SQL once per process and the date window passed as parameters (compiling costs
  10–100 ms, running a few ms; Ibis 12's DuckDB backend also calls APIs that DuckDB 2 and
  pandas 3 deprecate, hence the direct path);
* :class:`IbisEngine`, any Ibis backend holding tables of the same names and columns —
  Spark (:mod:`vigil.query.spark`), or in principle BigQuery — which executes
  :func:`~vigil.query.tables.in_window`.

Callers above this layer pass the store's connection around, as they always have. An
engine is *attached* to it (:func:`attach`): the result is the same connection (every
``execute``, every write, the analysts' notes) whose evidence queries (:func:`run`,
:func:`fetch`) go to the attached engine. So one flag (``--engine spark``) moves the heavy
reads to a cluster without threading a second handle through every workflow.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from typing import Any

import duckdb
import ibis
import pandas as pd

from vigil.query.tables import Query, in_window
from vigil.store import has_table as store_has_table

_SQL: dict[str, str] = {}


class Engine(ABC):
    """What runs evidence queries; ``name`` is what ``--engine`` calls it."""

    name = "engine"

    @abstractmethod
    def fetch(self, q: Query, start: dt.date, end: dt.date) -> pd.DataFrame:
        """``q`` over ``[start, end]``, only records visible by ``end``."""

    @abstractmethod
    def execute(self, expr: ibis.Table) -> pd.DataFrame:
        """Any expression over the unbound tables, as a frame."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether the engine holds table ``name``."""


class DuckDBEngine(Engine):
    """The store's own connection (or a cursor of it)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def fetch(self, q: Query, start: dt.date, end: dt.date) -> pd.DataFrame:
        sql = _SQL.get(q.key)
        if sql is None:
            sql = _SQL[q.key] = ibis.to_sql(q.build(), dialect="duckdb")
        wrapped = (
            f"SELECT * FROM ({sql}) AS v "
            f'WHERE v."{q.last}" >= ? AND v."{q.first}" <= ? AND v.asof <= ?'
        )
        return self.con.execute(wrapped, [start, end, end]).df()

    def execute(self, expr: ibis.Table) -> pd.DataFrame:
        return self.con.execute(ibis.to_sql(expr, dialect="duckdb")).df()

    def has_table(self, name: str) -> bool:
        # temporary tables included: a read-only store's border distances may be one
        return store_has_table(self.con, name)


class IbisEngine(Engine):
    """An Ibis backend whose tables carry the store's table names and columns."""

    def __init__(self, backend, name: str = "ibis") -> None:
        self.backend, self.name = backend, name

    def fetch(self, q: Query, start: dt.date, end: dt.date) -> pd.DataFrame:
        return self.execute(in_window(q, start, end))

    def execute(self, expr: ibis.Table) -> pd.DataFrame:
        return self.backend.execute(expr)

    def has_table(self, name: str) -> bool:
        return name in self.backend.list_tables()


class Attached:
    """The store's connection with another engine for its evidence queries
    (:func:`attach`). Everything but :func:`run` and :func:`fetch` goes to the store."""

    def __init__(self, con: duckdb.DuckDBPyConnection, engine: Engine) -> None:
        self._con, self.engine = con, engine

    @property
    def store(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def __repr__(self) -> str:
        return f"<store connection, evidence queries on {self.engine.name}>"


def attach(con, engine: Engine | None):
    """``con`` with ``engine`` running its evidence queries (``con`` itself when None or
    DuckDB: the store is its own engine)."""
    store = con.store if isinstance(con, Attached) else con
    if engine is None or isinstance(engine, DuckDBEngine):
        return store
    return Attached(store, engine)


def engine_of(con) -> Engine:
    """The engine that runs ``con``'s evidence queries: the attached one, the store
    itself, or ``con`` when it already is an engine or an Ibis backend."""
    if isinstance(con, Attached):
        return con.engine
    if isinstance(con, Engine):
        return con
    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBEngine(con)
    return IbisEngine(con)


def run(con, expr: ibis.Table) -> pd.DataFrame:
    """Execute an expression over the unbound tables on ``con``'s engine."""
    return engine_of(con).execute(expr)


def fetch(con, q: Query, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Run template ``q`` over ``[start, end]`` on ``con``'s engine."""
    return engine_of(con).fetch(q, start, end)
