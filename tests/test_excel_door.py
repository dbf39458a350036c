"""The Excel door on an engine that behaves like Excel (tests/xlengine.py): typed-input coercion,
index-keyed charts, refused synchronous position reads, portable conditional formats; repeated
refreshes, all-or-nothing writes, text kept as text."""

import datetime as dt
import shutil

import openpyxl
import pytest
from conftest import AS_OF, ROOT, gate
from xlengine import Engine, cell_position, open_as_caller

import addin.macros as macros
from addin.core.report.summary import summarise
from addin.core.report.summary_layout import summary_layout
from addin.refresh import new_workbook

STAMPS = ["2026-11-22 09:00", "2026-11-22 10:00", "2026-11-22 11:00"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("door") / "demo.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    return path


@pytest.fixture
def book_path(demo, tmp_path):
    """A copy of the demo with rules.json beside it and the as-of date set on Settings."""
    path = tmp_path / "d.xlsm"
    shutil.copy(demo, path)
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)
    wb.save(path)
    return path


def _status(book):
    return book.sheets["Settings"].range("B5").value


# ----------------------------------------------------------------------------- the engine itself

def test_the_engine_coerces_written_text_as_excel_does(book_path):
    book = open_as_caller(book_path)
    sheet = book.sheets["Summary"]
    typed = ["001001", "1/2", "2018-12-31", "TRUE", "'007", "1,234.5", "50%", "Lead 7", ""]
    sheet.range("A30").value = [typed]
    assert sheet.range("A30:I30").value == [1001, dt.datetime(2026, 1, 2), dt.datetime(2018, 12, 31), True, "007",
                                           1234.5, 0.5, "Lead 7", None]
    sheet.range("A31").number_format = "@"               # a Text cell keeps what is written
    sheet.range("A31").value = "001001"
    assert sheet.range("A31").value == "001001"
    sheet.range("A32").value = "=1+1"                     # a formula: Excel would calculate it, this engine refuses
    with pytest.raises(NotImplementedError, match="formula"):
        _ = sheet.range("A32").value


def test_the_engine_refuses_what_the_remote_engine_cannot_read(book_path):
    book = open_as_caller(book_path)
    rng = book.sheets["Summary"].range("B4")
    for attr, message in (("left", "left position"), ("top", "top position"), ("column_width", "column width"),
                          ("number_format", "number format")):
        with pytest.raises(NotImplementedError, match=f"Reading the {message} synchronously"):
            getattr(rng, attr)


def test_the_engine_keys_charts_by_position_like_the_remote_engine(book_path):
    book = open_as_caller(book_path)
    sheet = book.sheets["Summary"]
    sheet.range("A1").value = [["x", "y"], ["a", 1], ["b", 2]]
    for kind in ("column_clustered", "bar_clustered", "line_markers"):
        chart = sheet.charts.add(left=0, top=0, width=100, height=100)
        chart.set_source_data(sheet.range("A1:B3"))
        chart.chart_type = kind
    assert [c.chart_type for c in sheet.charts] == ["column_clustered", "bar_clustered", "line_markers"]
    with pytest.raises(IndexError):                       # deleting front to back, as the old macro did
        for chart in list(sheet.charts):
            chart.delete()


def test_clear_removes_hyperlinks_and_conditional_formats(book_path):
    book = open_as_caller(book_path)
    sheet = book.sheets["Summary"]
    sheet.range("A5").add_hyperlink("#'Leads'!A4", "L1")
    sheet.range("A6:A9").conditional_formats.add_cell_value("equal_to", '="MQL"', fill_color="#FF0000")
    sheet.clear()
    ws = book.impl.wb["Summary"]
    assert ws["A5"].hyperlink is None and ws["A5"].value is None and not ws.conditional_formatting


# ----------------------------------------------------------------------------- repeated refreshes

def _layout(book_path, stamp):
    """The Summary layout the refresh at `stamp` renders (recomputed from the saved book)."""
    from addin.app.inputs import from_file
    from addin.app.refresh import compute
    ev, _ = compute(from_file(book_path), clock=stamp)
    return summary_layout(summarise(ev), ev.rules, stamp)


def test_repeated_macro_refreshes_rebuild_the_charts_where_the_layout_puts_them(book_path):
    """Three refreshes in one session: the old macro deleted charts front to back (IndexError on an
    index-keyed collection) and read Range.left/top (refused by the remote engine)."""
    book = open_as_caller(book_path)
    for stamp in STAMPS:
        macros.refresh(now=stamp)
        assert _status(book).startswith("OK — 200 leads scored"), _status(book)
    book.impl.save()
    page = _layout(book_path, STAMPS[0])
    kinds = {"line": "line_markers"}
    want = [(spec.title, kinds.get(spec.kind, "bar_clustered" if spec.horizontal else "column_clustered"))
            for spec in page.charts]
    assert len(want) >= 3
    sheet = book.sheets["Summary"]
    assert [(c.name, c.chart_type) for c in sheet.charts] == want
    ws = book.impl.wb["Summary"]
    for chart, spec in zip(sheet.charts, page.charts):
        c1, r1, c2, r2 = spec.anchor
        left, top = cell_position(ws, r1, c1 + 1)          # from the widths and heights the sheet now has
        right, bottom = cell_position(ws, r2, c2 + 1)
        assert (chart.left, chart.top) == pytest.approx((left, top))
        assert (chart.width, chart.height) == pytest.approx((right - left, bottom - top))
    gate(book_path, "three macro refreshes (test engine)")


def test_calibrate_twice_places_its_chart_from_the_layout(book_path):
    book = open_as_caller(book_path)
    for stamp in STAMPS[:2]:
        macros.calibrate(now=stamp)
        assert _status(book).startswith("Calibrated"), _status(book)
    from addin.app.calibrate import calibrate_input
    from addin.core.calibrate.view import sheet_blocks
    from addin.excel.read import read_book
    charts = list(book.sheets["Calibration"].charts)
    assert [(c.name, c.chart_type) for c in charts] == [("Gain: share of won deals found", "line")]
    row, col = sheet_blocks(calibrate_input(read_book(book)).calibration)[1]["anchor"]
    ws = book.impl.wb["Calibration"]
    assert (charts[0].left, charts[0].top) == pytest.approx(cell_position(ws, row, col))
    assert (charts[0].left + charts[0].width, charts[0].top + charts[0].height) == \
        pytest.approx(cell_position(ws, row + 18, col + 7))


def test_stage_colours_are_portable_conditional_formats(book_path):
    from addin.app.inputs import from_file
    from addin.app.refresh import compute
    from addin.core.report.present import color_rules
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])
    macros.refresh(now=STAMPS[1])                          # replaced, not added to
    book.impl.save()
    ws = openpyxl.load_workbook(book_path)["Leads"]
    header = [c.value for c in ws[3]]
    ev, _ = compute(from_file(book_path))
    for column in ("Stage", "Next action status"):
        letter = openpyxl.utils.get_column_letter(header.index(column) + 1)
        got = sorted((r.formula[0], r.dxf.fill.bgColor.rgb, r.dxf.font.color.rgb)
                     for cf in ws.conditional_formatting if str(cf.sqref).startswith(letter)
                     for r in cf.rules)
        want = sorted(('"' + r.text + '"', "FF" + r.fill[1:].upper(), "FF" + r.font[1:].upper())
                      for r in color_rules(ev) if r.column == column)
        assert got == want and want, column


def test_a_book_whose_constant_names_are_not_sent_refreshes_in_place(book_path, monkeypatch):
    """Older Office.js clients send only names that refer to ranges: _LeadQ_Layout (=2) is unreadable."""
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])
    first = book.names["_LeadQ_Outputs"].refers_to
    monkeypatch.setattr(Engine, "constant_names", False)
    assert book.names["_LeadQ_Layout"].refers_to is None
    macros.refresh(now=STAMPS[1])
    assert _status(book).startswith("OK"), _status(book)
    assert book.names["_LeadQ_Outputs"].refers_to == first


# ----------------------------------------------------------------------------- text stays text

def _renumber(path, as_text: bool):
    """The demo with Lead IDs 001001… (text cells) or 1001… (numbers) on every sheet."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ids = {}
    for name in ("Leads", "Activities", "Qualification"):
        ws = wb[name]
        header = 3 if name == "Leads" else 1
        for row in ws.iter_rows(min_row=header + 1, max_col=1):
            c = row[0]
            if isinstance(c.value, str) and c.value:
                new = ids.setdefault(c.value, 1001 + len(ids))
                c.value = f"{new:06d}" if as_text else new
                if as_text:
                    c.data_type = "s"
    wb.save(path)


def _history_rows(path):
    ws = openpyxl.load_workbook(path)["Lead history"]
    return [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] is not None]


@pytest.mark.parametrize("as_text", [True, False], ids=["zero-padded text IDs", "numeric IDs"])
def test_three_refreshes_keep_one_history_row_per_unchanged_lead(book_path, as_text):
    _renumber(book_path, as_text)
    book = open_as_caller(book_path)
    for stamp in STAMPS:
        macros.refresh(now=stamp)
        assert _status(book).startswith("OK — 200 leads scored"), _status(book)
    book.impl.save()
    rows = _history_rows(book_path)
    assert len(rows) == 200
    want = "001001" if as_text else "1001"
    assert rows[0][1] == want                                     # kept as text, zeros and all
    wb = openpyxl.load_workbook(book_path)
    assert wb["Score details"]["A2"].value == want and wb["Score details"]["A2"].data_type == "s"
    leads = wb["Leads"]
    header = [c.value for c in leads[3]]
    since = header.index("Stage since")
    assert {r[since].date() for r in leads.iter_rows(min_row=4, values_only=True) if r[0] is not None} \
        == {dt.date(2026, 11, 22)}


def test_history_written_before_text_was_kept_still_matches(book_path):
    """A history whose IDs Excel turned into numbers (1001) matches leads typed 001001 (core.history.same_ids)."""
    _renumber(book_path, as_text=True)
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])
    ws = book.impl.wb["Lead history"]
    for row in ws.iter_rows(min_row=2, max_col=2):
        if row[1].value:
            row[1].value = int(row[1].value)                    # as the old macro's write left them
    macros.refresh(now=STAMPS[1])
    book.impl.save()
    assert len(_history_rows(book_path)) == 200


# ----------------------------------------------------------------------------- all or nothing

def _snapshot(path):
    wb = openpyxl.load_workbook(path)
    return {name: [r for r in wb[name].iter_rows(values_only=True)]
            for name in ("Leads", "Score details", "Lead history") if name in wb.sheetnames}


@pytest.mark.parametrize("step, where", [("write_leads", "the result columns on Leads"),
                                         ("write_details", "Score details"),
                                         ("write_history", "Lead history"),
                                         ("write_summary", "the Summary")])
def test_a_refresh_failing_at_any_write_leaves_the_book_as_it_was(book_path, monkeypatch, step, where, tmp_path):
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])                       # a book refreshed before: every part has a previous state
    wb = openpyxl.load_workbook(book_path, keep_vba=True)
    book.impl.save()
    wb = openpyxl.load_workbook(book_path, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2027, 3, 1)      # months later: scores, stages and history all change
    wb.save(book_path)
    before = _snapshot(book_path)
    real = getattr(macros, step)

    def fails_after_writing(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError("the disk is full")
    monkeypatch.setattr(macros, step, fails_after_writing)
    book = open_as_caller(book_path)
    macros.refresh(now="2027-03-01 09:00")
    book.impl.save()
    status = openpyxl.load_workbook(book_path)["Settings"]["B5"].value
    assert status.startswith("Failed: LeadQ failed on d.xlsm (OSError: the disk is full)"), status
    assert f"(while writing {where}); the workbook is as it was before this refresh" in status
    assert "was not changed" not in status
    assert _snapshot(book_path) == before


def test_a_refresh_that_cannot_put_a_step_back_says_which_parts_hold_new_results(book_path, monkeypatch, tmp_path):
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])

    def no_undo(*a, **k):
        raise OSError("Excel is busy")

    def boom(*a, **k):
        raise OSError("the disk is full")
    monkeypatch.setattr(macros, "write_summary", boom)
    real_undo = macros._history_undo
    monkeypatch.setattr(macros, "_history_undo", lambda book, step: (real_undo(book, step), no_undo)[1])
    macros.refresh(now=STAMPS[1])
    status = _status(book)
    assert "(while writing the Summary); Lead history could not be put back and holds this refresh's results, " \
           "the rest is as before this refresh: press Refresh again" in status, status


def test_a_sheet_with_three_charts_is_emptied_for_a_rewrite(book_path):
    """The chart-deletion bug alone: the old forward loop raised IndexError on the second chart."""
    book = open_as_caller(book_path)
    sheet = book.sheets["Summary"]
    sheet.range("Z1").value = [["x", "y"], ["a", 1], ["b", 2]]
    for i in range(3):
        sheet.charts.add(left=10 * i, top=0, width=100, height=100).set_source_data(sheet.range("Z1:AA3"))
    macros._fresh_sheet(book, "Summary")
    assert len(sheet.charts) == 0 and sheet.range("Z1").value is None


@pytest.mark.parametrize("platform, key", [("darwin", "Interpreter_Mac"), ("win32", "Interpreter_Win")])
def test_leadq_new_names_the_python_that_ran_it_for_xlwings(tmp_path, monkeypatch, platform, key):
    """macOS has no `python` on PATH: a blank Interpreter_Mac made xlwings run one that does not exist."""
    import sys

    from addin.cli import run
    monkeypatch.setattr(sys, "platform", platform)
    out, err = __import__("io").StringIO(), __import__("io").StringIO()
    assert run(["new", str(tmp_path / "Pipeline.xlsm")], out, err) == 0, err.getvalue()
    conf = {r[0]: r[1] for r in openpyxl.load_workbook(tmp_path / "Pipeline.xlsm")["xlwings.conf"].iter_rows(
        values_only=True) if r[0]}
    assert conf[key] == sys.executable and conf["UDF Modules"] == "addin.udfs"
    other = {"Interpreter_Mac": "Interpreter_Win", "Interpreter_Win": "Interpreter_Mac"}[key]
    assert conf[other] in (None, "")
    gate(tmp_path / "Pipeline.xlsm", "leadq new")


# ----------------------------------------------------------------------------- every job from the workbook

@pytest.mark.parametrize("job, sheet, status", [
    ("Refresh", "Settings", "OK — 200 leads scored"),
    ("Preview rules", "Settings", "OK — rules preview"),
    ("Calibrate", "Settings", "Calibrated"),
    ("Check rules", "Settings", "rules.json is valid"),
    ("Calibrate", "Summary", "OK — 200 leads scored"),      # the Summary's Refresh button refreshes, whatever is chosen
])
def test_every_button_runs_its_job_through_the_shim(book_path, job, sheet, status):
    """The shim's main() is what every button runs (xlwings' SampleCall): the Run button on Settings
    runs Settings > Job to run, Refresh buttons refresh."""
    import importlib
    import sys

    from addin.io.template import write_shim
    shutil.copy(ROOT / "rules.json", book_path.parent / "rules.new.json")
    wb = openpyxl.load_workbook(book_path, keep_vba=True)
    row = next(c.row for c in wb["Settings"]["A"] if c.value == "Job to run")
    wb["Settings"].cell(row, 2).value = job
    wb.save(book_path)
    write_shim(book_path)
    sys.path.insert(0, str(book_path.parent))
    try:
        shim = importlib.import_module(book_path.stem)
        importlib.reload(shim)
        book = open_as_caller(book_path)
        book.sheets[sheet].activate()
        shim.main()
    finally:
        sys.path.remove(str(book_path.parent))
    assert _status(book).startswith(status), _status(book)


def test_an_unknown_job_is_named_in_status(book_path):
    wb = openpyxl.load_workbook(book_path, keep_vba=True)
    row = next(c.row for c in wb["Settings"]["A"] if c.value == "Job to run")
    wb["Settings"].cell(row, 2).value = "Explain"
    wb.save(book_path)
    book = open_as_caller(book_path)
    book.sheets["Settings"].activate()
    macros.run_button()
    assert _status(book) == (f'Failed: Settings!B{row} ("Job to run") is "Explain": choose Refresh, Preview rules, '
                             'Calibrate or Check rules')


def test_the_template_passes_the_excel_load_gate():
    gate(ROOT / "workbook_template.xlsm", "the template")


def test_widths_go_in_each_engines_unit_and_positions_add_up():
    from addin.excel.geometry import box, cell_position, column_points, width_for
    assert width_for("excel", 24) == 24                      # Windows / macOS: characters
    assert width_for("remote", 8.43) == column_points(8.43) == 48.0    # Office.js: points (64 px)
    assert cell_position(3, 2, widths=[24], heights={1: 30}) == (column_points(24), 45.0)
    assert box(1, 1, 2, 3) == {"left": 0, "top": 0, "width": 96.0, "height": 15.0}
