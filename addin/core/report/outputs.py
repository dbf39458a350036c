"""LeadQ's output columns on the Leads sheet, by layout version, and where they go in a workbook.

A workbook records the columns LeadQ owns in the hidden defined name `_LeadQ_Outputs` (a union
of ranges on the header row) and the layout that wrote them in `_LeadQ_Layout` (a number). A
later layout only adds columns: refreshing a workbook written by an older one reuses its
columns by name and adds the new ones beside them, so nothing the user has is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import WorkbookError
from ..values.text import column_letter, key

OWNED_NAME = "_LeadQ_Outputs"
LAYOUT_NAME = "_LeadQ_Layout"

@dataclass(frozen=True)
class OutputColumn:
    """One column LeadQ computes on the Leads sheet, declared once: every writer (the file writer, the
    macros, the template) and every reader takes its layout, number format and width from here.

    since: the layout version that added it; kind: "number", "date" (written as an Excel date
    serial) or "text"; number_format: Excel's; width: in characters; align: "center" or None;
    source: "rules" (computed from the rules and this refresh's inputs) or "history" (from the Lead
    history: a caller that cannot read it, such as a worksheet function with no book, leaves it blank).
    """

    name: str
    since: int
    kind: str
    width: float
    number_format: str | None = None
    align: str | None = None
    source: str = "rules"


# The output columns, in sheet order. To add one: append it here with `since` = the next layout
# version (never edit or reorder a released one), and compute it in core.evaluate.
COLUMNS: tuple[OutputColumn, ...] = (
    OutputColumn("Fit score", 1, "number", 9, "0.0"),
    OutputColumn("Engagement score", 1, "number", 12, "0.0"),
    OutputColumn("Score", 1, "number", 8, "0.0"),
    OutputColumn("Grade", 1, "text", 7, align="center"),
    OutputColumn("Stage", 1, "text", 14),
    OutputColumn("Checklist", 1, "text", 40),
    OutputColumn("Interests", 1, "text", 24),
    OutputColumn("Next action status", 1, "text", 14),
    OutputColumn("Why", 1, "text", 60),
    # Lead history (issue 11): the date the lead entered its stage, and the days since.
    OutputColumn("Stage since", 2, "date", 11, "yyyy-mm-dd", source="history"),
    OutputColumn("Days in stage", 2, "number", 9, "0", source="history"),
)
BY_NAME: dict[str, OutputColumn] = {c.name: c for c in COLUMNS}
HISTORY_OUTPUTS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.source == "history")

# Layout version -> the output columns, in order: a later layout only adds columns.
LAYOUTS: dict[int, tuple[str, ...]] = {v: tuple(c.name for c in COLUMNS if c.since <= v)
                                       for v in range(1, max(c.since for c in COLUMNS) + 1)}


def current_version() -> int:
    return max(LAYOUTS)


def outputs(version: int | None = None) -> list[str]:
    """The output columns of a layout (default: the current one)."""
    return list(LAYOUTS[current_version() if version is None else version])


@dataclass(frozen=True)
class Owned:
    """Where the current layout's outputs go: `columns[i]` (0-based) holds `outputs()[i]`;
    `new` are the columns LeadQ did not own before (their cells must be free)."""

    columns: list[int]
    new: list[int]
    version: int

    def runs(self) -> list[tuple[int, int]]:
        """The owned columns as contiguous (first, last) runs, left to right."""
        return _runs(self.columns)

    def letters(self) -> str:
        """Like "T:AB" or "T:AB,AE", for messages."""
        return ",".join(f"{column_letter(a)}:{column_letter(b)}" for a, b in self.runs())


def _runs(columns: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for c in sorted(columns):
        if out and out[-1][1] == c - 1:
            out[-1] = (out[-1][0], c)
        else:
            out.append((c, c))
    return out


def _runs_text(columns: list[int]) -> str:
    return ", ".join(column_letter(a) + (f"–{column_letter(b)}" if b > a else "") for a, b in _runs(columns))


def marker(sheet: str, header_row: int, owned: Owned) -> str:
    """The `_LeadQ_Outputs` formula: the owned header cells as a union of ranges."""
    ref = "'" + sheet.replace("'", "''") + "'!"
    return ",".join(f"{ref}${column_letter(a)}${header_row}" + (f":${column_letter(b)}${header_row}" if b > a else "")
                    for a, b in owned.runs())


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def marked_columns(text: str | None) -> list[int] | None:
    """The columns a `_LeadQ_Outputs` formula covers, or None when it is missing or not understood."""
    if not text:
        return None
    cols: list[int] = []
    for part in text.lstrip("=").split(","):
        m = re.fullmatch(r"\s*(?:'(?:[^']|'')+'|[^'!]+)!\$?([A-Z]{1,3})\$?\d+(?::\$?([A-Z]{1,3})\$?\d+)?\s*", part)
        if not m:
            return None
        a, b = _col_index(m.group(1)), _col_index(m.group(2) or m.group(1))
        cols.extend(range(min(a, b), max(a, b) + 1))
    return sorted(set(cols)) or None


def layout_version(text) -> int:
    """The `_LeadQ_Layout` value; workbooks refreshed before versions were recorded are version 1."""
    try:
        v = int(float(str(text).lstrip("=")))
    except (TypeError, ValueError):
        return 1
    return v if v in LAYOUTS else 1


def recorded_version(headers: list[str], first_col: int, marked: list[int] | None) -> int:
    """The layout that wrote the `marked` columns, told from their headers — for a reader that cannot
    see `_LeadQ_Layout` (an engine that sends only names referring to ranges): the newest layout
    whose columns the marked headers are; version 1 when none is."""
    if marked:
        found = {key(headers[c - first_col]) for c in marked if 0 <= c - first_col < len(headers)}
        for v in sorted(LAYOUTS, reverse=True):
            if len(marked) == len(LAYOUTS[v]) and found == {key(n) for n in LAYOUTS[v]}:
                return v
    return 1


def _previous(headers: list[str], first_col: int, marked: list[int] | None, version: int) -> dict[str, int] | None:
    """{output key: column} of the outputs an earlier refresh wrote, if they can be found."""
    if marked:
        found = {key(headers[c - first_col]): c for c in marked if 0 <= c - first_col < len(headers)}
        if len(found) == len(marked) and set(found) == {key(n) for n in LAYOUTS.get(version, ())}:
            return found
    keys = [key(h) for h in headers]
    for v in sorted(LAYOUTS, reverse=True):          # a block of some layout's headers, newest first
        want = [key(n) for n in LAYOUTS[v]]
        for start in range(len(keys) - len(want) + 1):
            if keys[start:start + len(want)] == want:
                return {k: first_col + start + i for i, k in enumerate(want)}
    return None


def owned_positions(headers: list[str], first_col: int, marked: list[int] | None = None,
                    version: int = 1) -> Owned:
    """Where LeadQ's outputs go on Leads, given the table's headers and its first column (0-based).

    The columns recorded in `marked` (by layout `version`) are reused by name when their headers
    still read as that layout's outputs, else a block of any layout's output headers is; outputs
    not found go right of the table's last column. A user column with an output's name is an
    error, never overwritten.
    """
    names = outputs()
    old = _previous(headers, first_col, marked, version) or {}
    missing = [n for n in names if key(n) not in old]
    clash = [h for h in headers if key(h) in {key(n) for n in missing}]
    if clash and marked and not old:
        raise WorkbookError(_edited_block(headers, first_col, marked, version))
    if clash:
        raise WorkbookError(f'Leads has a column "{clash[0]}", a name LeadQ writes its results under; rename that '
                            'column (e.g. "Old score") so LeadQ can add its own')
    start = first_col + len(headers)
    new = {key(n): start + i for i, n in enumerate(missing)}
    return Owned([old.get(key(n), new.get(key(n))) for n in names], sorted(new.values()), current_version())


def _edited_block(headers: list[str], first_col: int, marked: list[int], version: int) -> str:
    """LeadQ's own columns (recorded at the last refresh) had a header changed: say which, not "rename Fit score"."""
    for c, want in zip(marked, LAYOUTS.get(version, ())):
        i = c - first_col
        got = headers[i] if 0 <= i < len(headers) else None
        if key(got or "") != key(want):
            return (f"Leads: LeadQ's result columns were edited: column {column_letter(c)} is headed \"{got or ''}\" where "
                    f"LeadQ wrote \"{want}\"; put that header back, or delete LeadQ's result columns so it adds them again")
    return "Leads: LeadQ's result columns were edited; delete them so LeadQ adds them again"


def not_free(cell: str, owned: Owned) -> WorkbookError:
    return WorkbookError(f"Leads!{cell} holds data where LeadQ needs to add its result columns "
                         f"({_runs_text(owned.new)}); move that data, or make it part "
                         "of the Leads table")
