"""Keep the Activities drop-down in step with rules.json: its list (Settings, under the defined
name LeadQ_ActivityTypes) is rewritten with the rules' activity types on every refresh, so a type
added to rules.json can be picked at once. A workbook without that name is left as it is."""

from __future__ import annotations

import re

import numpy as np

from .edit import PackageEdit
from .package import col_index
from .sheetxml import patch_rows, split, text_cells

NAME = "LeadQ_ActivityTypes"
_RANGE = re.compile(r"^(?:'?(?P<sheet>[^'!]+)'?!)?\$?(?P<c1>[A-Z]+)\$?(?P<r1>\d+)(?::\$?(?P<c2>[A-Z]+)\$?(?P<r2>\d+))?$")


def refresh_activity_types(edit: PackageEdit, types: list[str]) -> None:
    """Write `types` down the drop-down's column and point the defined name at exactly them."""
    ref = edit.get_defined_name(NAME)
    m = _RANGE.match((ref or "").lstrip("="))
    if not m or not types:
        return
    sheet, col, first = m.group("sheet") or "Settings", m.group("c1"), int(m.group("r1"))
    last_old = int(m.group("r2") or first)
    part = edit.pkg.sheet_part(sheet)
    if part is None:
        return
    head, rows_xml, tail = split(edit.read(part))
    style = re.search(rb'<c r="%s%d"[^>]*?\bs="(\d+)"' % (col.encode(), first), rows_xml)
    rows = np.arange(first, max(last_old, first + len(types) - 1) + 1, dtype=np.int64)
    values = list(types) + [None] * (len(rows) - len(types))
    cells = text_cells(col, rows, values, int(style.group(1)) if style else 0)
    rows_xml, _ = patch_rows(rows_xml, rows, {col_index(col): cells}, [col_index(col)])
    edit.put(part, head.encode("utf-8") + rows_xml + tail.encode("utf-8"))
    quoted = "'" + sheet.replace("'", "''") + "'" if not sheet.isalnum() else sheet
    edit.defined_name(NAME, f"{quoted}!${col}${first}:${col}${first + len(types) - 1}", hidden=False)

