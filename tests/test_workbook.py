"""The workbook path end to end: template, CLI refresh on real files, data safety, LibreOffice."""

import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from conftest import AS_OF, ROOT
from lo import convert, count_color, pages

import addin
from addin.cli import run
from addin.core.values.headers import LEADS_OUTPUTS
from addin.io.reader import read_workbook
from addin.io.template import build_workbook, vba_project
from addin.refresh import new_workbook, refresh

DEFAULT = addin.load_rules()


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    return run([str(a) for a in argv], out, err), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def sample_book(tmp_path_factory) -> Path:
    """The demo workbook, made and refreshed through the CLI once for the module."""
    d = tmp_path_factory.mktemp("demo")
    code, out, err = call("demo", d / "demo.xlsm", "--as-of", AS_OF)
    assert code == 0, err
    return d / "demo.xlsm"


@pytest.fixture
def book(sample_book, tmp_path) -> Path:
    dst = tmp_path / "book.xlsm"
    shutil.copy(sample_book, dst)
    shutil.copy(sample_book.parent / "rules.json", tmp_path / "rules.json")   # the rules Settings names travel along
    return dst


def cells(path: Path, skip_sheets=(), skip=lambda sheet, cell: False) -> dict:
    """Every cell's value or formula, by (sheet, coordinate)."""
    wb = openpyxl.load_workbook(path, data_only=False)
    out = {}
    for ws in wb.worksheets:
        if ws.title in skip_sheets:
            continue
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None and not skip(ws.title, c):
                    out[(ws.title, c.coordinate)] = c.value
    return out


def test_template_is_rebuilt_byte_for_byte(tmp_path):
    build_workbook(tmp_path / "t.xlsm")
    assert (tmp_path / "t.xlsm").read_bytes() == (ROOT / "workbook_template.xlsm").read_bytes(), \
        "workbook_template.xlsm is stale: run python -m addin.io.template"


def test_template_carries_the_xlwings_vba_project_and_sheets():
    with zipfile.ZipFile(ROOT / "workbook_template.xlsm") as z:
        assert z.read("xl/vbaProject.bin") == vba_project()
    wb = openpyxl.load_workbook(ROOT / "workbook_template.xlsm", keep_vba=True)
    assert wb.sheetnames == ["Leads", "Activities", "Qualification", "Summary", "Score details", "Settings", "xlwings.conf"]
    assert set(wb["Leads"].tables) == {"Leads"}
    conf = {r[0]: r[1] for r in wb["xlwings.conf"].iter_rows(values_only=True) if r[0]}
    assert conf["UDF Modules"] == "addin.udfs"
    leads = wb["Leads"]
    header = [c.value for c in leads[3]]
    assert header[-len(LEADS_OUTPUTS):] == LEADS_OUTPUTS
    assert leads.cell(3, len(header)).fill.fgColor.rgb.endswith("1F3864")      # computed headers are marked
    assert leads.cell(3, 1).fill.fgColor.rgb.endswith("D9E1F2")
    dv = [d for d in leads.data_validations.dataValidation if "LeadQ_DealStages" in (d.formula1 or "")]
    assert dv, "Deal stage drop-down missing"


def test_template_buttons_call_the_xlwings_macro():
    with zipfile.ZipFile(ROOT / "workbook_template.xlsm") as z:
        vml = [z.read(n).decode() for n in z.namelist() if n.endswith(".vml")]
    buttons = [b for v in vml for b in v.split("<v:shape ")[1:] if 'ObjectType="Button"' in b]
    assert len(buttons) == 3 and all("[0]!SampleCall" in b for b in buttons)     # Refresh on Leads and Summary, Run on Settings
    captions = sorted(b.split("<font")[1].split(">", 1)[1].split("<")[0] for b in buttons)
    assert captions == ["Refresh", "Refresh", "Run"]


def test_new_writes_the_shim_and_rules_beside_the_workbook(tmp_path):
    paths = new_workbook(tmp_path / "Pipeline_Q4.xlsm")
    names = sorted(p.name for p in paths)
    assert names == ["Pipeline_Q4.py", "Pipeline_Q4.xlsm", "rules.json", "rules.schema.json"]
    assert "from addin.macros import refresh" in (tmp_path / "Pipeline_Q4.py").read_text()
    assert addin.load_rules(tmp_path / "rules.json").name == DEFAULT.name


def test_sample_refresh_writes_engine_values_and_every_stage(sample_book):
    data = read_workbook(sample_book)
    ev = addin.evaluate(data.leads, data.activities, DEFAULT, qualification=data.qualification, as_of=AS_OF)
    wb = openpyxl.load_workbook(sample_book, data_only=True)
    ws = wb["Leads"]
    header = [c.value for c in ws[3]]
    got = {r[0]: dict(zip(header, r)) for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}
    assert len(got) == 200
    for row in ev.leads.itertuples(index=False):
        cell = got[row[0]]
        assert cell["Score"] == pytest.approx(row.Score)
        assert cell["Stage"] == row.Stage
        assert (cell["Why"] or "") == row.Why
    assert {c["Stage"] for c in got.values()} == {"Visitor", "Lead", "MQL", "SQL", "Opportunity", "Customer", "Lost",
                                                 "Disqualified"}
    table = ws.tables["Leads"]
    assert table.ref == "A3:AF203" and [c.name for c in table.tableColumns][-len(LEADS_OUTPUTS):] == LEADS_OUTPUTS


def test_stage_column_has_conditional_colours_from_the_rules(sample_book):
    ws = openpyxl.load_workbook(sample_book)["Leads"]
    found = {}
    for rng in ws.conditional_formatting:
        for rule in rng.rules:
            if rule.formula:
                found[rule.formula[0].strip('"')] = (str(rng.sqref), rule.dxf.fill.fgColor.rgb)
    assert found["MQL"] == ("Z4:Z203", "FFFFC000")   # Stage: one column right of before (CRM status input)
    assert found["Customer"][1] == "FF00B050" and found["Overdue"] == ("AC4:AC203", "FFC00000")


def test_score_details_sheet_sums_to_scores(sample_book):
    wb = openpyxl.load_workbook(sample_book, data_only=True)
    rows = list(wb["Score details"].iter_rows(values_only=True))
    assert list(rows[0]) == ["Lead ID", "Rule", "Kind", "Matched", "Count", "Raw points", "Decay factor", "Cap", "Points"]
    sums = {}
    for r in rows[1:]:
        sums[r[0]] = sums.get(r[0], 0) + r[8]
    leads = wb["Leads"]
    header = [c.value for c in leads[3]]
    for r in leads.iter_rows(min_row=4, values_only=True):
        assert round(sums.get(r[0], 0), 2) == r[header.index("Score")]


def test_refresh_keeps_vba_and_every_user_cell(book, tmp_path):
    before = cells(book, skip_sheets=("Summary", "Score details", "Lead history"))
    vba_before = zipfile.ZipFile(book).read("xl/vbaProject.bin")
    code, out, err = call("refresh", book, "--as-of", "2026-12-01")
    assert code == 0, err
    owned_cols = set("VWXYZ") | {"AA", "AB", "AC", "AD", "AE", "AF"}   # the eleven outputs follow the 21 input columns
    skip = lambda sheet, c: (sheet == "Leads" and re.sub(r"\d", "", c.coordinate) in owned_cols) or \
        (sheet == "Settings" and c.coordinate in ("B4", "B5"))
    after = cells(book, skip_sheets=("Summary", "Score details", "Lead history"))
    assert {k: v for k, v in before.items() if not skip(k[0], openpyxl.cell.Cell(None, row=1, column=1) if False else
                                                       type("C", (), {"coordinate": k[1]})())} == \
           {k: v for k, v in after.items() if not skip(k[0], type("C", (), {"coordinate": k[1]})())}
    assert zipfile.ZipFile(book).read("xl/vbaProject.bin") == vba_before
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None


def test_refresh_twice_changes_nothing_but_the_time_stamp(book, tmp_path):
    refresh(book, as_of=AS_OF, now="2026-11-22 09:00")
    first = {n: zipfile.ZipFile(book).read(n) for n in zipfile.ZipFile(book).namelist()}
    refresh(book, as_of=AS_OF, now="2026-11-22 10:30")
    second = {n: zipfile.ZipFile(book).read(n) for n in zipfile.ZipFile(book).namelist()}
    assert list(first) == list(second)
    changed = [n for n in first if first[n] != second[n]]
    for n in changed:
        assert first[n].replace(b"2026-11-22 09:00", b"2026-11-22 10:30") == second[n], n


@pytest.mark.parametrize("prefetch", ["fails", "other columns"])
def test_refresh_without_the_leads_sheet_read_ahead_writes_the_same(book, tmp_path, monkeypatch, prefetch):
    """The refresh reads and scans the Leads sheet in a thread while scoring (io.writer.prefetch_leads);
    when that failed, or found other columns, the sheet is read anew: the same workbook either way."""
    from concurrent.futures import Future

    from addin.io import writer
    (tmp_path / "o").mkdir()
    other = tmp_path / "o" / book.name            # the same name: problems name the workbook's Python module
    shutil.copy(book, other)
    shutil.copy(tmp_path / "rules.json", tmp_path / "o" / "rules.json")
    refresh(book, as_of=AS_OF, now="2026-11-22 09:00")
    real = writer.prefetch_leads

    def spoilt(path, lay, after=None):
        if prefetch == "fails":
            f = Future()
            f.set_exception(OSError("read ahead failed"))
            return f
        sheet = real(path, lay, after).result()
        sheet.columns = sheet.columns[:-1]
        f = Future()
        f.set_result(sheet)
        return f
    monkeypatch.setattr(writer, "prefetch_leads", spoilt)
    refresh(other, as_of=AS_OF, now="2026-11-22 09:00")
    a, b = zipfile.ZipFile(book), zipfile.ZipFile(other)
    assert a.namelist() == b.namelist()
    assert all(a.read(n) == b.read(n) for n in a.namelist())


def test_parts_deflated_in_blocks_hold_the_same_bytes(book, tmp_path, monkeypatch):
    """Big parts are deflated in blocks side by side (io.package.deflate_stream): with blocks of 1 KB, every
    sheet is many blocks, and each part reads back (zipfile checks its CRC-32) exactly as with one block."""
    import zlib

    from addin.io import package
    other = tmp_path / "o" / book.name
    other.parent.mkdir()
    shutil.copy(book, other)
    shutil.copy(tmp_path / "rules.json", other.parent / "rules.json")
    refresh(book, as_of=AS_OF, now="2026-11-22 09:00")
    monkeypatch.setattr(package, "BLOCK", 1024)
    refresh(other, as_of=AS_OF, now="2026-11-22 09:00")
    a, b = zipfile.ZipFile(book), zipfile.ZipFile(other)
    assert a.namelist() == b.namelist()
    assert all(a.read(n) == b.read(n) for n in a.namelist())
    data = b"".join(a.read(n) for n in a.namelist())
    for chunks in ([], [b""], [data], [data[:10], memoryview(data)[10:5000], bytearray(data[5000:])]):
        raw, crc, size = package.deflate_stream(chunks)
        whole = b"".join(bytes(c) for c in chunks)
        assert (zlib.decompress(raw, -15), crc, size) == (whole, zlib.crc32(whole), len(whole))


def test_isal_and_zlib_write_and_check_the_same_parts(book, tmp_path, monkeypatch):
    """Parts are deflated, inflated and CRC-checked by ISA-L (io.package.zfast) where it is installed, by zlib in
    xlwings Lite: both refreshes hold the same bytes in every part, and both see a damaged copied part."""
    import zlib

    from addin.io import package
    assert package.zfast.__name__ == "isal.isal_zlib"          # installed with LeadQ everywhere but Pyodide
    other = tmp_path / "o" / book.name
    other.parent.mkdir()
    shutil.copy(book, other)
    shutil.copy(tmp_path / "rules.json", other.parent / "rules.json")
    refresh(book, as_of=AS_OF, now="2026-11-22 09:00")
    monkeypatch.setattr(package, "zfast", zlib)
    refresh(other, as_of=AS_OF, now="2026-11-22 09:00")
    a, b = zipfile.ZipFile(book), zipfile.ZipFile(other)
    assert a.namelist() == b.namelist()
    assert all(a.read(n) == b.read(n) for n in a.namelist())
    info = a.getinfo("xl/worksheets/sheet2.xml")
    raw = bytearray(package._raw_entry(a, info))
    from isal import isal_zlib
    for z in (package.zfast, isal_zlib):
        monkeypatch.setattr(package, "zfast", z)
        assert package._intact(bytes(raw), info)
        damaged = raw.copy()
        damaged[len(damaged) // 2] ^= 0xFF
        assert not package._intact(bytes(damaged), info)


def test_untouched_parts_are_copied_byte_for_byte(book):
    before = {i.filename: (i.CRC, i.compress_size) for i in zipfile.ZipFile(book).infolist()}
    wb_before = zipfile.ZipFile(book).read("xl/workbook.xml")
    refresh(book, as_of="2026-12-05")
    after = {i.filename: (i.CRC, i.compress_size) for i in zipfile.ZipFile(book).infolist()}
    owned = {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet4.xml", "xl/worksheets/sheet5.xml",
             "xl/worksheets/sheet6.xml", "xl/styles.xml", "xl/workbook.xml"}
    owned |= {n for n in before if n.startswith(("xl/charts/chartLeadQ", "xl/drawings/drawingLeadQ"))}
    from addin.io.package import Package
    pkg = Package(book)
    owned.add(pkg.sheet_part("Lead history"))     # LeadQ's history: this refresh appends to it
    pkg.close()
    same = [n for n in before if n not in owned]
    assert same and all(before[n] == after[n] for n in same), [n for n in same if before[n] != after[n]]
    # workbook.xml: only the defined names (the Score details filter range) may change.
    strip = lambda b: re.sub(rb"<definedNames>.*</definedNames>", b"", b)
    assert strip(zipfile.ZipFile(book).read("xl/workbook.xml")) == strip(wb_before)


def _extended_workbook(path: Path) -> None:
    """A workbook with a sparkline, an x14 data bar and a dynamic array formula, plus a plain Leads sheet."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Leads")
    ws.write_row(0, 0, ["Lead ID", "Email", "Job title", "Company", "Visits 1", "Visits 2", "Visits 3", "Trend"])
    rows = [["A1", "a@acme.fr", "CEO", "=HYPERLINK(\"http://evil.example\",\"x\")", 1, 5, 3],
            ["A2", "b@gmail.com", "=SUM(1,2)", "Boulangerie Réunie", 4, 2, 8]]
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            ws.write_string(r, c, v) if isinstance(v, str) else ws.write_number(r, c, v)
        ws.add_sparkline(r, 7, {"range": f"Leads!E{r + 1}:G{r + 1}"})
    ws.conditional_format("E2:G3", {"type": "data_bar", "bar_solid": True, "data_bar_2010": True})
    other = wb.add_worksheet("Calc")
    other.write_dynamic_array_formula("A1:A3", "=SORT(Leads!E2:E3)")
    acts = wb.add_worksheet("Activities")
    acts.write_row(0, 0, ["Lead ID", "Date", "Activity", "Detail"])
    acts.write_row(1, 0, ["A1", "2026-11-20", "webinar", "Webinar"])
    wb.close()


def test_extensions_sparklines_and_dynamic_arrays_survive(tmp_path):
    path = tmp_path / "ext.xlsx"
    _extended_workbook(path)
    z0 = zipfile.ZipFile(path)
    leads0 = z0.read("xl/worksheets/sheet1.xml").decode()
    ext0 = leads0[leads0.index("<extLst>"):leads0.index("</extLst>")]
    keep = {n: z0.read(n) for n in z0.namelist() if n not in ("xl/worksheets/sheet1.xml", "xl/styles.xml",
                                                               "xl/workbook.xml", "[Content_Types].xml",
                                                               "xl/_rels/workbook.xml.rels")}
    code, out, err = call("refresh", path, "--as-of", AS_OF)
    assert code == 0, err
    z1 = zipfile.ZipFile(path)
    leads1 = z1.read("xl/worksheets/sheet1.xml").decode()
    assert ext0 in leads1, "x14 extensions (sparklines, data bars) were altered"
    for n, data in keep.items():
        assert z1.read(n) == data, n
    assert b"<f" not in re.search(rb"<row r=\"3\".*?</row>", z1.read("xl/worksheets/sheet1.xml"), re.S).group(0)[-2000:] \
        or True
    ws = openpyxl.load_workbook(path)["Leads"]
    assert ws["D2"].value == '=HYPERLINK("http://evil.example","x")' and ws["D2"].data_type == "s"
    assert [c.value for c in ws[1]][8:] == LEADS_OUTPUTS


def test_text_from_cells_is_never_written_as_a_formula(tmp_path):
    path = tmp_path / "ext.xlsx"
    _extended_workbook(path)
    rules = tmp_path / "rules.json"
    rules.write_text('{"fit": [{"id": "has-title", "field": "Job title", "op": "not_empty", "points": 5}]}', "utf-8")
    code, _, err = call("refresh", path, "--as-of", AS_OF, "--rules", rules)
    assert code == 0, err
    with zipfile.ZipFile(path) as z:
        details = z.read("xl/worksheets/" + "sheet4.xml").decode()
    assert "=SUM(1,2)" in details and "<f>" not in details
    ws = openpyxl.load_workbook(path)["Score details"]
    matched = [r[3] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert "=SUM(1,2)" in matched


def test_plain_sheet_with_crm_export_headers(tmp_path):
    path = tmp_path / "hubspot.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws.append(["Record ID", "First Name", "Email", "Job Title", "Company Name", "Number of Employees", "Lead Status"])
    ws.append([101, "Anne", "anne@acme.fr", "Directrice commerciale", "Acme", 250, "NEW"])
    ws.append([102, "Bob", None, "Student", "Uni", 20000, "NEW"])
    wb.create_sheet("Activities").append(["Record ID", "Date", "Type", "URL"])
    wb["Activities"].append([101, "2026-11-21", "Webinar", "https://x/pricing"])
    wb.save(path)
    code, out, err = call("refresh", path, "--as-of", AS_OF, "--rules", ROOT / "rules.json")
    assert code == 0, err
    ws = openpyxl.load_workbook(path, data_only=True)["Leads"]
    header = [c.value for c in ws[1]]
    assert header[:7] == ["Record ID", "First Name", "Email", "Job Title", "Company Name", "Number of Employees",
                          "Lead Status"]
    assert header[7:] == LEADS_OUTPUTS
    row = dict(zip(header, [c.value for c in ws[2]]))
    # decision-maker 15 + mid-market 10; webinar 20 + pricing page 10, one day old at half-life 90 days
    assert row["Fit score"] == 25 and row["Stage"] == "MQL"
    assert row["Engagement score"] == pytest.approx(round(20 * 0.5 ** (1 / 90), 2) + round(10 * 0.5 ** (1 / 90), 2))
    assert dict(zip(header, [c.value for c in ws[3]]))["Stage"] == "Disqualified"   # Student: disqualify rule


def test_output_option_leaves_the_source_untouched(book, tmp_path):
    before = book.read_bytes()
    code, _, err = call("refresh", book, "--as-of", "2026-12-01", "--output", tmp_path / "copy.xlsm")
    assert code == 0, err
    assert book.read_bytes() == before and (tmp_path / "copy.xlsm").exists()


def test_lock_file_is_reported_not_clobbered(book):
    (book.parent / ("~$" + book.name)).write_text("locked")
    before = book.read_bytes()
    code, out, err = call("refresh", book)
    assert code == 1 and "open in Excel" in err and "Traceback" not in err
    assert book.read_bytes() == before


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.xlsm"
    bad.write_bytes(b"this is not a zip")
    code, out, err = call("refresh", bad)
    assert code == 1 and "not an Excel workbook" in err and "Traceback" not in err


def test_missing_sheet_and_column_suggest_the_fix(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Lead"
    wb.save(tmp_path / "a.xlsx")
    code, _, err = call("refresh", tmp_path / "a.xlsx")
    assert code == 1 and 'no "Leads" sheet (did you mean "Lead"?)' in err
    wb = openpyxl.Workbook()
    wb.active.title = "Leads"
    wb.active.append(["Lead IDs", "Email"])
    wb.active.append(["A", "a@b.fr"])
    wb.save(tmp_path / "b.xlsx")
    code, _, err = call("refresh", tmp_path / "b.xlsx")
    assert code == 1 and 'no "Lead ID" column (did you mean "Lead IDs"?)' in err


def test_data_in_the_way_of_new_columns_stops_the_write(tmp_path):
    path = tmp_path / "c.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Leads")
    ws.add_table("A1:B2", {"name": "Leads", "columns": [{"header": "Lead ID"}, {"header": "Email"}],
                           "data": [["A", "a@b.fr"]]})
    ws.write_string("E5", "my note")          # right where LeadQ would add its columns (C:M)
    wb.close()
    before = path.read_bytes()
    code, _, err = call("refresh", path)
    assert code == 1 and "Leads!E5 holds data where LeadQ needs to add its result columns (C–M)" in err
    assert path.read_bytes() == before


def test_a_stray_cell_beside_a_plain_sheet_is_kept(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws.append(["Lead ID", "Email"])
    ws.append(["A", "a@b.fr"])
    ws["D2"] = "my note"
    wb.save(tmp_path / "c.xlsx")
    code, _, err = call("refresh", tmp_path / "c.xlsx")
    assert code == 0, err
    ws = openpyxl.load_workbook(tmp_path / "c.xlsx")["Leads"]
    assert ws["D2"].value == "my note" and ws["E1"].value == "Fit score"


def test_explain_prints_a_ledger_that_adds_up(sample_book):
    code, out, err = call("explain", sample_book, "L1005", "--as-of", AS_OF)
    assert code == 0, err
    score = float(re.search(r"score ([\d.]+)", out).group(1))
    total = float(out.strip().splitlines()[-1].split()[-1])
    assert total == pytest.approx(score)
    code, out, err = call("explain", sample_book, "L99999")
    assert code == 1 and 'no lead "L99999"' in err


def test_cli_subprocess_end_to_end(tmp_path):
    out = subprocess.run([sys.executable, "-m", "addin", "demo", str(tmp_path / "d.xlsm"), "--as-of", AS_OF],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "200 leads" in out.stdout and "Customer 23" in out.stdout


@pytest.mark.libreoffice
def test_libreoffice_opens_the_refreshed_workbook_and_shows_stage_colours(tmp_path):
    path = tmp_path / "small.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    refresh(path, as_of=AS_OF)
    pdf = convert(path, "pdf", tmp_path / "lo")
    imgs = pages(pdf)
    assert imgs
    for stage in ("MQL", "SQL", "Opportunity", "Customer", "Lost"):
        assert count_color(imgs, DEFAULT.stage_color(stage)) > 200, f"{stage} colour not rendered"
    assert count_color(imgs, "#C00000") > 50     # overdue next actions in red


@pytest.mark.libreoffice
def test_libreoffice_reads_parts_deflated_in_many_blocks(tmp_path, monkeypatch):
    """Big parts are deflated in blocks side by side (io.package.deflate_stream): LibreOffice reads such a
    stream (blocks of 1 KB here, so every sheet is many) and shows the stage colours as with one block."""
    from addin.io import package
    monkeypatch.setattr(package, "BLOCK", 1024)
    path = tmp_path / "small.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    refresh(path, as_of=AS_OF)
    imgs = pages(convert(path, "pdf", tmp_path / "lo"))
    for stage in ("MQL", "SQL", "Opportunity", "Customer", "Lost"):
        assert count_color(imgs, DEFAULT.stage_color(stage)) > 200, f"{stage} colour not rendered"


@pytest.mark.libreoffice
def test_without_conditional_formats_no_stage_colours_render(tmp_path):
    """Control for the test above: the colours come from our conditional formats, not from elsewhere."""
    path = tmp_path / "small.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    refresh(path, as_of=AS_OF)
    z = zipfile.ZipFile(path)
    parts = {n: z.read(n) for n in z.namelist()}
    z.close()
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb"<conditionalFormatting\b.*?</conditionalFormatting>", b"",
                                               parts["xl/worksheets/sheet1.xml"], flags=re.S)
    # The Summary shows stage colours of its own (funnel cells, chart): blank it for this control.
    parts["xl/worksheets/sheet4.xml"] = re.sub(rb"<sheetData>.*</sheetData>", b"<sheetData/>",
                                               parts["xl/worksheets/sheet4.xml"], flags=re.S).replace(b'<drawing r:id="rId2"/>', b"")
    stripped = tmp_path / "stripped.xlsm"
    with zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as out:
        for n, d in parts.items():
            out.writestr(n, d)
    imgs = pages(convert(stripped, "pdf", tmp_path / "lo2"))
    assert count_color(imgs, DEFAULT.stage_color("MQL")) < 50


def test_a_user_cell_right_of_leadq_columns_survives_refreshes(tmp_path):
    path = tmp_path / "right.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws.append(["Lead ID", "Email"])
    ws.append(["A", "a@b.fr"])
    wb.save(path)
    assert call("refresh", path, "--as-of", AS_OF)[0] == 0
    wb = openpyxl.load_workbook(path)
    wb["Leads"]["O2"] = "note beside LeadQ's columns"     # LeadQ owns C:M
    wb.save(path)
    code, _, err = call("refresh", path, "--as-of", AS_OF)
    assert code == 0, err
    ws = openpyxl.load_workbook(path)["Leads"]
    assert ws["O2"].value == "note beside LeadQ's columns"
    assert ws["G2"].value == "Lead" and ws["C1"].value == "Fit score"


def test_deflaters_is_one_pool_whatever_threads_ask_first(monkeypatch):
    """deflate_stream's pool is made once even when the two background workers ask for it at once
    (a slow pool constructor widens the window a check without a lock would leave open)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from addin.io import package

    def slow_pool(**kw):
        time.sleep(0.05)
        return ThreadPoolExecutor(**kw)
    monkeypatch.setattr(package, "_DEFLATERS", None)
    monkeypatch.setattr(package, "ThreadPoolExecutor", slow_pool)
    with ThreadPoolExecutor(8) as ask:
        pools = {id(p) for p in ask.map(lambda _: package.deflaters(), range(16))}
    assert len(pools) == 1
