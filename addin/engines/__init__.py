"""Engines that score the activity log where it lives (files, a database), outside the sheet.

The core (addin.core) scores a sheet-sized Activities table in pandas. When the log outgrows
Excel, `source` names where it is and `external.ExternalActivities` hands evaluate() the
engagement part of the ledger computed by DuckDB (`duck`) or Spark (`spark`), from one SQL
description of the computation (`plan`), through the `backend.Backend` protocol.

ENGINES is the one list of engines: the CLI's `--engine` choices and the engine contract test
(every engine gives the same scores) derive from it. A name maps to the module and class of its
Backend, imported only when that engine runs (PySpark is an optional extra); pandas maps to None:
it is the core's own engine, over a frame loaded from the source.
"""

from __future__ import annotations

from importlib import import_module

ENGINES: dict[str, str | None] = {
    "pandas": None,                             # the core's engine: the log is loaded into a DataFrame
    "duckdb": "addin.engines.duck:DuckBackend",  # embedded, streams Parquet/CSV/DuckDB tables, spills to disk
    "spark": "addin.engines.spark:SparkBackend",  # a Spark cluster (or local mode), SQL transpiled by SQLGlot
}


def backend_class(engine: str):
    """The Backend class of an engine named in ENGINES (None for pandas)."""
    target = ENGINES[engine]
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)
