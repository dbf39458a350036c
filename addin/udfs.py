"""Worksheet functions for Excel (xlwings UDFs) — a door: cells in, an app job, cells out.

Arguments arrive as 2-D lists (header row first) exactly as Excel passes ranges; results go back
as 2-D lists that spill. The calling book gives the Settings (rules, as-of date, date order,
column mapping) and its Lead history, so `=LEADQ_TABLE(...)` shows what the Refresh button writes,
Stage since and Days in stage included. Called without a book (no caller), the history columns are
left blank and the result says so in its header. Errors come back as one readable string, never
a traceback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xlwings as xw

from .app.explain import explain_input
from .app.inputs import WorkbookInput
from .app.refresh import compute
from .core.report.outputs import HISTORY_OUTPUTS
from .core.scoring import LEDGER_COLUMNS
from .core.values.headers import LEADS_OUTPUTS
from .core.values.table import table_frame
from .errors import LeadQError
from .excel.read import book_history, book_path, book_rules_sheet, book_settings
from .excel.read import book_run_settings as run_settings  # noqa: F401  (its import path of earlier releases)

NO_BOOK_NOTE = "(no calling workbook: Lead history not read)"


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
    if not isinstance(e, (LeadQError, OSError)):      # not foreseen: one sentence, the traceback in a log
        from .crash import crash_message
        return [[crash_message(e, "a worksheet function").replace(" Your workbook was not changed.", "")]]
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


def _book(caller):
    return caller.sheet.book if caller is not None else None


def _input(leads, activities, qualification, caller) -> WorkbookInput:
    """The ranges as the job's input, with the calling book's Settings and Lead history."""
    book = _book(caller)
    settings, rows = book_settings(book) if book is not None else ({}, {})
    return WorkbookInput(frame(leads), frame(activities), frame(qualification), settings, rows,
                         book_history(book) if book is not None else None, [], book_path(book),
                         history_note=None if book is not None else NO_BOOK_NOTE,
                         rules_sheet=book_rules_sheet(book, settings) if book is not None else None)


def _as_of(as_of):
    return None if as_of in (None, "") else as_of


@_table_function
def LEADQ_TABLE(leads, activities=None, qualification=None, as_of=None, caller=None):
    """LeadQ's computed columns for the whole Leads table (header row included), in one spilling array."""
    try:
        inp = _input(leads, activities, qualification, caller)
        ev, _ = compute(inp, as_of=_as_of(as_of), as_of_where="the as_of argument")
        out = ev.leads.reindex(range(len(inp.leads)))[LEADS_OUTPUTS]
        if inp.history_note:           # no book, no history: say so rather than show as-of dates as Stage since
            out = out.copy()
            out[list(HISTORY_OUTPUTS)] = None
            out = out.rename(columns={c: f"{c} {inp.history_note}" for c in HISTORY_OUTPUTS})
        return _cells(out)
    except Exception as e:
        return _error(e)


@_table_function
def LEADQ_EXPLAIN(lead_id, leads, activities=None, qualification=None, as_of=None, caller=None):
    """One lead's score, rule by rule (the points add up to the score), then a row saying why it has its stage."""
    try:
        done = explain_input(_input(leads, activities, qualification, caller), lead_id, as_of=_as_of(as_of),
                             as_of_where="the as_of argument")
        ex = done.explanation
        ledger = _cells(ex.ledger.astype({"Rule": object, "Kind": object}))
        return ledger + [[ex.lead["Lead ID"], "stage", "stage", ex.stage_reason] + [None] * (len(LEDGER_COLUMNS) - 4)]
    except Exception as e:
        return _error(e)


@xw.func
@xw.arg("caller", vba="Application.Caller")
def LEADQ_POINTS(activity_type, caller=None):
    """Points of one activity of this type in the current rules."""
    try:
        return run_settings(_book(caller)).rules.activity_points(str(activity_type))
    except KeyError as e:
        return f"LeadQ: {e.args[0]}"
    except Exception as e:
        return _error(e)[0][0]
