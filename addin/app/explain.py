"""The explain job: one lead's score rule by rule and why it has its stage — recomputed, or as saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.model import Evaluation
from ..core.report.explain import Explanation, explain
from ..errors import LeadQError
from .inputs import WorkbookInput, from_file
from .refresh import compute, open_workbook


@dataclass
class Explained:
    evaluation: Evaluation
    explanation: Explanation
    as_of_source: str = ""          # where the as-of date came from (--as-of, Settings!B3, today)


def explain_input(inp: WorkbookInput, lead_id, rules=None, as_of=None, activities=None, engine=None,
                  spark_master=None, as_of_where: str = "--as-of") -> Explained:
    """Recompute the workbook's leads and explain one of them. Without an as-of date (none given,
    Settings' As of empty), the last refresh's as-of day from Lead history is used, so the
    explanation matches the scores on the sheet (today only before the first refresh)."""
    from ..core.history import SHEET as HISTORY
    from ..core.history import last_refresh_day
    from .refresh import run_settings
    run = run_settings(inp, rules, as_of, as_of_where)
    last = last_refresh_day(inp.history) if as_of is None and run.as_of_source.startswith("today") else None
    if last is not None:
        blank = run.as_of_source.removeprefix("today: ")
        run = run_settings(inp, rules, last.isoformat(), f"the last refresh's, from {HISTORY}: {blank}")
    ev, run = compute(inp, activities=activities, engine=engine, spark_master=spark_master, run=run)
    try:
        return Explained(ev, explain(ev, lead_id), run.as_of_source)
    except LeadQError as e:
        if inp.path is None:
            raise
        raise LeadQError(f"{inp.name}: {e}", e.problems) from None


def explain_file(workbook, lead_id, rules=None, as_of=None, activities=None, engine=None,
                 spark_master=None) -> Explained:
    """Explain one lead of a workbook file, recomputed."""
    return explain_input(from_file(open_workbook(workbook)), lead_id, rules, as_of, activities, engine, spark_master)


def explain_saved(workbook, lead_id) -> tuple[pd.DataFrame, str]:
    """The ledger the last refresh wrote for one lead (Score details sheet, or its Parquet file), and
    where it was read from; an empty ledger when the lead has none."""
    from ..io.ledger_file import saved_ledger
    from ..io.package import Package
    from ..io.reader import read_settings
    path = open_workbook(workbook)
    pkg = Package(path)
    try:
        import fastexcel
        settings, rows = read_settings(fastexcel.read_excel(str(path)), pkg)
    finally:
        pkg.close()
    return saved_ledger(Path(path), settings, rows, str(lead_id).strip())
