"""One job behind every door: the CLI, the Excel buttons, the worksheet functions and the API give
the same results because they call the same job (addin.app), and refuse the same things."""

import ast
import datetime as dt
import inspect
import re
import shutil
import zipfile

import openpyxl
import pytest
from conftest import AS_OF, ROOT, gate
from xlengine import open_as_caller

import addin
import addin.macros as macros
import addin.udfs as udfs
from addin.app import calibrate as app_calibrate
from addin.app import check as app_check
from addin.app import explain as app_explain
from addin.app import inputs as app_inputs
from addin.app import preview as app_preview
from addin.app import refresh as app_refresh
from addin.cli import run
from addin.core.values.headers import LEADS_OUTPUTS
from addin.io.parts import OWNED, chart_part
from addin.refresh import new_workbook

DOORS = ["cli.py", "macros.py", "udfs.py", "lite.py", "lite/__init__.py", "lite/main.py"]
# What only a job may call: the engine, the Summary's computation, where settings come from, the file reader.
JOB_ONLY = {"evaluate", "summarise", "summary_layout", "resolve", "parse_settings", "read_settings", "rules_location",
            "preview_rules_location", "load_rules", "read_workbook", "activities_input", "calibrate", "compare"}


def _imported_names(path):
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield node.module or "", alias.name, node.lineno
        elif isinstance(node, ast.Attribute) and node.attr in JOB_ONLY and isinstance(node.value, ast.Name) \
                and node.value.id in ("core", "settings", "evaluate", "summary"):
            yield node.value.id, node.attr, node.lineno


def test_no_door_assembles_a_job_itself():
    """A door reads its inputs, calls an app job and renders: it never calls the engine or resolves settings."""
    found = []
    for name in DOORS:
        path = ROOT / "addin" / name
        if not path.exists():
            continue
        for module, imported, line in _imported_names(path):
            if imported in JOB_ONLY and not module.lstrip(".").startswith("app"):
                found.append(f"addin/{name}:{line} uses {module}.{imported}")
    assert not found, "doors assembling a job instead of calling addin.app:\n" + "\n".join(found)


@pytest.mark.parametrize("name, target", [
    ("refresh", app_refresh.refresh), ("preview", app_preview.preview), ("explain_file", app_explain.explain_file),
    ("calibrate_file", app_calibrate.calibrate_file), ("check_file", app_check.check_file),
    ("WorkbookInput", app_inputs.WorkbookInput), ("new_workbook", new_workbook),
    ("load_rules", addin.settings.load_rules), ("check_rules", addin.settings.check_rules_file),
])
def test_the_api_re_exports_each_job_with_its_real_signature(name, target):
    import addin.refresh  # noqa: F401  (importing the submodule binds it over addin.refresh: it must stay the job)
    got = getattr(addin, name)
    assert inspect.signature(got) == inspect.signature(target), name
    assert name in addin.__all__


def test_the_refresh_api_takes_every_option_of_the_job(tmp_path):
    """addin.refresh used to re-declare 4 of the job's 9 parameters: activities= raised TypeError."""
    book = tmp_path / "Pipeline.xlsm"
    new_workbook(book, sample=True, as_of=AS_OF)
    wb = openpyxl.load_workbook(book, read_only=True)
    rows = list(wb["Activities"].iter_rows(values_only=True))
    import pandas as pd
    events = tmp_path / "events"
    events.mkdir()
    frame = pd.DataFrame(rows[1:], columns=rows[0]).dropna(how="all")
    frame.astype(str).to_parquet(events / "part-0.parquet")
    result = addin.refresh(book, as_of=AS_OF, activities=str(events / "*.parquet"), engine="pandas")
    plain = addin.refresh(book, as_of=AS_OF)
    assert result.evaluation.leads["Score"].round(2).tolist() == plain.evaluation.leads["Score"].round(2).tolist()


def _readme_api_block() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("## Python API"):]
    return section[section.index("```python") + len("```python"):section.index("```\n", section.index("```python") + 9)]


def test_the_readme_api_lines_run_as_printed(tmp_path, monkeypatch):
    import pandas as pd
    book = tmp_path / "Pipeline.xlsm"
    new_workbook(book, sample=True, as_of=AS_OF)
    data = app_inputs.from_file(book)
    (tmp_path / "events").mkdir()
    acts = data.activities.copy()
    acts.attrs = {}
    acts = acts.astype(str)
    acts.to_parquet(tmp_path / "events" / "a.parquet")
    acts.to_parquet(tmp_path / "events.parquet")
    monkeypatch.chdir(tmp_path)
    names = {"leads_df": data.leads, "activities_df": data.activities, "answers_df": data.qualification, "pd": pd}
    exec(compile(_readme_api_block(), "README.md (Python API)", "exec"), names)      # noqa: S102  (our own README)
    assert len(names["ev"].leads) == 200 and names["cal"].metrics["auc_suggested"] > 0.5


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    return path


def _sheet_table(ws, header_row):
    rows = [list(r) for r in ws.iter_rows(min_row=header_row, values_only=True)]
    width = max(i + 1 for i, h in enumerate(rows[0]) if h is not None)
    return [r[:width] for r in rows if any(v is not None for v in r[:width])]


def test_leadq_table_after_two_refreshes_equals_the_leads_sheet(demo):
    """The worksheet function used to ignore Lead history: Stage since = the as-of date, Days in stage 0."""
    assert run(["refresh", str(demo), "--as-of", "2026-11-01"]) == 0
    assert run(["refresh", str(demo), "--as-of", AS_OF]) == 0
    wb = openpyxl.load_workbook(demo, data_only=True)
    leads = _sheet_table(wb["Leads"], 3)
    header = leads[0]
    outputs = [[r[header.index(c)] for c in LEADS_OUTPUTS] for r in leads[1:]]
    inputs = [r[:header.index(LEADS_OUTPUTS[0])] for r in leads]
    book = open_as_caller(demo)
    caller = book.sheets["Summary"].range("A1")
    got = udfs.LEADQ_TABLE(inputs, _sheet_table(wb["Activities"], 1), _sheet_table(wb["Qualification"], 1),
                           AS_OF, caller=caller)
    assert got[0] == LEADS_OUTPUTS and len(got) == len(outputs) + 1
    since, days = LEADS_OUTPUTS.index("Stage since"), LEADS_OUTPUTS.index("Days in stage")
    assert sum(r[days] > 0 for r in outputs) > 20          # the history matters here
    for mine, sheet in zip(got[1:], outputs):
        sheet = list(sheet)
        if isinstance(sheet[since], dt.datetime):
            sheet[since] = sheet[since].date()
        mine = list(mine)
        if hasattr(mine[since], "date"):
            mine[since] = mine[since].date()
        def norm(row):
            return [round(v, 2) if isinstance(v, float) else None if v == "" else v for v in row]
        assert norm(mine) == norm(sheet)


def test_the_refresh_button_reports_the_problems_the_cli_reports(demo, tmp_path):
    """Without an Activities sheet `leadq refresh` warns that engagement is 0; the button said nothing of it."""
    wb = openpyxl.load_workbook(demo, keep_vba=True)
    del wb["Activities"]
    wb.save(demo)
    macro = tmp_path / "macro.xlsm"
    shutil.copy(demo, macro)
    assert run(["refresh", str(demo), "--as-of", AS_OF]) == 0
    book = open_as_caller(macro)
    book.sheets["Settings"].range("B3").value = dt.datetime(2026, 11, 22)
    macros.refresh(now="2026-11-22 09:00")
    book.impl.save()
    cli = openpyxl.load_workbook(demo, data_only=True)
    button = openpyxl.load_workbook(macro, data_only=True)
    status = [wb["Settings"]["B5"].value for wb in (cli, button)]
    counts = [re.search(r"(\d+) data problems?", s).group(1) for s in status]
    assert counts[0] == counts[1] != "0", status

    def quality(wb):
        return [v for r in wb["Summary"].iter_rows(values_only=True) for v in r
                if isinstance(v, str) and "Activities" in v and "engagement" in v]
    assert quality(cli) and quality(cli) == quality(button)


OWNED_BY_DOOR = [  # (sheet, door) for every door that writes the part
    ("Summary", "cli refresh"), ("Score details", "cli refresh"), ("Lead history", "cli refresh"),
    ("Summary", "button refresh"), ("Score details", "button refresh"), ("Lead history", "button refresh"),
    ("Calibration", "button calibrate"), ("Rules preview", "button preview"), ("Privacy log", "cli forget"),
    ("Rules", "cli rules-in"), ("Rules (suggested)", "lite calibrate"),
]


def test_every_owned_part_is_tested_on_every_door_that_writes_it():
    assert {p.sheet for p in OWNED} == {s for s, _ in OWNED_BY_DOOR}


@pytest.mark.parametrize("sheet, door", OWNED_BY_DOOR)
def test_a_user_sheet_named_like_an_owned_part_is_refused(demo, tmp_path, sheet, door):
    wb = openpyxl.load_workbook(demo, keep_vba=True)
    if sheet in wb.sheetnames:
        del wb[sheet]
    mine = wb.create_sheet(sheet)
    mine["A1"], mine["B2"] = "My own notes", 42
    wb.save(demo)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.new.json")
    before = demo.read_bytes()
    if door.startswith("cli"):
        argv = {"cli refresh": ["refresh", str(demo), "--as-of", AS_OF],
                "cli forget": ["forget", str(demo), "--lead", "L1001", "--as-of", AS_OF],
                "cli rules-in": ["rules-in", str(demo), str(ROOT / "rules.json")]}[door]
        assert run(argv) == 1
        assert demo.read_bytes() == before
        return
    book = open_as_caller(demo)
    if door == "lite calibrate":
        import addin.lite as lite
        lite.calibrate(book)
    else:
        action = {"button refresh": macros.refresh, "button calibrate": macros.calibrate,
                  "button preview": macros.preview_rules}[door]
        action(now="2026-11-22 09:00")
    book.impl.save()
    wb = openpyxl.load_workbook(demo)
    assert wb[sheet]["A1"].value == "My own notes" and wb[sheet]["B2"].value == 42
    assert f'the sheet "{sheet}" was not made by LeadQ' in wb["Settings"]["B5"].value
    assert wb["Leads"]["U4"].value is None          # nothing written before the refusal


def test_a_chart_added_to_the_layout_needs_no_other_edit(demo, monkeypatch):
    """Chart part names come from the chart's name: a fourth chart used to crash every refresh (KeyError)."""
    import dataclasses

    import addin.io.parts.summary as layout  # the file writer's Summary layout
    real = layout.summary_layout

    def with_extra(*a, **k):
        page = real(*a, **k)
        first = page.charts[0]
        page.charts.append(dataclasses.replace(first, name="Extra", title="Extra chart"))
        return page
    monkeypatch.setattr(layout, "summary_layout", with_extra)
    assert run(["refresh", str(demo), "--as-of", AS_OF]) == 0
    with zipfile.ZipFile(demo) as z:
        assert chart_part("Extra") in z.namelist()
    gate(demo, "a Summary with a chart added to its layout")
    monkeypatch.setattr(layout, "summary_layout", real)
    assert run(["refresh", str(demo), "--as-of", AS_OF]) == 0
    with zipfile.ZipFile(demo) as z:
        assert chart_part("Extra") not in z.namelist()      # a chart no longer drawn leaves the package


def test_every_writer_named_in_owned_exists():
    """OWNED names each part's writers; a name that is a dotted path must be a real function (it goes
    stale when a module moves, as io.summary_sheet did)."""
    import importlib

    from addin.io.parts import OWNED
    named = [w for part in OWNED for w in part.writers if " " not in w]
    assert len(named) >= 8
    for w in named:
        module, attr = w.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(f"addin.{module}"), attr, None)), w
