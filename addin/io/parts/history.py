"""The Lead history sheet in the file: read it, and append this refresh's rows to its XML.

History only grows, so a refresh never re-serialises the rows already there: the new rows are
spliced into the part's bytes just before </sheetData>, and only the sheet's dimension and
filter range (a few bytes in its head and tail) change. The sheet is LeadQ's, recorded as its
Summary and Score details are (io.ownership); a sheet of that name that LeadQ did not create is
neither read nor written. A deleted Lead history sheet is simply started again.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ...core.history import COLUMNS, FORMATS, WIDTHS, compact
from ...core.history import SHEET as HISTORY
from ...core.report.present import EXCEL_MAX_ROWS, HEADER_FILL, HEADER_FONT, excel_serial
from ...errors import Problem
from ...problems import HISTORY_FULL
from ..edit import PackageEdit
from ..ownership import check_sheet, claim_sheet, quoted
from ..package import Deflated, Package, col_letter
from ..sheetxml import sheet_rows, sheet_xml
from ..styles import StyleBook

LAST = col_letter(len(COLUMNS) - 1)


def read_history(reader, pkg: Package) -> tuple[str | None, pd.DataFrame | None]:
    """(the sheet's real name, its rows) when the workbook has LeadQ's Lead history, else (None, None);
    a sheet of that name that LeadQ did not make stops the refresh before anything is written."""
    real = pkg.real_sheet_name(HISTORY)
    if real is None:
        return None, None
    check_sheet(pkg, HISTORY)
    try:
        frame = reader.load_sheet(real, header_row=0).to_pandas()
    except Exception:          # an empty sheet: nothing to read
        frame = None
    return real, frame


def _column_styles(styles: StyleBook) -> list[int]:
    """Each column's cell format (added to the styles in column order)."""
    return [styles.xf(num_fmt=FORMATS[c]) if c in ("Refreshed at", "Score") else styles.xf() for c in COLUMNS]


def _rows(frame: pd.DataFrame, first_row: int, xfs: list[int]) -> bytes:
    rows = np.arange(len(frame), dtype=np.int64) + first_row
    if not len(frame):
        return b""
    return sheet_rows(rows, [(col_letter(i), True, excel_serial(frame[c]).to_numpy(float), xf) if c == "Refreshed at"
                             else (col_letter(i), True, frame[c].to_numpy(float), xf) if c == "Score"
                             else (col_letter(i), False, _text(frame[c]), xf)
                             for i, (c, xf) in enumerate(zip(COLUMNS, xfs))])


def _text(values: pd.Series) -> pd.Series:
    """A text column as text_cells takes it: Arrow text as it is, anything else as Python objects."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return values
    return values.astype(object)


def _whole_sheet(frame: pd.DataFrame, styles: StyleBook) -> Deflated:
    """The sheet with these rows, made and deflated by a worker (its formats added to the styles now)."""
    head_style = styles.xf(bold=True, color=HEADER_FONT, fill=HEADER_FILL)
    xfs = _column_styles(styles)
    header = "".join(f'<c r="{col_letter(i)}1" s="{head_style}" t="inlineStr"><is><t>{c}</t></is></c>'
                     for i, c in enumerate(COLUMNS))
    n = len(frame) + 1
    head, _, tail = sheet_xml("\x00", len(COLUMNS) - 1, n, WIDTHS, freeze_row=1, autofilter=f"A1:{LAST}{n}",
                              tab_color="#7F7F7F").partition(b"\x00")
    head += f'<row r="1">{header}</row>'.encode()
    return Deflated(lambda: iter((head, _rows(frame, 2, xfs), tail)))


_LAST_ROW = re.compile(rb'<row\b[^>]*?\br="(\d+)"')


def write_history(edit: PackageEdit, styles: StyleBook, step, existing: str | None) -> tuple[int, list[Problem]]:
    """Append the refresh's History rows (or start the sheet); returns (rows appended, problems)."""
    if not step.write:
        return 0, []                     # a back-dated refresh leaves the history as it is
    claim_sheet(edit, HISTORY)           # refuses a sheet of that name LeadQ did not make; records it as LeadQ's
    appended = step.appended
    problems: list[Problem] = []
    part = edit.pkg.sheets[existing] if existing else None
    xml = edit.read(part) if part else b""
    end = xml.rfind(b"</sheetData>") if xml else -1
    last_row = 1
    if end >= 0:
        found = list(_LAST_ROW.finditer(xml, max(0, end - 20_000), end))
        if not found and end > 20_000:       # a huge last row: look further back once
            found = list(_LAST_ROW.finditer(xml, 0, end))
        last_row = int(found[-1].group(1)) if found else 1
    if part is None or end < 0 or step.started or last_row < 2:
        # No History (or nothing LeadQ can read in it): start the sheet with this refresh's rows.
        part = edit.ensure_sheet(existing or HISTORY)
        edit.put(part, _whole_sheet(appended, styles))
        edit.set_part_rels(part, [])
        last = len(appended) + 1
    elif last_row + len(appended) > EXCEL_MAX_ROWS:
        full = pd.concat([step.past, appended], ignore_index=True)
        kept, folded = compact(full, EXCEL_MAX_ROWS - 1)
        problems.append(Problem(HISTORY_FULL, f"'{HISTORY}'!A2",
                                f"{HISTORY} reached a sheet's {EXCEL_MAX_ROWS:,} rows: its {folded:,} oldest rows were "
                                "folded into one baseline row per lead (Stage since is kept)", "warning", sheet=HISTORY))
        edit.put(part, _whole_sheet(kept, styles))
        last = len(kept) + 1
    elif not len(appended):
        return 0, problems              # nothing changed: the sheet's bytes stay as they are
    else:
        new = _rows(appended, last_row + 1, _column_styles(styles))
        last = last_row + len(appended)
        head_end = xml.find(b"<sheetData")
        head = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="A1:{LAST}{last}"/>'.encode(), xml[:head_end], count=1)
        tail = re.sub(rb'<autoFilter ref="[^"]*"', f'<autoFilter ref="A1:{LAST}{last}"'.encode(), xml[end:], count=1)
        body = memoryview(xml)[head_end:end]

        edit.put(part, Deflated(lambda: iter((head, body, new, tail))))    # the sheet is never joined whole
    name = existing or HISTORY
    ref = quoted(name) + f"!$A$1:${LAST}${last}"
    edit.defined_name("_xlnm._FilterDatabase", ref, local_sheet=edit.sheet_index(name))
    return len(appended), problems
