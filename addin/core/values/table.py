"""A sheet's table as a DataFrame that knows which cell each value came from.

Every reader ends here: the file reader tags the frame fastexcel built, the macros and the
worksheet functions give the 2-D lists xlwings returns (header row first). The tag
(`attrs["leadq_origin"]`) lets the engine's problems name real cells (`Leads!D7`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...problems import ROWS_BELOW_TABLE
from .text import column_letter


class _Rows(np.ndarray):
    """Excel row numbers of a frame's rows, read-only: pandas deep-copies a frame's attrs on every
    operation (a million-row log's 8 MB each time); these are shared instead."""

    def __deepcopy__(self, memo):
        return self


def origin_rows(n: int, first: int) -> np.ndarray:
    """The row numbers first, first + 1, … of n frame rows, for attrs["leadq_origin"]["rows"]."""
    rows = (np.arange(n, dtype=np.int64) + first).view(_Rows)
    rows.flags.writeable = False
    return rows


def tag_origin(frame: pd.DataFrame, sheet: str | None, first_data_row: int, first_col: int) -> pd.DataFrame:
    """Record the Excel row of each frame row and the column letter of each header (0-based `first_col`)."""
    origin = {"rows": origin_rows(len(frame), first_data_row),
              "letters": {h: column_letter(first_col + i) for i, h in enumerate(frame.columns)}}
    if sheet is not None:
        origin["sheet"] = sheet
    frame.attrs["leadq_origin"] = origin
    return frame


def _blank(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)


def table_frame(values: list[list], sheet: str | None = None, top_row: int = 1, first_col: int = 0) -> pd.DataFrame:
    """The table whose header row `values[0]` sits on Excel row `top_row`, from column `first_col` (0-based).

    Unnamed headers read "Column N"; unnamed empty columns and empty rows at the end are dropped,
    empty rows inside are kept so every row keeps its Excel row number.
    """
    head = list(values[0]) if values else []
    headers = [str(v).strip() if not _blank(v) else f"Column {j + 1}" for j, v in enumerate(head)]
    while headers and _blank(head[len(headers) - 1]) and all(
            len(r) < len(headers) or _blank(r[len(headers) - 1]) for r in values):
        headers.pop()
    body = [list(r[: len(headers)]) + [None] * (len(headers) - len(r)) for r in values[1:]]
    while body and all(_blank(v) for v in body[-1]):
        body.pop()
    frame = pd.DataFrame(body, columns=headers, dtype=object)
    return tag_origin(frame, sheet, top_row + 1, first_col)


# Rows typed or pasted under a table's last row: Excel grows a table when a user types right below it,
# but not when a program writes the rows, when they are pasted with a gap, or in LibreOffice. LeadQ
# reads the block that starts within MAX_GAP empty rows of the table's last row and runs until MAX_GAP + 1
# empty rows in a row; the empty rows inside it are kept (every row keeps its Excel row number) and
# the table is extended over the block when LeadQ writes the workbook. Cells beyond the table's
# columns are not read; anything after a wider gap is another block, left alone.
MAX_GAP = 3


def rows_below(blank: np.ndarray) -> int:
    """How many rows under a table belong to it, from each row's "has no value in the table's columns"."""
    filled = np.flatnonzero(~np.asarray(blank, dtype=bool))
    if not len(filled) or filled[0] > MAX_GAP:
        return 0
    gaps = np.flatnonzero(np.diff(filled) > MAX_GAP + 1)
    return int(filled[gaps[0]] if len(gaps) else filled[-1]) + 1


def blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """True for rows with no value in any column (None, NaN or text of spaces only)."""
    if not len(frame.columns):
        return np.ones(len(frame), dtype=bool)
    empty = [frame[c].isna().to_numpy() | frame[c].astype(str).str.strip().eq("").to_numpy() for c in frame.columns]
    return np.logical_and.reduce(empty)


def below_problem(sheet: str, n: int, first_row: int, last_row: int):
    """The one line saying rows under a table were read (n: rows holding values)."""
    from ...errors import Problem
    return Problem(ROWS_BELOW_TABLE, f"{sheet}!{first_row}:{last_row}",
                   f"{n:,} row{'s' * (n != 1)} below the {sheet} table {'were' if n != 1 else 'was'} read as part of it; a refresh "
                   f"extends the table to row {last_row} (Excel does not grow a table over rows a program writes or pasted "
                   "with a gap)",
                   "info", sheet=sheet)
