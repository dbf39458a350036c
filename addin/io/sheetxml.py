"""Edit worksheet XML as text: replace the cells of a few columns, build whole generated sheets.

A sheet with a million rows is never parsed into objects: rows are located with one regular
expression and only the rows LeadQ writes to are touched. Cells are built column by column
with vectorised string operations.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import WorkbookError
from .package import col_index, col_letter, parse_range

ROW_RE = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
ROW_NUM = re.compile(rb'\br="(\d+)"')
CELL_RE = re.compile(rb"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)
CELL_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
# Elements that must come after <conditionalFormatting> in a worksheet, in schema order.
AFTER_CF = ("dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks",
            "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
            "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts", "extLst")


def split(xml: bytes) -> tuple[str, bytes, str]:
    """(everything up to <sheetData> as text, the rows as UTF-8 bytes, everything from </sheetData> as text).

    The rows stay bytes: a big sheet is never decoded whole."""
    if re.search(rb"<\w+:worksheet\b", xml[:2000]):
        raise WorkbookError("this sheet's XML uses prefixed element names, which LeadQ cannot edit safely; "
                            "open and save the workbook in Excel first")
    m = re.search(rb"<sheetData\s*/>", xml)
    if m:
        return (xml[:m.start()] + b"<sheetData>").decode("utf-8"), b"", (b"</sheetData>" + xml[m.end():]).decode("utf-8")
    a = xml.index(b"<sheetData")
    a = xml.index(b">", a) + 1
    b = xml.rindex(b"</sheetData>")
    return xml[:a].decode("utf-8"), xml[a:b], xml[b:].decode("utf-8")


def _join(*parts) -> pa.Array:
    """Element-wise concatenation in Arrow's C kernels (texts are broadcast); null stays null."""
    return pc.binary_join_element_wise(*[p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(p)
                                         for p in parts], "")


def _row_strings(rows: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(rows, dtype=np.int64)), pa.string())


def _arrow_text(values) -> pa.Array:
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return pc.cast(pa.array(values), pa.string())
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):     # numbers or dates mixed in: text them one by one
        ser = pd.Series(values, dtype=object)
        return pa.array(ser.where(ser.notna(), None).map(lambda v: v if v is None or isinstance(v, str) else str(v)),
                        type=pa.string())


def esc(values) -> pa.Array:
    """Text as Arrow strings, XML-escaped, without characters XML cannot hold; blanks as null."""
    arr = _arrow_text(values)
    arr = pc.replace_substring_regex(arr, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]", "")
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        arr = pc.replace_substring(arr, a, b)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def number_cells(letter: str, rows: np.ndarray, values, style: int) -> pa.Array:
    """'<c r="T7" s="5"><v>40.5</v></c>' per row; '' where the value is missing."""
    vals = pc.cast(pa.array(np.asarray(values, dtype=float), from_pandas=True), pa.string())
    return _join('<c r="', letter, _row_strings(rows), f'" s="{style}"><v>', vals, "</v></c>").fill_null("")


def text_cells(letter: str, rows: np.ndarray, values, style: int) -> pa.Array:
    """Inline-string cells: text is always stored as text, never as a formula; '' when blank."""
    return _join('<c r="', letter, _row_strings(rows), f'" s="{style}" t="inlineStr"><is><t xml:space="preserve">',
                 esc(values), "</t></is></c>").fill_null("")


def row_xml(rows: np.ndarray, cell_columns: list[pa.Array]) -> pa.Array:
    """'<row r="N">…cells…</row>' for each row, from per-column cell strings."""
    return _join('<row r="', _row_strings(rows), '">', *cell_columns, "</row>")


def concat(strings: pa.Array) -> bytes:
    """All strings of an Arrow array as one UTF-8 byte string, joined in C."""
    if len(strings) == 0:
        return b""
    big = pc.cast(strings, pa.large_string())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, len(big)], pa.int64()), big),
                            pa.scalar("", pa.large_string()))
    return joined[0].as_buffer().to_pybytes()


def _col_of(cell: bytes) -> int:
    m = CELL_REF.search(cell[: cell.index(b">") + 1] if b">" in cell else cell)
    return col_index(m.group(1).decode()) if m else -1


def patch_rows(rows_xml: bytes, row_numbers: np.ndarray, new_cells: list[bytes], owned: list[int]) -> tuple[bytes, bool]:
    """Replace the owned columns' cells of the given rows; add rows that do not exist yet.

    Returns the new rows XML and whether a formula was removed from an owned cell.
    """
    letters = "|".join(col_letter(c) for c in owned).encode()
    owned_re = re.compile(rb'<c\b[^>]*?\br="(?:%s)\d+"[^>]*?(?:/>|>.*?</c>)' % letters, re.S)
    first_owned_cell = re.compile(rb'<c\b[^>]*?\br="(?:%s)\d+"' % letters)
    owned_letters = {col_letter(c).encode() for c in owned}
    first_owned = min(owned)
    out: list[bytes] = []
    k, n = 0, len(row_numbers)
    formulas = False
    for m in ROW_RE.finditer(rows_xml):
        num = ROW_NUM.search(m.group(1))
        if not num:
            raise WorkbookError("a row of the sheet has no row number; open and save the workbook in Excel first")
        r = int(num.group(1))
        while k < n and row_numbers[k] < r:
            if new_cells[k]:
                out.append(b'<row r="%d">%s</row>' % (row_numbers[k], new_cells[k]))
            k += 1
        if k < n and row_numbers[k] == r:
            attrs, inner = m.group(1), m.group(2) or b""
            attrs = re.sub(rb'\sspans="[^"]*"', b"", attrs)
            hit = first_owned_cell.search(inner)
            if hit:
                rest = inner[hit.start():]
                if all(ref[0] in owned_letters for ref in CELL_REF.findall(rest)):
                    formulas |= b"<f" in rest          # the usual case: LeadQ's cells end the row
                    inner = inner[:hit.start()]
                else:                                 # user cells after LeadQ's: remove ours one by one
                    formulas |= any(b"<f" in c for c in owned_re.findall(inner))
                    inner = owned_re.sub(b"", inner)
            last = inner.rfind(b"<c ")
            if last == -1 or _col_of(inner[last:]) < first_owned:
                inner = inner + new_cells[k]
            else:
                cells = CELL_RE.findall(inner) + CELL_RE.findall(new_cells[k])
                inner = b"".join(sorted(cells, key=_col_of))
            out.append(b"<row%s>%s</row>" % (attrs, inner) if inner else b"<row%s/>" % attrs)
            k += 1
        else:
            out.append(m.group(0))
    while k < n:
        if new_cells[k]:
            out.append(b'<row r="%d">%s</row>' % (row_numbers[k], new_cells[k]))
        k += 1
    return b"".join(out), formulas


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
    """Drop conditional formats that lie entirely in LeadQ's columns (which may have gaps); add LeadQ's own."""
    mine = set(owned)

    def ours(sqref: str) -> bool:
        try:
            return all(set(range(parse_range(r)[1], parse_range(r)[3] + 1)) <= mine for r in sqref.split())
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
