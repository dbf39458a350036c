"""Write LeadQ's results into the user's workbook without touching anything else.

LeadQ owns: its output columns on Leads (recorded in the hidden defined names _LeadQ_Outputs and
_LeadQ_Layout, see core/report/outputs.py),
the conditional formats that lie inside them, the Score details and Summary sheets, and the
"Last refresh" / "Status" values on Settings. Every other part of the file is copied byte for
byte; in the Leads sheet only the owned cells change.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..core.model import Evaluation
from ..core.report.outputs import LAYOUT_NAME, OWNED_NAME, Owned, layout_version, marked_columns, marker, not_free, outputs, owned_positions
from ..core.report.present import (
    DETAIL_WIDTHS,
    DETAILS_HEADER_FORMAT,
    LEADS_HEADER_FORMAT,
    NUMERIC_OUTPUTS,
    SCORE_DETAILS,
    WIDTHS,
    color_rules,
    detail_format,
    details_values,
    output_format,
    owned_values,
)
from ..errors import Problem, WorkbookError
from ..problems import DAMAGED_PART
from .dropdowns import refresh_activity_types
from .edit import PackageEdit
from .ownership import claim_sheet, owned_settings
from .package import Deflated, Package, check_writable, col_letter, fingerprint, parse_range, return_free_memory, to_xml
from .parts.history import write_history
from .reader import TableLayout, WorkbookData
from .sheetxml import (
    cap_text,
    cell_block,
    cf_equals,
    code_name,
    column_runs,
    ensure_widths,
    max_cf_priority,
    patch_rows,
    replace_owned_cf,
    scan_rows,
    set_dimension,
    sheet_rows,
    sheet_xml,
    split,
)
from .styles import StyleBook

EXCEL_MAX_COLS = 16_384


@dataclass
class WriteReport:
    target: Path
    owned_columns: str
    details_rows: int
    details_cut: int
    problems: list = field(default_factory=list)
    history_rows: int = 0        # rows this refresh appended to History


def lock_file(path: Path) -> Path:
    return path.with_name("~$" + path.name)


def lock_files(path: Path) -> list[tuple[Path, str]]:
    """The lock files Excel and LibreOffice keep beside a workbook they have open."""
    return [(lock_file(path), "Excel"), (path.with_name(f".~lock.{path.name}#"), "LibreOffice")]


def check_not_open(path: Path) -> None:
    seen = {Path(path), Path(os.path.realpath(path))}
    for p in seen:
        for lock, app in lock_files(p):
            if lock.exists():
                raise WorkbookError(f"{p.name} is open in {app} (lock file {lock.name} exists): close it first, "
                                    "or write elsewhere with --output")


def check_extension(source: Path, target: Path) -> None:
    """Excel refuses a file whose extension does not match its content (macros or not)."""
    if target.suffix.lower() != source.suffix.lower():
        why = ("its macros cannot go in an .xlsx file" if source.suffix.lower() == ".xlsm"
               else "Excel refuses a file whose extension does not match its content")
        raise WorkbookError(f"{target.name}: the output must keep the workbook's extension ({source.suffix}): {why}; "
                            f"use --output {target.with_suffix(source.suffix).name}")


def _owned_columns(edit: PackageEdit, lay: TableLayout) -> Owned:
    """Where LeadQ's outputs go on Leads, after the columns the last refresh recorded."""
    return owned_positions(lay.headers, lay.first_col, marked_columns(edit.get_defined_name(OWNED_NAME)),
                           layout_version(edit.get_defined_name(LAYOUT_NAME)))


def _check_free(rows_xml: bytes, owned: Owned) -> None:
    letters = "|".join(col_letter(c) for c in owned.new).encode()
    # A self-closing <c r="U2" s="2"/> only carries a format (Excel writes them for formatted columns): empty.
    for m in re.finditer(rb'<c\b[^>]*?\br="((?:%s)(\d+))"[^>]*?(?:/>|>(.*?)</c>)' % letters, rows_xml, re.S):
        inner = m.group(3) or b""
        if b"<v" in inner or b"<is" in inner or b"<f" in inner:
            raise not_free(m.group(1).decode(), owned)


def _update_table(edit: PackageEdit, lay: TableLayout, owned: Owned | None = None) -> None:
    """Extend a table down over the rows read below it (core.values.table.rows_below) and, on Leads, right
    over the output columns beside it."""
    from lxml import etree

    from .package import parse_xml
    root = parse_xml(edit.read(lay.table_part), lay.table_part)
    r1, c1, r2, c2 = parse_range(root.get("ref"))
    beyond = sorted((c, name) for c, name in zip(owned.columns, outputs()) if c > c2) if owned is not None else []
    bottom = max(r2, lay.last_row) if not int(root.get("totalsRowCount", "0") or 0) else r2
    if not beyond and bottom == r2:
        return
    last = beyond[-1][0] if beyond else c2
    root.set("ref", f"{col_letter(c1)}{r1}:{col_letter(last)}{bottom}")
    af = root.find("{*}autoFilter")
    if af is not None:
        af.set("ref", f"{col_letter(c1)}{r1}:{col_letter(last)}{bottom - int(root.get('totalsRowCount', '0') or 0)}")
    if beyond:
        tcs = root.find("{*}tableColumns")
        next_id = max([0] + [int(tc.get("id")) for tc in tcs]) + 1
        names = dict(beyond)
        for c in range(c2 + 1, last + 1):            # a gap (never made by LeadQ) gets Excel's default name
            etree.SubElement(tcs, tcs.tag.replace("tableColumns", "tableColumn"), id=str(next_id),
                             name=names.get(c, f"Column{next_id}"))
            next_id += 1
        tcs.set("count", str(len(tcs)))
    edit.put(lay.table_part, to_xml(root))


def extend_input_tables(edit: PackageEdit, data: WorkbookData) -> None:
    """The Activities, Qualification and Overrides tables grow over the rows read below them (Leads'
    table grows in write_leads), so the next refresh, Excel and a filter find them inside."""
    for sheet, lay in data.layouts.items():
        if sheet != "Leads" and lay.table_part and lay.last_row > lay.table_last_row:
            _update_table(edit, lay)


def leads_styles(edit: PackageEdit, styles: StyleBook, lay: TableLayout, ev: Evaluation) -> None:
    """Add the formats write_leads uses to the styles, in the order it adds them (a format's index is its
    place in the list), so another sheet's formats can be added next before the Leads sheet is written."""
    styles.xf(**LEADS_HEADER_FORMAT)
    for _, name in sorted(zip(_owned_columns(edit, lay).columns, outputs())):
        styles.xf(**output_format(name))
    for rule in color_rules(ev):
        styles.dxf(fill=rule.fill, font=rule.font)


@dataclass
class LeadsSheet:
    """The Leads sheet of the file, read and scanned for the owned columns (prefetch_leads)."""

    part: str
    columns: list
    head: str
    rows_xml: object
    tail: str
    scan: object


def prefetch_leads(path: Path, lay: TableLayout, after=None):
    """Read the Leads sheet and scan its rows for LeadQ's columns in a thread of its own, while the
    results are computed (after `after`, a Future, is done: the reading of the other sheets goes first).
    write_leads uses it when it is of the same sheet and columns; else, or if it failed, reads anew."""
    from concurrent.futures import ThreadPoolExecutor

    def work() -> LeadsSheet:
        if after is not None:
            try:
                after.result()
            except BaseException:
                pass
        return_free_memory()               # what reading the sheets freed, before this sheet is held
        pkg = Package(path)
        try:
            columns = owned_positions(lay.headers, lay.first_col, marked_columns(pkg.defined_name(OWNED_NAME)),
                                      layout_version(pkg.defined_name(LAYOUT_NAME))).columns
            head, rows_xml, tail = split(pkg.read_whole(lay.part), view=True)
            return LeadsSheet(lay.part, list(columns), head, rows_xml, tail, scan_rows(rows_xml, columns))
        finally:
            pkg.close()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadq-leads")
    future = pool.submit(work)
    pool.shutdown(wait=False)
    return future


def write_leads(edit: PackageEdit, styles: StyleBook, lay: TableLayout, ev: Evaluation, n_rows: int,
                prefetched=None) -> str:
    """Put the output values, headers, widths and colour rules on the Leads sheet; `prefetched`: the
    Future of prefetch_leads on the same file (its fingerprint checked since)."""
    owned = _owned_columns(edit, lay)
    sheet = None
    if prefetched is not None and lay.part not in edit.replaced:
        try:
            sheet = prefetched.result()
        except Exception:
            sheet = None                   # read anew below: the same error, if any, is met there
        if sheet is not None and (sheet.part != lay.part or sheet.columns != list(owned.columns)):
            sheet = None
    if sheet is not None:
        head, rows_xml, tail, scan = sheet.head, sheet.rows_xml, sheet.tail, sheet.scan
    else:
        head, rows_xml, tail = split(edit.read(lay.part, whole=True), view=True)
        scan = None
    if max(owned.columns) >= EXCEL_MAX_COLS:
        raise WorkbookError(f"{lay.sheet}: LeadQ adds its result columns right of the table, which would pass Excel's "
                            f"last column XFD (the table ends in column {col_letter(lay.first_col + len(lay.headers) - 1)}); "
                            "move the table left or remove empty columns")
    if owned.new:
        _check_free(rows_xml, owned)
    names = outputs()
    cols = owned.columns
    values = owned_values(ev, n_rows, objects=False)      # blank text stays missing: text_cells writes no cell either way
    data_rows = np.arange(n_rows, dtype=np.int64) + lay.first_data_row
    header_style = styles.xf(**LEADS_HEADER_FORMAT)
    order = sorted(zip(cols, names))            # cells of a row go left to right
    row_numbers = np.concatenate([[lay.header_row], data_rows])
    # Each run of adjacent columns' cells, header first, made in one join (sheetxml.cell_block).
    blocks = []
    for run in column_runs(sorted(cols)):
        named = [(c, dict(order)[c]) for c in run]
        header = "".join(f'<c r="{col_letter(c)}{lay.header_row}" s="{header_style}" t="inlineStr"><is><t>{_esc(name)}</t></is></c>'
                         for c, name in named)
        blocks.append(cell_block(data_rows, [(col_letter(c), name in NUMERIC_OUTPUTS,
                                              values[name].to_numpy(float) if name in NUMERIC_OUTPUTS else values[name],
                                              styles.xf(**output_format(name))) for c, name in named], first=header))
    rows_xml, had_formulas = patch_rows(rows_xml, row_numbers, dict.fromkeys(cols), cols, chunked=True, scan=scan,
                                        blocks=blocks)
    if had_formulas:
        edit.drop_calc_chain()
    last_row = max(lay.last_row, lay.first_data_row)
    head = set_dimension(head, last_row, max(cols))
    head = ensure_widths(head, {c: WIDTHS.get(n, 14) for c, n in order})
    rng = {name: f"{col_letter(c)}{lay.first_data_row}:{col_letter(c)}{last_row}" for c, name in order}
    priority = max_cf_priority(re.sub(r'<conditionalFormatting\b.*?</conditionalFormatting>', "", tail, flags=re.S))
    blocks = []
    for i, rule in enumerate(color_rules(ev)):
        blocks.append(cf_equals(rng[rule.column], rule.text, styles.dxf(fill=rule.fill, font=rule.font), priority + i + 1))
    tail = replace_owned_cf(tail, cols, blocks)
    # Made and deflated by a worker piece by piece: the patched sheet is never held whole beside the old one.
    head, tail = head.encode("utf-8"), tail.encode("utf-8")
    edit.put(lay.part, Deflated(lambda: itertools.chain((head,), rows_xml(), (tail,))))
    if lay.table_part:
        _update_table(edit, lay, owned)
    edit.defined_name(OWNED_NAME, marker(lay.sheet, lay.header_row, owned))
    edit.defined_name(LAYOUT_NAME, str(owned.version))
    return owned.letters()


DETAILS_CHUNK = 25_000         # rows made at a time (a few MB of XML, then deflated)


def write_details(edit: PackageEdit, styles: StyleBook, ev: Evaluation) -> tuple[int, int]:
    """Rebuild the Score details sheet: one row per lead per rule hit, streamed in chunks."""
    details, cut = details_values(ev)
    cols = list(details.columns)
    n = len(details)
    header_style = styles.xf(**DETAILS_HEADER_FORMAT)
    text_style = styles.xf()
    num_styles = {c: styles.xf(**detail_format(c)) for c in cols}
    header = "".join(f'<c r="{col_letter(i)}1" s="{header_style}" t="inlineStr"><is><t>{c}</t></is></c>'
                     for i, c in enumerate(cols))
    last = len(cols) - 1
    ref = f"A1:{col_letter(last)}{n + 1}"
    claim_sheet(edit, SCORE_DETAILS)
    part = edit.ensure_sheet(SCORE_DETAILS)
    head, _, tail = sheet_xml("\x00", last, n + 1, [DETAIL_WIDTHS[c] for c in cols], freeze_row=1, autofilter=ref,
                              tab_color="#7F7F7F", code_name=code_name(edit, part)).partition(b"\x00")

    def chunks():
        yield head + f'<row r="1">{header}</row>'.encode()
        for start in range(0, n, DETAILS_CHUNK):
            part = details.iloc[start:start + DETAILS_CHUNK]
            rows = np.arange(start, start + len(part), dtype=np.int64) + 2
            yield sheet_rows(rows, [(col_letter(i), True, part[c].to_numpy(float), num_styles[c])
                                    if pd.api.types.is_numeric_dtype(part[c].dtype) else
                                    (col_letter(i), False, part[c], text_style) for i, c in enumerate(cols)])
        yield tail

    edit.put(part, Deflated(chunks))        # made while LeadQ writes the rest
    edit.set_part_rels(part, [])
    edit.defined_name("_xlnm._FilterDatabase", f"'{SCORE_DETAILS}'!$A$1:${col_letter(last)}${n + 1}",
                      local_sheet=edit.sheet_index(SCORE_DETAILS))
    return n, cut


def write_settings(edit: PackageEdit, data: WorkbookData, values: dict[str, str]) -> list:
    """Put LeadQ's status values in column B of the Settings rows labelled like the keys (rows LeadQ made only)."""
    part = edit.pkg.sheet_part("Settings")
    rows = data.settings_rows
    if part is None or not rows:
        return []
    mine, problems = owned_settings(edit, edit.pkg.real_sheet_name("Settings"), rows, data.settings, list(values))
    todo = sorted((r, values[label]) for label, r in mine.items())
    if not todo:
        return problems
    head, rows_xml, tail = split(edit.read(part))
    style = re.search(rb'<c r="B%d"[^>]*?\bs="(\d+)"' % todo[0][0], rows_xml)
    s = f' s="{style.group(1).decode()}"' if style else ""
    cells = [f'<c r="B{r}"{s} t="inlineStr"><is><t xml:space="preserve">{_esc(v)}</t></is></c>' for r, v in todo]
    rows_xml, _ = patch_rows(rows_xml, np.array([r for r, _ in todo]), {1: pa.array(cells)}, [1])
    edit.put(part, head.encode("utf-8") + rows_xml + tail.encode("utf-8"))
    return problems


def _esc(s: str) -> str:
    from .package import xml_text
    return xml_text(cap_text(str(s)))


def write_results(source: Path, data: WorkbookData, ev: Evaluation, target: Path | None = None,
                  settings: dict[str, str] | None = None, summary=None, expect: tuple | None = None,
                  before_replace=None, leads_sheet=None) -> WriteReport:
    """Write everything LeadQ owns into a copy of `source` saved atomically at `target` (default: in place).

    `expect` is the source's fingerprint when `data` was read from it: if the file changed since
    (another program saved it), nothing is written, so results never mix two versions; `leads_sheet`: the
    Future of prefetch_leads on `source`, used only with `expect` (the file is then the one read). `before_replace`:
    called just before the workbook is replaced; if it raises, the workbook is left as it was. `summary`
    (io.parts.summary.summary_writer): called once Score details and Leads are being made, it returns the
    writer of the Summary sheet.
    """
    source = Path(source)
    target = Path(target or source)
    check_not_open(source)
    check_extension(source, target)
    if target != source:
        check_not_open(target)
    check_writable(Path(os.path.realpath(target)))
    problems = []
    pkg = Package(source)
    try:
        if expect is not None and fingerprint(source) != expect:
            raise WorkbookError(f"{source.name} was changed by another program while LeadQ was reading it; "
                                "LeadQ did not write anything — run the refresh again")
        edit = PackageEdit(pkg)
        # The input sheets but Leads are copied as they are: their checks start now, not when the save reaches them.
        pkg.check_early([lay.part for sheet, lay in data.layouts.items() if sheet != "Leads"])
        styles_part = "xl/styles.xml"
        styles = StyleBook(pkg.read(styles_part) if styles_part in pkg.names else None)
        lay = data.layouts["Leads"]
        # Score details is made and deflated by a worker while the Leads sheet is patched here; its
        # formats are added to the styles after the Leads ones, as when the sheets were written in turn.
        leads_styles(edit, styles, lay, ev)
        n, cut = write_details(edit, styles, ev)
        owned = write_leads(edit, styles, lay, ev, len(data.leads), leads_sheet if expect is not None else None)
        if summary is not None:
            summary = summary()        # the Summary's tables, computed while workers make and deflate those sheets
        extend_input_tables(edit, data)
        added = 0
        if ev.history is not None:
            added, history_problems = write_history(edit, styles, ev.history, data.history_sheet)
            ev.add_problems(history_problems)
        if summary is not None:
            summary(edit, styles)
        if settings:
            problems += write_settings(edit, data, settings)
        refresh_activity_types(edit, list(ev.rules.activities))
        if styles.changed or styles_part not in pkg.names:
            edit.put(styles_part, styles.to_bytes(),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml")
        damaged = edit.save(target, expect=expect, before_replace=before_replace)
    finally:
        pkg.close()
    problems += [Problem(DAMAGED_PART, name, "this part was already damaged in the workbook (its content does not "
                         "match its checksum); LeadQ copied it as it was — Excel may repair or drop it", severity="warning")
                 for name in damaged]
    return WriteReport(target, owned, n, cut, problems, added)


__all__ = ["write_results", "check_not_open", "WriteReport"]
