"""Owned-column migration: a workbook refreshed by an older output layout is upgraded in place."""

import datetime as dt
import re
import shutil
import zipfile

import openpyxl
import pytest
from conftest import AS_OF, ROOT, ooxcheck
from xlengine import open_as_caller

import addin.macros as macros
from addin.core.report import outputs as layouts
from addin.core.report.outputs import Owned, layout_version, marked_columns, marker, owned_positions
from addin.errors import WorkbookError
from addin.refresh import new_workbook, refresh

V1 = list(layouts.LAYOUTS[1])
EXTRA = "Owner check"


def _rewrite(path, edits):
    """Replace parts of a workbook package (a user's edit, done at the XML level so nothing else moves)."""
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    for name, fn in edits.items():
        parts[name] = fn(parts[name].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


# Columns below sit one right of layout 1's first template: the Leads table gained the CRM status input.
def _add_notes_column(sheet: str) -> str:
    """A "Notes" header in AE3 and a note every 7th row: the user's column right of LeadQ's."""
    def add(m):
        r = int(m.group(1))
        if r == 3:
            cell = '<c r="AE3" t="inlineStr"><is><t>Notes</t></is></c>'
        elif r >= 4 and (r - 4) % 7 == 0:
            cell = f'<c r="AE{r}" t="inlineStr"><is><t>call back {r}</t></is></c>'
        else:
            return m.group(0)
        return m.group(0).replace("</row>", cell + "</row>")
    return re.sub(r'<row r="(\d+)"[^>]*>.*?</row>', add, sheet, flags=re.S)


@pytest.fixture(scope="module")
def refreshed_v1(tmp_path_factory):
    """The demo refreshed by layout 1, then given a user column "Notes" in the table right of LeadQ's."""
    path = tmp_path_factory.mktemp("v1") / "v1.xlsm"
    saved = dict(layouts.LAYOUTS)          # made and refreshed by a LeadQ that knew layout 1 only
    layouts.LAYOUTS.clear()
    layouts.LAYOUTS[1] = saved[1]
    try:
        new_workbook(path, sample=True, as_of=AS_OF)
        refresh(path, as_of=AS_OF, rules=ROOT / "rules.json")
    finally:
        layouts.LAYOUTS.update(saved)
    _rewrite(path, {
        "xl/worksheets/sheet1.xml": _add_notes_column,
        "xl/tables/table1.xml": lambda t: t.replace("A3:AD203", "A3:AE203").replace(
            '<tableColumns count="30">', '<tableColumns count="31">').replace(
            "</tableColumns>", '<tableColumn id="31" name="Notes"/></tableColumns>')})
    ooxcheck(path)
    return path


@pytest.fixture
def layout_2(monkeypatch):
    """The current layout becomes version 2: layout 1 plus one column the engine leaves blank."""
    monkeypatch.setitem(layouts.LAYOUTS, 2, (*V1, EXTRA))
    monkeypatch.setenv("LEADQ_RULES", str(ROOT / "rules.json"))


def _leads(path):
    wb = openpyxl.load_workbook(path)
    ws = wb["Leads"]
    header = {c.value: c.column for c in ws[3] if c.value is not None}
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    names = {n: wb.defined_names[n].attr_text for n in ("_LeadQ_Outputs", "_LeadQ_Layout") if n in wb.defined_names}
    return ws, header, cells, names


def _check_upgrade(before, after, baseline=None):
    ws0, head0, cells0, names0 = _leads(before)
    ws, head, cells, names = _leads(after)
    assert names0 == {"_LeadQ_Outputs": "'Leads'!$V$3:$AD$3", "_LeadQ_Layout": "1"}
    assert [head[n] for n in V1] == [head0[n] for n in V1]                 # old columns reused where they were
    assert head["Notes"] == head0["Notes"] == 31 and head[EXTRA] == 32      # new column right of the table (AF)
    assert names == {"_LeadQ_Outputs": "'Leads'!$V$3:$AD$3,'Leads'!$AF$3", "_LeadQ_Layout": "2"}
    owned = set(head[n] for n in V1) | {head[EXTRA]}
    user0 = {k: v for k, v in cells0.items() if k[1] not in owned}
    assert {k: v for k, v in cells.items() if k[1] not in owned} == user0   # every user cell unchanged
    assert [v for (r, c), v in cells.items() if c == head[EXTRA] and r > 3] == []   # blank: the engine leaves it
    assert ws.tables["Leads"].ref == "A3:AF203"
    assert [c.name for c in ws.tables["Leads"].tableColumns][-3:] == ["Why", "Notes", EXTRA]
    for r in range(4, 204):
        assert ws.cell(r, head["Score"]).value == ws0.cell(r, head0["Score"]).value
    ooxcheck(after, baseline)


def _copy(src, tmp_path):
    """A copy of the workbook with the rules file its Settings name beside it."""
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    return shutil.copy(src, tmp_path / "up.xlsm")


def test_headless_refresh_upgrades_a_layout_1_workbook(refreshed_v1, tmp_path, layout_2):
    path = _copy(refreshed_v1, tmp_path)
    refresh(path, as_of=AS_OF, now="2026-11-22 09:00")
    _check_upgrade(refreshed_v1, path)
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    stage = re.search(r'<conditionalFormatting sqref="([^"]+)"><cfRule[^>]*><formula>"MQL"', sheet).group(1)
    assert stage == "Z4:Z203"                                               # colours stay on the Stage column
    assert 'sqref="AE' not in sheet                                         # none on the user's Notes column
    first = path.read_bytes()
    refresh(path, as_of=AS_OF, now="2026-11-22 09:00")                      # a second refresh is stable
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(__import__("io").BytesIO(first)) as z0:
        assert z.read("xl/worksheets/sheet1.xml") == z0.read("xl/worksheets/sheet1.xml")
        assert z.read("xl/workbook.xml") == z0.read("xl/workbook.xml")


def test_macro_refresh_upgrades_a_layout_1_workbook(refreshed_v1, tmp_path, layout_2):
    path = _copy(refreshed_v1, tmp_path)
    resaved = tmp_path / "resaved.xlsm"            # what openpyxl's save alone does, for the Excel-load gate
    openpyxl.load_workbook(refreshed_v1, keep_vba=True).save(resaved)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)     # the fixture's as-of date, not today's (the scores decay)
    wb.save(path)
    book = open_as_caller(path)
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()
    wb = openpyxl.load_workbook(path)
    assert wb["Settings"]["B5"].value.startswith("OK"), wb["Settings"]["B5"].value
    _check_upgrade(refreshed_v1, path, baseline=resaved)
    assert wb.defined_names["_LeadQ_Outputs"].hidden and wb.defined_names["_LeadQ_Layout"].hidden
    assert wb["Leads"]["AF3"].font.b and wb["Leads"]["AF3"].fill.fgColor.rgb == "FF1F3864"
    _, _, cells, names = _leads(path)
    book = open_as_caller(path)                                             # a second refresh is stable
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()
    assert _leads(path)[2:] == (cells, names)


def test_a_workbook_without_a_layout_version_is_layout_1():
    assert layout_version(None) == 1 and layout_version("=1") == 1 and layout_version("7") == 1


def test_the_marker_is_a_union_of_ranges_read_back_as_columns():
    owned = Owned([20, 21, 22, 30], [30], 2)
    text = marker("Lead's", 3, owned)
    assert text == "'Lead''s'!$U$3:$W$3,'Lead''s'!$AE$3"
    assert marked_columns("=" + text) == [20, 21, 22, 30]
    assert marked_columns("=#REF!") is None


def test_new_columns_go_right_of_the_block_when_it_ends_the_table(monkeypatch):
    monkeypatch.setitem(layouts.LAYOUTS, 2, (*V1, EXTRA))
    headers = ["Lead ID", "Email", *V1]
    owned = owned_positions(headers, 0, list(range(2, 11)), 1)
    assert owned.columns == list(range(2, 12)) and owned.new == [11] and owned.version == 2
    # an old template (no marker) is found by its headers and upgraded the same way
    assert owned_positions(headers, 0).columns == owned.columns


def test_layouts_only_ever_add_columns():
    versions = sorted(layouts.LAYOUTS)
    assert versions == list(range(1, len(versions) + 1))
    for v in versions[1:]:
        assert list(layouts.LAYOUTS[v][: len(layouts.LAYOUTS[v - 1])]) == list(layouts.LAYOUTS[v - 1])
    assert layouts.outputs() == __import__("addin.core.values.headers", fromlist=["x"]).LEADS_OUTPUTS


def test_a_user_column_named_like_a_new_output_is_an_error_not_overwritten(monkeypatch):
    monkeypatch.setitem(layouts.LAYOUTS, 2, (*V1, EXTRA))
    headers = ["Lead ID", EXTRA.upper(), *V1]
    with pytest.raises(WorkbookError, match='Leads has a column "OWNER CHECK"'):
        owned_positions(headers, 0, list(range(2, 11)), 1)


def _output_cells(path):
    """{output column: (number format, alignment, data type of its first value)} on Leads, read by openpyxl."""
    ws = openpyxl.load_workbook(path)["Leads"]
    head = {c.value: c.column for c in ws[3] if c.value}
    out = {}
    for col in layouts.COLUMNS:
        cell = ws.cell(4, head[col.name])
        out[col.name] = (cell.number_format, cell.alignment.horizontal, cell.data_type)
    return out, ws, head


def _expected(col):
    kind = {"number": "n", "date": "n", "text": "s"}[col.kind]
    return (col.number_format or "General", col.align, kind)


def test_one_declaration_gives_every_output_column_its_format_width_and_kind_on_every_door(tmp_path):
    """The file writer, the Refresh button and the template all take an output column's number format,
    alignment, width and kind from core.report.outputs.COLUMNS (the template's Days in stage used to
    say #,##0 where a refresh wrote 0)."""
    template = openpyxl.load_workbook(ROOT / "workbook_template.xlsm")["Leads"]
    head = {c.value: c.column_letter for c in template[3] if c.value}
    for col in layouts.COLUMNS:
        dim = template.column_dimensions[head[col.name]]
        assert dim.width == pytest.approx(col.width + 0.7109375, abs=0.01), col.name     # XlsxWriter adds the padding
        assert dim.number_format == (col.number_format or "General"), col.name

    headless = tmp_path / "h.xlsm"
    new_workbook(headless, sample=True, as_of=AS_OF)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    refresh(headless, as_of=AS_OF, now="2026-11-22 09:00")
    refresh(headless, as_of=AS_OF, now="2026-11-29 09:00")           # Stage since / Days in stage filled
    cells, ws, names = _output_cells(headless)
    for col in layouts.COLUMNS:
        fmt, align, kind = cells[col.name]
        assert (fmt, align) == _expected(col)[:2], col.name
        values = [ws.cell(r, names[col.name]).value for r in range(4, 204)]
        filled = [v for v in values if v not in (None, "")]
        assert filled, col.name
        want = {"number": (int, float), "date": (dt.datetime,), "text": (str,)}[col.kind]
        assert all(isinstance(v, want) for v in filled), (col.name, {type(v) for v in filled})

    button = tmp_path / "m.xlsm"
    new_workbook(button, sample=True, as_of=AS_OF)
    wb = openpyxl.load_workbook(button, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)
    wb.save(button)
    for now in ("2026-11-22 09:00", "2026-11-29 09:00"):
        book = open_as_caller(button)
        macros.refresh(now=now)
        book.impl.save()
    cells, ws, names = _output_cells(button)
    for col in layouts.COLUMNS:
        assert cells[col.name][0] == (col.number_format or "General"), col.name
        filled = [ws.cell(r, names[col.name]).value for r in range(4, 204) if ws.cell(r, names[col.name]).value not in (None, "")]
        want = {"number": (int, float), "date": (dt.datetime,), "text": (str,)}[col.kind]
        assert filled and all(isinstance(v, want) for v in filled), (col.name, {type(v) for v in filled})
