"""xlwings Lite on CPython: the Lite entry points on the test engine with Lite's restrictions enforced
(no thread, no file beside the book, the book's path only its name), rules kept in a Rules sheet."""

import builtins
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import openpyxl
import pytest
import xlengine
from conftest import AS_OF, ROOT, gate
from xlengine import open_as_caller

from addin import rules_sheet
from addin.app.check import check_file
from addin.core.values.headers import LEADS_OUTPUTS
from addin.errors import RulesError
from addin.refresh import new_workbook, refresh
from addin.settings import load_rules

EXCLUDED = ("fastexcel", "duckdb", "pyspark", "sqlglot")


def test_importing_the_lite_entry_points_loads_no_excluded_module_and_starts_no_thread():
    code = ("import sys, threading\n"
            "started = []\n"
            "real = threading.Thread.start\n"
            "threading.Thread.start = lambda self: (started.append(self.name), real(self))\n"
            "import addin.lite\n"
            f"print(sorted(m for m in {EXCLUDED!r} if m in sys.modules), started, threading.active_count())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[] [] 1"


def _settings_row(ws, label):
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == label)


def _put_rules_sheet(path, text, rules_file="sheet:Rules"):
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb.create_sheet(rules_sheet.SHEET)
    for i, row in enumerate(rules_sheet.rows_of(text), start=1):
        ws.cell(i, 1).value = row[0]
    s = wb["Settings"]
    s.cell(_settings_row(s, "Rules file"), 2).value = rules_file
    s["B3"] = dt.datetime(2026, 11, 22)
    wb.save(path)


def _owned(path):
    ws = openpyxl.load_workbook(path, data_only=True)["Leads"]
    header = [c.value for c in ws[3]]
    cols = [header.index(n) for n in LEADS_OUTPUTS]
    return [[r[i] for i in cols] for r in ws.iter_rows(min_row=4, values_only=True) if r[0] is not None]


def _values(path, sheet):
    return [r for r in openpyxl.load_workbook(path, data_only=True)[sheet].iter_rows(values_only=True)]


@pytest.fixture
def lite(monkeypatch, tmp_path):
    """Lite's restrictions: no thread may start, the book's full name is its bare name, nothing is read
    or written in the book's folder while a Lite script runs, and no LEADQ_RULES."""
    monkeypatch.delenv("LEADQ_RULES", raising=False)
    monkeypatch.setattr(xlengine.Book, "fullname", property(lambda self: self.path.name))
    work = tmp_path / "pyodide-home"
    work.mkdir()
    monkeypatch.chdir(work)

    def no_thread(self):
        raise AssertionError("Lite has no threads: a thread was started")

    def restrict(folder):
        real_open = builtins.open

        def guarded(file, *a, **k):
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file).startswith(str(folder)):
                raise AssertionError(f"Lite has no folder beside the book: opened {file}")
            return real_open(file, *a, **k)
        monkeypatch.setattr(threading.Thread, "start", no_thread)
        monkeypatch.setattr(builtins, "open", guarded)
    yield restrict, work
    try:
        del xlengine.xw.Book._mock_caller
    except AttributeError:
        pass


def test_lite_refresh_equals_leadq_refresh_with_the_rules_in_a_sheet(tmp_path, lite):
    import addin.lite as lite_door
    restrict, work = lite
    books = tmp_path / "books"
    books.mkdir()
    headless, book_path = books / "headless.xlsm", books / "lite.xlsm"
    new_workbook(headless, sample=True, as_of=AS_OF)
    shutil.copy(headless, book_path)
    text = (ROOT / "rules.json").read_text("utf-8")
    _put_rules_sheet(book_path, text)
    (books / "rules.json").write_text(json.dumps({"thresholds": {"mql": 1}}))   # would change every stage if read
    refresh(headless, as_of=AS_OF, rules=ROOT / "rules.json")
    book = open_as_caller(book_path)
    restrict(books)
    lite_door.refresh(book, now="2026-11-22 09:00")
    book.impl.save()
    status = _values(book_path, "Settings")
    assert any(isinstance(v, str) and v.startswith("OK — 200 leads scored") for r in status for v in r), [r[:2] for r in status]
    gate(book_path, "the Lite path (saved by the test engine)")
    assert _owned(book_path) == _owned(headless)
    assert [r[:9] for r in _values(book_path, "Score details")] == [r[:9] for r in _values(headless, "Score details")]
    # the file writer writes 15 significant digits, Excel's precision: compare at 12
    # (the macro renderer also writes its charts' data beside the page, as for the Refresh button)
    lite_summary = {round(v, 12) for r in _values(book_path, "Summary") for v in r if isinstance(v, (int, float))}
    head_summary = {round(v, 12) for r in _values(headless, "Summary") for v in r if isinstance(v, (int, float))}
    assert lite_summary == head_summary
    assert list(work.iterdir()) == []           # nothing written in Pyodide's home folder either


def test_rules_sheet_equals_rules_json_and_a_mistake_names_its_cell():
    text = (ROOT / "rules.json").read_text("utf-8")
    sheet = rules_sheet.from_column("Rules", [r[0] for r in rules_sheet.rows_of(text)])
    assert rules_sheet.load_sheet(sheet).data == load_rules(ROOT / "rules.json").data
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if re.search(r'"points": -?[0-9]', line))
    lines[i] = re.sub(r'"points": -?[0-9]+', '"points": "many"', lines[i])
    broken = rules_sheet.from_column("Rules", [rules_sheet.TITLE] + lines)
    with pytest.raises(RulesError) as e:
        rules_sheet.load_sheet(broken)
    first = [p for p in e.value.problems if p.severity == "error"][0]
    assert str(first).startswith(f"Rules!A{i + 2}: $.")          # row 1 holds the title: line 1 is A2
    assert "points" in first.where


def test_lite_check_rules_reports_the_cell_and_a_rules_file_setting_is_refused(tmp_path, lite):
    import addin.lite as lite_door
    restrict, _ = lite
    path = tmp_path / "b.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    lines = (ROOT / "rules.json").read_text("utf-8").splitlines()
    i = next(n for n, line in enumerate(lines) if re.search(r'"points": -?[0-9]', line))
    lines[i] = re.sub(r'"points": -?[0-9]+', '"points": "many"', lines[i])
    _put_rules_sheet(path, "\n".join(lines))
    book = open_as_caller(path)
    restrict(tmp_path)
    lite_door.check_rules(book)
    s = book.sheets["Settings"]
    status = s.range((_settings_row(openpyxl.load_workbook(path)["Settings"], "Status"), 2)).value
    assert f"Rules!A{i + 2}: $." in status and "problem(s) in the Rules sheet" in status
    row = _settings_row(openpyxl.load_workbook(path)["Settings"], "Rules file")
    s.range((row, 2)).value = "rules.json"
    lite_door.refresh(book)
    assert f"Settings!B{row}" in book.app.status_bar and "no folder beside the workbook" in book.app.status_bar


def test_lite_worksheet_function_says_which_rules_it_used():
    import addin.lite as lite_door
    text = (ROOT / "rules.json").read_text("utf-8")
    column = [[r[0]] for r in rules_sheet.rows_of(text)]
    assert lite_door.LEADQ_POINTS("webinar", rules=column) == load_rules(ROOT / "rules.json").activity_points("webinar")
    bundled = lite_door.LEADQ_POINTS("webinar")
    assert isinstance(bundled, str) and "bundled default rules" in bundled


def test_a_rules_file_checks_the_same_as_its_sheet():
    assert check_file(ROOT / "rules.json").valid


def _cli(*argv):
    import io

    from addin.cli import run
    out, err = io.StringIO(), io.StringIO()
    return run(list(map(str, argv)), out, err), out.getvalue(), err.getvalue()


def test_new_lite_writes_an_xlsx_without_vba_with_the_rules_in_its_sheet_and_lite_setup_files(tmp_path):
    import zipfile
    book = tmp_path / "lite.xlsx"
    code, out, err = _cli("new", book, "--lite", "--sample")
    assert code == 0, err
    gate(book, "leadq new --lite")
    names = zipfile.ZipFile(book).namelist()
    assert not any("vbaProject" in n for n in names)
    wb = openpyxl.load_workbook(book)
    assert wb["Settings"].cell(_settings_row(wb["Settings"], "Rules file"), 2).value == "sheet:Rules"
    assert "xlwings.conf" not in wb.sheetnames
    assert "from addin.lite import" in (tmp_path / "main.py").read_text()
    assert (tmp_path / "requirements.txt").read_text().startswith("leadq")
    assert not (tmp_path / "rules.json").exists()
    code, out, err = _cli("new", book, "--lite")
    assert code == 1 and "already exists" in err


def test_rules_in_and_out_round_trip_and_refresh_equals_rules_json(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for d in (a, b):
        new_workbook(d / "w.xlsm", sample=True, as_of=AS_OF)
    (a / "rules.json").unlink()          # a: only the Rules sheet; b: rules.json beside it
    wb = openpyxl.load_workbook(a / "w.xlsm", keep_vba=True)
    wb["Settings"].cell(_settings_row(wb["Settings"], "Rules file"), 2).value = None
    wb.save(a / "w.xlsm")
    code, out, err = _cli("rules-in", a / "w.xlsm", ROOT / "rules.json")
    assert code == 0, err
    gate(a / "w.xlsm", "leadq rules-in")
    shutil.copy(ROOT / "rules.json", b / "rules.json")
    ra = refresh(a / "w.xlsm", as_of=AS_OF)
    rb = refresh(b / "w.xlsm", as_of=AS_OF)
    assert ra.rules_source == "the Rules sheet of the workbook"
    assert _owned(a / "w.xlsm") == _owned(b / "w.xlsm")
    code, out, err = _cli("rules-out", a / "w.xlsm", tmp_path / "back.json")
    assert code == 0, err
    assert (tmp_path / "back.json").read_text() == (ROOT / "rules.json").read_text()
    assert rb.rules_source != ra.rules_source


def test_rules_in_refuses_broken_rules_and_a_users_sheet_named_rules(tmp_path):
    book = tmp_path / "w.xlsm"
    new_workbook(book, sample=True, as_of=AS_OF)
    before = book.read_bytes()
    lines = (ROOT / "rules.json").read_text("utf-8").splitlines()
    i = next(n for n, line in enumerate(lines) if re.search(r'"points": -?[0-9]', line))
    lines[i] = re.sub(r'"points": -?[0-9]+', '"points": "many"', lines[i])
    (tmp_path / "broken.json").write_text("\n".join(lines))
    code, out, err = _cli("rules-in", book, tmp_path / "broken.json")
    assert code == 1 and f"broken.json:{i + 1}: $.fit[0].points" in err
    assert book.read_bytes() == before
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb.create_sheet("Rules")["A1"] = "my own rules of thumb"
    wb.save(book)
    code, out, err = _cli("rules-in", book, ROOT / "rules.json")
    assert code == 1 and "was not made by LeadQ" in err
    assert openpyxl.load_workbook(book)["Rules"]["A1"].value == "my own rules of thumb"


def test_the_desktop_worksheet_function_uses_the_calling_books_rules_sheet(tmp_path, monkeypatch):
    import addin.udfs as udfs
    monkeypatch.delenv("LEADQ_RULES", raising=False)
    path = tmp_path / "w.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    data = json.loads((ROOT / "rules.json").read_text("utf-8"))
    data["activities"]["webinar"]["points"] = 77
    _put_rules_sheet(path, json.dumps(data, indent=1))
    book = open_as_caller(path)
    try:
        caller = book.sheets["Leads"].range("A1")
        assert udfs.LEADQ_POINTS("webinar", caller=caller) == 77
    finally:
        del xlengine.xw.Book._mock_caller


def test_lite_calibrate_then_preview_write_sheets_not_files(tmp_path, lite):
    import addin.lite as lite_door
    restrict, work = lite
    books = tmp_path / "books"
    books.mkdir()
    path = books / "lite.xlsx"
    code, out, err = _cli("new", path, "--lite", "--sample")
    assert code == 0, err
    before = sorted(p.name for p in books.iterdir())
    book = open_as_caller(path)
    restrict(books)
    lite_door.calibrate(book, now="2026-11-22 09:00")
    assert book.app.status_bar.startswith("LeadQ: Calibrated 2026-11-22 09:00: held-out AUC"), book.app.status_bar
    suggested = [r[0] for r in book.sheets[lite_door.SUGGESTED_SHEET].used_range.options(ndim=2).value]
    assert rules_sheet.load_sheet(rules_sheet.from_column("Rules (suggested)", suggested)) is not None
    lite_door.preview_rules(book, now="2026-11-22 09:05")
    assert book.app.status_bar.startswith("LeadQ: OK — rules preview 2026-11-22 09:05: 200 leads"), book.app.status_bar
    assert sorted(p.name for p in books.iterdir()) == before and list(work.iterdir()) == []


def test_pip_install_on_cpython_keeps_fastexcel_duckdb_and_isal_and_pyodide_leaves_them_out():
    import tomllib

    from packaging.requirements import Requirement
    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    cpython = {d.name.lower() for d in deps if d.marker is None or d.marker.evaluate()}
    pyodide = {d.name.lower() for d in deps if d.marker is None or d.marker.evaluate({"sys_platform": "emscripten"})}
    assert {"fastexcel", "duckdb", "isal", "pandas", "jsonschema"} <= cpython
    assert cpython - pyodide == {"fastexcel", "duckdb", "isal"}      # isal: io.package falls back to zlib


def test_lite_calibrate_without_scikit_learn_says_what_to_install(tmp_path, lite, monkeypatch):
    import addin.lite as lite_door
    path = tmp_path / "lite.xlsx"
    code, out, err = _cli("new", path, "--lite", "--sample")
    assert code == 0, err
    book = open_as_caller(path)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    lite_door.calibrate(book, now="2026-11-22 09:00")
    assert 'calibrate needs scikit-learn, which this install of LeadQ leaves out: run pip install "leadq[calibrate]"' \
        in book.app.status_bar, book.app.status_bar
    assert "Traceback" not in book.app.status_bar
    assert lite_door.SUGGESTED_SHEET not in [s.name for s in book.sheets]
    from addin import __version__
    assert lite_door.requirements_txt().splitlines() == [f"leadq=={__version__}", "scikit-learn"]
