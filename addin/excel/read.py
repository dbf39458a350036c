"""An open book (xlwings) as the application layer's WorkbookInput — the Excel door's only reader.

The tables go through the same table-to-DataFrame code as the file reader (core.values.table), the
Settings sheet through settings.parse_settings, and LeadQ's Lead history is read only when it is
LeadQ's (io.ownership's test on the sheet's values), so every door scores the same input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..app.inputs import WorkbookInput
from ..core.history import SHEET as HISTORY
from ..core.values.headers import header_row
from ..core.values.table import below_problem, blank_rows, rows_below, table_frame
from ..core.values.text import key
from ..errors import LeadQError, Problem
from ..problems import MISSING_SHEET
from ..settings import SHEET as SETTINGS_SHEET
from ..settings import parse_settings

INPUT_SHEETS = ("Leads", "Activities", "Qualification", "Overrides")


def sheet(book, name: str):
    """The book's sheet of that name (any case), or None."""
    return next((s for s in book.sheets if s.name.casefold() == name.casefold()), None) if book is not None else None


@dataclass
class Table:
    """A sheet's table as read through xlwings: the frame and where it sits (Excel numbering)."""

    sheet: object
    frame: pd.DataFrame
    header_row: int
    first_col: int                  # 0-based
    list_object: object = None      # the Excel table (ListObject), if the data is one
    below: int = 0                  # rows read under the table (core.values.table.rows_below), in frame's last rows
    below_filled: int = 0           # how many of them hold a value


def _list_object(sh):
    """The Excel table named like the sheet, else the sheet's first one (as the file reader picks)."""
    try:
        tables = list(sh.tables)
    except Exception:  # an engine without tables
        return None
    return next((t for t in tables if key(t.name) == key(sh.name)), tables[0] if tables else None)


def read_table(book, name: str) -> Table | None:
    """A sheet's table through the same table-to-DataFrame code as the file reader."""
    sh = sheet(book, name)
    if sh is None:
        return None
    table = _list_object(sh)
    rng = table.range if table is not None else sh.used_range
    values = rng.options(ndim=2).value
    h = 0 if table is not None else header_row([sum(v not in (None, "") for v in r) for r in values])
    below, filled = _below(sh, rng, len(values[0]) if values else 0) if table is not None else ([], 0)
    frame = table_frame(values[h:] + below, sh.name, rng.row + h, rng.column - 1)
    return Table(sh, frame, rng.row + h, rng.column - 1, table, len(below), filled)


def _below(sh, rng, width: int) -> tuple[list[list], int]:
    """The rows under a table that belong to it (core.values.table.rows_below), in the table's columns,
    and how many of them hold a value."""
    used = sh.used_range
    bottom, last = used.row + used.shape[0] - 1, rng.row + rng.shape[0] - 1
    if bottom <= last or not width:
        return [], 0
    values = sh.range((last + 1, rng.column), (bottom, rng.column + width - 1)).options(ndim=2).value
    blank = blank_rows(pd.DataFrame(values, dtype=object))        # the file reader's test of an empty row
    n = rows_below(blank)
    return values[:n], int((~blank[:n]).sum())


def book_settings(book) -> tuple[dict, dict]:
    """The book's Settings sheet as {label key: value} and {label key: row} (empty without one)."""
    sh = sheet(book, SETTINGS_SHEET)
    if sh is None:
        return {}, {}
    used = sh.used_range
    return parse_settings(used.options(ndim=2).value, used.row)


def book_path(book) -> Path | None:
    """The book's full path (relative Settings paths are resolved beside it), or None without a book."""
    return Path(book.fullname) if book is not None else None


def check_ours(sh, name: str) -> None:
    """A sheet the user made under one of LeadQ's sheet names is theirs: refuse rather than read or clear it."""
    from ..io.ownership import not_ours, sheet_values_look_ours
    if not sheet_values_look_ours(name, sh.used_range.options(ndim=2).value):
        raise not_ours(sh.name, name)


def book_rules_sheet(book, settings: dict):
    """The book's LeadQ Rules sheet (the one Settings name, else "Rules"), or None (addin.rules_sheet)."""
    from .. import rules_sheet
    sh = sheet(book, rules_sheet.wanted(settings))
    if sh is None:
        return None
    used = sh.used_range
    if used.row != 1 or used.column != 1:
        return None                  # LeadQ's mark is in A1
    column = [r[0] if r else None for r in used.options(ndim=2).value]
    return rules_sheet.from_column(sh.name, column)


def book_history(book) -> pd.DataFrame | None:
    """LeadQ's Lead history rows (None before the first refresh); a user's sheet of that name is refused."""
    sh = sheet(book, HISTORY)
    if sh is None:
        return None
    check_ours(sh, HISTORY)
    table = read_table(book, HISTORY)
    return table.frame if table is not None and len(table.frame.columns) else None


def read_book(book, tables: bool = True) -> WorkbookInput:
    """The calling book's input for a job: Leads, Activities, Qualification, Settings, Lead history,
    and the problems met while reading (the same ones the file reader reports)."""
    settings, rows = book_settings(book)
    read = {name: read_table(book, name) for name in INPUT_SHEETS} if tables else {}
    leads = read.get("Leads")
    if tables and leads is None:
        raise LeadQError('no "Leads" sheet; LeadQ reads leads from a sheet named Leads')
    problems = []
    for t in read.values():
        if t is not None and t.below:
            last = t.header_row + len(t.frame)
            problems.append(below_problem(t.sheet.name, t.below_filled, last - t.below + 1, last))
    if tables and read.get("Activities") is None:
        problems.append(Problem(MISSING_SHEET, book.name, 'no "Activities" sheet: engagement scores are 0', "warning"))
    frame = lambda t: t.frame if t is not None else None    # noqa: E731
    return WorkbookInput(frame(leads) if leads is not None else pd.DataFrame(), frame(read.get("Activities")),
                         frame(read.get("Qualification")), settings, rows, book_history(book) if tables else None,
                         problems, book_path(book), read, rules_sheet=book_rules_sheet(book, settings),
                         overrides=frame(read.get("Overrides")))


def book_run_settings(book=None, as_of=None, settings: tuple[dict, dict] | None = None, as_of_where="--as-of"):
    """What `leadq refresh` would use on this book (addin.app.refresh.run_settings), from inside Excel."""
    from ..app.refresh import run_settings
    values, cells = settings if settings is not None else book_settings(book)
    return run_settings(WorkbookInput(pd.DataFrame(), settings=values, settings_rows=cells, path=book_path(book),
                                      rules_sheet=book_rules_sheet(book, values) if book is not None else None),
                        as_of=as_of, as_of_where=as_of_where)
