"""The xlwings layer without Excel: UDFs called as Excel calls them, macros run on a real .xlsm."""

import datetime as dt
import json
import os
import shutil
import time
import zipfile

import openpyxl
import pytest
from conftest import AS_OF, ROOT
from lo import convert
from xlengine import open_as_caller

import addin
import addin.macros as macros
import addin.udfs as udfs
from addin.core.headers import LEADS_OUTPUTS
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
    assert out[0] == LEADS_OUTPUTS and len(out) == len(leads)
    ev = addin.evaluate(udfs.frame(leads), udfs.frame(acts), addin.load_rules(ROOT / "rules.json"),
                        qualification=udfs.frame(qual), as_of=AS_OF)
    for got, (_, row) in zip(out[1:], ev.leads.iterrows()):
        assert got == [row[c] for c in LEADS_OUTPUTS]


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
    assert _owned(macro) == _owned(headless)
    wb = openpyxl.load_workbook(macro, data_only=True)
    assert wb["Settings"]["B5"].value.startswith("OK — 200 leads scored")
    assert book.app.status_bar.startswith("LeadQ: OK — 200 leads scored")
    summary = {c.value for row in wb["Summary"].iter_rows() for c in row if c.value is not None}
    headless_summary = {c.value for row in openpyxl.load_workbook(headless, data_only=True)["Summary"].iter_rows()
                        for c in row if c.value is not None}
    queue = next(v for v in headless_summary if isinstance(v, str) and v.startswith("Hand-off queue"))
    assert queue == "Hand-off queue — MQLs waiting for sales (70)"
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
