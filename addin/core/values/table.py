"""A sheet's table as a DataFrame that knows which cell each value came from.

Every reader ends here: the file reader tags the frame fastexcel built, the macros and the
worksheet functions give the 2-D lists xlwings returns (header row first). The tag
(`attrs["leadq_origin"]`) lets the engine's problems name real cells (`Leads!D7`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .text import column_letter


def tag_origin(frame: pd.DataFrame, sheet: str | None, first_data_row: int, first_col: int) -> pd.DataFrame:
    """Record the Excel row of each frame row and the column letter of each header (0-based `first_col`)."""
    origin = {"rows": np.arange(len(frame), dtype=np.int64) + first_data_row,
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
