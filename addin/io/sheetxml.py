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
from .package import col_letter, parse_range

ROW_RE = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
ROW_NUM = re.compile(rb'\br="(\d+)"')
# Elements that must come after <conditionalFormatting> in a worksheet, in schema order.
AFTER_CF = ("dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks",
            "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
            "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts", "extLst")


def split(xml: bytes) -> tuple[str, bytes, str]:
    """(everything up to <sheetData> as text, the rows as UTF-8 bytes, everything from </sheetData> as text).

    The rows stay bytes: a big sheet is never decoded whole."""
    if re.search(rb"<!DOCTYPE|<!ENTITY", xml[:4096], re.I):
        raise WorkbookError("a sheet's XML declares a DOCTYPE or entities, which Office files never contain "
                            "(a crafted file?); LeadQ refuses it — re-save the workbook in Excel")
    if re.search(rb"<\w+:worksheet\b", xml[:2000]):
        raise WorkbookError("this sheet's XML uses prefixed element names, which LeadQ cannot edit safely; "
                            "open and save the workbook in Excel first")
    m = re.search(rb"<sheetData\s*/>", xml)
    if m:
        return (xml[:m.start()] + b"<sheetData>").decode("utf-8"), b"", (b"</sheetData>" + xml[m.end():]).decode("utf-8")
    a = xml.find(b"<sheetData")
    b = xml.rfind(b"</sheetData>")
    if a < 0 or b < 0:
        raise WorkbookError("a sheet's XML has no cell data (<sheetData>); open the workbook in Excel, "
                            "let it repair the sheet and save it")
    a = xml.index(b">", a) + 1
    return xml[:a].decode("utf-8"), xml[a:b], xml[b:].decode("utf-8")


def _join(*parts) -> pa.Array:
    """Element-wise concatenation in Arrow's C kernels (texts are broadcast); null stays null.
    Arrays are all string or all large_string (texts follow them)."""
    kind = next((p.type for p in parts if isinstance(p, (pa.Array, pa.ChunkedArray))), pa.string())
    return pc.binary_join_element_wise(*[p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(p, kind)
                                         for p in parts], pa.scalar("", kind))


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


MAX_CELL_TEXT = 32_767      # Excel's limit on a cell's text, in UTF-16 code units


def cap_text(s: str) -> str:
    """Text cut to what one cell can hold (an ellipsis marks the cut)."""
    if len(s) <= MAX_CELL_TEXT // 2 or len(s.encode("utf-16-le")) <= 2 * MAX_CELL_TEXT:
        return s
    return s.encode("utf-16-le")[: 2 * (MAX_CELL_TEXT - 1)].decode("utf-16-le", "ignore") + "…"


def _cap(arr: pa.Array) -> pa.Array:
    """Vectorised check; only the rare over-long texts are cut in Python."""
    if not len(arr) or not pc.any(pc.greater(pc.utf8_length(arr), MAX_CELL_TEXT // 2)).as_py():
        return arr
    return pa.array([None if v is None else cap_text(v) for v in arr.to_pylist()], type=pa.string())


def esc(values) -> pa.Array:
    """Text as Arrow strings, XML-escaped, without characters XML cannot hold, cut to a cell's limit; blanks as null."""
    arr = _cap(_arrow_text(values))
    arr = pc.replace_substring_regex(arr, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]", "")
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        arr = pc.replace_substring(arr, a, b)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def number_cells(letter: str, rows: np.ndarray, values, style: int) -> pa.Array:
    """'<c r="T7" s="5"><v>40.5</v></c>' per row; '' where the value is missing or not finite (Excel has no inf)."""
    nums = np.asarray(values, dtype=float)
    nums = np.where(np.isfinite(nums), nums, np.nan)
    vals = pc.cast(pa.array(nums, from_pandas=True), pa.string())
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


def _arrow_bytes(data: bytes) -> pa.Array:
    """One Arrow string holding `data` without copying it; refused if it is not UTF-8."""
    arr = pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], np.int64)), pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        raise WorkbookError("a sheet's XML is not valid UTF-8 (a damaged or crafted file?); open the workbook in "
                            "Excel, let it repair the sheet and save it") from None
    return arr


def columns_before(col: int) -> str:
    """A regular expression matching exactly the column letters left of column `col` (0-based)."""
    letters = col_letter(col)
    alts = [f"[A-Z]{{1,{len(letters) - 1}}}"] if len(letters) > 1 else []
    for i, ch in enumerate(letters):
        if ch > "A":
            rest = len(letters) - i - 1
            alts.append(letters[:i] + f"[A-{chr(ord(ch) - 1)}]" + (f"[A-Z]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(alts) + ")" if alts else ""


def _cell_re(letters: str) -> str:
    """A cell of the given columns (a regex of letters), self-closing or not; a cell's start tag holds no '/'."""
    return rf'<c\b[^>/]*?\br="{letters}\d+"[^>/]*(?:/>|>.*?</c>)'


def _runs(cols: list[int]) -> list[list[int]]:
    """Sorted columns as runs of adjacent ones: [2, 3, 5] -> [[2, 3], [5]]."""
    runs: list[list[int]] = []
    for c in cols:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return runs


def _one_array(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def patch_rows(rows_xml: bytes, row_numbers, cells: dict[int, pa.Array], owned: list[int]) -> tuple[bytes, bool]:
    """Replace the owned columns' cells of the given rows; add rows that do not exist yet.

    row_numbers: the rows written, ascending; cells: {column: cell XML per row ('' or null: no cell)};
    owned: the columns whose old cells are removed in those rows. Rows LeadQ does not write are kept
    byte for byte. Every step runs on all rows at once in Arrow's C kernels (RE2 expressions), so a
    sheet of a million rows is never a Python loop. Returns the new rows XML and whether a formula
    was removed from an owned cell.
    """
    row_numbers = np.asarray(row_numbers, dtype=np.int64)
    cols = sorted(cells)
    cols_cells = {c: _one_array(pc.fill_null(pc.cast(cells[c] if isinstance(cells[c], (pa.Array, pa.ChunkedArray))
                                                     else pa.array(cells[c], pa.string()), pa.large_string()), ""))
                  for c in cols}
    if rows_xml:
        pieces = pc.split_pattern(_arrow_bytes(rows_xml), "<row").flatten()
        prefix, rows = pieces[0].as_py(), pieces[1:]
    else:
        prefix, rows = "", pa.array([], pa.large_string())
    found = pc.extract_regex(rows, r'^[^>]*?\br="(?P<r>\d+)"')
    if found.null_count:
        raise WorkbookError("a row of the sheet has no row number; open and save the workbook in Excel first")
    existing = pc.cast(found.field(0), pa.int64()).to_numpy(zero_copy_only=False)
    at = np.searchsorted(row_numbers, existing)
    hit = at < len(row_numbers)
    hit[hit] = row_numbers[at[hit]] == existing[hit]
    formulas = False
    out = rows
    if hit.any():
        mine = rows.filter(pa.array(hit))
        mine = pc.replace_substring_regex(mine, r"^([^>]*?)/>", r"\1></row>", max_replacements=1)
        mine = pc.replace_substring_regex(mine, r'^([^>]*?)\sspans="[^"]*"', r"\1", max_replacements=1)
        if owned:
            before = pc.count_substring_regex(mine, r"<f\b")
            mine = pc.replace_substring_regex(mine, "(?s)" + _cell_re(f"(?:{'|'.join(col_letter(c) for c in sorted(set(owned)))})"), "")
            formulas = bool(pc.any(pc.not_equal(before, pc.count_substring_regex(mine, r"<f\b"))).as_py())
        which = pa.array(at[hit])
        for run in _runs(cols):      # each block of adjacent columns goes between the cells left and right of it
            left = columns_before(run[0])
            cells_left = rf"(?:\s*{_cell_re(left)})*" if left else ""
            parts = pc.extract_regex(mine, rf"(?s)^(?P<h>[^>]*>{cells_left})(?P<t>.*)$")
            block = pc.take(_join(*(cols_cells[c] for c in run)), which)
            mine = _join(parts.field("h"), block, parts.field("t"))
        out = pc.replace_with_mask(rows, pa.array(hit), mine)
    keys = existing
    missing = ~np.isin(row_numbers, existing)
    if cols and missing.any():
        index = pa.array(np.flatnonzero(missing))
        added = pc.take(_join(*(cols_cells[c] for c in cols)), index)
        keep = pc.not_equal(added, "")
        numbers = pc.cast(pc.filter(_row_strings(row_numbers[missing]), keep), pa.large_string())
        out = pa.concat_arrays([out, _join(' r="', numbers, '">', pc.filter(added, keep), "</row>")])
        keys = np.concatenate([existing, row_numbers[missing][np.asarray(keep)]])
    if not len(out):
        return prefix.encode("utf-8"), formulas
    ordered = pc.take(out, pa.array(np.argsort(keys, kind="stable")))
    return prefix.encode("utf-8") + concat(_join("<row", ordered)), formulas


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
    at = _first_top_level(tail, AFTER_CF)
    return tail[:at] + "".join(new_blocks) + tail[at:]


_TAG = re.compile(r"<(/?)([A-Za-z_][\w.:-]*)[^>]*?(/?)>|<!--.*?-->|<!\[CDATA\[.*?\]\]>", re.S)


def _first_top_level(tail: str, names) -> int:
    """Where the first worksheet-level element among `names` starts in the XML after </sheetData>
    (else </worksheet>). Only top-level elements count: an <extLst> inside a user's x14 conditional
    format or filter is not the worksheet's."""
    depth = 0
    wanted = set(names)
    for m in _TAG.finditer(tail):
        closing, name, empty = m.group(1), m.group(2), m.group(3)
        if name is None:
            continue
        if closing:
            if name == "worksheet" and depth == 0:
                return m.start()
            if name != "sheetData":
                depth -= 1
            continue
        if depth == 0 and name in wanted:
            return m.start()
        if not empty:
            depth += 1
    return tail.rindex("</worksheet>")


def max_cf_priority(xml: str) -> int:
    return max([0] + [int(p) for p in re.findall(r'<(?:x14:)?cfRule\b[^>]*\bpriority="(\d+)"', xml)])


def cf_equals(sqref: str, text: str, dxf: int, priority: int) -> str:
    literal = '"' + text.replace('"', '""') + '"'
    literal = literal.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f'<conditionalFormatting sqref="{sqref}"><cfRule type="cellIs" dxfId="{dxf}" priority="{priority}" '
            f'operator="equal"><formula>{literal}</formula></cfRule></conditionalFormatting>')
