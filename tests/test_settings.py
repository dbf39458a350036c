"""One settings resolution for the CLI, the macros, the UDFs and the API (addin.settings)."""

import io
import shutil

import openpyxl
import pandas as pd
import pytest
from conftest import ROOT, acts_frame, leads_frame, write_json
from xlengine import open_as_caller

import addin
import addin.macros as macros
import addin.udfs as udfs
from addin.cli import run
from addin.refresh import new_workbook, refresh
from addin.settings import resolve

RULES = {"activities": {"webinar": {"points": 20}}, "decay": None, "fit": [], "disqualify": [],
         "thresholds": {"mql": 10}}
# A webinar on 20 January counts when the as-of date is 1 February, not when it is 2 January.
LEADS = [{"Lead ID": "A", "Email": "a@b.fr"}]
ACTS = [("A", "2026-01-20", "webinar", "")]


def _book(tmp_path, as_of_text, rules_cell="rules.json"):
    path = tmp_path / "book.xlsm"
    new_workbook(path)
    write_json(tmp_path / "rules.json", RULES)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["Leads"]["A4"], wb["Leads"]["D4"] = "A", "a@b.fr"
    ws = wb["Activities"]
    ws["A2"], ws["B2"], ws["C2"] = "A", pd.Timestamp("2026-01-20").to_pydatetime(), "webinar"
    wb["Settings"]["B2"] = rules_cell
    wb["Settings"]["B3"] = as_of_text
    wb.save(path)
    return path


def test_01_02_2026_is_the_same_date_on_settings_in_a_udf_and_through_the_api(tmp_path, monkeypatch):
    api = addin.evaluate(leads_frame(LEADS), acts_frame(ACTS), RULES, as_of="01/02/2026")
    assert api.as_of == pd.Timestamp("2026-02-01") and api.leads.iloc[0]["Score"] == 20

    path = _book(tmp_path, "01/02/2026")
    result = refresh(path)
    assert result.evaluation.as_of == pd.Timestamp("2026-02-01")
    assert result.evaluation.leads.iloc[0]["Score"] == 20

    monkeypatch.setenv("LEADQ_RULES", str(tmp_path / "rules.json"))
    table = udfs.LEADQ_TABLE([["Lead ID", "Email"], ["A", "a@b.fr"]],
                             [["Lead ID", "Date", "Activity"], ["A", "2026-01-20", "webinar"]], None, "01/02/2026")
    assert table[1][2] == 20          # Score: the webinar counts, so the date was read as 1 February


def test_the_workbook_date_order_applies_to_the_as_of_date(tmp_path):
    path = _book(tmp_path, "01/02/2026")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    row = next(c.row for c in wb["Settings"]["A"] if c.value == "Date order")   # the template's own row
    wb["Settings"][f"B{row}"] = "MDY"
    wb.save(path)
    ev = refresh(path).evaluation
    assert ev.as_of == pd.Timestamp("2026-01-02") and ev.date_order == "MDY" and ev.leads.iloc[0]["Score"] == 0


def test_a_missing_settings_rules_path_fails_naming_the_cell_in_the_cli(tmp_path):
    path = _book(tmp_path, None, rules_cell="config/rules-2027.json")
    before = path.read_bytes()
    out, err = io.StringIO(), io.StringIO()
    assert run(["refresh", str(path)], out, err) == 1
    assert err.getvalue().startswith('Settings!B2: rules file "config/rules-2027.json" not found (looked for ')
    assert path.read_bytes() == before


def test_a_missing_settings_rules_path_fails_naming_the_cell_in_the_macro(tmp_path):
    path = _book(tmp_path, None, rules_cell="nowhere.json")
    book = open_as_caller(path)
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()
    status = openpyxl.load_workbook(path)["Settings"]["B5"].value
    assert status.startswith('Failed: Settings!B2: rules file "nowhere.json" not found')


def test_a_missing_settings_rules_path_fails_naming_the_cell_in_a_udf(tmp_path):
    path = _book(tmp_path, None, rules_cell="nowhere.json")
    open_as_caller(path)
    caller = udfs.xw.Book.caller().sheets["Leads"].range("A1")
    out = udfs.LEADQ_TABLE([["Lead ID"], ["A"]], None, None, None, caller=caller)
    assert out[0][0].startswith('LeadQ: Settings!B2: rules file "nowhere.json" not found')


def test_rules_precedence_explicit_settings_beside_env_defaults(tmp_path):
    book = tmp_path / "b.xlsm"
    other = write_json(tmp_path / "other.json", RULES)
    env = {"LEADQ_RULES": str(other)}
    cells = {"rulesfile": 2}
    assert resolve(book, {"rulesfile": "other.json"}, cells, env={}).rules_source == "other.json (Settings!B2)"
    assert resolve(book, {}, {}, env=env).rules_source == f"{other} ($LEADQ_RULES)"
    assert resolve(book, {}, {}, env={}).rules_source == "bundled default rules"
    write_json(tmp_path / "rules.json", RULES)
    assert resolve(book, {}, {}, env=env).rules_source == "rules.json beside the workbook"
    assert resolve(book, {"rulesfile": "other.json"}, cells, rules=str(ROOT / "rules.json"), env=env).rules_path == \
        ROOT / "rules.json"


def test_every_refresh_says_which_rules_it_used(tmp_path):
    path = _book(tmp_path, "2026-02-01")
    out = io.StringIO()
    assert run(["refresh", str(path)], out, io.StringIO()) == 0
    assert "with rules.json (Settings!B2)" in out.getvalue()
    wb = openpyxl.load_workbook(path)
    assert "with rules.json (Settings!B2)" in wb["Settings"]["B5"].value
    assert "from rules.json (Settings!B2)" in wb["Summary"]["A2"].value


@pytest.mark.parametrize("value, where", [("next tuesday", "Settings!B3"), ("2026-13-45", "Settings!B3")])
def test_an_as_of_date_that_is_not_a_date_names_its_cell(tmp_path, value, where):
    path = _book(tmp_path, value)
    err = io.StringIO()
    assert run(["refresh", str(path)], io.StringIO(), err) == 1
    assert err.getvalue().startswith(f'{where}: as-of date "{value}" is not a date')


def test_a_copied_workbook_finds_its_rules_beside_it(tmp_path):
    path = _book(tmp_path, "2026-02-01")
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    shutil.copy(path, elsewhere / "book.xlsm")
    err = io.StringIO()
    assert run(["refresh", str(elsewhere / "book.xlsm")], io.StringIO(), err) == 1
    assert "Settings!B2" in err.getvalue()
    shutil.copy(tmp_path / "rules.json", elsewhere / "rules.json")
    assert run(["refresh", str(elsewhere / "book.xlsm")], io.StringIO(), io.StringIO()) == 0
