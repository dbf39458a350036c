"""The Excel door on an engine that behaves like Excel (tests/xlengine.py): typed-input coercion,
index-keyed charts, refused synchronous position reads, portable conditional formats; repeated
refreshes, all-or-nothing writes, text kept as text."""

import datetime as dt
import re
import shutil

import openpyxl
import pytest
from conftest import AS_OF, ROOT, gate
from xlengine import Engine, cell_position, open_as_caller

import addin.macros as macros
from addin.core.report.sections import CHARTS
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
    ("Export for CRM", "Settings", "OK — exported for CRM"),
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
                             'Calibrate, Check rules or Export for CRM')


def test_the_template_passes_the_excel_load_gate():
    gate(ROOT / "workbook_template.xlsm", "the template")


def test_widths_go_in_each_engines_unit_and_positions_add_up():
    from addin.excel.geometry import box, cell_position, column_points, width_for
    assert width_for("excel", 24) == 24                      # Windows / macOS: characters
    assert width_for("remote", 8.43) == column_points(8.43) == 48.0    # Office.js: points (64 px)
    assert cell_position(3, 2, widths=[24], heights={1: 30}) == (column_points(24), 45.0)
    assert box(1, 1, 2, 3) == {"left": 0, "top": 0, "width": 96.0, "height": 15.0}


# ----------------------------------------------------------------------------- the Summary, all or nothing

SUMMARY_COPY = macros.SUMMARY_COPY


def _summary_state(book):
    """Everything a person sees of the Summary (values, fills, fonts, number formats, links, widths,
    heights, conditional formats, charts with their types, data and places), the sheets' order and
    visibility, LeadQ's record of the sheet, and the other parts' values."""
    sheet = book.sheets["Summary"]
    ws = book.impl.wb[sheet.name]

    def color(c):
        return None if c is None else (c.rgb if c.type == "rgb" else (c.type, c.theme, c.indexed))
    cells = {c.coordinate: (c.value, c.fill.fill_type, color(c.fill.fgColor), color(c.font.color), c.font.b, c.font.i,
                            c.font.sz, c.number_format, c.alignment.horizontal, c.border.bottom.style,
                            c.hyperlink.location if c.hyperlink else None)
             for row in ws.iter_rows() for c in row if c.has_style or c.value is not None}
    charts = [(c.name, c.chart_type, c.left, c.top, c.width, c.height, e["source"])
              for c, e in zip(sheet.charts, book.impl.charts_of(ws))]
    cf = sorted((str(f.sqref), r.operator, tuple(r.formula)) for f in ws.conditional_formatting for r in f.rules)
    others = {name: [r for r in book.impl.wb[name].iter_rows(values_only=True) if any(v is not None for v in r)]
              for name in ("Leads", "Score details", "Lead history")}     # a cleared row is an empty row
    return {"cells": cells, "charts": charts, "cf": cf, "others": others,
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
            "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
            "sheets": [(s.name, s.visible) for s in book.sheets],
            "record": book.names["_LeadQ_Summary"].refers_to, "active": book.sheets.active.name}


def _refreshed_then_later(book_path):
    """A book refreshed once in this session (Summary with its charts, colours, links), its as-of date
    then typed months later so that the next refresh changes every part."""
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])
    assert _status(book).startswith("OK"), _status(book)
    book.sheets["Summary"].activate()                  # the Summary's own Refresh button is pressed
    book.sheets["Settings"].range("B3").value = dt.datetime(2027, 3, 1)
    return book


def _trap_in_summary(monkeypatch, call: str, n: int):
    """The n-th `call` into Excel made while the Summary is written fails."""
    import xlengine
    real = macros.write_summary

    def write_summary(*args, **kwargs):
        xlengine.TRAPS[call] = n
        try:
            real(*args, **kwargs)
        finally:
            xlengine.TRAPS.pop(call, None)
    monkeypatch.setattr(macros, "write_summary", write_summary)


# Each kind of write the Summary makes (tests/test_macro_calls.py counts them), at its first, a middle or its
# last call: emptying the sheet, values, fills, links, widths, charts; naming its last chart is the very last write.
SUMMARY_WRITES = [("Sheet.clear", 1), ("Chart.delete", 2), ("Range.raw_value=", 1), ("Range.raw_value=", 100),
                  ("Range.color=", 50), ("Range.add_hyperlink", 75), ("Range.column_width=", 13),
                  ("Charts.add", 2), ("Chart.chart_type=", len(CHARTS)), ("Chart.name=", len(CHARTS))]


@pytest.mark.parametrize("call, n", SUMMARY_WRITES)
def test_a_summary_failing_at_any_write_comes_back_with_its_charts_and_colours(book_path, monkeypatch, tmp_path,
                                                                             call, n):
    """Failing at each kind of write of the Summary (the first, a middle one, the last of its kind:
    naming its last chart is the Summary's very last write): the book is as it was, Summary included — its values,
    fills, fonts, links, widths, charts with their types and data — and Status says so."""
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    book = _refreshed_then_later(book_path)
    before = _summary_state(book)
    assert len(before["charts"]) == len(CHARTS) and any(v[1] == "solid" for v in before["cells"].values())
    _trap_in_summary(monkeypatch, call, n)
    macros.refresh(now="2027-03-01 09:00")
    status = _status(book)
    assert status.startswith(f"Failed: LeadQ failed on d.xlsm (OSError: Excel stopped responding ({call}))"), status
    assert status.endswith("(while writing the Summary); the workbook is as it was before this refresh (the Summary "
                           "is the copy LeadQ kept of it; formulas on other sheets that pointed at Summary cells now "
                           "show #REF!)"), status
    assert _summary_state(book) == before
    book.impl.save()
    gate(book_path, f"a Summary put back after failing at {call} {n}")


def test_a_summary_refresh_that_cannot_tidy_its_copy_is_fully_refreshed_and_says_ok(book_path, monkeypatch, demo,
                                                                                   tmp_path):
    """The one write after the Summary: deleting its hidden copy. If that fails the refresh is done
    (Status OK, every part new, the copy hidden) and the next refresh removes the copy."""
    twin = tmp_path / "twin" / "d.xlsm"
    twin.parent.mkdir()
    shutil.copy(book_path, twin)
    shutil.copy(ROOT / "rules.json", twin.parent / "rules.json")
    clean = _refreshed_then_later(twin)
    macros.refresh(now="2027-03-01 09:00")
    want = _summary_state(clean)

    book = _refreshed_then_later(book_path)
    import xlengine
    real = macros._SummaryUndo.discard

    def discard(self):
        xlengine.TRAPS["Sheet.delete"] = 1
        try:
            real(self)
        finally:
            xlengine.TRAPS.pop("Sheet.delete", None)
    monkeypatch.setattr(macros._SummaryUndo, "discard", discard)
    macros.refresh(now="2027-03-01 09:00")
    assert _status(book).startswith("OK — 200 leads scored"), _status(book)
    got = _summary_state(book)
    assert got["sheets"] == want["sheets"] + [(SUMMARY_COPY, False)]
    assert {k: v for k, v in got.items() if k != "sheets"} == {k: v for k, v in want.items() if k != "sheets"}
    monkeypatch.undo()
    macros.refresh(now="2027-03-01 10:00")
    assert _status(book).startswith("OK"), _status(book)
    assert [s.name for s in book.sheets] == [s for s, _ in want["sheets"]]


def test_user_formulas_pointing_at_the_summary_survive_a_refresh_and_a_failed_one_says_they_broke(
        book_path, monkeypatch, tmp_path):
    """The Summary is rewritten in place: a user's formula on another sheet that reads a Summary cell
    still does after a refresh. Swapping the copy in (only when the Summary's write fails) deletes the
    sheet it pointed at, so Excel makes it #REF!: Status says so."""
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    book = _refreshed_then_later(book_path)
    mine = book.sheets.add(after=book.sheets["Settings"], name="My notes")
    mine.range("A1").value = "'=Summary!B5"            # the text of a formula, typed as text: not calculated here
    book.impl.wb["My notes"]["A2"] = "=Summary!B5*2"   # a formula, as a user types it
    book.impl.wb["My notes"]["A3"] = "='Score details'!A1"
    macros.refresh(now="2027-03-01 09:00")
    ws = book.impl.wb["My notes"]
    assert (ws["A1"].value, ws["A2"].value, ws["A3"].value) == ("=Summary!B5", "=Summary!B5*2", "='Score details'!A1")
    book.sheets["Settings"].range("B3").value = dt.datetime(2027, 6, 1)
    _trap_in_summary(monkeypatch, "Charts.add", 1)
    macros.refresh(now="2027-06-01 09:00")
    assert "formulas on other sheets that pointed at Summary cells now show #REF!" in _status(book)
    assert (ws["A1"].value, ws["A2"].value, ws["A3"].value) == ("=Summary!B5", "=#REF!B5*2", "='Score details'!A1")


@pytest.mark.parametrize("engine", ["no Sheet.copy", "remote"])
def test_a_summary_that_cannot_be_copied_comes_back_with_its_values_and_says_so(book_path, monkeypatch, tmp_path,
                                                                               engine):
    """An engine without Sheet.copy, and xlwings' remote engine (whose client's copySheet is not
    documented): the Summary's values are put back and Status says what is not."""
    import xlengine
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    book = _refreshed_then_later(book_path)
    before = _summary_state(book)

    def no_copy(self, before=None, after=None):
        raise NotImplementedError("Sheet.copy() isn't supported on this engine")
    if engine == "remote":
        monkeypatch.setattr(xlengine.Engine, "name", "remote")
        monkeypatch.setattr(xlengine.Sheet, "copy", lambda *a, **k: pytest.fail("copied on the remote engine"))
    else:
        monkeypatch.setattr(xlengine.Sheet, "copy", no_copy)
    _trap_in_summary(monkeypatch, "Charts.add", 1)
    macros.refresh(now="2027-03-01 09:00")
    assert _status(book).endswith("the workbook is as it was before this refresh (the Summary keeps its values, not "
                                  "its charts and colours: press Refresh again)"), _status(book)
    after = _summary_state(book)
    assert {k: v[0] for k, v in after["cells"].items() if v[0] is not None} == \
           {k: v[0] for k, v in before["cells"].items() if v[0] is not None}
    assert after["others"] == before["others"] and after["sheets"] == before["sheets"]


def test_a_users_sheet_named_like_the_summary_copy_is_refused_before_anything_is_written(book_path):
    book = _refreshed_then_later(book_path)
    mine = book.sheets.add(after=book.sheets["Settings"], name=SUMMARY_COPY)
    mine.range("A1").value = "my numbers"
    before = _summary_state(book)
    macros.refresh(now="2027-03-01 09:00")
    assert _status(book) == (f'Failed: The sheet "{SUMMARY_COPY}" is not LeadQ\'s: rename it (LeadQ keeps a hidden '
                             'copy of the Summary under that name while it refreshes). Your workbook was not changed.')
    assert _summary_state(book) == before and mine.range("A1").value == "my numbers"


# ----------------------------------------------------------------------------- macOS: the command Excel runs

def _conf(path):
    return {r[0]: r[1] for r in openpyxl.load_workbook(path)["xlwings.conf"].iter_rows(values_only=True) if r[0]}


def _run_as_excel_for_mac(tmp_path, workbook, interpreter_conf):
    """Press a button of `workbook` as Excel for Mac would: the command of the VBA project's SampleCall
    (read from the workbook's own vbaProject.bin), through the shell command xlwings' AppleScript
    builds from the xlwings.conf sheet, run by /bin/sh as `do shell script` does. Only Excel is stood
    in for: a sitecustomize opens the workbook on the test engine as xw.Book.caller() and saves it."""
    import subprocess
    import zipfile

    from macside import mac_shell_command, sample_call_command
    vba = zipfile.ZipFile(workbook).read("xl/vbaProject.bin")
    command = sample_call_command(vba, workbook.name)
    site = tmp_path / "excel-stand-in"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import atexit, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from pathlib import Path\n"
        "from xlengine import open_as_caller\n"
        f"book = open_as_caller(Path({str(workbook)!r}))\n"
        "atexit.register(book.impl.save)\n", encoding="utf-8")
    log = tmp_path / "xlwings.log"
    shell = mac_shell_command(interpreter_conf, workbook, command, log) + "wait"    # it ends "… &": wait for it
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(site), "LEADQ_LOG_DIR": str(tmp_path)}
    done = subprocess.run(["/bin/sh", "-c", shell], cwd="/", env=env, capture_output=True, text=True, timeout=600)
    return command, shell, done, log.read_text() if log.exists() else ""


def test_a_button_on_a_mac_runs_the_job_through_xlwings_applescript_command(tmp_path, monkeypatch):
    """`leadq new` on a Mac writes Interpreter_Mac; Excel's SampleCall then runs, through xlwings'
    AppleScript, `<Interpreter_Mac> -B -u -W ignore -c "…prepare_sys_path('true;<book>;…');import
    Pipeline;Pipeline.main()" …` from no particular folder: the interpreter must start unquoted, find
    Pipeline.py beside the workbook, and the job must run (here Refresh, from Settings' Run button)."""
    import sys

    from addin.cli import run
    monkeypatch.setattr(sys, "platform", "darwin")         # only which key `leadq new` fills
    book = tmp_path / "Pipeline.xlsm"
    out, err = __import__("io").StringIO(), __import__("io").StringIO()
    assert run(["new", str(book), "--sample"], out, err) == 0, err.getvalue()
    assert "warning" not in out.getvalue()
    monkeypatch.undo()
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)
    wb["Settings"].sheet_view.tabSelected = True
    wb.active = wb.sheetnames.index("Settings")           # Run pressed on Settings, Job to run = Refresh
    wb.save(book)
    command, shell, done, log = _run_as_excel_for_mac(tmp_path, book, _conf(book))
    assert command == "import Pipeline;Pipeline.main()"
    assert shell.startswith(f"{sys.executable} -B -u -W ignore -c ")
    assert done.returncode == 0 and log == "", (shell, done.stderr, log)
    assert openpyxl.load_workbook(book)["Settings"]["B5"].value.startswith("OK — 200 leads scored"), log


def test_an_interpreter_path_with_a_space_fails_on_a_mac_and_leadq_new_says_so(tmp_path, monkeypatch):
    """xlwings' AppleScript does not quote Interpreter_Mac: a Python under a folder with a space is cut
    at the space by the shell (shown by running the very command), so `leadq new` warns."""
    import os
    import sys

    from addin.cli import run
    spaced = tmp_path / "My Projects" / "bin"
    spaced.mkdir(parents=True)
    os.symlink(sys.executable, spaced / "python3")
    book = tmp_path / "Pipeline.xlsm"
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(sys, "executable", str(spaced / "python3"))
    out, err = __import__("io").StringIO(), __import__("io").StringIO()
    assert run(["new", str(book), "--sample"], out, err) == 0, err.getvalue()
    monkeypatch.undo()
    assert f"warning: Interpreter_Mac is {spaced / 'python3'}, whose path has a space" in out.getvalue()
    assert _conf(book)["Interpreter_Mac"] == str(spaced / "python3")
    _, _, done, log = _run_as_excel_for_mac(tmp_path, book, _conf(book))
    assert re.search(re.escape(f"{tmp_path}/My: ") + "(not found|No such file or directory)", log), log   # dash, bash
    assert openpyxl.load_workbook(book)["Settings"]["B5"].value in (None, "")


def test_export_for_crm_from_the_workbook_writes_what_leadq_export_writes(book_path, tmp_path):
    """Settings > Job to run = Export for CRM, Run: NAME.crm-export.csv beside the workbook, the same
    rows as `leadq export --for csv` on the same file and as-of date; no sheet of the book changes."""
    import io

    import pandas as pd

    from addin.cli import run
    wb = openpyxl.load_workbook(book_path, keep_vba=True)
    row = next(c.row for c in wb["Settings"]["A"] if c.value == "Job to run")
    wb["Settings"].cell(row, 2).value = "Export for CRM"
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 22)          # both doors score as of the same day
    wb.save(book_path)
    book = open_as_caller(book_path)
    before = {s.name: s.used_range.value for s in book.sheets if s.name != "Settings"}
    book.sheets["Settings"].activate()
    macros.run_button(now="2026-11-22 09:00")
    target = book_path.with_name(book_path.stem + ".crm-export.csv")
    assert _status(book) == f"OK — exported for CRM 2026-11-22 09:00: 200 leads in {target.name}"
    assert {s.name: s.used_range.value for s in book.sheets if s.name != "Settings"} == before
    out, err = io.StringIO(), io.StringIO()
    assert run(["export", str(book_path), "--for", "csv", str(tmp_path / "cli.csv")], out, err) == 0, err.getvalue()
    by_button, by_cli = pd.read_csv(target), pd.read_csv(tmp_path / "cli.csv")
    assert len(by_button) == 200 and list(by_button.columns) == list(by_cli.columns)
    stamp = [c for c in by_cli.columns if "refresh" in c.lower()]          # when each export ran
    pd.testing.assert_frame_equal(by_button.drop(columns=stamp), by_cli.drop(columns=stamp))


def test_export_for_crm_never_writes_over_what_the_workbook_reads(book_path):
    """A workbook whose Activities source is NAME.crm-export.csv: the Run button's Export for CRM is
    refused with one sentence, and that file keeps its bytes."""
    target = book_path.with_name(book_path.stem + ".crm-export.csv")
    target.write_text("Lead ID,Date,Activity\nL1001,2026-11-20,webinar\n", "utf-8")
    wb = openpyxl.load_workbook(book_path, keep_vba=True)
    col = {c.value: c.row for c in wb["Settings"]["A"] if c.value}
    wb["Settings"].cell(col["Job to run"], 2).value = "Export for CRM"
    wb["Settings"].cell(col["Activities source"], 2).value = target.name
    wb.save(book_path)
    before = target.read_bytes()
    book = open_as_caller(book_path)
    book.sheets["Settings"].activate()
    macros.run_button(now="2026-11-22 09:00")
    assert _status(book) == (f"Failed: CRM export — Export for CRM writes {target.name} beside the workbook, and "
                             f"Settings!B{col['Activities source']} (Activities source) names that file: rename it "
                             "and its setting; nothing was written")
    assert target.read_bytes() == before


def test_the_run_buttons_jobs_are_the_drop_downs_list_each_with_its_macro(monkeypatch):
    from addin.core.values.text import key
    from addin.io import parts
    assert list(macros.JOBS) == [key(n) for n in parts.JOBS]
    monkeypatch.setattr(parts, "JOBS", (*parts.JOBS, "Frobnicate leads"))
    with pytest.raises(ImportError, match=r'the job "Frobnicate leads" of io.parts.JOBS has no macro frobnicate_leads\(\)'):
        macros._jobs()


def test_the_refresh_button_sets_the_reports_print_area_as_the_file_door_does(book_path, tmp_path):
    """The Summary's print area (the report above its working lists) through xlwings' portable
    PageSetup.print_area; landscape, one page wide and the repeated title rows come with the sheet."""
    from addin.core.report.page import print_setup
    book = open_as_caller(book_path)
    macros.refresh(now=STAMPS[0])
    area = book.sheets["Summary"].page_setup.print_area
    book.impl.save()
    page = _layout(book_path, STAMPS[0])
    assert area == print_setup(page).area and re.fullmatch(r"\$A\$1:\$M\$\d+", area)
    end = int(area.rsplit("$", 1)[1])
    ws = openpyxl.load_workbook(book_path)["Summary"]
    assert ws.cell(end, 1).value.startswith("End of the printed report.")
    assert (ws.page_setup.orientation, ws.print_title_rows, ws.sheet_properties.pageSetUpPr.fitToPage) == (
        "landscape", "$1:$2", True)
    # the file door, on the same book at the same time, prints the same rows
    from addin.cli import run
    other = tmp_path / "cli.xlsm"
    shutil.copy(book_path, other)
    assert run(["refresh", str(other), "--as-of", "2026-11-22"]) == 0
    assert openpyxl.load_workbook(other)["Summary"].print_area == f"'Summary'!{print_setup(_layout(other, STAMPS[0])).area}"
    with pytest.raises(ValueError):
        book.sheets["Summary"].page_setup.print_area = "not an address"
