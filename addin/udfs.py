"""Worksheet functions for Excel (xlwings UDFs). Thin: cells in, engine, cells out.

Arguments arrive as 2-D lists (header row first) exactly as Excel passes ranges; results go back
as 2-D lists that spill. Errors come back as one readable string, never a traceback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xlwings as xw

from .core.evaluate import evaluate
from .core.explain import explain
from .core.headers import LEADS_OUTPUTS
from .core.scoring import LEDGER_COLUMNS
from .core.table import table_frame
from .errors import LeadQError
from .settings import SHEET as SETTINGS_SHEET
from .settings import RunSettings, parse_settings, resolve


def book_settings(book) -> tuple[dict, dict]:
    """The calling workbook's Settings sheet as {label key: value} and {label key: row} (empty without one)."""
    sheet = next((s for s in book.sheets if s.name.casefold() == SETTINGS_SHEET.casefold()), None) if book else None
    if sheet is None:
        return {}, {}
    used = sheet.used_range
    return parse_settings(used.options(ndim=2).value, used.row)


def run_settings(book=None, as_of=None, settings: tuple[dict, dict] | None = None, as_of_where="--as-of") -> RunSettings:
    """What `leadq refresh` would use on this workbook (addin.settings.resolve), from inside Excel."""
    values, cells = settings if settings is not None else book_settings(book)
    return resolve(book.fullname if book is not None else None, values, cells, as_of=as_of, as_of_where=as_of_where)


def frame(rows, sheet: str | None = None) -> pd.DataFrame | None:
    """A 2-D list with a header row (as Excel passes a range) as a DataFrame; empty rows at the end dropped."""
    if rows is None:
        return None
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], list):
        raise LeadQError("pass a whole table, header row included (e.g. Leads[#All])")
    return table_frame(rows, sheet)


def _cells(df: pd.DataFrame) -> list[list]:
    out = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return [list(df.columns)] + [[None if isinstance(v, float) and np.isnan(v) else v for v in r] for r in out]


def _error(e: Exception) -> list[list[str]]:
    problems = getattr(e, "problems", None)
    text = "; ".join(str(p) for p in problems if p.severity == "error") if problems else str(e)
    return [[f"LeadQ: {text}"]]


def _table_function(fn):
    """xlwings declarations of a function taking the three tables: each range arrives as a 2-D list,
    the calling cell is passed as `caller`, and the result spills (xw.func stays outermost)."""
    fn = xw.ret(expand="table")(fn)
    fn = xw.arg("caller", vba="Application.Caller")(fn)
    for name in ("qualification", "activities", "leads"):
        fn = xw.arg(name, ndim=2)(fn)
    return xw.func(fn)


def _evaluate(leads, activities, qualification, as_of, caller):
    """The engine on ranges as Excel passes them, with the settings `leadq refresh` uses on the calling workbook."""
    book = caller.sheet.book if caller is not None else None
    run = run_settings(book, as_of=None if as_of in (None, "") else as_of, as_of_where="the as_of argument")
    return evaluate(frame(leads), frame(activities), run.rules, qualification=frame(qualification), as_of=run.as_of,
                    date_order=run.date_order)


@_table_function
def LEADQ_TABLE(leads, activities=None, qualification=None, as_of=None, caller=None):
    """LeadQ's computed columns for the whole Leads table (header row included), in one spilling array."""
    try:
        ev = _evaluate(leads, activities, qualification, as_of, caller)
        n = len(frame(leads))
        out = ev.leads.reindex(range(n))[LEADS_OUTPUTS]
        return _cells(out)
    except (LeadQError, OSError) as e:
        return _error(e)


@_table_function
def LEADQ_EXPLAIN(lead_id, leads, activities=None, qualification=None, as_of=None, caller=None):
    """One lead's score, rule by rule (the points add up to the score), then a row saying why it has its stage."""
    try:
        ev = _evaluate(leads, activities, qualification, as_of, caller)
        ex = explain(ev, lead_id)
        ledger = _cells(ex.ledger.astype({"Rule": object, "Kind": object}))
        return ledger + [[ex.lead["Lead ID"], "stage", "stage", ex.stage_reason] + [None] * (len(LEDGER_COLUMNS) - 4)]
    except (LeadQError, OSError) as e:
        return _error(e)


@xw.func
@xw.arg("caller", vba="Application.Caller")
def LEADQ_POINTS(activity_type, caller=None):
    """Points of one activity of this type in the current rules."""
    try:
        book = caller.sheet.book if caller is not None else None
        return run_settings(book).rules.activity_points(str(activity_type))
    except KeyError as e:
        return f"LeadQ: {e.args[0]}"
    except (LeadQError, OSError) as e:
        return _error(e)[0][0]
