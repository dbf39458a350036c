"""The adversarial corpus's tools: build hostile workbooks by code, run LeadQ on them, judge the outcome.

Every case ends in one of two ways, both checked here:
- a clean refusal: exit 1 (or 2 for usage), one sentence naming the place, no traceback, no
  "please report" (the catch-all must never be what answers a foreseen case), the original
  byte-identical and no temporary file left beside it;
- a success: exit 0, every part LeadQ does not own byte-identical, every user cell of the
  Leads and Settings sheets identical (its XML, not just its value), and the result queued for
  the ooxcheck gate.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter
from conftest import AS_OF, ROOT, gate, ungate

from addin.cli import run

TALLY: dict[str, str] = {}          # case -> "refused" | "succeeded" | "traceback"
LEADQ_NAMES = ("_LeadQ_", "_xlnm._FilterDatabase")
CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*?(?:/>|>.*?</c>)', re.S)


SOCKETS = {"watched": 0, "opened": 0}     # runs traced by strace (test_trust), and network sockets they opened


def summary() -> dict:
    v = list(TALLY.values())
    return {"cases": len(v), "refused": v.count("refused"), "succeeded": v.count("succeeded"),
            "tracebacks": v.count("traceback"), "catchalls": v.count("catch-all"), **{f"sockets_{k}": n for k, n in SOCKETS.items()}}


def record(outcome: str, case: str | None = None) -> None:
    """Count a case of the trust tests (issue 26) in the corpus report: named after the running test."""
    import os
    TALLY[case or os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]] = outcome


# ---------------------------------------------------------------------------- building workbooks
LEAD_HEADERS = ["Lead ID", "First name", "Last name", "Email", "Company", "Job title", "Company size", "Industry",
                "Country", "Source", "Created", "Owner", "Deal stage", "Amount", "Next action", "Next action date"]


def lead_rows(n: int = 6) -> list[list]:
    return [[f"L{i}", "Ann", "Lee", f"ann{i}@acme{i}.fr", f"Acme {i}", "CEO" if i % 2 else "Analyst", 50 * i, "Software",
             "France", "Webinar", "2026-10-01", "Zoé", "Open" if i % 3 else "Won", 1000.0 * i, "Call", "2026-12-01"]
            for i in range(1, n + 1)]


def simple_book(path: Path, leads: list[list] | None = None, headers: list[str] | None = None, *, table: bool = True,
                activities: list[list] | None = None, extra=None, first_col: int = 0, vba: bool = False) -> Path:
    """A small workbook written by XlsxWriter (a valid file): Leads (a table or a plain range), Activities,
    and whatever `extra(workbook, leads_sheet)` adds (charts, user sheets, formulas...)."""
    headers = headers or LEAD_HEADERS
    leads = lead_rows() if leads is None else leads
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
                                         "nan_inf_to_errors": True})
    if vba:
        from addin.io.template import vba_project
        wb.add_vba_project(io.BytesIO(vba_project()), is_stream=True)
        wb.set_vba_name("ThisWorkbook")
    ws = wb.add_worksheet("Leads")
    if vba:
        ws.set_vba_name("Sheet1")
    if table:
        ws.add_table(0, first_col, len(leads), first_col + len(headers) - 1,
                     {"name": "Leads", "columns": [{"header": h} for h in headers], "data": leads or None,
                      "style": "Table Style Light 9"})
    else:
        ws.write_row(0, first_col, headers)
        for r, row in enumerate(leads, start=1):
            ws.write_row(r, first_col, row)
    acts = wb.add_worksheet("Activities")
    acts.write_row(0, 0, ["Lead ID", "Date", "Activity", "Detail"])
    for r, row in enumerate(activities if activities is not None else
                            [["L1", "2026-11-20", "webinar", "Demo"], ["L2", "2026-11-21", "page_visit", "https://x/pricing"]],
                            start=1):
        acts.write_row(r, 0, row)
    if extra:
        extra(wb, ws)
    wb.close()
    return path


def parts(path: Path) -> dict[str, bytes]:
    """Every part's content (a part already damaged in the file: its stored bytes, to compare as is)."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for i in z.infolist():
            try:
                out[i.filename] = z.read(i)
            except zipfile.BadZipFile:
                z.fp.seek(i.header_offset + 26)
                n, m = int.from_bytes(z.fp.read(2), "little"), int.from_bytes(z.fp.read(2), "little")
                z.fp.seek(i.header_offset + 30 + n + m)
                out[i.filename] = b"damaged:" + z.fp.read(i.compress_size)
    return out


def rezip(src: Path, dst: Path, changes: dict[str, bytes | None] | None = None, add_order: list[str] | None = None) -> Path:
    """A copy of a package with some parts replaced, added or (None) removed."""
    changes = changes or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    zout.writestr(info.filename, changes[info.filename])
            else:
                zout.writestr(info, zin.read(info))
        for name in add_order or [n for n in changes if n not in zin.namelist()]:
            if changes.get(name) is not None:
                zout.writestr(name, changes[name])
    return dst


def edit_part(src: Path, dst: Path, part: str, fn) -> Path:
    return rezip(src, dst, {part: fn(parts(src)[part])})


def sheet_part(path: Path, sheet: str) -> str:
    from addin.io.package import Package
    pkg = Package(path)
    try:
        return pkg.sheet_part(sheet)
    finally:
        pkg.close()


def corrupt_entry(src: Path, dst: Path, part: str, how: str) -> Path:
    """Damage one entry's stored bytes: 'crc' (content changed, CRC kept) or 'deflate' (garbled stream)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(part)
    with zipfile.ZipFile(src) as z:
        z.fp.seek(info.header_offset + 26)
        n, m = int.from_bytes(z.fp.read(2), "little"), int.from_bytes(z.fp.read(2), "little")
    start = info.header_offset + 30 + n + m
    if how == "crc":
        crc_at = info.header_offset + 14
        data[crc_at:crc_at + 4] = (info.CRC ^ 0xFFFF).to_bytes(4, "little")
        # the same wrong CRC in the central directory record, so only the content check can tell
        name = info.filename.encode()
        pos = 0
        while True:
            pos = bytes(data).find(b"PK\x01\x02", pos)
            if pos < 0:
                break
            nlen = int.from_bytes(data[pos + 28:pos + 30], "little")
            if bytes(data[pos + 46:pos + 46 + nlen]) == name:
                data[pos + 16:pos + 20] = (info.CRC ^ 0xFFFF).to_bytes(4, "little")
                break
            pos += 4
    else:
        mid = start + max(1, info.compress_size // 3)
        data[mid:mid + 16] = b"\xff" * 16
    dst.write_bytes(bytes(data))
    return dst


# ---------------------------------------------------------------------------- running and judging
@dataclass
class Outcome:
    code: int
    out: str
    err: str
    before: bytes | None
    path: Path


def attempt(path: Path, *argv, command: str = "refresh", as_of: bool = True) -> Outcome:
    import io as _io
    before = path.read_bytes() if path.is_file() else None
    args = [command, str(path), *map(str, argv)]
    if as_of and command in ("refresh", "explain") and "--as-of" not in args:
        args += ["--as-of", AS_OF]
    out, err = _io.StringIO(), _io.StringIO()
    code = run(args, out, err)
    return Outcome(code, out.getvalue(), err.getvalue(), before, path)


def no_traceback(case: str, o: Outcome) -> None:
    text = o.out + o.err
    if "Traceback" in text or "please report" in text:
        TALLY[case] = "traceback" if "Traceback" in text else "catch-all"
        raise AssertionError(f"{case}: not a clean sentence:\n{text}")


def no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".~leadq-")]
    assert not left, f"temporary files left behind: {left}"


def refused(case: str, o: Outcome, message: str, code: int = 1) -> None:
    """A clean refusal: the exit code, a sentence matching `message`, the original untouched."""
    no_traceback(case, o)
    assert o.code == code, f"{case}: exit {o.code}, expected {code}\n{o.out}{o.err}"
    assert re.search(message, o.err + o.out, re.I | re.S), f"{case}: message does not match {message!r}:\n{o.err}{o.out}"
    assert len((o.err.strip().splitlines() or [""])[-1]) < 1200
    if o.before is not None:
        assert o.path.read_bytes() == o.before, f"{case}: the original changed"
    if o.path.parent.is_dir():
        no_temporaries(o.path.parent)
    TALLY[case] = "refused"


def _names(workbook_xml: bytes) -> dict[tuple, bytes]:
    return {(m.group(1), m.group(2)): m.group(0) for m in re.finditer(
        rb'<definedName\b[^>]*?name="([^"]+)"(?:[^>]*?localSheetId="(\d+)")?[^>]*>.*?</definedName>', workbook_xml, re.S)}


def _cells(xml: bytes) -> dict[str, bytes]:
    start = xml.find(b"<sheetData")
    return {m.group(1).decode() + m.group(2).decode(): m.group(0) for m in CELL.finditer(xml, max(start, 0))}


def _table_core(xml: bytes) -> bytes:
    from lxml import etree
    root = etree.fromstring(xml)
    for el in root.iter():
        el.attrib.pop("ref", None)
    cols = root.find("{*}tableColumns")
    if cols is not None:
        root.remove(cols)
    return etree.tostring(root, method="c14n")


def _table_columns(xml: bytes) -> list[bytes]:
    from lxml import etree
    return [etree.tostring(c, method="c14n") for c in etree.fromstring(xml).iterfind("{*}tableColumns/{*}tableColumn")]


def owned_letters(after: dict[str, bytes]) -> set[str]:
    from addin.io.package import col_index, col_letter
    m = re.search(rb'name="_LeadQ_Outputs"[^>]*>[^<]*!\$([A-Z]+)\$\d+:\$([A-Z]+)\$\d+<', after["xl/workbook.xml"])
    assert m, "no _LeadQ_Outputs record"
    return {col_letter(c) for c in range(col_index(m.group(1).decode()), col_index(m.group(2).decode()) + 1)}


def owned_settings_cells(after: dict[str, bytes]) -> set[str]:
    return {m.group(1).decode() for m in re.finditer(rb'name="_LeadQ_(?:Status|LastRefresh)"[^>]*>[^<]*!\$B\$(\d+)<',
                                                     after["xl/workbook.xml"])}


def succeeded(case: str, o: Outcome, *, leads_sheet: str = "Leads", check_gate: bool | str = True, message: str | None = None) -> None:
    """A success that changed nothing outside LeadQ's parts and cells."""
    no_traceback(case, o)
    assert o.code == 0, f"{case}: exit {o.code}\n{o.out}{o.err}"
    if message:
        assert re.search(message, o.out + o.err, re.I | re.S), f"{case}: output does not match {message!r}:\n{o.out}{o.err}"
    before_path = o.path.with_name(o.path.name + ".before")
    before_path.write_bytes(o.before)
    before, after = parts(before_path), parts(o.path)
    from addin.io.package import Package
    pkg = Package(o.path)
    sheets = dict(pkg.sheets)
    leadq_parts = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/styles.xml", "xl/calcChain.xml"}
    for name in ("Summary", "Score details"):
        part = pkg.sheet_part(name)
        if part:
            leadq_parts |= {part, part.replace("worksheets/", "worksheets/_rels/") + ".rels"}
    leadq_parts |= {n for n in after if "LeadQ" in n}
    leads_part = pkg.sheet_part(leads_sheet)
    settings_part = pkg.sheet_part("Settings")
    tables = {t[1] for t in pkg.tables().values() if t[0].casefold() == leads_sheet.casefold()}
    pkg.close()
    for name, data in before.items():
        if name in leadq_parts or name in (leads_part, settings_part) or name in tables:
            continue
        assert name in after, f"{case}: part {name} disappeared"
        assert after[name] == data, f"{case}: part {name} changed"
    # workbook.xml: every sheet entry and every name that is not LeadQ's, unchanged
    for sheet in re.findall(rb"<sheet\b[^>]*/>", before["xl/workbook.xml"]):
        assert sheet in after["xl/workbook.xml"], f"{case}: sheet entry {sheet!r} changed"
    names_after = _names(after["xl/workbook.xml"])
    for k, v in _names(before["xl/workbook.xml"]).items():
        if not k[0].decode().startswith(LEADQ_NAMES):
            assert names_after.get(k) == v, f"{case}: defined name {k} changed"
    # Leads: every cell outside LeadQ's columns identical, none added
    own = owned_letters(after)
    b_cells = {r: c for r, c in _cells(before[leads_part]).items() if re.match(r"[A-Z]+", r).group(0) not in own}
    a_cells = {r: c for r, c in _cells(after[leads_part]).items() if re.match(r"[A-Z]+", r).group(0) not in own}
    assert b_cells == a_cells, f"{case}: user cells of {leads_sheet} changed: " + str(
        sorted(set(b_cells.items()) ^ set(a_cells.items()))[:4])
    for t in tables:        # the table part: only its range and LeadQ's appended columns may change
        assert _table_core(before[t]) == _table_core(after[t]), f"{case}: table {t} changed beyond LeadQ's columns"
        b_cols, a_cols = _table_columns(before[t]), _table_columns(after[t])
        assert a_cols[:len(b_cols)] == b_cols, f"{case}: the table's own columns changed"
    if settings_part and settings_part in before:
        mine = {f"B{r}" for r in owned_settings_cells(after)}
        b_set = {r: c for r, c in _cells(before[settings_part]).items() if r not in mine}
        a_set = {r: c for r, c in _cells(after[settings_part]).items() if r not in mine}
        assert b_set == a_set, f"{case}: user cells of Settings changed"
    assert sheets
    no_temporaries(o.path.parent)
    if check_gate is True:
        gate(o.path, f"adversarial:{case}")
    else:
        ungate(o.path, check_gate)
    TALLY[case] = "succeeded"


def copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


__all__ = ["ROOT", "AS_OF"]
