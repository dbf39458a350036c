"""An activity log outside the workbook, scored by an engine: what evaluate() receives instead of a sheet.

evaluate() asks it for the engagement part of the ledger (`engagement(...)`); the fit rules,
checklists, stages and the Summary stay in the pandas core.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.values.table import origin_rows
from ..errors import ProblemLog, WorkbookError
from .plan import ORDER, Engagement, Plan
from .source import ActivitiesSource


@dataclass
class ExternalActivities:
    """The activity log at `source`, scored by `engine` (duckdb or spark; spark_master: the cluster's URL)."""

    source: ActivitiesSource
    engine: str = "duckdb"
    spark_master: str | None = None

    def backend(self):
        from . import ENGINES, backend_class
        if ENGINES.get(self.engine) is None:
            others = " or ".join(e for e, b in ENGINES.items() if b)
            raise WorkbookError(f'--engine "{self.engine}": the activity log at {self.source.label} is scored by {others}')
        cls = backend_class(self.engine)
        return cls(self.source, master=self.spark_master) if self.spark_master else cls(self.source)

    def engagement(self, leads: pd.DataFrame, ids: pd.Series, rules, table, as_of_day: int,
                   log: ProblemLog, date_order: str = "auto") -> Engagement:
        backend = self.backend()
        try:
            return Plan(backend, leads, ids, rules, table, as_of_day, log, date_order).run()
        finally:
            backend.close()


def load_frame(source: ActivitiesSource) -> pd.DataFrame:
    """The whole log as a DataFrame in source order, for the pandas engine (logs that fit in memory)."""
    from .duck import DuckBackend
    backend = DuckBackend(source)
    try:
        frame = backend.fetch(f"SELECT * FROM src ORDER BY {ORDER}")
    finally:
        backend.close()
    frame = frame.drop(columns=[ORDER])
    frame.attrs["leadq_origin"] = {"sheet": source.label, "rows": origin_rows(len(frame), 2)}
    return frame


def activities_for(source: ActivitiesSource, engine: str | None = None, spark_master: str | None = None):
    """What to hand evaluate() as `activities` for a non-sheet source: a frame (pandas) or an engine."""
    engine = engine or ("spark" if spark_master else "duckdb")
    if engine == "pandas":
        return load_frame(source)
    return ExternalActivities(source, engine, spark_master)


def activities_input(sheet_frame, settings: dict, settings_rows: dict, workbook, explicit=None, engine: str | None = None,
                     spark_master: str | None = None):
    """What evaluate() takes as `activities` for a workbook: its Activities sheet, or the log that
    --activities / Settings *Activities source* names, with the engine chosen. Returns (activities, source).

    For every command that scores a workbook (refresh, explain, and any other that reads one).
    """
    from .source import settings_source
    source = settings_source(settings, settings_rows, workbook, explicit)
    if source.is_sheet:
        from . import ENGINES
        if ENGINES.get(engine):
            raise WorkbookError(f"--engine {engine} scores an activity log in files or a database; this workbook's "
                                "activities are on its sheet: give --activities FILE or set Settings > Activities source")
        return sheet_frame, source
    return activities_for(source, engine, spark_master), source
