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
    """Recompute the workbook's leads and explain one of them."""
    ev, run = compute(inp, rules, as_of, activities, engine, spark_master, as_of_where=as_of_where)
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
