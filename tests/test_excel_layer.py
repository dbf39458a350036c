"""The xlwings layer without Excel: UDFs called as Excel calls them, macros run on a real .xlsm."""

import datetime as dt
import json
import os
import shutil
import time
import zipfile

import openpyxl
import pytest
from conftest import AS_OF, ROOT, gate
from lo import convert
from xlengine import open_as_caller

import addin
import addin.macros as macros
import addin.udfs as udfs
from addin.core.values.headers import LEADS_OUTPUTS
from addin.io.template import write_shim
from addin.refresh import new_workbook, refresh


def table(ws, header_row=1):
    """A sheet's table as Excel passes it to a UDF: 2-D list, header first, None for blanks."""
    rows = [list(r) for r in ws.iter_rows(min_row=header_row, values_only=True)]
    width = max(i + 1 for i, h in enumerate(rows[0]) if h is not None)
    return [[float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in r[:width]] for r in rows
            if any(v is not None for v in r[:width])]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("excel")
    path = d / "demo.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    wb = openpyxl.load_workbook(path)
    leads = [r[:20] for r in table(wb["Leads"], header_row=3)]
    return path, leads, table(wb["Activities"]), table(wb["Qualification"])


@pytest.fixture(autouse=True)
def default_rules(monkeypatch):
    monkeypatch.setenv("LEADQ_RULES", str(ROOT / "rules.json"))
    yield
    try:
        del addin.udfs.xw.Book._mock_caller
    except AttributeError:
        pass


def test_leadq_table_equals_the_engine(demo):
    path, leads, acts, qual = demo
    out = udfs.LEADQ_TABLE(leads, acts, qual, AS_OF)
    # Called with no workbook (outside Excel), the Lead history cannot be read: its columns say so, blank.
    note = " (no calling workbook: Lead history not read)"
    assert out[0] == [c + note if c in ("Stage since", "Days in stage") else c for c in LEADS_OUTPUTS]
    assert len(out) == len(leads) and all(r[-2:] == [None, None] for r in out[1:])
    ev = addin.evaluate(udfs.frame(leads), udfs.frame(acts), addin.load_rules(ROOT / "rules.json"),
                        qualification=udfs.frame(qual), as_of=AS_OF)
    for got, (_, row) in zip(out[1:], ev.leads.iterrows()):
        assert got[:-2] == [row[c] for c in LEADS_OUTPUTS[:-2]]


def test_leadq_explain_points_sum_to_the_score(demo):
    path, leads, acts, qual = demo
    table_out = udfs.LEADQ_TABLE(leads, acts, qual, AS_OF)
    ids = [r[0] for r in leads[1:]]
    for i in (0, 5, 17):
        ledger = udfs.LEADQ_EXPLAIN(ids[i], leads, acts, qual, AS_OF)
        assert ledger[0][:2] == ["Lead ID", "Rule"]
        assert round(sum(r[-1] for r in ledger[1:-1]), 2) == table_out[i + 1][2]
        assert ledger[-1][1] == "stage" and ledger[-1][3].startswith(table_out[i + 1][4] + ":")
    assert udfs.LEADQ_EXPLAIN("nobody", leads, acts, qual, AS_OF)[0][0].startswith('LeadQ: no lead "nobody"')


def test_leadq_points():
    assert udfs.LEADQ_POINTS("webinar") == 20
    assert udfs.LEADQ_POINTS("Newsletter signup") == 5
    assert udfs.LEADQ_POINTS("webinr") == 'LeadQ: unknown activity type "webinr" (did you mean "webinar"?)'


def test_a_broken_rules_file_gives_a_readable_message(tmp_path, monkeypatch, demo):
    _, leads, acts, qual = demo
    bad = tmp_path / "rules.json"
    bad.write_text('{\n  "activities": {"webinar": {"points": "20"}}\n}', "utf-8")
    monkeypatch.setenv("LEADQ_RULES", str(bad))
    msg = udfs.LEADQ_TABLE(leads, acts, qual, AS_OF)
    assert msg == [['LeadQ: rules.json:2: $.activities.webinar.points: must be a number, not "20" — remove the quotes']]
    assert udfs.LEADQ_POINTS("webinar").startswith("LeadQ: rules.json:2: $.activities.webinar.points")


def test_rules_are_cached_and_reloaded_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "rules.json"
    path.write_text('{"activities": {"webinar": {"points": 20}}}', "utf-8")
    monkeypatch.setenv("LEADQ_RULES", str(path))
    first = udfs.run_settings().rules
    assert udfs.run_settings().rules is first and udfs.LEADQ_POINTS("webinar") == 20
    path.write_text('{"activities": {"webinar": {"points": 35}}}', "utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert udfs.LEADQ_POINTS("webinar") == 35


def test_udf_arguments_must_be_tables():
    assert udfs.LEADQ_TABLE("A1", None)[0][0].startswith("LeadQ: pass a whole table")


def _owned(path):
    ws = openpyxl.load_workbook(path, data_only=True)["Leads"]
    header = [c.value for c in ws[3]]
    cols = [header.index(n) for n in LEADS_OUTPUTS]
    return [[r[i] for i in cols] for r in ws.iter_rows(min_row=4, values_only=True) if r[0] is not None]


def test_macro_refresh_matches_the_headless_refresh(demo, tmp_path):
    path = demo[0]
    headless, macro = tmp_path / "headless.xlsm", tmp_path / "macro.xlsm"
    for p in (headless, macro):
        shutil.copy(path, p)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")   # Settings names rules.json, beside the workbook
    wb = openpyxl.load_workbook(macro, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)          # the as-of date, as a user would set it
    wb.save(macro)
    refresh(headless, as_of=AS_OF, rules=ROOT / "rules.json")
    book = open_as_caller(macro)
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()
    gate(macro, "the macro path (saved by the test engine)")
    assert _owned(macro) == _owned(headless)
    wb = openpyxl.load_workbook(macro, data_only=True)
    assert wb["Settings"]["B5"].value.startswith("OK — 200 leads scored")
    assert book.app.status_bar.startswith("LeadQ: OK — 200 leads scored")
    summary = {c.value for row in wb["Summary"].iter_rows() for c in row if c.value is not None}
    headless_summary = {c.value for row in openpyxl.load_workbook(headless, data_only=True)["Summary"].iter_rows()
                        for c in row if c.value is not None}
    queue = next(v for v in headless_summary if isinstance(v, str) and v.startswith("Hand-off queue"))
    # 50 MQLs in the demo, 10 of them marked Consent = Non: never handed to sales (issue 15)
    assert queue == "Hand-off queue — MQLs waiting for sales (40)"
    assert {"LeadQ — Summary", queue} <= summary
    head_details = list(openpyxl.load_workbook(headless, data_only=True)["Score details"].iter_rows(values_only=True))
    macro_details = list(wb["Score details"].iter_rows(values_only=True))
    assert [tuple(r[:9]) for r in macro_details] == [tuple(r[:9]) for r in head_details]


def test_macro_keeps_text_that_looks_like_a_formula_as_text(tmp_path):
    path = tmp_path / "f.xlsm"
    new_workbook(path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Leads"]
    ws["A4"], ws["D4"], ws["F4"] = "A1", "a@b.fr", "=SUM(1,2)"
    ws["F4"].data_type = "s"                 # typed as text ('=SUM(1,2)), not a formula: Excel reads a formula's value
    wb.save(path)
    (tmp_path / "rules.json").write_text(json.dumps({"fit": [{"id": "t", "field": "Job title", "op": "not_empty",
                                                               "points": 5}]}), "utf-8")
    open_as_caller(path)
    macros.refresh()
    xw_book = addin.udfs.xw.Book.caller()
    xw_book.impl.save()
    ws = openpyxl.load_workbook(path)["Score details"]
    matched = [r[3].value for r in ws.iter_rows(min_row=2) if r[1].value == "t"]
    assert matched == ["=SUM(1,2)"]
    assert [r[3].data_type for r in ws.iter_rows(min_row=2) if r[1].value == "t"] == ["s"]


def test_macro_reports_a_broken_rules_file_in_settings(tmp_path, demo):
    path = tmp_path / "b.xlsm"
    shutil.copy(demo[0], path)
    (tmp_path / "rules.json").write_text('{"thresholds": {"mql": "x"}}', "utf-8")
    book = open_as_caller(path)
    macros.refresh()
    macros.check_rules()
    book.impl.save()
    status = openpyxl.load_workbook(path)["Settings"]["B5"].value
    assert status.startswith("1 problem(s) in rules.json: rules.json:1: $.thresholds.mql: must be a number")


@pytest.mark.libreoffice
def test_libreoffice_opens_the_macro_refreshed_workbook(demo, tmp_path):
    path = tmp_path / "m.xlsm"
    shutil.copy(demo[0], path)
    book = open_as_caller(path)
    macros.refresh()
    book.impl.save()
    assert convert(path, "pdf", tmp_path / "lo").stat().st_size > 10_000
    with zipfile.ZipFile(path) as z:
        assert "xl/vbaProject.bin" in z.namelist()


# ---------------------------------------------------------------------------- a thin Excel layer

def _argb(color):
    return "FF" + color.lstrip("#").upper()


# How each StyleBook.xf keyword shows on an openpyxl cell.
STYLE_CHECKS = {
    "num_fmt": lambda c, v: c.number_format == v,
    "bold": lambda c, v: c.font.b is True,
    "italic": lambda c, v: c.font.i is True,
    "color": lambda c, v: c.font.color.rgb == _argb(v),
    "size": lambda c, v: c.font.sz == v,
    "fill": lambda c, v: c.fill.fill_type == "solid" and c.fill.fgColor.rgb == _argb(v),
    "wrap": lambda c, v: c.alignment.wrap_text is True,
    "halign": lambda c, v: c.alignment.horizontal == v,
    "valign": lambda c, v: c.alignment.vertical == v,
    "underline": lambda c, v: c.font.u == "single",
    "border_bottom": lambda c, v: c.border.bottom.style == "thin" and c.border.bottom.color.rgb == _argb(v),
    "indent": lambda c, v: c.alignment.indent == v,
}


def _writer_tokens(ev):
    """Every format token the Summary layout and the Leads / Score details writers use."""
    from addin.core.report.outputs import outputs
    from addin.core.report.present import DETAILS_HEADER_FORMAT, LEADS_HEADER_FORMAT, detail_format, output_format
    from addin.core.report.summary import summarise
    from addin.core.report.summary_layout import summary_layout
    from addin.core.scoring import LEDGER_COLUMNS
    page = summary_layout(summarise(ev), ev.rules, "2026-11-22 08:00")
    tokens = [st.as_dict() for st in page.styles()]
    tokens += [LEADS_HEADER_FORMAT, DETAILS_HEADER_FORMAT] + [output_format(n) for n in outputs()]
    tokens += [detail_format(c) for c in LEDGER_COLUMNS]
    return tokens


def test_the_macro_translates_every_format_keyword_of_the_file_writer():
    import inspect

    from addin.io.styles import StyleBook
    keywords = set(inspect.signature(StyleBook.xf).parameters) - {"self"}
    assert set(macros._FORMATS) == keywords == set(STYLE_CHECKS)


def _macro_refresh(path):
    """Run the Refresh macro on `path` (the rules file its Settings name copied beside it); check it worked."""
    shutil.copy(ROOT / "rules.json", path.parent / "rules.json")
    book = open_as_caller(path)
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()
    status = openpyxl.load_workbook(path)["Settings"]["B5"].value
    assert status.startswith("OK"), status


def test_the_macro_applies_every_style_token_the_writers_use(demo, tmp_path):
    path = tmp_path / "styles.xlsm"
    shutil.copy(demo[0], path)
    result = refresh(tmp_path / "styles.xlsm", as_of=AS_OF, rules=ROOT / "rules.json", output=tmp_path / "r.xlsm")
    tokens = _writer_tokens(result.evaluation)
    every = {"num_fmt": "0.00%", "bold": True, "italic": True, "color": "#123456", "size": 14, "fill": "#ABCDEF",
             "wrap": True, "halign": "right", "valign": "top", "underline": True, "border_bottom": "#2F5597", "indent": 2}
    tokens.append(every)                           # indent is no writer's today; it must still translate
    used = {k for t in tokens for k, v in t.items() if v}
    assert used == set(STYLE_CHECKS)
    book = open_as_caller(path)
    sheet = book.sheets["Summary"]
    for i, token in enumerate(tokens, start=1):
        macros._apply(sheet.range((i, 20)), token)
    ws = book.impl.wb["Summary"]
    for i, token in enumerate(tokens, start=1):
        cell = ws.cell(i, 20)
        wrong = [k for k, v in token.items() if v and not STYLE_CHECKS[k](cell, v)]
        assert not wrong, f"token {token} not applied: {wrong}"


def test_an_unknown_format_keyword_is_an_error_not_ignored(demo, tmp_path):
    path = tmp_path / "k.xlsm"
    shutil.copy(demo[0], path)
    book = open_as_caller(path)
    with pytest.raises(ValueError, match="strikethrough"):
        macros._apply(book.sheets["Summary"].range("A1"), {"bold": True, "strikethrough": True})


def test_adapters_import_no_private_name_of_another_module():
    import ast
    for module in ("macros.py", "udfs.py", "cli.py", "refresh.py"):
        tree = ast.parse((ROOT / "addin" / module).read_text("utf-8"))
        private = [f"{node.module}.{a.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
        assert not private, f"{module} imports {private}"


def test_macro_and_file_reader_tag_the_same_cells(demo):
    from addin.io.reader import read_workbook
    data = read_workbook(demo[0])
    book = open_as_caller(demo[0])
    for sheet, frame in (("Leads", data.leads), ("Activities", data.activities)):
        table = macros.read_table(book, sheet)
        got, want = table.frame.attrs["leadq_origin"], frame.attrs["leadq_origin"]
        assert got["sheet"] == want["sheet"] == sheet
        assert list(got["rows"]) == list(want["rows"])
        assert {h: got["letters"][h] for h in want["letters"]} == want["letters"]


def test_macro_writes_the_same_owned_columns_marker_as_the_file_writer(demo, tmp_path):
    headless, macro = tmp_path / "h.xlsm", tmp_path / "m.xlsm"
    for p in (headless, macro):
        shutil.copy(demo[0], p)
    refresh(headless, as_of=AS_OF, rules=ROOT / "rules.json")
    _macro_refresh(macro)
    names = [openpyxl.load_workbook(p).defined_names for p in (headless, macro)]
    for n in ("_LeadQ_Outputs", "_LeadQ_Layout"):
        assert names[0][n].attr_text == names[1][n].attr_text and names[0][n].hidden and names[1][n].hidden
    assert names[1]["_LeadQ_Outputs"].attr_text == "'Leads'!$V$3:$AF$3"   # outputs after the 21 inputs (CRM status included)


def _rename_lead(src, dst, new_id):
    """A copy of the demo where the first lead of the overdue list is called `new_id` (both sheets)."""
    from addin.core.report.summary import summarise
    ev = refresh(src, as_of=AS_OF, rules=ROOT / "rules.json", output=dst).evaluation
    old = summarise(ev).actions["Lead ID"].iloc[0]
    wb = openpyxl.load_workbook(dst, keep_vba=True)
    for ws in (wb["Leads"], wb["Activities"]):
        for row in ws.iter_rows():
            for c in row:
                if c.value == old:
                    c.value = new_id
    wb.save(dst)


def test_link_text_with_markup_characters_is_shown_as_typed(demo, tmp_path):
    lead = 'R&D-"1"<x>'
    headless, macro = tmp_path / "h.xlsm", tmp_path / "m.xlsm"
    _rename_lead(demo[0], headless, lead)
    shutil.copy(headless, macro)
    refresh(headless, as_of=AS_OF, rules=ROOT / "rules.json")
    from conftest import ooxcheck
    ooxcheck(headless, baseline=macro)
    sheet = zipfile.ZipFile(headless).read("xl/worksheets/sheet4.xml").decode()
    assert 'display="R&amp;D-&quot;1&quot;&lt;x&gt;"' in sheet
    _macro_refresh(macro)
    for path in (headless, macro):
        ws = openpyxl.load_workbook(path)["Summary"]
        links = [c for row in ws.iter_rows() for c in row if c.hyperlink and c.value == lead]
        assert links, path
        assert all(c.hyperlink.display in (None, lead) for c in links)
        assert not [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "&amp;" in c.value]


def _look(c):
    """What a reader sees of a cell: value and every style property LeadQ sets."""
    rgb = lambda color: color.rgb if color is not None and color.type == "rgb" else None   # noqa: E731
    value = round(c.value, 12) if isinstance(c.value, float) else c.value     # openpyxl's save rounds the last digit
    return (value, bool(c.font.b), bool(c.font.i), c.font.u, rgb(c.font.color), float(c.font.sz or 11),
            rgb(c.fill.fgColor) if c.fill.fill_type == "solid" else None, c.number_format,
            c.alignment.horizontal, c.alignment.vertical, bool(c.alignment.wrap_text),
            c.border.bottom.style, rgb(c.border.bottom.color) if c.border.bottom.style else None)


def test_the_macro_renders_the_same_summary_as_the_file_writer(demo, tmp_path):
    headless, macro = tmp_path / "h.xlsm", tmp_path / "m.xlsm"
    for p in (headless, macro):
        shutil.copy(demo[0], p)
        write_shim(p)            # the Refresh button's module beside each (else the file writer warns it is missing)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")   # both find it through Settings
    refresh(headless, now="2026-11-22 09:00")
    _macro_refresh(macro)
    sheets = [openpyxl.load_workbook(p)["Summary"] for p in (headless, macro)]
    refs = {c.coordinate for row in sheets[0].iter_rows() for c in row if c.has_style or c.value is not None}
    assert len(refs) > 500
    differ = [ref for ref in sorted(refs) if _look(sheets[0][ref]) != _look(sheets[1][ref])]
    assert not differ, [(ref, _look(sheets[0][ref]), _look(sheets[1][ref])) for ref in differ[:3]]


def test_calibrate_macro_writes_the_calibration_sheet_and_a_suggested_file(demo, tmp_path):
    from addin.calibration import calibrate_workbook
    path = tmp_path / "c.xlsm"
    shutil.copy(demo[0], path)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)
    wb.save(path)
    expected, _, _ = calibrate_workbook(path)
    book = open_as_caller(path)
    macros.calibrate(now="2026-11-22 09:00")
    book.impl.save()
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb["Calibration"]
    rows = [r for r in ws.iter_rows(values_only=True)]
    assert rows[0][0] == "LeadQ — Calibration: points learnt from outcomes"
    assert rows[1][0].startswith("outcome: won vs lost deals (Deal stage) — 70 leads with an outcome (23 won, 47 lost)")
    cur = next(r for r in rows if r[0] == "Current rules")
    sug = next(r for r in rows if r[0] == "Suggested rules")
    assert cur[1] == pytest.approx(expected.metrics["auc_current"]) and sug[1] == pytest.approx(expected.metrics["auc_suggested"])
    assert any(r[0] == "decision-maker" and r[1] == "fit" and r[3] == 25 for r in rows)
    assert any(r[0] == "thresholds.mql" for r in rows)
    gain = next(i for i, r in enumerate(rows) if r[0] == "Gain (held-out): leads contacted")
    assert rows[gain + 1][:4] == (0, 0, 0, 0) and rows[-1][:4] == (1, 1, 1, 1)
    assert len(ws._charts) == 1
    assert wb["Settings"]["B5"].value.startswith("Calibrated 2026-11-22 09:00: held-out AUC")
    suggested = tmp_path / "rules.suggested.json"
    assert addin.check_rules(suggested)[0] is not None
    assert json.loads((tmp_path / "rules.json").read_text("utf-8")) == json.loads((ROOT / "rules.json").read_text("utf-8"))


def test_macro_refresh_refuses_a_user_sheet_named_summary(tmp_path, demo):
    path = tmp_path / "u.xlsm"
    shutil.copy(demo[0], path)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    del wb["Summary"]
    wb.create_sheet("Summary")["A1"] = "My own summary"
    wb.save(path)
    book = open_as_caller(path)
    macros.refresh()
    book.impl.save()
    wb = openpyxl.load_workbook(path)
    assert wb["Summary"]["A1"].value == "My own summary"
    assert wb["Settings"]["B5"].value.startswith('Failed: the sheet "Summary" was not made by LeadQ')
    assert wb["Leads"]["U4"].value is None           # nothing written before the refusal


def test_macro_and_udf_turn_an_unforeseen_error_into_a_sentence(tmp_path, demo, monkeypatch):
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    path = tmp_path / "e.xlsm"
    shutil.copy(demo[0], path)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")

    def boom(*a, **k):
        raise ZeroDivisionError("division by zero")
    import addin.app.refresh as job
    monkeypatch.setattr(job, "evaluate", boom)          # the one engine call every door goes through
    book = open_as_caller(path)
    macros.refresh()
    book.impl.save()
    status = openpyxl.load_workbook(path)["Settings"]["B5"].value
    assert status.startswith("Failed: LeadQ failed on e.xlsm (ZeroDivisionError: division by zero) — please report this")
    assert "Traceback" in next((tmp_path / "logs").glob("leadq-*.log")).read_text()
    _, leads, acts, qual = demo
    got = udfs.LEADQ_TABLE(leads, acts, qual, AS_OF)
    assert got[0][0].startswith("LeadQ failed on a worksheet function (ZeroDivisionError") and "Traceback" not in got[0][0]


@pytest.mark.parametrize("action, job, where, label", [
    ("calibrate", "addin.app.calibrate", "calibrate", "Failed: Calibration — "),
    ("preview_rules", "addin.app.preview", "compare", "Failed: rules preview — "),
    ("check_rules", "addin.app.check", "check_file", "Failed: rules check — "),
])
def test_every_macro_turns_an_unforeseen_error_into_a_sentence(tmp_path, demo, monkeypatch, action, job, where, label):
    """One guard for every Excel entry point: the calibrate macro used to let a traceback box escape."""
    import importlib
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    path = tmp_path / "e.xlsm"
    shutil.copy(demo[0], path)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.new.json")

    def boom(*a, **k):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(importlib.import_module(job), where, boom)
    book = open_as_caller(path)
    getattr(macros, action)()                  # no exception escapes
    book.impl.save()
    status = openpyxl.load_workbook(path)["Settings"]["B5"].value
    assert status.startswith(label + "LeadQ failed on e.xlsm (ZeroDivisionError: division by zero) — please report")
    assert "Traceback" in next((tmp_path / "logs").glob("leadq-*.log")).read_text()
