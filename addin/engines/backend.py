"""What an activity-log engine offers the plan (`plan.Plan`): the Backend protocol.

A backend reads one source (files or a table), tells its columns, lists a column's distinct
values, takes small dimension frames, keeps a query's result for the next ones, and runs the plan's SQL, written in DuckDB's dialect (a
backend that speaks another dialect transpiles it). A new engine is a module with one class
implementing this, and one line in `addin.engines.ENGINES`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd


class Backend(Protocol):
    """What an engine must offer the plan. SQL is given in DuckDB's dialect."""

    label: str

    def columns(self) -> list[tuple[str, str]]:
        """(name, kind) of the source's columns; kind is date, number, text or other."""

    def distinct(self, column: str, relation: str = "src") -> pd.DataFrame:
        """Columns v (each distinct non-null value) and n (its row count) of the source, or of a kept group-by of it
        (`keep`) whose __n column counts the rows of each group."""

    def keep(self, name: str, sql: str) -> None:
        """Run a query (DuckDB dialect) and keep its (small) result queryable as `name`, for the queries that follow."""

    def register(self, name: str, frame: pd.DataFrame, key_column: str | None = None) -> None:
        """Make a small frame queryable as `name`; its `v` column has `key_column`'s type."""

    def fetch(self, sql: str) -> pd.DataFrame:
        """Run a query (DuckDB dialect) and return its (small) result."""

    def fetch_numbers(self, sql: str) -> dict[str, np.ndarray]:
        """Run a query of numeric columns (DuckDB dialect); its (small) result as arrays by column, NULL as NaN."""

    def close(self) -> None:
        """Free what the backend holds (connections, temporary views)."""
