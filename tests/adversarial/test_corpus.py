"""The adversarial corpus: hostile and careless inputs, each built by code, each ending in a clean
refusal (original byte-identical) or a success that changed nothing outside LeadQ's parts.

See corpus.py for what "clean" means; README "How LeadQ writes into your file" lists the cases.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import zipfile

import pytest
from conftest import AS_OF, ROOT, refreshed_demo, write_json
from corpus import (
    attempt,
    copy,
    corrupt_entry,
    edit_part,
    no_traceback,
    parts,
    refused,
    rezip,
    sheet_part,
    simple_book,
    succeeded,
)

from addin.core.report.outputs import outputs
from addin.refresh import new_workbook

RULES = ROOT / "rules.json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The sample workbook from the template, refreshed once: what a real user has."""
    return refreshed_demo(tmp_path_factory.mktemp("corpus"), "pipeline.xlsm")


@pytest.fixture
def book(demo, tmp_path):
    path = copy(demo, tmp_path / "pipeline.xlsm")
    shutil.copy(demo.with_suffix(".py"), tmp_path / "pipeline.py")
    shutil.copy(RULES, tmp_path / "rules.json")
    return path


@pytest.fixture
def fresh(tmp_path):
    """A never-refreshed template workbook with sample data."""
    path = tmp_path / "fresh.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    return path


def plain(tmp_path, name="plain.xlsx", **kw):
    path = simple_book(tmp_path / name, **kw)
    shutil.copy(RULES, tmp_path / "rules.json")
    return path


# ---------------------------------------------------------------------------- LeadQ owns only what it made
def test_user_sheet_named_summary_is_refused(tmp_path):
    def extra(wb, ws):
        wb.add_worksheet("Summary").write_row(0, 0, ["My quarterly notes", "keep me"])
    path = plain(tmp_path, extra=extra)
    refused("user sheet Summary", attempt(path), r'sheet "Summary" was not made by LeadQ.*rename your sheet')


def test_user_sheet_named_score_details_is_refused(tmp_path):
    def extra(wb, ws):
        wb.add_worksheet("Score details").write_row(0, 0, ["Lead", "Why I like them"])
    path = plain(tmp_path, extra=extra)
    refused("user sheet Score details", attempt(path), r'sheet "Score details" was not made by LeadQ')


def test_leadq_sheets_renamed_then_a_user_summary_is_refused(book, tmp_path):
    """LeadQ's Summary renamed by the user ("Old summary") and a new user sheet called Summary: the record follows the rename."""
    wb = parts(book)["xl/workbook.xml"]
    renamed = wb.replace(b'name="Summary"', b'name="Old summary"', 1).replace(b"'Summary'!$A$1", b"'Old summary'!$A$1")
    mine = edit_part(book, tmp_path / "renamed.xlsm", "xl/workbook.xml", lambda x: renamed)
    o = attempt(mine)
    # the sheet called Summary no longer exists: LeadQ adds its own, and the renamed one is the user's now
    succeeded("LeadQ's Summary renamed by the user", o)
    assert b'name="Old summary"' in parts(mine)["xl/workbook.xml"]


def test_settings_rows_labelled_by_the_user_are_left_alone(tmp_path):
    def extra(wb, ws):
        s = wb.add_worksheet("Settings")
        s.write_row(0, 0, ["Setting", "Value"])
        s.write_row(1, 0, ["Status", "Waiting for legal review"])
        s.write_row(2, 0, ["Last refresh", "ask Marc"])
    path = plain(tmp_path, extra=extra)
    o = attempt(path)
    succeeded("user Settings rows Status / Last refresh", o, message=r"Settings!B2.*not written by LeadQ")
    from openpyxl import load_workbook
    ws = load_workbook(path)["Settings"]
    assert ws["B2"].value == "Waiting for legal review" and ws["B3"].value == "ask Marc"


def test_status_rows_leadq_made_keep_being_written(book):
    o = attempt(book)
    succeeded("LeadQ's own Settings rows rewritten", o)
    from openpyxl import load_workbook
    values = [r for r in load_workbook(book)["Settings"].iter_rows(values_only=True) if r[0] == "Status"]
    assert values[0][1].startswith("OK — ")


def test_format_only_cells_where_leadq_adds_its_columns_are_empty(tmp_path):
    """Excel writes <c r="U2" s="2"/> for every cell of a formatted column: no data, no refusal."""
    path = plain(tmp_path, table=False)
    part = sheet_part(path, "Leads")
    def formatted(xml):
        return re.sub(rb"(<row r=\"(\d+)\"[^>]*>)(.*?)</row>",
                      lambda m: m.group(1) + m.group(3) + b'<c r="R%s" s="0"/><c r="S%s" s="0"/></row>' % (m.group(2), m.group(2)),
                      xml, flags=re.S)
    src = edit_part(path, tmp_path / "formatted.xlsx", part, formatted)
    succeeded("format-only cells in the output columns", attempt(src))


def test_edited_result_header_is_named_not_fit_score(book, tmp_path):
    part = sheet_part(book, "Leads")
    p = parts(book)
    src = rezip(book, tmp_path / "edited.xlsm", {       # the header cell and the table's column name, as Excel keeps them
        part: p[part].replace(b"<t>Grade</t>", b"<t>My grade</t>", 1),
        "xl/tables/table1.xml": p["xl/tables/table1.xml"].replace(b'name="Grade"', b'name="My grade"')})
    assert b"My grade" in parts(src)[part]
    refused("LeadQ's result header edited", attempt(src), r'were edited: column \w+ is headed "My grade" where LeadQ wrote "Grade"')


def test_read_only_workbook_is_not_replaced(book):
    os.chmod(book, 0o444)
    try:
        refused("read-only workbook", attempt(book), r"read-only: LeadQ does not replace it")
    finally:
        os.chmod(book, 0o644)


def test_read_only_folder(book):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the fake below covers the error path")
    os.chmod(book.parent, 0o555)
    try:
        refused("read-only folder", attempt(book), r"permission denied")
    finally:
        os.chmod(book.parent, 0o755)


def test_permission_denied_in_the_folder(book, monkeypatch):
    import addin.io.package as package
    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(package.tempfile, "mkstemp", denied)
    refused("no permission in the folder", attempt(book), r"permission denied: LeadQ cannot create files")


# ---------------------------------------------------------------------------- rules.json
@pytest.mark.parametrize("token,message", [("NaN", "NaN is not a number"), ("Infinity", "Infinity is not a number"),
                                           ("-Infinity", "-Infinity is not a number"), ("1e308", r"1e\+308 is too large"),
                                           ("1" + "0" * 400, "a 401-digit number is too large")])
def test_absurd_numbers_in_rules_are_located(tmp_path, book, token, message):
    text = RULES.read_text("utf-8")
    bad = re.sub(r'"points": -?\d+(\.\d+)?', f'"points": {token}', text, count=1)
    rules = tmp_path / "rules.json"
    rules.write_text(bad, encoding="utf-8")
    o = attempt(rules, command="check-rules", as_of=False)
    refused(f"rules points {token[:12]} (check-rules)", o, r"rules\.json:\d+: \$\.[\w\[\]\.]*points: " + message)
    refused(f"rules points {token[:12]} (refresh)", attempt(book), message)


def test_too_many_rules_is_refused_quickly(tmp_path, book):
    data = json.loads(RULES.read_text("utf-8"))
    data["fit"] = [{"id": f"r{i}", "field": "Company", "op": "contains_any", "value": [f"x{i}"], "points": 1}
                   for i in range(45_000)]
    (tmp_path / "rules.json").write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    refused("45,000 fit rules", attempt(book), r"\$\.fit: 45,000 entries; the limit is 2,000")


def test_hostile_globs_finish(tmp_path, book):
    data = json.loads(RULES.read_text("utf-8"))
    data["pages"] = [{"id": f"g{i}", "match": pat, "points": 1} for i, pat in
                     enumerate(["*a" * 12 + "*b", "?" * 60 + "*", "*" * 500, "*a*?*a*?" * 20 + "z", "[a-z]*(x+x+)+y*"])]
    write_json(tmp_path / "rules.json", data)
    acts = parts(book)
    assert acts
    # a 40-character detail of "a"s is what took 212 s with a backtracking matcher
    src = tmp_path / "globs.xlsx"
    simple_book(src, activities=[["L1", "2026-11-20", "page_visit", "a" * 40]] * 50 + [["L2", "2026-11-20", "page_visit", "a" * 5000]])
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "addin", "refresh", str(src), "--as-of", AS_OF], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    from corpus import TALLY
    TALLY["hostile globs (time-bounded)"] = "succeeded"


def test_deeply_nested_rules(tmp_path, book):
    (tmp_path / "rules.json").write_text('{"fit": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    refused("rules nested 100,000 deep", attempt(book), r"nested too deeply|rules\.json")


# ---------------------------------------------------------------------------- odd cell values
def test_out_of_range_dates_are_listed_not_fatal(tmp_path):
    import datetime as dt
    def extra(wb, ws):
        pass
    rows = [r[:] for r in __import__("corpus").lead_rows()]
    rows[0][10] = "9999-12-31"
    rows[1][10] = "-5"
    rows[2][15] = "9999-12-31"
    path = simple_book(tmp_path / "dates.xlsx", leads=rows,
                       activities=[["L1", "9999-12-31", "webinar", "x"], ["L2", "-5", "webinar", "x"]], extra=extra)
    shutil.copy(RULES, tmp_path / "rules.json")
    # and a real date cell of 9999-12-31
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(tmp_path / "dates2.xlsx"))
    ws = wb.add_worksheet("Leads")
    ws.write_row(0, 0, ["Lead ID", "Company", "Created"])
    ws.write_row(1, 0, ["L1", "Acme"])
    ws.write_datetime(1, 2, dt.datetime(9999, 12, 31), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_row(2, 0, ["L2", "Beta", "2026-01-01"])
    wb.close()
    succeeded("dates 9999-12-31 and -5 as text", attempt(path), message=r"Created.*not a date|not a date")
    succeeded("date cell 9999-12-31", attempt(tmp_path / "dates2.xlsx"))


def test_settings_as_of_out_of_range(tmp_path):
    def extra(wb, ws):
        s = wb.add_worksheet("Settings")
        s.write_row(0, 0, ["Setting", "Value"])
        s.write_row(1, 0, ["As-of date", "9999-12-31"])
    path = plain(tmp_path, extra=extra)
    refused("Settings As-of 9999-12-31", attempt(path, as_of=False), r'As-of date "9999-12-31" is not a date')
    refused("--as-of 9999-12-31", attempt(path, "--as-of", "9999-12-31", as_of=False), r"outside the dates", code=2)


@pytest.mark.parametrize("amount", ["1e999", "Infinity", 1.7e308, -1e300])
def test_absurd_amounts_are_reported_never_written(tmp_path, amount):
    rows = __import__("corpus").lead_rows()
    for r in rows:
        r[12], r[13] = "Open", amount
    path = plain(tmp_path, leads=rows)
    o = attempt(path)
    succeeded(f"Amount {amount}", o, message="Amount")
    for name, data in parts(path).items():
        if name.startswith("xl/worksheets/"):
            assert not re.search(rb"<v>-?(inf|nan)</v>", data, re.I), name


def test_lead_id_with_quotes_and_markup(tmp_path):
    rows = __import__("corpus").lead_rows()
    rows[0][0] = 'L"1 <b>&amp;</b>'
    rows[1][0] = "'=HYPERLINK(\"x\")"
    for r in rows:
        r[12] = "Open"
        r[5] = "CEO"
    path = plain(tmp_path, leads=rows, activities=[[rows[0][0], "2026-11-20", "webinar", "x"]] * 8)
    succeeded("Lead ID with quotes and markup on the Summary", attempt(path))
    from openpyxl import load_workbook
    load_workbook(path)     # the Summary's hyperlinks parse


def test_text_over_32767_characters(tmp_path):
    rows = __import__("corpus").lead_rows()
    rows[0][4] = "Ω" * 40_000                        # a pasted note as the company
    rows[1][5] = "😀" * 20_000                        # 40,000 UTF-16 units
    path = plain(tmp_path, leads=rows, activities=[["L1", "2026-11-20", "page_visit", "x" * 40_000]])
    o = attempt(path)
    succeeded("40,000-character texts", o)
    assert all(len(line) < 2000 for line in o.out.splitlines())


@pytest.mark.parametrize("text", ["ctl\x01\x02\x0b\x1f chars", "emoji 👩‍💻🚀 and RTL שלום عربي \u202e", "\ufeffBOM",
                                  "tab\tand\nnewline"])
def test_control_characters_emoji_and_rtl(tmp_path, text):
    rows = __import__("corpus").lead_rows()
    rows[0][4] = text
    rows[1][0] = "L2" + text[:3]
    path = plain(tmp_path, leads=rows, activities=[["L1", "2026-11-20", "page_visit", text]])
    succeeded(f"text {text[:10]!r}", attempt(path))


def test_duplicate_and_blank_ids_and_huge_numbers(tmp_path):
    rows = __import__("corpus").lead_rows(8)
    rows[1][0] = rows[0][0]
    rows[2][0] = None
    rows[3][6] = 1e15
    rows[4][6] = -1e-300
    path = plain(tmp_path, leads=rows)
    succeeded("duplicate / blank IDs, huge and tiny numbers", attempt(path))


# ---------------------------------------------------------------------------- the file's structure
def test_zip64_only_when_needed_and_code_names_kept(book):
    before = parts(book)
    succeeded("re-refresh of a real workbook (ZIP64, code names)", attempt(book))
    with zipfile.ZipFile(book) as z:
        for info in z.infolist():
            assert b"\x01\x00" not in info.extra[:2], f"{info.filename} has ZIP64 headers"
    after = parts(book)
    for part in (sheet_part(book, "Summary"), sheet_part(book, "Score details")):
        want = re.search(rb'codeName="([^"]+)"', before[part])
        assert want and re.search(rb'codeName="([^"]+)"', after[part]).group(1) == want.group(1)


def test_merged_cells_filters_frozen_panes_totals_and_charts(tmp_path):
    def extra(wb, ws):
        ws.freeze_panes(1, 1)
        chart = wb.add_chart({"type": "column"})
        chart.add_series({"categories": "=Leads!$A$2:$A$7", "values": "=Leads!$N$2:$N$7"})
        ws.insert_chart("B10", chart)
        notes = wb.add_worksheet("Notes")
        notes.merge_range("A1:D1", "Merged title", wb.add_format({"bold": True}))
        notes.write_formula("A3", "=SUM(Leads!N2:N7)", None, 21000)
        notes.write_formula("A4", '=COUNTIF(Leads!A2:A7,"L*")', None, 6)
        notes.autofilter("A5:B9")
    path = plain(tmp_path, extra=extra)
    succeeded("merged cells, frozen panes, a chart on Leads, formulas on Leads", attempt(path))
    succeeded("the same, refreshed again", attempt(path))


def test_formulas_referring_to_leadq_columns(tmp_path):
    """User formulas reading LeadQ's columns (Score is column S once LeadQ adds its columns after P): they stay."""
    def extra(wb, ws):
        review = wb.add_worksheet("Pipeline review")
        review.write_formula("A1", "=AVERAGE(Leads!S2:S7)", None, 0)
        review.write_formula("A2", '=COUNTIF(Leads!U:U,"MQL")', None, 0)
        review.write_formula("A3", "=Leads!S2*2", None, 0)
    path = plain(tmp_path, extra=extra)
    succeeded("formulas reading LeadQ's columns", attempt(path))
    succeeded("formulas reading LeadQ's columns, second refresh", attempt(path))
    import openpyxl
    assert openpyxl.load_workbook(path)["Pipeline review"]["A1"].value == "=AVERAGE(Leads!S2:S7)"


def test_totals_row_and_autofilter_on_the_leads_table(tmp_path):
    import xlsxwriter
    path = tmp_path / "totals.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Leads")
    rows = [r[:3] + [1000.0] for r in __import__("corpus").lead_rows()]
    ws.add_table(0, 0, len(rows) + 1, 3, {"name": "Leads", "data": rows, "total_row": True, "autofilter": True,
                                          "columns": [{"header": "Lead ID", "total_string": "Total"}, {"header": "First name"},
                                                      {"header": "Last name"}, {"header": "Amount", "total_function": "sum"}]})
    wb.close()
    shutil.copy(RULES, tmp_path / "rules.json")
    succeeded("Leads table with a totals row and a filter", attempt(path))


def test_pivot_table_on_leads(tmp_path):
    """A pivot cache whose source is the Leads range: copied untouched (Excel refreshes it on open)."""
    path = plain(tmp_path)
    p = parts(path)
    cache = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             b'<pivotCacheDefinition xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" refreshOnLoad="1" recordCount="0">'
             b'<cacheSource type="worksheet"><worksheetSource ref="A1:A7" sheet="Leads"/></cacheSource>'
             b'<cacheFields count="1"><cacheField name="Lead ID" numFmtId="0"><sharedItems/></cacheField></cacheFields>'
             b"</pivotCacheDefinition>")
    wb = p["xl/workbook.xml"].replace(b"</workbook>", b'<pivotCaches><pivotCache cacheId="1" r:id="rIdPivot1"/></pivotCaches></workbook>')
    assert b"<extLst" not in wb         # pivotCaches comes after calcPr, last here
    rels = p["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdPivot1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/pivotCacheDefinition" Target="pivotCache/pivotCacheDefinition1.xml"/></Relationships>')
    types = p["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/pivotCache/pivotCacheDefinition1.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml"/></Types>')
    src = rezip(path, tmp_path / "pivot.xlsx", {"xl/workbook.xml": wb, "xl/_rels/workbook.xml.rels": rels,
                                                "[Content_Types].xml": types, "xl/pivotCache/pivotCacheDefinition1.xml": cache})
    succeeded("a pivot cache on Leads", attempt(src))


def test_far_right_leads_table(tmp_path):
    path = plain(tmp_path, name="xez.xlsx", table=False, first_col=16_379 - 16)   # the header ends at XFB
    refused("Leads header in column XEZ", attempt(path), r"would pass Excel's last column XFD")
    ok = plain(tmp_path, name="xen.xlsx", table=False, first_col=16_383 - len(outputs()) - 16 + 1)
    succeeded("Leads ending just before LeadQ's columns reach XFD", attempt(ok))


def test_vba_workbook_output_as_xlsx_is_refused(book, tmp_path):
    refused("--output x.xlsx from .xlsm", attempt(book, "--output", tmp_path / "copy.xlsx"), r"keep the workbook's extension \(\.xlsm\)")
    refused("--output into a missing folder", attempt(book, "--output", tmp_path / "nope" / "copy.xlsm"), r"does not exist")


# ---------------------------------------------------------------------------- not workbooks, damaged workbooks
@pytest.mark.parametrize("kind,content,message", [
    ("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, r"old-format Excel file \(\.xls"),
    ("encrypted", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 200,
     r"password-protected"),
    ("csv", b"Lead ID;Company\nL1;Acme\n", r"text file \(CSV\?\)"),
    ("empty", b"", r"empty"),
    ("html", b"<html><table><tr><td>L1</td></tr></table></html>", r"XML or HTML"),
])
def test_files_that_are_not_workbooks(tmp_path, kind, content, message):
    path = tmp_path / f"{kind}.xlsm"
    path.write_bytes(content)
    refused(f"{kind} renamed .xlsm", attempt(path), message)


def test_ods_and_xlsb_renamed(tmp_path):
    ods = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    refused("ods renamed .xlsx", attempt(ods), r"OpenDocument spreadsheet")
    xlsb = tmp_path / "binary.xlsx"
    with zipfile.ZipFile(xlsb, "w") as z:
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    refused("xlsb renamed .xlsx", attempt(xlsb), r"binary Excel workbook")


def test_truncated_zip(book, tmp_path):
    data = book.read_bytes()
    for n, cut in enumerate((len(data) // 2, len(data) - 30)):
        path = tmp_path / f"cut{n}.xlsm"
        path.write_bytes(data[:cut])
        refused(f"truncated zip ({n})", attempt(path), r"damaged or truncated")


@pytest.mark.parametrize("which,how", [("Leads", "crc"), ("Leads", "deflate"), ("table", "crc"), ("workbook", "deflate")])
def test_damaged_parts_leadq_reads(book, tmp_path, which, how):
    part = {"Leads": sheet_part(book, "Leads"), "table": "xl/tables/table1.xml", "workbook": "xl/workbook.xml"}[which]
    src = corrupt_entry(book, tmp_path / f"{which}-{how}.xlsm", part, how)
    refused(f"damaged {which} part ({how})", attempt(src), r"damaged|cannot be read")


def test_damaged_part_leadq_only_copies_is_warned(book, tmp_path):
    src = corrupt_entry(book, tmp_path / "damaged-app.xlsm", "docProps/app.xml", "crc")
    o = attempt(src)
    # the damage is in the input and stays there (copied as it was): the gate would rightly reject it
    succeeded("damaged part LeadQ only copies", o, check_gate="docProps/app.xml damaged on purpose, copied as it was",
              message=r"docProps/app\.xml: this part was already damaged")


@pytest.mark.parametrize("part,xml,message", [
    ("xl/workbook.xml", b"<workbook><sheets><sheet", r"workbook\.xml is not well-formed"),
    ("xl/_rels/workbook.xml.rels", b"<Relationships><Relationship Id=", r"workbook\.xml\.rels is not well-formed"),
    ("xl/workbook.xml", b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
                        b"<workbook>&lol2;</workbook>", r"DOCTYPE"),
    ("xl/workbook.xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><workbook>&xxe;</workbook>',
     r"DOCTYPE"),
    ("xl/workbook.xml", b"<workbook xmlns='http://schemas.openxmlformats.org/spreadsheetml/2006/main'>" + b"<a>" * 300_000
     + b"</a>" * 300_000 + b"</workbook>", r"not well-formed|cannot be read"),
    ("[Content_Types].xml", b"<Types", r"Content_Types\]\.xml is not well-formed|cannot be read"),
])
def test_malformed_and_hostile_xml(book, tmp_path, part, xml, message):
    src = rezip(book, tmp_path / "bad.xlsm", {part: xml})
    refused(f"hostile XML in {part} ({xml[:30]!r})", attempt(src), message)


def test_sheet_xml_bomb_and_no_sheet_data(book, tmp_path):
    part = sheet_part(book, "Leads")
    bomb = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><worksheet xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&c;</t></is></c></row>'
            b"</sheetData></worksheet>")
    refused("billion laughs in the Leads sheet", attempt(rezip(book, tmp_path / "bomb.xlsm", {part: bomb})), r"DOCTYPE|cannot be read")
    nodata = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1"/></worksheet>'
    o = attempt(rezip(book, tmp_path / "nodata.xlsm", {part: nodata}))
    refused("Leads sheet without sheetData", o, r"sheetData|no \"Lead ID\"|Lead ID|cannot be read|Leads")


def test_strict_open_xml(book, tmp_path):
    src = edit_part(book, tmp_path / "strict.xlsm", "xl/workbook.xml",
                    lambda x: x.replace(b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                                        b"http://purl.oclc.org/ooxml/spreadsheetml/main"))
    refused("Strict Open XML", attempt(src), r"Strict Open XML")


def test_zip_bomb_in_a_copied_part(book, tmp_path):
    """200 MB of zeros in a part LeadQ only copies: checked in bounded memory, copied as is."""
    import zlib
    big = tmp_path / "bomb.xlsm"
    shutil.copy(book, big)
    with zipfile.ZipFile(big, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("customXml/bomb.bin", "w", force_zip64=False) as w:
            block = bytes(1 << 20)
            for _ in range(200):
                w.write(block)
    assert zlib
    succeeded("200 MB zip bomb in a copied part", attempt(big),
              check_gate="the gate would read 200 MB of zeros; the parts LeadQ wrote are gated elsewhere")


def test_declared_part_size_over_the_limit(book, tmp_path, monkeypatch):
    import addin.io.package as package
    monkeypatch.setattr(package, "MAX_PART_BYTES", 10_000)       # the Leads sheet is larger than this
    refused("part larger than the read limit (zip bomb)", attempt(book), r"zip bomb")


# ---------------------------------------------------------------------------- the file system, other programs
def test_symlinked_workbook_refreshes_the_target(book, tmp_path):
    link = tmp_path / "link.xlsm"
    link.symlink_to(book)
    before = book.read_bytes()
    o = attempt(link)
    no_traceback("symlink", o)
    assert o.code == 0, o.err
    assert link.is_symlink() and os.path.realpath(link) == str(book)
    assert book.read_bytes() != before
    o.path, o.before = book, before
    succeeded("workbook path is a symbolic link", o)


def test_lock_files_of_excel_and_libreoffice(book):
    for lock in (book.with_name("~$" + book.name), book.with_name(f".~lock.{book.name}#")):
        lock.write_text("someone")
        refused(f"lock file {lock.name[:7]}", attempt(book), r"is open in (Excel|LibreOffice)")
        lock.unlink()


def test_another_program_saves_mid_refresh(book, monkeypatch):
    """A sync client replaces the file between LeadQ's read and its write: nothing is written over it."""
    import addin.app.refresh as r
    real = r.compute
    other = None

    def compute_then_someone_saves(*a, **k):
        nonlocal other
        result = real(*a, **k)
        rezip(book, book.with_name("other.xlsm"), {"docProps/app.xml": b"<Properties/>"})
        os.replace(book.with_name("other.xlsm"), book)
        other = book.read_bytes()
        return result
    monkeypatch.setattr(r, "compute", compute_then_someone_saves)
    o = attempt(book)
    o.before = None
    refused("another program saves mid-refresh", o, r"changed by another program")
    assert book.read_bytes() == other


def test_another_program_saves_during_the_write(book, monkeypatch):
    import addin.io.package as package
    real = package.fingerprint
    calls = []

    def later(path):
        calls.append(path)
        if len(calls) == 3:         # read, writer's open, then the check just before the replace
            os.utime(path, ns=(1, 1))
        return real(path)
    monkeypatch.setattr(package, "fingerprint", later)
    import addin.io.writer as writer
    monkeypatch.setattr(writer, "fingerprint", later)
    o = attempt(book)
    o.before = None
    refused("another program saves while LeadQ writes", o, r"changed by another program")


def test_full_disk(book, monkeypatch):
    import addin.io.package as package
    real = package._append_raw

    def full(*a, **k):          # every part the save writes goes through _append_raw
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(package, "_append_raw", full)
    refused("full disk", attempt(book), r"the disk is full")
    monkeypatch.setattr(package, "_append_raw", real)


def test_stale_temporaries_are_removed(book):
    stale = book.with_name(f".~leadq-999999-{book.name}.tmp")
    stale.write_bytes(b"x" * 1000)
    succeeded("stale temporary from a killed run", attempt(book))
    assert not stale.exists()


def test_unexpected_error_is_one_sentence_and_a_log(book, monkeypatch, tmp_path):
    import addin.app.refresh as r
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))

    def boom(*a, **k):
        raise KeyError("surprise")
    monkeypatch.setattr(r, "compute", boom)
    o = attempt(book, "--json")
    assert o.code == 1 and "Traceback" not in o.err
    assert re.search(r"LeadQ failed on .*pipeline\.xlsm \(KeyError: 'surprise'\) — please report this with the file; details in ", o.err)
    assert json.loads(o.out)["error"]["kind"] == "crash"
    log = next((tmp_path / "logs").glob("leadq-*.log")).read_text()
    assert "Traceback" in log and "KeyError" in log
    assert book.read_bytes() == o.before
    from corpus import TALLY
    TALLY["unforeseen error (catch-all)"] = "refused"


def test_json_errors_on_stdout(book, tmp_path):
    o = attempt(tmp_path / "missing.xlsm", "--json")
    assert o.code == 1 and json.loads(o.out)["error"]["message"].endswith("no such file")
    o = attempt(tmp_path / "bad.json", "--json", command="check-rules", as_of=False)
    assert o.code == 1 and json.loads(o.out)["error"]["problems"][0]["code"] == "file-not-found"
    from corpus import TALLY
    TALLY["--json on errors"] = "refused"


# ---------------------------------------------------------------------------- new / demo and names
def test_new_and_demo_refuse_an_existing_workbook(book, tmp_path):
    refused("new over an existing workbook", attempt(book, command="new", as_of=False), r"already exists.*--force")
    refused("demo over an existing workbook", attempt(book, command="demo", as_of=False), r"already exists.*--force")
    o = attempt(book, "--force", "--as-of", AS_OF, command="demo", as_of=False)
    assert o.code == 0, o.err


@pytest.mark.parametrize("name,suggested", [("Q3 Pipeline.xlsm", "Q3_Pipeline.xlsm"), ("my-pipeline.xlsm", "my_pipeline.xlsm"),
                                            ("2026.xlsm", "_2026.xlsm"), ("class.xlsm", "class_.xlsm")])
def test_names_the_refresh_button_cannot_import(tmp_path, name, suggested):
    refused(f"new {name}", attempt(tmp_path / name, command="new", as_of=False), re.escape(suggested))


def test_refresh_warns_when_the_refresh_button_cannot_find_its_module(book, tmp_path):
    odd = copy(book, tmp_path / "my-pipeline.xlsm")
    succeeded("refresh of a non-importable name", attempt(odd), message=r"Refresh button runs \"import my-pipeline\"")
    (tmp_path / "pipeline.py").unlink()
    succeeded("refresh with the shim module missing", attempt(book), message=r"pipeline\.py, the module .* is missing")


def test_new_into_unwritable_places(tmp_path):
    refused("new into a missing folder", attempt(tmp_path / "nope" / "x.xlsm", command="new", as_of=False), r"does not exist")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    refused("new under a file", attempt(blocker / "x.xlsm", command="new", as_of=False), r"does not exist|not a directory")


def test_refresh_of_a_folder(tmp_path):
    (tmp_path / "dir.xlsm").mkdir()
    refused("refresh of a folder", attempt(tmp_path / "dir.xlsm"), r"is a folder")
