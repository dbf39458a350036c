"""Macros for Excel's Refresh button (RunPython) — the xlwings twin of `leadq refresh`.

Only the cell I/O is here: what goes where (owned columns, values, Score details, Summary cells
and styles, Settings status) comes from the same core code the headless writer uses.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import xlwings as xw

from .core.evaluate import evaluate
from .core.headers import LEADS_OUTPUTS, header_row
from .core.history import COLUMNS as HISTORY_COLUMNS
from .core.history import SHEET as HISTORY
from .core.history import refreshed_at
from .core.present import (
    HISTORY_NAME,
    NUMBER_FORMATS,
    SCORE_DETAILS,
    SUMMARY,
    color_rules,
    details_values,
    excel_text,
    owned_positions,
    owned_values,
    settings_status,
)
from .core.rules import check_rules as _check_rules
from .core.summary import summarise
from .core.text import column_letter, key
from .errors import LeadQError
from .settings import rules_location
from .udfs import book_settings, run_settings


def _sheet(book, name: str):
    return next((s for s in book.sheets if s.name.casefold() == name.casefold()), None)


def read_sheet(book, name: str):
    """A sheet's table as a DataFrame tagged with its cells, plus (header row, first column, headers)."""
    sheet = _sheet(book, name)
    if sheet is None:
        return None, None
    used = sheet.used_range
    values = used.options(ndim=2).value
    top, left = used.row, used.column - 1
    h = header_row([sum(v not in (None, "") for v in r) for r in values])
    headers = [str(v).strip() if v not in (None, "") else f"Column {j + 1}" for j, v in enumerate(values[h])]
    while headers and headers[-1].startswith("Column ") and all(r[len(headers) - 1] in (None, "") for r in values):
        headers.pop()
    body = [r[: len(headers)] for r in values[h + 1:]]
    while body and all(v in (None, "") for v in body[-1]):
        body.pop()
    df = pd.DataFrame(body, columns=headers, dtype=object)
    df.attrs["leadq_origin"] = {"sheet": sheet.name, "rows": np.arange(len(df)) + top + h + 1,
                                "letters": {c: column_letter(left + j) for j, c in enumerate(headers)}}
    return df, (top + h, left, headers)


def _status(book, rows: dict, values: dict[str, str]) -> None:
    sheet = _sheet(book, "Settings")
    for label, value in values.items():
        if sheet is not None and key(label) in rows:
            sheet.range((rows[key(label)], 2)).value = excel_text(value)
    try:
        book.app.status_bar = f"LeadQ: {values.get('Status', '')}"[:250]
    except Exception:  # not every engine has a status bar
        pass


def _matrix(df: pd.DataFrame) -> list[list]:
    """Cell values for Excel: NaN as blank, text that could start a formula made text."""
    rows = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return [[excel_text(v) for v in r] for r in rows]


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _apply(rng, fmt: dict) -> None:
    """Put a format token (the kwargs of the file writer's StyleBook.xf) on a range."""
    if fmt.get("bold"):
        rng.font.bold = True
    if fmt.get("italic"):
        rng.font.italic = True
    if fmt.get("color"):
        rng.font.color = _rgb(fmt["color"])
    if fmt.get("size"):
        rng.font.size = fmt["size"]
    if fmt.get("fill"):
        rng.color = _rgb(fmt["fill"])
    if fmt.get("num_fmt"):
        rng.number_format = fmt["num_fmt"]


def _conditional_colors(rng, ev, column: str) -> None:
    """Windows Excel: replace the column's conditional formats with LeadQ's (elsewhere the
    template's and the last headless refresh's stay)."""
    try:
        conditions = rng.api.FormatConditions
    except Exception:
        return
    conditions.Delete()
    for rule in color_rules(ev):
        if rule.column == column:
            c = conditions.Add(1, 3, '="' + rule.text.replace('"', '""') + '"')   # xlCellValue, xlEqual
            r, g, b = _rgb(rule.fill)
            c.Interior.Color = r + g * 256 + b * 65536
            r, g, b = _rgb(rule.font)
            c.Font.Color = r + g * 256 + b * 65536


def write_leads(book, ev, layout, n_rows: int) -> None:
    header_row, first_col, headers = layout
    cols, _ = owned_positions(headers, first_col)
    sheet = _sheet(book, "Leads")
    start = cols[0] + 1
    sheet.range((header_row, start)).value = [LEADS_OUTPUTS]
    _apply(sheet.range((header_row, start), (header_row, start + len(cols) - 1)),
           {"bold": True, "color": "#FFFFFF", "fill": "#1F3864"})
    if n_rows:
        body = sheet.range((header_row + 1, start), (header_row + n_rows, start + len(cols) - 1))
        body.value = _matrix(owned_values(ev, n_rows))
        for i, name in enumerate(LEADS_OUTPUTS):
            col = sheet.range((header_row + 1, start + i), (header_row + n_rows, start + i))
            if name in NUMBER_FORMATS:
                col.number_format = NUMBER_FORMATS[name]
            if name in ("Stage", "Next action status"):
                _conditional_colors(col, ev, name)


def _fresh_sheet(book, name: str, after=None):
    sheet = _sheet(book, name)
    if sheet is None:
        sheet = book.sheets.add(after=after or book.sheets[len(book.sheets) - 1])
        sheet.name = name
    else:
        for chart in list(sheet.charts):
            chart.delete()
        sheet.clear()
    return sheet


def write_details(book, ev) -> None:
    details, _ = details_values(ev)
    sheet = _fresh_sheet(book, SCORE_DETAILS)
    frame = details.astype({"Rule": object, "Kind": object})
    sheet.range((1, 1)).value = [list(frame.columns)] + _matrix(frame)
    _apply(sheet.range((1, 1), (1, len(frame.columns))), {"bold": True, "color": "#FFFFFF", "fill": "#1F3864"})


def write_summary(book, ev, stamp: str) -> None:
    from .io.summary_sheet import WIDTHS, _Styles, layout
    s = summarise(ev)
    st = _Styles(lambda **fmt: tuple(sorted(fmt.items())), s.meta["currency"])
    grid, charts = layout(s, ev, stamp, st)
    sheet = _fresh_sheet(book, SUMMARY)
    for (r, c), (value, fmt) in sorted(grid.cells.items()):
        cell = sheet.range((r, c + 1))
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            cell.value = excel_text(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
        _apply(cell, dict(fmt))
    for ref, location, display in grid.links:
        sheet.range(ref).add_hyperlink("#" + location, display)
    for i, w in enumerate(WIDTHS):
        sheet.range((1, i + 1)).column_width = w
    # Charts read a small data block beside the page (xlwings charts take one contiguous range).
    for k, spec in enumerate(charts):
        col = 16 + 3 * k
        if spec.get("kind") == "line":       # the trend: one column per stage (it comes last: room to the right)
            block = [["Refreshed at"] + [name for name, *_ in spec["series"]]] + [
                [lbl] + [float(values[i]) for _, _, _, values in spec["series"]] for i, lbl in enumerate(spec["labels"])]
        else:
            block = [["Label", "Value"]] + [[lbl, float(v)] for lbl, v in zip(spec["labels"], spec["values"])]
        sheet.range((1, col)).value = block
        c1, r1, c2, r2 = spec["anchor"]
        top_left, bottom_right = sheet.range((r1, c1 + 1)), sheet.range((r2, c2 + 1))
        chart = sheet.charts.add(left=top_left.left, top=top_left.top, width=bottom_right.left - top_left.left,
                                 height=bottom_right.top - top_left.top)
        chart.set_source_data(sheet.range((1, col), (len(block), col + len(block[0]) - 1)))
        chart.chart_type = ("line_markers" if spec.get("kind") == "line" else
                            "bar_clustered" if spec["horizontal"] else "column_clustered")
        chart.name = spec["title"]


def _history_sheet(book):
    """LeadQ's Lead history sheet, or None; a sheet of that name LeadQ did not write (its first row is
    not LeadQ's header) is never written to."""
    sheet = _sheet(book, HISTORY)
    if sheet is None:
        return None
    header = sheet.range((1, 1), (1, len(HISTORY_COLUMNS))).value
    if [str(h).strip() if h is not None else "" for h in header] != HISTORY_COLUMNS:
        if all(h is None for h in header) and sheet.used_range.value in (None, [], [[None]]):
            return sheet                     # emptied by the user: started again
        raise LeadQError(f'the workbook has a sheet "{sheet.name}" that LeadQ did not create, and LeadQ keeps its '
                         f'lead history in a sheet of that name; rename your sheet (e.g. "{sheet.name} (mine)")')
    return sheet


def write_history(book, step) -> None:
    """Append this refresh's rows to Lead history (start the sheet when there is none)."""
    sheet = _history_sheet(book)
    rows = step.appended
    if sheet is None or step.started:
        sheet = _fresh_sheet(book, HISTORY)
        sheet.range((1, 1)).value = [HISTORY_COLUMNS]
        _apply(sheet.range((1, 1), (1, len(HISTORY_COLUMNS))), {"bold": True, "color": "#FFFFFF", "fill": "#1F3864"})
        start = 2
    else:
        start = sheet.used_range.last_cell.row + 1
    if not len(rows):
        return
    values = [[when.to_pydatetime(), excel_text(lead), None if score != score else float(score), excel_text(stage),
               excel_text(grade), excel_text(version)]
              for when, lead, score, stage, grade, version in rows[HISTORY_COLUMNS].itertuples(index=False)]
    sheet.range((start, 1)).value = values
    try:                                    # recorded as LeadQ's, like the file writer does (Excel; not every engine)
        book.names.add(HISTORY_NAME, f"='{sheet.name}'!$A$1")
    except Exception:
        pass
    sheet.range((start, 1), (start + len(values) - 1, 1)).number_format = "yyyy-mm-dd hh:mm"
    sheet.range((start, 3), (start + len(values) - 1, 3)).number_format = "0.0"


def _run(book, stamp: str):
    settings = book_settings(book)
    run = run_settings(book, settings=settings)
    leads, layout = read_sheet(book, "Leads")
    if leads is None:
        raise LeadQError('no "Leads" sheet')
    activities, _ = read_sheet(book, "Activities")
    qualification, _ = read_sheet(book, "Qualification")
    history = read_sheet(book, HISTORY)[0] if _history_sheet(book) is not None else None
    ev = evaluate(leads, activities, run.rules, qualification=qualification, as_of=run.as_of, date_order=run.date_order,
                  history=history, refreshed_at=refreshed_at(run.as_of, dt.datetime.now()))
    ev.rules_source = run.rules_source
    write_leads(book, ev, layout, len(leads))
    write_details(book, ev)
    write_history(book, ev.history)
    write_summary(book, ev, stamp)
    return ev, settings[1]


def refresh(now: str | None = None) -> None:
    """Refresh button: score the calling workbook and write LeadQ's columns, Score details and Summary."""
    book = xw.Book.caller()
    stamp = now or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    try:
        ev, rows = _run(book, stamp)
    except LeadQError as e:
        _, rows = book_settings(book)
        _status(book, rows, settings_status(None, stamp, error=str(e).splitlines()[0] if str(e) else repr(e)))
        return
    _status(book, rows, settings_status(ev, stamp))


def check_rules() -> None:
    """Check the rules file named on the Settings sheet; write the verdict in Settings' Status."""
    book = xw.Book.caller()
    settings, rows = book_settings(book)
    try:
        path, _ = rules_location(Path(book.fullname), settings, rows)
    except LeadQError as e:
        _status(book, rows, {"Status": str(e)})
        return
    if path is None:
        _status(book, rows, {"Status": "no rules file: the bundled default rules are used (set Rules file on Settings)"})
        return
    rules, problems = _check_rules(path)
    if rules is not None:
        text = f"{path.name} is valid: {len(rules.fit)} fit rules, {len(rules.activities)} activity types"
    else:
        errors = [str(p) for p in problems if p.severity == "error"]
        text = f"{len(errors)} problem(s) in {path.name}: " + " | ".join(errors)
    _status(book, rows, {"Status": text})


PREVIEW_SHEET = "Rules preview"
PREVIEW_LABEL = "Preview rules"          # Settings row naming the rules file to preview
PREVIEW_DEFAULT = "rules.new.json"       # else this file beside the workbook


def preview_rules() -> None:
    """What the rules file to preview (Settings "Preview rules", else rules.new.json beside the workbook)
    would change, on the same data and as-of date, written to a Rules preview sheet; no other cell changes."""
    from .core.preview import compare, sheet_rows
    book = xw.Book.caller()
    settings, rows = book_settings(book)
    folder = Path(book.fullname).resolve().parent
    named = settings.get(key(PREVIEW_LABEL))
    path = Path(str(named).strip()) if named not in (None, "") else folder / PREVIEW_DEFAULT
    path = path if path.is_absolute() else folder / path
    try:
        if not path.is_file():
            raise LeadQError(f'no rules file to preview: {path} not found; put the path of the new rules in Settings '
                             f'"{PREVIEW_LABEL}", or save it as {PREVIEW_DEFAULT} beside the workbook')
        current = run_settings(book, settings=(settings, rows))
        leads, _ = read_sheet(book, "Leads")
        if leads is None:
            raise LeadQError('no "Leads" sheet')
        activities, _ = read_sheet(book, "Activities")
        qualification, _ = read_sheet(book, "Qualification")
        from .core.rules import load_rules
        new_rules = load_rules(path)
        old = evaluate(leads, activities, current.rules, qualification=qualification, as_of=current.as_of,
                       date_order=current.date_order)
        new = evaluate(leads, activities, new_rules, qualification=qualification, as_of=current.as_of,
                       date_order=current.date_order)
    except LeadQError as e:
        _status(book, rows, {"Status": f"Preview failed: {str(e).splitlines()[0]}"})
        return
    p = compare(old, new)
    sheet = _fresh_sheet(book, PREVIEW_SHEET)
    body = sheet_rows(p, current.rules.stage_label, title=f"Rules preview — {current.rules_source} → {path.name}, "
                                                          f"as of {current.as_of.date().isoformat()}")
    width = max(len(r) for r in body)
    sheet.range((1, 1)).value = [[excel_text(v) for v in r] + [None] * (width - len(r)) for r in body]
    _apply(sheet.range((1, 1)), {"bold": True, "size": 14, "color": "#1F3864"})
    for i, r in enumerate(body, start=1):
        if r and isinstance(r[0], str) and r[0].isupper():
            _apply(sheet.range((i, 1)), {"bold": True, "color": "#1F3864"})
    _status(book, rows, {"Status": f"Rules preview written: {p.leads} leads, "
                                   f"{int((p.stage_counts['Change'] != 0).sum())} stages change, "
                                   f"{len(p.warnings)} warning(s) — see the {PREVIEW_SHEET} sheet"})
