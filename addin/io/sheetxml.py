"""Edit worksheet XML as text: replace the cells of a few columns, build whole generated sheets.

A sheet with a million rows is never parsed into objects: rows are located with one regular
expression and only the rows LeadQ writes to are touched. Cells are built column by column
with vectorised string operations.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import WorkbookError
from .package import col_index, col_letter, parse_range

ROW_RE = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
ROW_NUM = re.compile(r'\br="(\d+)"')
CELL_RE = re.compile(r"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)
CELL_REF = re.compile(r'\br="([A-Z]+)(\d+)"')
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
# Elements that must come after <conditionalFormatting> in a worksheet, in schema order.
AFTER_CF = ("dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks",
            "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
            "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts", "extLst")


def split(xml: str) -> tuple[str, str, str]:
    """(everything up to <sheetData>, the rows, everything from </sheetData>)."""
    if re.search(r"<\w+:worksheet\b", xml[:2000]):
        raise WorkbookError("this sheet's XML uses prefixed element names, which LeadQ cannot edit safely; "
                            "open and save the workbook in Excel first")
    m = re.search(r"<sheetData\s*/>", xml)
    if m:
        return xml[:m.start()] + "<sheetData>", "", "</sheetData>" + xml[m.end():]
    a = xml.index("<sheetData")
    a = xml.index(">", a) + 1
    b = xml.rindex("</sheetData>")
    return xml[:a], xml[a:b], xml[b:]


def esc(values: pd.Series) -> pd.Series:
    """XML-escape a text column in Arrow's C kernels; drop characters XML cannot hold."""
    s = values.astype("str")
    s = s.str.replace(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", regex=True)
    return s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)


def number_cells(letter: str, rows: np.ndarray, values: np.ndarray, style: int) -> np.ndarray:
    """'<c r="T7" s="5"><v>40.5</v></c>' per row; '' where the value is missing."""
    vals = np.asarray(values, dtype=float)
    ok = ~np.isnan(vals)
    out = np.full(len(vals), "", dtype=object)
    if ok.any():
        refs = np.char.add(letter, rows[ok].astype(str)).astype(object)
        out[ok] = '<c r="' + refs + f'" s="{style}"><v>' + vals[ok].astype(str).astype(object) + "</v></c>"
    return out


def text_cells(letter: str, rows: np.ndarray, values, style: int) -> np.ndarray:
    """Inline-string cells: text is always stored as text, never as a formula."""
    ser = pd.Series(values, dtype=object).fillna("").astype(str)
    ok = (ser != "").to_numpy()
    out = np.full(len(ser), "", dtype=object)
    if ok.any():
        refs = np.char.add(letter, rows[ok].astype(str)).astype(object)
        text = esc(ser[ok]).to_numpy(object)
        out[ok] = ('<c r="' + refs + f'" s="{style}" t="inlineStr"><is><t xml:space="preserve">' + text
                   + "</t></is></c>")
    return out


def _col_of(cell: str) -> int:
    m = CELL_REF.search(cell[: cell.index(">") + 1] if ">" in cell else cell)
    return col_index(m.group(1)) if m else -1


def patch_rows(rows_xml: str, row_numbers: np.ndarray, new_cells: np.ndarray, owned: list[int]) -> tuple[str, bool]:
    """Replace the owned columns' cells of the given rows; add rows that do not exist yet.

    Returns the new rows XML and whether a formula was removed from an owned cell.
    """
    letters = "|".join(col_letter(c) for c in owned)
    owned_re = re.compile(r'<c\b[^>]*?\br="(?:%s)\d+"[^>]*?(?:/>|>.*?</c>)' % letters, re.S)
    first_owned = min(owned)
    out: list[str] = []
    k, n = 0, len(row_numbers)
    formulas = False
    for m in ROW_RE.finditer(rows_xml):
        num = ROW_NUM.search(m.group(1))
        if not num:
            raise WorkbookError("a row of the sheet has no row number; open and save the workbook in Excel first")
        r = int(num.group(1))
        while k < n and row_numbers[k] < r:
            if new_cells[k]:
                out.append(f'<row r="{row_numbers[k]}">{new_cells[k]}</row>')
            k += 1
        if k < n and row_numbers[k] == r:
            attrs, inner = m.group(1), m.group(2) or ""
            attrs = re.sub(r'\sspans="[^"]*"', "", attrs)
            if letters and re.search(r'r="(?:%s)\d+"' % letters, inner):
                formulas |= any("<f" in c for c in owned_re.findall(inner))
                inner = owned_re.sub("", inner)
            last = inner.rfind("<c ")
            if last == -1 or _col_of(inner[last:]) < first_owned:
                inner = inner + new_cells[k]
            else:
                cells = CELL_RE.findall(inner) + CELL_RE.findall(new_cells[k])
                inner = "".join(sorted(cells, key=_col_of))
            out.append(f"<row{attrs}>{inner}</row>" if inner else f"<row{attrs}/>")
            k += 1
        else:
            out.append(m.group(0))
    while k < n:
        if new_cells[k]:
            out.append(f'<row r="{row_numbers[k]}">{new_cells[k]}</row>')
        k += 1
    return "".join(out), formulas


def set_dimension(head: str, last_row: int, last_col: int) -> str:
    m = re.search(r'<dimension ref="([^"]+)"\s*/>', head)
    if not m:
        return head
    r1, c1, r2, c2 = parse_range(m.group(1))
    ref = f"{col_letter(c1)}{r1}:{col_letter(max(c2, last_col))}{max(r2, last_row)}"
    return head[:m.start()] + f'<dimension ref="{ref}"/>' + head[m.end():]


def ensure_widths(head: str, widths: dict[int, float]) -> str:
    """Add column widths for columns no <col> element covers yet."""
    m = re.search(r"<cols>(.*?)</cols>", head, re.S)
    existing = re.findall(r"<col\b[^>]*/>", m.group(1)) if m else []
    covered = []
    for c in existing:
        a, b = re.search(r'min="(\d+)"', c), re.search(r'max="(\d+)"', c)
        if a and b:
            covered.append((int(a.group(1)), int(b.group(1))))
    new = [f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in sorted(widths.items())
           if not any(lo <= i + 1 <= hi for lo, hi in covered)]
    if not new:
        return head
    allc = sorted(existing + new, key=lambda c: int(re.search(r'min="(\d+)"', c).group(1)))
    block = "<cols>" + "".join(allc) + "</cols>"
    if m:
        return head[:m.start()] + block + head[m.end():]
    at = head.index("<sheetData")
    return head[:at] + block + head[at:]


def replace_owned_cf(tail: str, owned: list[int], new_blocks: list[str]) -> str:
    """Drop conditional formats that lie entirely in LeadQ's columns; add LeadQ's own."""
    lo, hi = min(owned), max(owned)

    def ours(sqref: str) -> bool:
        try:
            return all(lo <= parse_range(r)[1] and parse_range(r)[3] <= hi for r in sqref.split())
        except ValueError:
            return False
    tail = re.sub(r'<conditionalFormatting\b[^>]*\bsqref="([^"]+)"[^>]*>.*?</conditionalFormatting>',
                  lambda m: "" if ours(m.group(1)) else m.group(0), tail, flags=re.S)
    m = re.search(r"<(?:%s)\b|</worksheet>" % "|".join(AFTER_CF), tail)
    return tail[:m.start()] + "".join(new_blocks) + tail[m.start():]


def max_cf_priority(xml: str) -> int:
    return max([0] + [int(p) for p in re.findall(r'<(?:x14:)?cfRule\b[^>]*\bpriority="(\d+)"', xml)])


def cf_equals(sqref: str, text: str, dxf: int, priority: int) -> str:
    literal = '"' + text.replace('"', '""') + '"'
    literal = literal.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f'<conditionalFormatting sqref="{sqref}"><cfRule type="cellIs" dxfId="{dxf}" priority="{priority}" '
            f'operator="equal"><formula>{literal}</formula></cfRule></conditionalFormatting>')
