"""The query layer: the evidence queries, expressed once, and the engines that run them.

Every heavy read of the evidence (indicator series, evidence lists, resolvers, source
reach) is an Ibis expression over the *unbound* tables of :mod:`vigil.query.tables`. An
:class:`~vigil.query.engine.Engine` runs it: DuckDB on the store's own connection by
default, or Spark (:mod:`vigil.query.spark`) over a Parquet mirror of the store
(:mod:`vigil.query.lake`). Code above this layer passes around the store's connection;
:func:`~vigil.query.engine.attach` gives that connection another engine for its evidence
queries, while everything else it does (notes, assessments, writes) stays on the store.
"""

from vigil.query.engine import DuckDBEngine, Engine, IbisEngine, attach, engine_of, run
from vigil.query.tables import Query, in_window

__all__ = [
    "DuckDBEngine",
    "Engine",
    "IbisEngine",
    "Query",
    "attach",
    "engine_of",
    "in_window",
    "run",
]
