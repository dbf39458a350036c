"""Bring a CRM or marketing-tool export into a LeadQ workbook.

`read_export` reads a CSV (delimiter `,` `;` tab or `|` and encoding UTF-8, UTF-8 with BOM or
cp1252 sniffed, quoted newlines kept) or one sheet of an .xlsx/.xlsm/.xls/.ods file into text
columns, exactly as exported. `prepare` gives its columns LeadQ's names where header matching
recognises them (the others keep their header) and types a text column whose every value reads
one way: numbers become numbers, dates dates (a column whose dates could be read in two orders
stays text, read at refresh in the workbook's date order); ids, phone numbers and codes with a
leading zero stay text.
`import_rows` appends or replaces the rows of a table of an existing workbook, at zip level, so
every other part of the file — user columns, macros, other sheets — is kept.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import fastexcel
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core.values.headers import LEAD_ID, LEADS_OUTPUTS, canonicalize, header_row, is_id_like, match_headers
from ..core.values.parse import blank_mask, read_dates, read_numbers
from ..core.values.text import fold, key
from ..errors import Problem, WorkbookError
from ..problems import IMPORT_UNREADABLE

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
SHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
_DELIMITERS = ",;\t|"
_OUTPUT_KEYS = {key(n) for n in LEADS_OUTPUTS}
# Columns whose values are names, not quantities: kept as text even when they look like numbers.
_TEXT_FIELDS = {LEAD_ID, "Phone", "Email"}
_TEXT_HINT = re.compile(r"phone|mobile|tel\b|fax|zip|postal|postcode|code postal|siret|siren|vat|iban|\bref\b")
_CODE = re.compile(r"^\s*(?:\+|0\d)")            # +33 6…, 0612…, 007: a leading zero or plus is part of the name


def _error(path: Path, message: str) -> WorkbookError:
    p = Problem(IMPORT_UNREADABLE, str(path), message, "error")
    return WorkbookError(str(p), [p])


EXCEL_MAX_COLUMNS = 16_384


def decode_lines(data: bytes) -> tuple[str, str, int]:
    """Like `decode`, and a file that is UTF-8 except some lines (two exports concatenated, one from
    Excel for Windows) read line by line: each line UTF-8 when it is, else cp1252. Returns
    (text, encoding, lines read as cp1252 in a UTF-8 file)."""
    text, encoding = decode(data)
    if encoding not in ("cp1252", "latin-1"):
        return text, encoding, 0
    lines = data.split(b"\n")
    good = 0
    out, repaired = [], 0
    for line in lines:
        try:
            part = line.decode("utf-8")
            good += any(b > 0x7F for b in line)
        except UnicodeDecodeError:
            part = line.decode("cp1252", errors="replace")
            repaired += 1
        out.append(part)
    if not good:                      # no line of UTF-8 beyond ASCII: a cp1252 file, read as such
        return text, encoding, 0
    return "\n".join(out), "utf-8", repaired


def decode(data: bytes) -> tuple[str, str]:
    """The text of an export and its encoding: UTF-8 (with or without BOM), else cp1252 (Excel's
    'CSV' on Western Windows), else Latin-1 (which reads any byte)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: the one splitting the first lines into the most equal,
    widest rows (quotes respected), among , ; tab and |."""
    sample = text[:65536]
    best, score = ",", (-1, -1)
    for d in _DELIMITERS:
        rows = list(csv.reader(io.StringIO(sample), delimiter=d))[:20]
        if len(rows) > 1 and sample and not sample.endswith("\n"):
            rows = rows[:-1]                        # the sample may cut the last line
        widths = [len(r) for r in rows if r]
        if not widths or widths[0] < 2:
            continue
        same = sum(w == widths[0] for w in widths)
        if (same, widths[0]) > score:
            best, score = d, (same, widths[0])
    return best


def read_csv_text(text: str, delimiter: str | None = None) -> pd.DataFrame:
    """A CSV text as text columns (blank cells None), header on the first non-empty row."""
    delimiter = delimiter or sniff_delimiter(text)
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return pd.DataFrame()
    top = header_row([sum(bool(c.strip()) for c in r) for r in rows[:30]])
    header = [h.strip() for h in rows[top]]
    width = max(len(header), *(len(r) for r in rows[top + 1:])) if len(rows) > top + 1 else len(header)
    header += [f"Column {i + 1}" for i in range(len(header), width)]
    body = [r + [""] * (width - len(r)) for r in rows[top + 1:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    return frame.replace(r"^\s*$", None, regex=True) if len(frame) else frame


def read_export(path, sheet: str | None = None) -> pd.DataFrame:
    """Read an export file: CSV (sniffed) or a sheet of a spreadsheet (default: the first)."""
    path = Path(path)
    if not path.is_file():
        raise _error(path, "file not found")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        text, _, repaired = decode_lines(path.read_bytes())
        notes = []
        if repaired:
            notes.append(f"{path.name}: {repaired} line(s) were not UTF-8 like the rest (cp1252, from Excel for Windows?) "
                         "and were read as cp1252; check their accents")
        # Excel for Mac's "CSV" ends lines with CR only; mixed ends are read alike.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        frame = _concatenated(read_csv_text(text.replace("\n\ufeff", "\n")), path, notes)
        _check_width(frame, path)
        frame.attrs["leadq_import_notes"] = notes
        return frame
    if suffix in SHEET_SUFFIXES:
        try:
            reader = fastexcel.read_excel(str(path))
        except Exception as e:   # fastexcel raises its own hierarchy for damaged files
            raise _error(path, f"cannot be read as a spreadsheet ({_reason(e)}); it may be damaged, protected by a "
                               "password or another format renamed: open it and save it as .xlsx or CSV") from None
        names = reader.sheet_names
        if sheet is not None and sheet not in names:
            from ..core.values.text import did_you_mean
            raise _error(path, f'no sheet "{sheet}"{did_you_mean(sheet, names)}; its sheets: {", ".join(names)}')
        raw = reader.load_sheet(sheet if sheet is not None else names[0], header_row=None).to_pandas()
        if raw.empty:
            return pd.DataFrame()
        filled = raw.notna().sum(axis=1).tolist()
        top = header_row(filled)
        header = [str(h).strip() if h is not None and h == h else f"Column {i + 1}" for i, h in enumerate(raw.iloc[top])]
        body = raw.iloc[top + 1:].reset_index(drop=True)
        body.columns = header
        _check_width(body, path)
        return body.astype(object).where(body.notna(), None)
    raise _error(path, f'"{path.suffix}" is not an export LeadQ reads: save it as CSV or .xlsx')


def _reason(e: Exception) -> str:
    """One short line of a reader's error: its first line, without the reader's own prefixes."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    first = re.sub(r"^(?:\w+ error:\s*)+", "", first, flags=re.IGNORECASE)
    first = re.sub(r",? signature (?:\\x[0-9a-f]{2})+", "", first)
    return first[:120]


def _concatenated(frame: pd.DataFrame, path: Path, notes: list[str]) -> pd.DataFrame:
    """Exports pasted one after another repeat their header (and BOM) mid-file: those rows are not
    data. They are dropped and said in a note."""
    if frame.empty or frame.shape[1] < 2:
        return frame
    header = pd.Series([str(c).strip() for c in frame.columns], index=frame.columns)
    same = frame.astype(object).fillna("").astype(str).apply(lambda col: col.str.strip()).eq(header).all(axis=1).to_numpy()
    if not same.any():
        return frame
    lines = (np.flatnonzero(same) + 2).tolist()
    notes.append(f"{path.name}: the header repeats at line(s) {', '.join(map(str, lines[:5]))}"
                 f"{' …' if len(lines) > 5 else ''} (exports concatenated?); read as {len(lines) + 1} parts "
                 "with one header, the repeated header rows left out")
    return frame[~same].reset_index(drop=True)


def _check_width(frame: pd.DataFrame, path: Path) -> None:
    if frame.shape[1] > EXCEL_MAX_COLUMNS:
        raise _error(path, f"has {frame.shape[1]:,} columns; an Excel sheet holds at most {EXCEL_MAX_COLUMNS:,}: "
                           "export only the columns you need")


def prepare(frame: pd.DataFrame, sheet: str, notes: list[str] | None = None) -> pd.DataFrame:
    """An export's columns under LeadQ's names where recognised; the others keep their header.
    A column named like a LeadQ result (Stage, Score…) is kept as "CRM <name>", never overwritten.
    What was guessed (an id column taken as Lead ID) is added to `notes`, one line each."""
    frame = frame.copy()
    frame.columns = [f"CRM {c}" if sheet == "Leads" and key(c) in _OUTPUT_KEYS else c for c in frame.columns]
    out, hmap = canonicalize(frame, sheet)
    if hmap.guessed_id and notes is not None:
        notes.append(f'{sheet}: "{hmap.guessed_id}" taken as Lead ID ({hmap.guess_reason}); if it is not the lead\'s '
                     'id, write the right column beside "Lead ID" in Settings\' Column mapping')
    if hmap.deal_title and notes is not None:
        notes.append(f'{sheet}: "{hmap.deal_title}" beside deal columns is kept as the deal\'s title, not read as Job title')
    for i, name in enumerate(out.columns):
        out.isetitem(i, typed(out.iloc[:, i], str(name)))
    return out


def typed(values: pd.Series, name: str) -> pd.Series:
    """A text column as numbers or dates when every value reads one way, else as it is.

    Numbers are read like refresh reads them (one decimal separator for the column); dates keep
    their time of day; a column with one value that is neither, an id, a phone number, a code
    with a leading zero, or dates that could be read day-first or month-first stays text."""
    if name in _TEXT_FIELDS or is_id_like(name) or _TEXT_HINT.search(fold(name)):
        return values
    blank = blank_mask(values).to_numpy()
    filled = values[~blank]
    if filled.empty or not filled.map(lambda v: isinstance(v, str)).all():
        return values
    text = filled.astype(str)
    if text.str.match(_CODE).any():
        return values
    nums = read_numbers(text)
    if not (nums.bad | nums.is_range).any():
        return pd.Series(np.where(blank, None, nums.value.reindex(values.index).to_numpy(object)),
                         index=values.index, dtype=object)
    if text.str.fullmatch(r"\s*\d+\s*").all():
        return values
    dates = read_dates(text)
    if dates.bad.any() or dates.guessed:
        return values
    full = pd.to_datetime(text, errors="coerce", format="ISO8601")
    when = full.where(full.dt.normalize() == dates.dates, dates.dates)
    out = pd.Series(None, index=values.index, dtype=object)
    out[~blank] = list(when)
    return out


def import_rows(workbook, sheet: str, frame: pd.DataFrame, replace: bool = False, target=None) -> tuple[int, list[str]]:
    """Append (or replace) the rows of a workbook's table from an export; returns (rows written,
    export columns with no column in the table). Columns are matched by header like refresh does."""
    from .edit import PackageEdit
    from .package import Package, col_letter, parse_xml, to_xml
    from .reader import table_layout
    from .sheetxml import patch_rows, set_dimension, split
    from .styles import StyleBook
    from .writer import check_not_open

    workbook = Path(workbook)
    target = Path(target or workbook)
    check_not_open(workbook)
    pkg = Package(workbook)
    try:
        reader = fastexcel.read_excel(str(workbook))
        lay = table_layout(pkg, reader, sheet)
        if lay is None or not lay.table_part:
            raise _error(workbook, f'no "{sheet}" table to import into; import into a workbook made by `leadq new`')
        table = parse_xml(pkg.read(lay.table_part))
        if int(table.get("totalsRowCount", "0") or 0):
            raise _error(workbook, f'the {sheet} table has a totals row; remove it before importing')
        theirs = match_headers(list(frame.columns), sheet)
        ours = match_headers(lay.headers, sheet)
        column_of = {key(h): i for i, h in enumerate(lay.headers)}
        placed: dict[int, int] = {}                     # table column index -> frame column position
        for canonical, pos in theirs.positions.items():
            if canonical in ours.positions:
                placed[ours.positions[canonical]] = pos
        skipped = []
        for header, pos in zip(theirs.custom, theirs.custom_positions):
            i = column_of.get(key(header))
            if i is None or i in placed:
                skipped.append(str(header))
            else:
                placed[i] = pos
        existing = 0
        if not replace and lay.last_row > lay.header_row:
            data = reader.load_table(lay.table_name).to_pandas() if lay.table_name else None
            filled = data.notna() & data.astype(str).apply(lambda c: c.str.strip() != "") if data is not None else None
            rows_with_data = np.flatnonzero(filled.any(axis=1).to_numpy()) if filled is not None else []
            existing = int(rows_with_data[-1]) + 1 if len(rows_with_data) else 0
        start = lay.first_data_row + existing
        n = len(frame)
        rows = np.arange(n, dtype=np.int64) + start
        edit = PackageEdit(pkg)
        styles_part = "xl/styles.xml"
        styles = StyleBook(pkg.read(styles_part) if styles_part in pkg.names else None)
        text_style, date_style = styles.xf(), styles.xf(num_fmt="yyyy-mm-dd")
        cols = sorted(placed)
        cells = [_cells(col_letter(lay.first_col + i), rows, frame.iloc[:, placed[i]], text_style, date_style)
                 for i in cols]
        all_cols = [lay.first_col + i for i in range(len(lay.headers))]
        old_rows = np.arange(lay.first_data_row, lay.last_row + 1, dtype=np.int64) if replace else np.zeros(0, np.int64)
        row_numbers = np.union1d(old_rows, rows)
        # Each column's cells, one per written row; the replaced rows below the export get none.
        where = pa.array(np.searchsorted(rows, row_numbers), mask=~np.isin(row_numbers, rows))
        patch = {lay.first_col + i: pc.take(column, where) for i, column in zip(cols, cells)}
        head, rows_xml, tail = split(edit.read(lay.part))
        _check_below_is_free(rows_xml, lay, start + n - 1, all_cols)
        rows_xml, _ = patch_rows(rows_xml, row_numbers, patch, all_cols if replace else [lay.first_col + i for i in cols])
        last = max(start + n - 1, lay.first_data_row) if replace else max(lay.last_row, start + n - 1, lay.first_data_row)
        head = set_dimension(head, last, all_cols[-1])
        edit.put(lay.part, head.encode("utf-8") + rows_xml + tail.encode("utf-8"))
        r1 = lay.header_row
        ref = f"{col_letter(all_cols[0])}{r1}:{col_letter(all_cols[-1])}{last}"
        table.set("ref", ref)
        af = table.find("{*}autoFilter")
        if af is not None:
            af.set("ref", ref)
        edit.put(lay.table_part, to_xml(table))
        if styles.changed or styles_part not in pkg.names:
            edit.put(styles_part, styles.to_bytes(),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml")
        edit.save(target)
    finally:
        pkg.close()
    return n, skipped


def _cells(letter: str, rows: np.ndarray, values: pd.Series, text_style: int, date_style: int) -> pa.Array:
    """One column's cells: date cells stay dates, numbers numbers, everything else text (never a formula)."""
    from .sheetxml import number_cells, text_cells
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        return text_cells(letter, rows, values, text_style)
    is_date = values.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat"),
                         na_action="ignore").astype(object).fillna(False).astype(bool)
    is_num = values.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool),
                        na_action="ignore").astype(object).fillna(False).astype(bool)
    when = pd.to_datetime(values.where(is_date), errors="coerce")
    serial = ((when - pd.Timestamp("1899-12-30")).dt.total_seconds() / 86400).to_numpy(float)
    nums = pd.to_numeric(values.where(is_num), errors="coerce").to_numpy(float)
    text = values.where(~is_date & ~is_num, None)
    return pc.binary_join_element_wise(number_cells(letter, rows, serial, date_style),
                                       number_cells(letter, rows, nums, text_style),
                                       text_cells(letter, rows, text.map(lambda v: None if v is None else str(v)), text_style), "")


def _check_below_is_free(rows_xml: bytes, lay, last: int, cols: list[int]) -> None:
    """Growing a table over cells that hold data would overwrite them: refuse, naming the first."""
    import re

    from .package import col_letter, parse_ref
    if last <= lay.last_row:
        return
    for m in re.finditer(rb'<c\b[^>]*?\br="([A-Z]+\d+)"[^>]*?>(.*?)</c>', rows_xml, re.S):
        row, col = parse_ref(m.group(1).decode())
        if lay.last_row < row <= last and col in cols and (b"<v" in m.group(2) or b"<is" in m.group(2) or b"<f" in m.group(2)):
            raise WorkbookError(f"{lay.sheet}!{col_letter(col)}{row} holds data below the {lay.sheet} table, where the "
                                "imported rows would go; move it, then import again")
