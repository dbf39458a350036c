"""Edit worksheet XML as text: replace the cells of a few columns, build whole generated sheets.

A sheet with a million rows is never parsed into objects: rows are located with one regular
expression and only the rows LeadQ writes to are touched. Cells are built column by column
with vectorised string operations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import WorkbookError
from .package import NS, col_letter, parse_range, xml_attr

ROW_RE = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
ROW_NUM = re.compile(rb'\br="(\d+)"')
# Elements that must come after <conditionalFormatting> in a worksheet, in schema order.
AFTER_CF = ("dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks",
            "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
            "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts", "extLst")


def split(xml: bytes, view: bool = False) -> tuple[str, bytes, str]:
    """(everything up to <sheetData> as text, the rows as UTF-8 bytes, everything from </sheetData> as text).

    The rows stay bytes: a big sheet is never decoded whole; view: they are a memoryview of `xml`, not a
    copy of it (patch_rows takes either)."""
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
    return xml[:a].decode("utf-8"), (memoryview(xml)[a:b] if view else xml[a:b]), xml[b:].decode("utf-8")


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
    """Text as Arrow strings, XML-escaped, without characters XML cannot hold, cut to a cell's limit; blanks as null.
    A categorical column is escaped once per category, then spread over its rows by their codes."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        coded = pa.array(values)
        if isinstance(coded, pa.DictionaryArray):
            return pc.take(_esc_plain(pc.cast(coded.dictionary, pa.string())), coded.indices)
    return _esc_plain(_arrow_text(values))


def _esc_plain(arr: pa.Array) -> pa.Array:
    arr = _cap(arr)
    if pc.any(pc.match_substring_regex(arr, "[&<>\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]")).as_py():
        arr = pc.replace_substring_regex(arr, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]", "")
        for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            arr = pc.replace_substring(arr, a, b)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def number_cells(letter: str, rows: np.ndarray, values, style: int) -> pa.Array:
    """'<c r="T7" s="5"><v>40.5</v></c>' per row; '' where the value is missing or not finite (Excel has no inf)."""
    return _join('<c r="', letter, _row_strings(rows), f'" s="{style}"><v>', _number_text(values), "</v></c>").fill_null("")


def text_cells(letter: str, rows: np.ndarray, values, style: int) -> pa.Array:
    """Inline-string cells: text is always stored as text, never as a formula; '' when blank."""
    return _join('<c r="', letter, _row_strings(rows), f'" s="{style}" t="inlineStr"><is><t xml:space="preserve">',
                 esc(values), "</t></is></c>").fill_null("")


def _number_text(values) -> pa.Array:
    nums = np.asarray(values, dtype=float)
    nums = np.where(np.isfinite(nums), nums, np.nan)
    return pc.cast(pa.array(nums, from_pandas=True), pa.string())


def _cell_parts(rs: pa.Array, columns) -> list:
    """The cells of each row of `columns` ((letter, numeric, values, style) each), as the parts of one
    element-wise join: a column without blanks is joined in place (its cells are never made on their own),
    one with blanks as its cells, '' where blank (a blank leaves out the whole cell). Its arrays are of
    rs's type."""
    parts: list = []
    for letter, numeric, values, style in columns:
        if numeric:
            vals, mid, end = _number_text(values), f'" s="{style}"><v>', "</v></c>"
        else:
            vals, mid, end = esc(values), f'" s="{style}" t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>"
        vals = vals if vals.type == rs.type else pc.cast(vals, rs.type)
        if vals.null_count:
            parts.append(_join(f'<c r="{letter}', rs, mid, vals, end).fill_null(""))
        else:
            parts += [f'<c r="{letter}', rs, mid, vals, end]
    return parts


def _merged(parts: list) -> list:
    """Adjacent texts of a join's parts as one."""
    out: list = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return out


def sheet_rows(rows: np.ndarray, columns: list[tuple[str, bool, object, int]]) -> bytes:
    """The rows' XML as one UTF-8 byte string, the same as concat(row_xml(rows, cells)) with each column's
    cells made by number_cells (numeric) or text_cells: columns are (letter, numeric, values, style).
    Made by one element-wise join over the whole row, with each row number written once."""
    if not len(rows):
        return b""
    rs = _row_strings(rows)
    return concat(_join(*_merged(['<row r="', rs, '">', *_cell_parts(rs, columns), "</row>"])))


def cell_block(rows: np.ndarray, columns: list[tuple[str, bool, object, int]], first: str | None = None) -> pa.Array:
    """Per row, the cells of `columns` (adjacent ones: (letter, numeric, values, style) each) end to end,
    one large_string each, '' where all are blank: what patch_rows joins from number_cells/text_cells
    columns, made in one join. first: one more string before the rows' (a header row's cells)."""
    rs = pc.cast(_row_strings(rows), pa.large_string())
    parts = _merged(_cell_parts(rs, columns))
    block = _join(*parts) if len(rows) else pa.array([], pa.large_string())
    if isinstance(block, pa.ChunkedArray):         # text held in several Arrow chunks
        block = block.combine_chunks()
    if first is not None:
        block = pa.concat_arrays([pa.array([first], pa.large_string()), block])
    return block


def row_xml(rows: np.ndarray, cell_columns: list[pa.Array]) -> pa.Array:
    """'<row r="N">…cells…</row>' for each row, from per-column cell strings."""
    return _join('<row r="', _row_strings(rows), '">', *cell_columns, "</row>")


def concat(strings: pa.Array) -> bytes:
    """All strings of an Arrow array as one UTF-8 byte string: the array's own data buffer, between its
    first and last offsets, copied once (no join kernel: the strings already lie end to end)."""
    if isinstance(strings, pa.ChunkedArray):
        return b"".join(concat(c) for c in strings.chunks)
    if len(strings) == 0:
        return b""
    if strings.null_count or not (pa.types.is_string(strings.type) or pa.types.is_large_string(strings.type)):
        big = pc.cast(strings, pa.large_string())
        joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, len(big)], pa.int64()), big),
                                pa.scalar("", pa.large_string()))
        return joined[0].as_buffer().to_pybytes()
    kind = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], kind)[strings.offset:strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    return data[int(offsets[0]):int(offsets[-1])].to_pybytes() if data is not None else b""


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


def columns_from(col: int) -> str:
    """A regular expression matching exactly the column letters of column `col` (0-based) and right of it."""
    letters = col_letter(col)
    alts = [letters, f"[A-Z]{{{len(letters) + 1},}}"]
    for i, ch in enumerate(letters):
        if ch < "Z":
            rest = len(letters) - i - 1
            alts.append(letters[:i] + f"[{chr(ord(ch) + 1)}-Z]" + (f"[A-Z]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(alts) + ")"


def column_runs(cols: list[int]) -> list[list[int]]:
    """Sorted columns as runs of adjacent ones: [2, 3, 5] -> [[2, 3], [5]]."""
    runs: list[list[int]] = []
    for c in cols:
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return runs


def _text_array(values) -> pa.Array:
    """Cell XML strings as one large_string array, '' for null."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, pa.string())
    arr = pc.fill_null(pc.cast(arr, pa.large_string()), "")
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


VIEW_BLOCK = 1 << 16


def _views(starts: np.ndarray, lengths: np.ndarray, which: np.ndarray, buffers: list[bytes]) -> pa.Array:
    """An Arrow string_view array of byte ranges of the given buffers, without copying them:
    element i is buffers[which[i]][starts[i]:starts[i] + lengths[i]]."""
    n = len(starts)
    views = np.zeros((n, 16), np.uint8)
    views[:, 0:4] = lengths.astype("<i4").view(np.uint8).reshape(n, 4)
    # Bytes 4..16 hold a short string itself, or a long one's first 4 bytes, buffer index and offset.
    take = np.where(lengths > 12, 4, lengths)
    for k, buf in enumerate(buffers):
        if not len(buf):
            continue
        data = np.frombuffer(buf, np.uint8)
        for a in range(0, n, VIEW_BLOCK):       # a block at a time: the (views × 12) temporaries stay small
            mine = np.flatnonzero(which[a:a + VIEW_BLOCK] == k) + a
            if not len(mine):
                continue
            pos = starts[mine, None] + np.arange(12)
            got = data[np.minimum(pos, len(data) - 1)]
            got[np.arange(12) >= take[mine, None]] = 0
            views[mine, 4:16] = got
    long = lengths > 12
    views[long, 8:12] = which[long].astype("<i4").view(np.uint8).reshape(-1, 4)
    views[long, 12:16] = starts[long].astype("<i4").view(np.uint8).reshape(-1, 4)
    return pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views)] + [pa.py_buffer(b) for b in buffers])


@dataclass
class RowScan:
    """What patch_rows finds in a sheet's existing rows for a set of owned columns, before knowing the
    new cells: where each row starts, its number, where its start tag and spans attribute are, where
    each run of owned columns starts and ends, and whether an owned cell holds a formula. Made by
    scan_rows, possibly while the results are still being computed (the refresh job does)."""

    rows_xml: object
    owned: list
    starts: np.ndarray
    ends: np.ndarray
    prefix_len: int
    existing: np.ndarray
    tag_len: np.ndarray
    closing: np.ndarray
    sp_len: np.ndarray
    sp_at: np.ndarray
    ranges: list
    formula_rows: np.ndarray


def scan_rows(rows_xml, owned: list[int]) -> RowScan:
    """The existing rows' structure for patch_rows (RE2 searches in Arrow's kernels, no row in Python)."""
    owned = sorted(set(owned))
    runs = column_runs(owned)
    if not isinstance(rows_xml, (bytes, memoryview)):
        rows_xml = bytes(rows_xml)
    if re.search(rb"<row", rows_xml) is None and bytes(rows_xml).strip():
        raise WorkbookError("a sheet's rows cannot be read (no <row> element); open and save the workbook in Excel first")
    starts = np.fromiter((m.start() for m in re.finditer(rb"<row\b", rows_xml)), np.int64)
    n_rows = len(starts)
    ends = np.append(starts[1:], len(rows_xml))
    prefix_len = int(starts[0]) if n_rows else len(rows_xml)
    if n_rows:
        _arrow_bytes(rows_xml)                                        # refuses text that is not UTF-8
    rows = pa.LargeStringArray.from_buffers(n_rows, pa.py_buffer(np.append(starts, len(rows_xml))), pa.py_buffer(rows_xml))
    tags = pc.extract_regex(rows, r"^(?P<tag><row\b[^>]*>)")
    numbers = pc.extract_regex(tags.field("tag"), r'\br="(?P<r>\d+)"')
    if tags.null_count or numbers.null_count:
        raise WorkbookError("a row of the sheet has no row number; open and save the workbook in Excel first")
    existing = pc.cast(numbers.field("r"), pa.int64()).to_numpy(zero_copy_only=False)

    # Per existing row: where its start tag ends, its spans attribute, each owned run's range.
    tag_text = tags.field("tag")
    tag_len = pc.binary_length(tag_text).to_numpy(zero_copy_only=False).astype(np.int64)
    closing = np.asarray(pc.ends_with(tag_text, "/>"), dtype=bool) if n_rows else np.zeros(0, bool)
    spans = pc.extract_regex(tag_text, r'^(?P<before>[^>]*?)(?P<spans>\sspans="[^"]*")')
    sp_len = np.where(np.asarray(spans.is_valid()), pc.binary_length(spans.field("spans")).to_numpy(zero_copy_only=False), 0) \
        if n_rows else np.zeros(0, np.int64)
    sp_at = np.where(sp_len > 0, pc.binary_length(spans.field("before")).to_numpy(zero_copy_only=False), 0) if n_rows \
        else np.zeros(0, np.int64)
    sp_at = np.where(sp_len > 0, sp_at, np.where(closing, tag_len - 2, tag_len))
    body = tag_len                                          # where the cells start, relative to the row
    ranges = []
    for run in runs:
        a = pc.find_substring_regex(rows, rf'<c\b[^>/]*\br="{columns_from(run[0])}\d|</row>').to_numpy(zero_copy_only=False)
        b = pc.find_substring_regex(rows, rf'<c\b[^>/]*\br="{columns_from(run[-1] + 1)}\d|</row>').to_numpy(zero_copy_only=False)
        a, b = np.where(closing, body, a).astype(np.int64), np.where(closing, body, b).astype(np.int64)
        ranges.append((a, b))
    formula_rows = np.zeros(n_rows, bool)
    if n_rows and owned:
        letters = "|".join(col_letter(c) for c in owned)
        formula_rows = np.asarray(pc.match_substring_regex(rows, rf'<c\b[^>/]*\br="(?:{letters})\d+"[^>/]*>\s*<f\b'), dtype=bool)
    return RowScan(rows_xml, owned, starts, ends, prefix_len, existing, tag_len, closing, sp_len, sp_at, ranges, formula_rows)


def patch_rows(rows_xml: bytes, row_numbers, cells: dict[int, pa.Array], owned: list[int],
               chunked: bool = False, scan: RowScan | None = None, blocks: list | None = None) -> tuple[bytes, bool]:
    """Replace the owned columns' cells of the given rows; add rows that do not exist yet.

    row_numbers: the rows written, ascending; cells: {column: cell XML per row ('' or null: no cell)},
    columns among `owned`, the columns whose old cells are removed in those rows. Rows LeadQ does not
    write are kept byte for byte. Returns the new rows XML (bytes-like: an Arrow buffer, not copied
    once more) and whether a formula was removed from an owned cell. chunked: the new rows XML as a
    function yielding it in pieces instead, each made when it is asked for (a deflater's input: the
    patched sheet is never held whole once more beside the old one). scan: scan_rows of these same
    rows and owned columns, made earlier (else made here). blocks: the new cells already joined, one
    large_string array per run of adjacent owned columns (cell_block), '' for no cells; `cells` then only
    says which columns are written.

    No row is handled in Python: RE2 searches (Arrow's kernels) find in every row where its start tag
    ends and where each block of owned columns starts and ends (cells of a row go left to right); the
    result is then the sheet's own bytes and the new cells, as ranges (Arrow string views), joined once.
    """
    row_numbers = np.asarray(row_numbers, dtype=np.int64)
    owned = sorted(set(owned) | set(cells))
    runs = column_runs(owned)
    if scan is None or scan.rows_xml is not rows_xml or scan.owned != owned:
        scan = scan_rows(rows_xml, owned)
    rows_xml = scan.rows_xml
    starts, ends, existing, closing = scan.starts, scan.ends, scan.existing, scan.closing
    tag_len, sp_len, sp_at, ranges = scan.tag_len, scan.sp_len, scan.sp_at, scan.ranges
    n_rows = len(starts)
    body = tag_len
    at = np.searchsorted(row_numbers, existing)
    hit = at < len(row_numbers)
    hit[hit] = row_numbers[at[hit]] == existing[hit]

    # New cells, one string per written row and run of owned columns, in one buffer.
    if blocks is None:
        blocks = [_join(*(_text_array(cells[c]) for c in run if c in cells)) if any(c in cells for c in run)
                  else pa.array([""] * len(row_numbers), pa.large_string()) for run in runs]
    elif len(blocks) != len(runs) or any(len(b) != len(row_numbers) or b.type != pa.large_string() for b in blocks):
        raise ValueError("patch_rows: one large_string block per run of owned columns, one string per row")
    missing = np.flatnonzero(~np.isin(row_numbers, existing))
    added = pc.take(_join(*blocks), pa.array(missing)) if len(blocks) and len(missing) else pa.array([], pa.large_string())
    added_rows = _join('<row r="', pc.cast(_row_strings(row_numbers[missing]), pa.large_string()), '">', added, "</row>")
    keep_added = np.asarray(pc.not_equal(added, ""), dtype=bool) if len(added) else np.zeros(0, bool)
    new = pa.concat_arrays([b for b in blocks] + [added_rows]) if blocks else added_rows
    new_offsets = np.frombuffer(new.buffers()[1], np.int64)[new.offset:new.offset + len(new) + 1]
    new_data = new.buffers()[2] if new.buffers()[2] is not None else b""      # read in place, not copied

    formulas = bool(scan.formula_rows[hit].any()) if hit.any() and owned else False
    bounds = [body] + [x for ab in ranges for x in ab]
    if hit.any() and any(np.any((bounds[i] > bounds[i + 1])[hit] | (bounds[i + 1] < 0)[hit]) for i in range(len(bounds) - 1)):
        raise WorkbookError("the cells of a row are not in column order; open and save the workbook in Excel first")

    # Every output row as the same number of segments: (start, length, buffer) each; 0 = the sheet, 1 = new cells.
    n_out = n_rows + int(keep_added.sum())
    segs = 5 + 2 * len(runs)
    st = np.zeros((n_out, segs), np.int64)
    ln = np.zeros((n_out, segs), np.int64)
    buf = np.zeros((n_out, segs), np.int64)
    literal = np.zeros((n_out, segs), bool)
    mine = np.flatnonzero(hit)
    rest = np.flatnonzero(~hit)
    st[rest, 0], ln[rest, 0] = starts[rest], ends[rest] - starts[rest]              # untouched: as it was
    r0 = starts[mine]
    st[mine, 0], ln[mine, 0] = r0, sp_at[mine]                                     # <row … up to spans
    tag_end = np.where(closing, tag_len - 2, tag_len)[mine]
    st[mine, 1] = r0 + sp_at[mine] + sp_len[mine]                                  # … after spans, up to > or />
    ln[mine, 1] = tag_end - sp_at[mine] - sp_len[mine]
    literal[mine, 2] = closing[mine]                                               # '>' when it was <row …/>
    prev = body[mine]
    for j, (a, b) in enumerate(ranges):
        st[mine, 3 + 2 * j], ln[mine, 3 + 2 * j] = r0 + prev, a[mine] - prev        # user cells before the run
        k = at[mine] + j * len(row_numbers)                                          # the run's new cells
        st[mine, 4 + 2 * j], ln[mine, 4 + 2 * j] = new_offsets[k], new_offsets[k + 1] - new_offsets[k]
        buf[mine, 4 + 2 * j] = 1
        prev = b[mine]
    literal[mine, segs - 2] = closing[mine]                                        # '</row>' when it was <row …/>
    st[mine, segs - 1], ln[mine, segs - 1] = r0 + prev, (ends - starts)[mine] - prev
    if n_out > n_rows:
        k = len(runs) * len(row_numbers) + np.flatnonzero(keep_added)
        st[n_rows:, 0], ln[n_rows:, 0], buf[n_rows:, 0] = new_offsets[k], new_offsets[k + 1] - new_offsets[k], 1
    lit = np.flatnonzero(literal.ravel())
    keys = np.concatenate([existing, row_numbers[missing][keep_added]])
    order = np.argsort(keys, kind="stable")
    flat_st, flat_ln, flat_buf = st.ravel(), ln.ravel(), buf.ravel()
    # The two literals live in a third small buffer: '>' then '</row>'.
    flat_buf[lit] = 2
    is_close = (lit % segs) == segs - 2
    flat_st[lit], flat_ln[lit] = np.where(is_close, 1, 0), np.where(is_close, 6, 1)
    index = (order[:, None] * segs + np.arange(segs)).ravel()
    # What comes before the first row (whitespace, usually nothing) is the first range.
    views = _views(np.concatenate([[0], flat_st[index]]), np.concatenate([[scan.prefix_len], flat_ln[index]]),
                   np.concatenate([[0], flat_buf[index]]), [rows_xml, new_data, b"></row>"])
    if chunked:
        return (lambda: _pieces(views)), formulas
    return _joined(views), formulas


def _joined(views: pa.Array):
    """The string views' bytes end to end, in one new buffer (bytes-like)."""
    joined = views.cast(pa.large_string())
    size = int(np.frombuffer(joined.buffers()[1], np.int64)[joined.offset + len(joined)])
    return joined.buffers()[2].slice(0, size) if size else b""


PIECE = 1 << 16         # string views (about 9,000 rows of a sheet) joined at a time


def _pieces(views: pa.Array):
    """The string views' bytes end to end, a few thousand views at a time."""
    for start in range(0, len(views), PIECE):
        piece = _joined(views.slice(start, PIECE))
        if len(piece):
            yield piece


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


def code_name(edit, part: str) -> str | None:
    """The VBA code name of an existing sheet (kept when LeadQ rebuilds it: macros refer to it)."""
    if part not in edit.pkg.names:
        return None
    m = re.search(rb'<sheetPr\b[^>]*?\bcodeName="([^"]*)"', edit.pkg.read_start(part, lambda data: len(data) >= 4000)[:4000])
    return m.group(1).decode("utf-8", "replace").replace("&amp;", "&") if m else None


def sheet_xml(rows: str, last_col: int, last_row: int, widths: list[float], *, freeze_row: int = 0,
              autofilter: str | None = None, merges: list[str] = (), hyperlinks: list[tuple[str, str, str]] = (),
              extra_before_drawing: str = "", drawing_rid: str | None = None, tab_color: str | None = None,
              show_grid: bool = True, zoom: int | None = None, code_name: str | None = None,
              fit_to: tuple[int, int] | None = None, landscape: bool = False, row_breaks: list[int] = (),
              scale: int | None = None) -> bytes:
    """A whole worksheet part from prepared <row> XML; hyperlinks are (cell, location, text) as raw text.
    `fit_to` (pages wide, pages tall; 0: as many as needed) scales the printout to fit, or `scale` (percent)
    sets it; `row_breaks`: the rows after which a printed page ends."""
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
             f'<worksheet xmlns="{NS["m"]}" xmlns:r="{NS["r"]}">']
    if tab_color or code_name or fit_to:
        code = f' codeName="{xml_attr(code_name)}"' if code_name else ""
        tab = f'<tabColor rgb="FF{tab_color.lstrip("#")}"/>' if tab_color else ""
        fit = '<pageSetUpPr fitToPage="1"/>' if fit_to else ""
        parts.append(f"<sheetPr{code}>{tab}{fit}</sheetPr>")
    parts.append(f'<dimension ref="A1:{col_letter(max(last_col, 0))}{max(last_row, 1)}"/>')
    grid = "" if show_grid else ' showGridLines="0"'
    zoom_attr = f' zoomScale="{zoom}" zoomScaleNormal="{zoom}"' if zoom else ""
    view = f'<sheetView workbookViewId="0"{grid}{zoom_attr}>'
    if freeze_row:
        view += (f'<pane ySplit="{freeze_row}" topLeftCell="A{freeze_row + 1}" activePane="bottomLeft" state="frozen"/>'
                 f'<selection pane="bottomLeft" activeCell="A{freeze_row + 1}" sqref="A{freeze_row + 1}"/>')
    parts.append(f"<sheetViews>{view}</sheetView></sheetViews>")
    parts.append('<sheetFormatPr defaultRowHeight="15"/>')
    parts.append("<cols>" + "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
                                    for i, w in enumerate(widths)) + "</cols>")
    parts.append(f"<sheetData>{rows}</sheetData>")
    if autofilter:
        parts.append(f'<autoFilter ref="{autofilter}"/>')
    if merges:
        parts.append(f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>")
    parts.append(extra_before_drawing)
    if hyperlinks:
        parts.append("<hyperlinks>" + "".join(
            f'<hyperlink ref="{xml_attr(ref)}" location="{xml_attr(loc)}" display="{xml_attr(cap_text(str(disp))[:2000])}"/>'
            for ref, loc, disp in hyperlinks) + "</hyperlinks>")
    parts.append('<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>')
    if fit_to:
        parts.append(f'<pageSetup orientation="{"landscape" if landscape else "portrait"}" fitToWidth="{fit_to[0]}" '
                     f'fitToHeight="{fit_to[1]}"/>')
    elif scale:
        parts.append(f'<pageSetup scale="{int(scale)}" orientation="{"landscape" if landscape else "portrait"}"/>')
    else:
        parts.append('<pageSetup orientation="landscape" fitToHeight="0"/>')
    if row_breaks:
        parts.append(f'<rowBreaks count="{len(row_breaks)}" manualBreakCount="{len(row_breaks)}">'
                     + "".join(f'<brk id="{r}" max="16383" man="1"/>' for r in row_breaks) + "</rowBreaks>")
    if drawing_rid:
        parts.append(f'<drawing r:id="{drawing_rid}"/>')
    parts.append("</worksheet>")
    return "".join(parts).encode("utf-8")
