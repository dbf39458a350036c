"""Macros for Excel's Refresh button (RunPython) — the xlwings twin of `leadq refresh`.

Only the cell I/O is here: what goes where (owned columns, values, Score details, Summary cells
and styles, Settings status) comes from the same core code the headless writer uses.
"""

from __future__ import annotations

import pandas as pd
import xlwings as xw

from .app.calibrate import SUGGESTED, calibrate_input, suggested_path, worse_than_current, write_suggested
from .app.check import check_input
from .app.preview import preview_input
from .app.refresh import compute, now_stamp, status, summary_page
from .core.history import COLUMNS as HISTORY_COLUMNS
from .core.history import FORMATS as HISTORY_FORMATS
from .core.history import SHEET as HISTORY
from .core.report.outputs import LAYOUT_NAME, OWNED_NAME, layout_version, marked_columns, marker, not_free, outputs, owned_positions, recorded_version
from .core.report.page import print_setup
from .core.report.present import (
    DETAILS_HEADER_FORMAT,
    HEADER_FILL,
    LEADS_HEADER_FORMAT,
    SCORE_DETAILS,
    SUMMARY,
    color_rules,
    detail_format,
    details_values,
    excel_text,
    output_format,
    owned_values,
)
from .core.report.preview import SHEET as PREVIEW_SHEET
from .core.report.preview import sheet_rows
from .core.values.text import column_letter, key
from .crash import crash_message
from .errors import LeadQError
from .excel.geometry import box, width_for
from .excel.read import Table, book_settings, check_ours, read_book, read_table  # noqa: F401  (read_table, Table: earlier import paths)
from .excel.read import sheet as _sheet
from .io.ownership import quoted, setting_looks_ours
from .io.parts import BY_SHEET


def _name(book, name: str) -> str | None:
    """What a workbook-level defined name refers to ("='Leads'!$T$3:$AB$3"), or None."""
    try:
        return book.names[name].refers_to if name in book.names else None
    except Exception:  # an engine without names
        return None


def _engine_name(book) -> str:
    """"excel" (Windows, macOS), "remote" (xlwings Server, xlwings Lite) or a test engine's name."""
    try:
        return book.app.engine.name
    except Exception:
        return "excel"


def _set_name(book, name: str, refers_to: str) -> None:
    """Set a hidden defined name, as the file writer does."""
    if name in book.names:
        book.names[name].delete()
    added = book.names.add(name, refers_to)
    _windows_only(lambda: setattr(added.api, "Visible", False))   # hidden where the object model allows (Windows)


def _status(book, rows: dict, values: dict[str, str], settings: dict | None = None) -> None:
    sheet = _sheet(book, "Settings")
    current = settings if settings is not None else book_settings(book)[0]
    for label, value in values.items():
        if sheet is not None and key(label) in rows and setting_looks_ours(label, current.get(key(label))):
            sheet.range((rows[key(label)], 2)).value = excel_text(value)
    try:
        book.app.status_bar = f"LeadQ: {values.get('Status', '')}"[:250]
    except Exception:  # not every engine has a status bar
        pass


def _matrix(df: pd.DataFrame) -> list[list]:
    """Cell values for Excel: NaN as blank, text that could start a formula made text."""
    rows = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return [[None if v == "" else excel_text(v) for v in r] for r in rows]   # "" and None both leave the cell empty


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


_XL_UNDERLINE_SINGLE = 2


def _border_bottom(rng, color: str) -> None:
    side = rng.borders["edge_bottom"]
    side.line_style = "continuous"
    side.weight = "thin"
    side.color = _rgb(color)


# One entry per keyword of the file writer's StyleBook.xf (a test keeps the two in step).
_FORMATS = {
    "num_fmt": lambda rng, v: setattr(rng, "number_format", v),
    "bold": lambda rng, v: setattr(rng.font, "bold", True),
    "italic": lambda rng, v: setattr(rng.font, "italic", True),
    "color": lambda rng, v: setattr(rng.font, "color", _rgb(v)),
    "size": lambda rng, v: setattr(rng.font, "size", v),
    "fill": lambda rng, v: setattr(rng, "color", _rgb(v)),
    "wrap": lambda rng, v: setattr(rng, "wrap_text", True),
    "halign": lambda rng, v: setattr(rng, "horizontal_alignment", v),
    "valign": lambda rng, v: setattr(rng, "vertical_alignment", v),
    "border_bottom": _border_bottom,
    # xlwings has no portable underline or indent: Excel's object model (Windows) sets them;
    # where it is missing (macOS) they are left out rather than failing the refresh over a look.
    "underline": lambda rng, v: _windows_only(lambda: setattr(rng.api.Font, "Underline", _XL_UNDERLINE_SINGLE)),
    "indent": lambda rng, v: _windows_only(lambda: setattr(rng.api, "IndentLevel", int(v))),
}


def _windows_only(set_it) -> None:
    """The one place LeadQ touches an engine's native object (`.api`): Excel's COM object model on
    Windows. Elsewhere `.api` is appscript (macOS) or the remote engine's payload, which have none of
    these members: the nicety (an underline, an indent, a hidden name) is left out, never an error."""
    try:
        set_it()
    except Exception:
        pass


def _apply(rng, fmt: dict) -> None:
    """Put a format token (the keywords of the file writer's StyleBook.xf) on a range."""
    unknown = set(fmt) - set(_FORMATS)
    if unknown:
        raise ValueError(f"no xlwings translation for the format keyword(s) {sorted(unknown)}")
    for name, value in fmt.items():
        if value:           # a false or empty keyword is the default look: nothing to set
            _FORMATS[name](rng, value)


def _conditional_colors(rng, ev, column: str) -> None:
    """Replace the column's conditional formats with LeadQ's colour rules, through xlwings' portable
    conditional formats (0.37.5+: Excel on Windows and macOS, the remote engine and xlwings Lite)."""
    formats = rng.conditional_formats
    formats.clear()
    for rule in color_rules(ev):
        if rule.column == column:
            formats.add_cell_value("equal_to", '="' + rule.text.replace('"', '""') + '"',
                                   fill_color=_rgb(rule.fill), font_color=_rgb(rule.font))


def _check_free(leads: Table, owned) -> None:
    """New output columns must be empty on every row, like the file writer checks."""
    used = leads.sheet.used_range
    bottom = max(used.row + used.shape[0] - 1, leads.header_row)
    for c in owned.new:
        values = leads.sheet.range((leads.header_row, c + 1), (bottom, c + 1)).options(ndim=2).value
        for i, (v,) in enumerate(values):
            if v not in (None, ""):
                raise not_free(f"{column_letter(c)}{leads.header_row + i}", owned)


def _extend_table(leads: Table, owned=None) -> None:
    """Grow a table down over the rows read under it (core.values.table.rows_below) and, on Leads, right
    over the output columns beside it (Excel may already have)."""
    table = leads.list_object
    if table is None:
        return
    rng = table.range
    right = rng.column + rng.shape[1] - 1
    if owned is not None:
        right = max(right, max(owned.columns) + 1)
    bottom = max(rng.row + rng.shape[0] - 1, leads.header_row + len(leads.frame))
    if (right, bottom) != (rng.column + rng.shape[1] - 1, rng.row + rng.shape[0] - 1):
        table.resize(leads.sheet.range((rng.row, rng.column), (bottom, right)))


def _extend_input_tables(read: dict) -> None:
    """Activities, Qualification and Overrides grow over the rows read under them (Leads in write_leads)."""
    for name, t in read.items():
        if name != "Leads" and t is not None and t.below:
            _extend_table(t)


def _tables_undo(read: dict):
    """How to put the input tables' sizes back."""
    sized = [(t.list_object, t.sheet, t.list_object.range) for name, t in read.items()
             if name != "Leads" and t is not None and t.below and t.list_object is not None]
    shapes = [(table, sheet, rng.row, rng.column, rng.shape) for table, sheet, rng in sized]

    def restore():
        for table, sheet, row, col, shape in shapes:
            table.resize(sheet.range((row, col), (row + shape[0] - 1, col + shape[1] - 1)))
    return restore


def write_leads(book, ev, leads: Table) -> None:
    """Write the output columns where the workbook's marker says (upgrading an older layout)."""
    headers = list(leads.frame.columns)
    marked = marked_columns(_name(book, OWNED_NAME))
    version_text = _name(book, LAYOUT_NAME)
    version = (layout_version(version_text) if version_text is not None       # a constant name an engine may not send
               else recorded_version(headers, leads.first_col, marked))
    owned = owned_positions(headers, leads.first_col, marked, version)
    _check_free(leads, owned)
    sheet, n_rows, top = leads.sheet, len(leads.frame), leads.header_row
    values = owned_values(ev, n_rows)
    names = outputs()
    side_by_side = list(owned.columns) == list(range(owned.columns[0], owned.columns[0] + len(names)))
    if side_by_side:                # the usual case: headers and values in one write, headers formatted at once
        first = owned.columns[0] + 1
        sheet.range((top, first)).value = [list(names)] + (_matrix(values[list(names)]) if n_rows else [])
        _apply(sheet.range((top, first), (top, first + len(names) - 1)), LEADS_HEADER_FORMAT)
    for c, name in zip(owned.columns, names):
        if not side_by_side:
            head = sheet.range((top, c + 1))
            head.value = name
            _apply(head, LEADS_HEADER_FORMAT)
        if n_rows:
            col = sheet.range((top + 1, c + 1), (top + n_rows, c + 1))
            if not side_by_side:
                col.value = _matrix(values[[name]])
            _apply(col, output_format(name))
            if name in ("Stage", "Next action status"):
                _conditional_colors(col, ev, name)
    _extend_table(leads, owned)
    _set_name(book, OWNED_NAME, "=" + marker(sheet.name, top, owned))
    _set_name(book, LAYOUT_NAME, f"={owned.version}")


def _check_ours(sheet, name: str) -> None:
    check_ours(sheet, name)


def _fresh_sheet(book, name: str, after=None):
    """LeadQ's sheet `name` (io.parts.OWNED), emptied for a rewrite — or added; a user's own sheet of
    that name is refused. The sheet is recorded as LeadQ's in its hidden defined name, as on file."""
    part = BY_SHEET[name]
    sheet = _sheet(book, name)
    if sheet is None:
        sheet = book.sheets.add(after=after or book.sheets[len(book.sheets) - 1])
        sheet.name = name
    else:
        _check_ours(sheet, name)
        for chart in reversed(list(sheet.charts)):     # from the end: the remote engine keys charts by position
            chart.delete()
        sheet.clear()
    _set_name(book, part.defined_name, f"={quoted(sheet.name)}!$A$1")
    return sheet


def write_details(book, ev) -> None:
    details, _ = details_values(ev)
    sheet = _fresh_sheet(book, SCORE_DETAILS)
    frame = details.astype({"Rule": object, "Kind": object})
    sheet.range((1, 1)).value = [list(frame.columns)] + _matrix(frame)
    _apply(sheet.range((1, 1), (1, len(frame.columns))), DETAILS_HEADER_FORMAT)
    for i, name in enumerate(frame.columns):
        if detail_format(name) and len(frame):
            _apply(sheet.range((2, i + 1), (len(frame) + 1, i + 1)), detail_format(name))


def _write_row(sheet, r: int, cells: dict[int, tuple]) -> None:
    """One row of the Summary layout: one value write, one format call per run of equal styles."""
    first, last = min(cells), max(cells)
    values = [cells[c][0] if c in cells else None for c in range(first, last + 1)]
    sheet.range((r, first + 1)).value = [[excel_text(v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                                          for v in values]]
    for c, (_, style) in cells.items():
        if c > first and cells.get(c - 1, (None, None))[1] == style:
            continue                         # inside a run already formatted
        end = c
        while cells.get(end + 1, (None, None))[1] == style:
            end += 1
        _apply(sheet.range((r, c + 1), (r, end + 1)), style.as_dict())


def write_summary(book, ev, stamp: str) -> None:
    """Render the Summary layout cell by cell (the file writer renders the same layout as XML)."""
    page = summary_page(ev, stamp)
    sheet = _fresh_sheet(book, SUMMARY)
    rows: dict[int, dict[int, tuple]] = {}
    for (r, c), cell in sorted(page.cells.items()):
        rows.setdefault(r, {})[c] = cell
    for r, cells in rows.items():
        _write_row(sheet, r, cells)
    for link in page.links:
        sheet.range((link.row, link.col + 1)).add_hyperlink("#" + link.location, link.text)
    for r, height in page.heights.items():
        sheet.range((r, 1)).row_height = height
    unit = _engine_name(book)
    for i, w in enumerate(page.widths):
        sheet.range((1, i + 1)).column_width = width_for(unit, w)
    # Charts read a small data block beside the page (xlwings charts take one contiguous range).
    col = page.last_col + 4
    for spec in page.charts:
        if spec.kind == "line":       # the trend: one column per stage
            block = [["Refreshed at"] + [name for name, *_ in spec.series]] + [
                [lbl] + [float(values[i]) for _, _, _, values in spec.series] for i, lbl in enumerate(spec.labels)]
        else:
            block = [["Label", "Value"]] + [[lbl, float(v)] for lbl, v in zip(spec.labels, spec.values)]
        sheet.range((1, col)).value = block
        c1, r1, c2, r2 = spec.anchor
        chart = sheet.charts.add(**box(r1, c1 + 1, r2, c2 + 1, page.widths, page.heights))   # never read back
        chart.set_source_data(sheet.range((1, col), (len(block), col + len(block[0]) - 1)))
        chart.chart_type = ("line_markers" if spec.kind == "line" else
                            "bar_clustered" if spec.horizontal else "column_clustered")
        col += len(block[0]) + 1
        chart.name = spec.title
    # The printed report (core.report.page): its print area, on every engine (xlwings PageSetup.print_area:
    # PrintArea on Windows and macOS, the remote engine's setPrintArea). Landscape, one page wide and the
    # repeated title rows come with the sheet (io.template, or the file door's last refresh); its manual
    # page breaks have no portable xlwings API, so Excel breaks those pages where they fill.
    sheet.page_setup.print_area = print_setup(page).area


def write_history(book, step) -> None:
    """Append this refresh's rows to Lead history (start the sheet when there is none), as the file
    writer does; the sheet's ownership was checked before anything was written."""
    if not step.write:
        return                           # a back-dated refresh leaves the history as it is
    sheet = _sheet(book, HISTORY)
    rows = step.appended
    if sheet is None or step.started:
        sheet = _fresh_sheet(book, HISTORY)
        sheet.range((1, 1)).value = [HISTORY_COLUMNS]
        _apply(sheet.range((1, 1), (1, len(HISTORY_COLUMNS))), DETAILS_HEADER_FORMAT)
        start = 2
    else:
        used = sheet.used_range
        start = used.row + used.shape[0]
    if len(rows):
        frame = rows[HISTORY_COLUMNS].astype(object)
        frame["Refreshed at"] = [t.to_pydatetime() for t in rows["Refreshed at"]]
        sheet.range((start, 1)).value = _matrix(frame)
        for i, name in enumerate(HISTORY_COLUMNS):
            if name in HISTORY_FORMATS:
                sheet.range((start, i + 1), (start + len(frame) - 1, i + 1)).number_format = HISTORY_FORMATS[name]


def _refuse_not_ours(book, names=(SCORE_DETAILS, SUMMARY, HISTORY)) -> None:
    """The sheets a job rewrites must be LeadQ's before anything is written (refuse, book unchanged)."""
    for name in names:
        sh = _sheet(book, name)
        if sh is not None:
            _check_ours(sh, name)


def _book_name(book) -> str:
    try:
        return book.name
    except Exception:
        return "this workbook"


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else repr(e)


def _fail(book, stamp: str, message: str, job: str | None = None) -> None:
    """Say in Settings' Status (else the status bar) that a job failed, and why, in one sentence."""
    text = message if job is None else f"{job} — {message}"
    try:
        settings, rows = book_settings(book)
        _status(book, rows, status(None, stamp, error=text), settings)
    except Exception as e:          # the workbook cannot even take the status: say it where Excel shows it
        try:
            book.app.status_bar = f"LeadQ: Failed: {text}"[:250]
        except Exception:
            raise LeadQError(text) from e


def guarded_call(book, action, job: str | None, now: str | None = None) -> None:
    """The one error guard of every Excel entry point (buttons here, Lite's scripts in addin.lite): run
    `action(book, stamp)`, and turn any error into one sentence in Settings' Status (the traceback of
    an unforeseen one in a log) — never a Python error box."""
    stamp = now or now_stamp()
    try:
        action(book, stamp)
    except LeadQError as e:
        _fail(book, stamp, _first_line(e), job)
    except Exception as e:      # not foreseen: one sentence in Status, the traceback in a log
        _fail(book, stamp, crash_message(e, _book_name(book)), job)


def _guarded(job: str | None):
    """A button's entry point: the calling book (xw.Book.caller()) through guarded_call."""
    def wrap(action):
        import functools

        @functools.wraps(action)
        def run(now: str | None = None) -> None:
            guarded_call(xw.Book.caller(), action, job, now)
        return run
    return wrap


class _Undo:
    """What a refresh wrote so far, and how to put each part back as it was (values, names, sheets).

    Everything is computed and read before the first write; each write step records how to undo
    itself from what was read before it. If a step fails, the steps already written are undone in
    reverse order, so the book is as it was before the refresh — or Status says exactly which parts
    could not be put back."""

    STEPS = {"tables": "the input tables' sizes", "leads": "the result columns on Leads", "details": "Score details", "history": "Lead history",
             "summary": "the Summary"}

    def __init__(self):
        self.done: list[tuple[str, object]] = []
        self.finish: list = []             # what to tidy once every step is written (e.g. a copy kept for undo)

    def wrote(self, step: str, undo) -> None:
        self.done.append((step, getattr(undo, "restore", undo)))
        if hasattr(undo, "discard"):
            self.finish.append(undo.discard)

    def succeeded(self) -> None:
        """Every step is written: tidy what was kept to undo them (best effort: a copy left behind is
        removed by the next refresh)."""
        for discard in self.finish:
            try:
                discard()
            except Exception:
                pass

    def roll_back(self) -> list[str]:
        """Undo every written step, last first; the steps that could not be undone."""
        failed = []
        for step, undo in reversed(self.done):
            try:
                undo()
            except Exception:
                failed.append(step)
        return failed[::-1]


def _values(rng) -> list[list]:
    return rng.options(ndim=2).value


def _put_back(sheet, row: int, col: int, values: list[list]) -> None:
    """Write values read earlier back where they were (text kept as text)."""
    if values:
        sheet.range((row, col)).value = [[excel_text(v) for v in r] for r in values]


def _sheet_undo(book, name: str):
    """How to put LeadQ's sheet `name` back: its values as they are now, or its absence."""
    sheet = _sheet(book, name)
    if sheet is None:
        def remove():
            added = _sheet(book, name)
            if added is not None:
                added.delete()
            defined = BY_SHEET[name].defined_name
            if defined in book.names:
                book.names[defined].delete()
        return remove
    used = sheet.used_range
    old, row, col = _values(used), used.row, used.column

    def restore():
        for chart in reversed(list(sheet.charts)):
            chart.delete()
        sheet.clear()
        _put_back(sheet, row, col, old)
        if name != SUMMARY and old:
            _apply(sheet.range((row, col), (row, col + len(old[0]) - 1)), DETAILS_HEADER_FORMAT)
    return restore


SUMMARY_COPY = "Summary (LeadQ copy)"      # hidden while a refresh rewrites the Summary


class _SummaryUndo:
    """How to put the Summary back exactly as it was — values, colours, conditional formats, widths,
    charts with their types, its Refresh button: a hidden copy of the sheet taken before it is rewritten
    (xlwings `Sheet.copy`; Excel copies everything on a sheet). The Summary itself is rewritten in place,
    so formulas on other sheets that point at its cells keep working after every refresh. Only if the
    rewrite fails is the copy swapped in for it (the half-written sheet deleted, the copy renamed,
    shown, moved back to its place, LeadQ's defined name re-pointed): then such formulas say #REF!,
    because Excel turns references to a deleted sheet into #REF!. Rendering into the copy and swapping
    it in on success instead would do that on every refresh."""

    def __init__(self, book, sheet):
        self.book, self.name = book, sheet.name
        names = [s.name for s in book.sheets]
        at = names.index(sheet.name)
        self.following = names[at + 1] if at + 1 < len(names) else None
        self.preceding = names[at - 1] if at > 0 else None
        self.was_active = book.sheets.active.name == sheet.name
        leftover = _sheet(book, SUMMARY_COPY)
        if leftover is not None:              # left by a refresh that was stopped (Excel closed mid-way);
            leftover.delete()                 # checked to be LeadQ's before anything was written
        self.copy = sheet.copy(after=book.sheets[len(book.sheets) - 1], name=SUMMARY_COPY)   # at the end: no
        self.copy.visible = False             # sheet before it moves (the remote engine keys sheets by position)

    def restore(self) -> None:
        book = self.book
        half = _sheet(book, self.name)
        if half is not None:
            half.delete()
        copy = _sheet(book, SUMMARY_COPY)
        copy.name = self.name
        copy.visible = True
        if self.following is not None:        # back where the Summary was (Excel may have put the copy
            copy.move(before=_sheet(book, self.following))     # before a hidden last sheet)
        elif self.preceding is not None:
            copy.move(after=_sheet(book, self.preceding))
        _set_name(book, BY_SHEET[SUMMARY].defined_name, f"={quoted(self.name)}!$A$1")
        if self.was_active:
            copy.activate()

    def discard(self) -> None:
        copy = _sheet(self.book, SUMMARY_COPY)
        if copy is not None:
            copy.delete()


def _summary_undo(book):
    """The Summary's undo: its hidden copy; on an engine that cannot copy a sheet, its values only."""
    sheet = _sheet(book, SUMMARY)
    if sheet is None:
        return _sheet_undo(book, SUMMARY)
    values_only = _sheet_undo(book, SUMMARY)       # read first: the copy must not change what it restores
    if _engine_name(book) == "remote":
        # xlwings' remote engine queues Sheet.copy as a "copySheet" action for its client to run after
        # the script; whether xlwings Lite's and Server's Office.js clients run it is not documented
        # (docs/EXCEL-CHECKLIST.md, cross-checks by hand): until checked, no copy there.
        values_only.values_only = True
        return values_only
    try:
        return _SummaryUndo(book, sheet)
    except Exception:
        stray = _sheet(book, SUMMARY_COPY)
        if stray is not None:
            stray.delete()
        values_only.values_only = True             # Status says what this undo cannot put back
        return values_only


def _check_summary_copy(book) -> None:
    """A sheet under the name of the Summary's hidden copy must be LeadQ's (a copy left by a refresh
    that was stopped midway); a user's own sheet of that name is refused before anything is written."""
    leftover = _sheet(book, SUMMARY_COPY)
    if leftover is None:
        return
    try:
        check_ours(leftover, SUMMARY)
    except LeadQError:
        raise LeadQError(f'The sheet "{leftover.name}" is not LeadQ\'s: rename it (LeadQ keeps a hidden copy of '
                         f'the Summary under that name while it refreshes). Your workbook was not changed.') from None


def _leads_undo(book, leads: Table):
    """How to put the Leads result columns, the table's size and the marker names back as they are."""
    sheet, table = leads.sheet, leads.list_object
    used = sheet.used_range
    first = leads.first_col + len(leads.frame.columns) + 1          # the table's own columns are never written…
    marked = marked_columns(_name(book, OWNED_NAME)) or []
    first = min([first] + [c + 1 for c in marked])                  # …but earlier results inside it are
    last = max(used.column + used.shape[1] - 1, first + len(outputs()))
    bottom = max(used.row + used.shape[0] - 1, leads.header_row + len(leads.frame))
    block = sheet.range((leads.header_row, first), (bottom, last))
    old = _values(block)
    names = {n: _name(book, n) for n in (OWNED_NAME, LAYOUT_NAME)}
    table_range = table.range if table is not None else None
    shape = table_range.shape if table_range is not None else None

    def restore():
        block.clear_contents()
        _put_back(sheet, leads.header_row, first, old)
        if table is not None and table.range.shape != shape:
            table.resize(sheet.range((table_range.row, table_range.column),
                                     (table_range.row + shape[0] - 1, table_range.column + shape[1] - 1)))
        for n, refers_to in names.items():
            if refers_to is None:
                if n in book.names:
                    book.names[n].delete()
            else:
                _set_name(book, n, refers_to)
    return restore


def _history_undo(book, step):
    sheet = _sheet(book, HISTORY)
    if sheet is None or step.started:
        return _sheet_undo(book, HISTORY)
    used = sheet.used_range
    start = used.row + used.shape[0]

    def restore():
        if len(step.appended):
            sheet.range((start, 1), (start + len(step.appended) - 1, len(HISTORY_COLUMNS))).clear()
    return restore


def _write_all(book, ev, leads: Table, stamp: str, read: dict | None = None) -> None:
    """Write a computed refresh, all or nothing (see _Undo)."""
    _check_summary_copy(book)
    undo = _Undo()
    read = read or {}
    steps = [("tables", lambda: _tables_undo(read), lambda: _extend_input_tables(read)),
             ("leads", lambda: _leads_undo(book, leads), lambda: write_leads(book, ev, leads)),
             ("details", lambda: _sheet_undo(book, SCORE_DETAILS), lambda: write_details(book, ev)),
             ("history", lambda: _history_undo(book, ev.history), lambda: write_history(book, ev.history)),
             ("summary", lambda: _summary_undo(book), lambda: write_summary(book, ev, stamp))]
    for step, read_undo, write in steps:
        restore = None
        try:
            restore = read_undo()              # read before writing: how this step is put back
            undo.wrote(step, restore)          # a step that fails halfway is put back too
            write()
        except Exception as e:
            cause = _first_line(e) if isinstance(e, LeadQError) else crash_message(e, _book_name(book))
            cause = cause.replace(" Your workbook was not changed.", "")
            failed = undo.roll_back()
            if not failed:
                state = "the workbook is as it was before this refresh"
                if step == "summary" and isinstance(restore, _SummaryUndo):
                    state += (" (the Summary is the copy LeadQ kept of it; formulas on other sheets that "
                              "pointed at Summary cells now show #REF!)")
                elif step == "summary" and getattr(restore, "values_only", False):
                    state += " (the Summary keeps its values, not its charts and colours: press Refresh again)"
            else:
                kept = [_Undo.STEPS[s] for s, _ in undo.done if s in failed]
                state = (f"{', '.join(kept)} could not be put back and hold{'s' * (len(kept) == 1)} this refresh's "
                         f"results, the rest is as before this refresh: press Refresh again")
            raise LeadQError(f"{cause} (while writing {_Undo.STEPS[step]}); {state}") from e
    undo.succeeded()


@_guarded(None)
def refresh(book, stamp: str) -> None:
    """Refresh button: score the calling workbook and write LeadQ's columns, Score details, Lead
    history and Summary — all of them, or none (the book is put back as it was if a write fails)."""
    _refuse_not_ours(book)
    refresh_book(book, read_book(book), stamp)


def refresh_book(book, inp, stamp: str) -> None:
    """The refresh job on a book's input, rendered into the book all-or-nothing (the Refresh button
    and Lite's Refresh script both end here; each door only builds its input)."""
    ev, _ = compute(inp, clock=stamp)      # the Last refresh stamp's time, as headless
    _write_all(book, ev, inp.source["Leads"], stamp, inp.source)
    _status(book, inp.settings_rows, status(ev, stamp), book_settings(book)[0])


@_guarded("rules check")
def check_rules(book, stamp: str) -> None:
    """Check the rules file named on the Settings sheet; write the verdict in Settings' Status."""
    inp = read_book(book, tables=False)
    _status(book, inp.settings_rows, {"Status": check_input(inp).summary()}, inp.settings)


@_guarded("Calibration")
def calibrate(book, stamp: str) -> None:
    """Calibrate macro: learn the points from won and lost deals; write the Calibration sheet (with a
    gain chart) and rules.suggested.json beside the workbook — never over rules.json."""
    from .core.calibrate.view import CALIBRATION, sheet_blocks
    _refuse_not_ours(book, [CALIBRATION])
    inp = read_book(book)
    cal, _, rules_path = calibrate_input(inp)
    refused = worse_than_current(cal)       # a suggestion that ranks the held-out leads worse is not written
    target = None if refused else write_suggested(cal, suggested_path(inp), rules_path)
    cells, chart_spec = sheet_blocks(cal)
    sheet = _fresh_sheet(book, CALIBRATION)
    width = max(len(r) for r in cells)
    sheet.range((1, 1)).value = [[excel_text(v) for v in r] + [None] * (width - len(r)) for r in cells]
    _apply(sheet.range((1, 1)), {"bold": True, "size": 14})
    first, last = chart_spec["data"]
    row, col = chart_spec["anchor"]
    chart = sheet.charts.add(**box(row, col, row + 18, col + 7))      # default widths and heights: never read back
    chart.set_source_data(sheet.range((first, 1), (last, 4)))
    chart.chart_type = "line"
    chart.name = "Gain: share of won deals found"
    m = cal.metrics
    _status(book, inp.settings_rows, {"Status": f"Calibrated {stamp}: held-out AUC {m['auc_current']:.3f} now, "
                                                f"{m['auc_suggested']:.3f} suggested; "
                                                + (f"suggested rules in {target.name}" if target else
                                                   f"{SUGGESTED} not written: the suggestion does worse than the current rules")})


@_guarded("rules preview")
def preview_rules(book, stamp: str) -> None:
    """What the rules file to preview (Settings "Preview rules", else rules.new.json beside the
    workbook) would change, on the same data and as-of date, written to a Rules preview sheet; no
    other cell changes."""
    _refuse_not_ours(book, [PREVIEW_SHEET])
    inp = read_book(book)
    done = preview_input(inp)
    old, p = done.current, done.preview
    sheet = _fresh_sheet(book, PREVIEW_SHEET)
    body = sheet_rows(p, old.rules.stage_label, title=f"{PREVIEW_SHEET} — {old.rules_source} → {done.new_rules.name}, "
                                                      f"as of {old.as_of.date().isoformat()}")
    width = max(len(r) for r in body)
    sheet.range((1, 1)).value = [[excel_text(v) for v in r] + [None] * (width - len(r)) for r in body]
    _apply(sheet.range((1, 1)), {"bold": True, "size": 14, "color": HEADER_FILL})
    for i, r in enumerate(body, start=1):
        if r and isinstance(r[0], str) and r[0].isupper():
            _apply(sheet.range((i, 1)), {"bold": True, "color": HEADER_FILL})
    _status(book, inp.settings_rows, {"Status": f"OK — rules preview {stamp}: {p.leads} leads, "
                                                f"{int((p.stage_counts['Change'] != 0).sum())} stages change, "
                                                f"{len(p.warnings)} warning(s) — see the {PREVIEW_SHEET} sheet"})


@_guarded("CRM export")
def export_for_crm(book, stamp: str) -> None:
    """Export for CRM: the scores in the plain csv import format, to NAME.crm-export.csv beside the
    workbook (`leadq export --for csv`); no cell but Settings' Status changes."""
    from .app.export import export_for_crm_input
    inp = read_book(book)
    target, rows = export_for_crm_input(inp, now=stamp)
    _status(book, inp.settings_rows, {"Status": f"OK — exported for CRM {stamp}: {rows} leads in {target.name}"})


def _jobs() -> dict:
    """The Run button's jobs: each name of the drop-down's list (io.parts.JOBS, the one list) is
    the macro of that name in snake case here ("Export for CRM" -> export_for_crm); a name
    without its macro fails at import, so the list and the macros cannot drift apart."""
    from .io.parts import JOBS as NAMES
    found = {}
    for name in NAMES:
        macro = globals().get("_".join(name.lower().split()))
        if not callable(macro):
            raise ImportError(f'the job "{name}" of io.parts.JOBS has no macro {"_".join(name.lower().split())}() '
                              "in addin.macros")
        found[key(name)] = macro
    return found


JOBS = _jobs()


def _button_job(book) -> str:
    """Which job the pressed button runs: the Run button on Settings runs Settings > Job to run; a
    button on any other sheet (Refresh on Leads and Summary) refreshes. The active sheet is the
    pressed button's (a button is pressed on the sheet in view); xlwings passes no caller button."""
    from .io.parts import JOB_LABEL
    from .io.parts import JOBS as NAMES
    from .settings import SHEET as SETTINGS_SHEET
    if key(book.sheets.active.name) != key(SETTINGS_SHEET):
        return key("Refresh")
    values, rows = book_settings(book)
    chosen = values.get(key(JOB_LABEL))
    if chosen in (None, ""):
        return key("Refresh")
    if key(chosen) not in JOBS:
        where = f"{SETTINGS_SHEET}!B{rows[key(JOB_LABEL)]}"
        raise LeadQError(f'{where} ("{JOB_LABEL}") is "{chosen}": choose {", ".join(NAMES[:-1])} or {NAMES[-1]}')
    return key(chosen)


def run_button(now: str | None = None) -> None:
    """The one entry point of the workbook's buttons (each calls xlwings' SampleCall, which runs the
    NAME.py shim's main()): dispatch to the job, each behind the one error guard."""
    chosen: list[str] = []

    @_guarded(None)
    def choose(book, stamp: str) -> None:
        chosen.append(_button_job(book))
    choose(now)
    if chosen:
        JOBS[chosen[0]](now)
