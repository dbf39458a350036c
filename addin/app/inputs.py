"""What every job reads from a workbook, wherever it comes from: a file, or a book open in Excel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Problem

if TYPE_CHECKING:          # the input type is imported by `leadq check-rules`, which loads no pandas
    import pandas as pd


@dataclass
class WorkbookInput:
    """The input tables, the Settings sheet, the Lead history and the problems met while reading.

    `path`: the workbook's full path (relative Settings paths are resolved beside it; None when the
    caller has no workbook, e.g. a worksheet function called without a book); `history`: LeadQ's
    Lead history rows, None before the first refresh (or where the door cannot read them, see
    `history_note`); `source`: what the door needs to write back (the file reader's WorkbookData
    with the tables' positions, or the Excel door's sheet handles)."""

    leads: pd.DataFrame
    activities: object = None               # a DataFrame, the Future of one (file reader), or None
    qualification: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)          # Settings label key -> value
    settings_rows: dict = field(default_factory=dict)     # Settings label key -> Excel row
    history: pd.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    path: Path | None = None
    source: object = None
    history_note: str | None = None         # why the history columns are blank, when the door could not read it
    rules_sheet: object = None              # the book's LeadQ Rules sheet (addin.rules_sheet.RulesSheet), if any
    overrides: pd.DataFrame | None = None   # the Overrides sheet's rows (the user's input; core.overrides)

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "this workbook"


def read_ahead(path) -> None:
    """Begin parsing the workbook's big tables (Activities, Leads) in the background now, before the scoring
    code is imported; the next from_file of the same, unchanged file uses them (io.reader.read_ahead).
    Imports neither pandas nor numpy, and never raises."""
    try:
        from ..io.reader import read_ahead as begin
    except Exception:
        return
    begin(path)


def from_file(path, later: bool = False) -> WorkbookInput:
    """Read a workbook file (io.reader); `later`: Activities may still be loading (a Future)."""
    from ..io.reader import read_workbook
    path = Path(path)
    data = read_workbook(path, later=later)
    return WorkbookInput(data.leads, data.activities, data.qualification, data.settings, data.settings_rows,
                         data.history, data.problems, path, data, rules_sheet=data.rules_sheet,
                         overrides=data.overrides)
