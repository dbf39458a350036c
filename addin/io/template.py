"""Build workbook_template.xlsm (and `leadq new` workbooks) with XlsxWriter, reproducibly.

`python -m addin.io.template [OUT]` rebuilds the repository's template. The VBA project is the
one Excel itself saved in the pinned xlwings package's quickstart_standalone.xlsm (read from the
installed package, never committed): its Module1.SampleCall runs
`import <workbook name>; <workbook name>.main()`, hence the NAME.py shim written beside each
workbook. The buttons call SampleCall.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pandas as pd
import xlsxwriter

from ..core.report.outputs import BY_NAME, outputs
from ..core.report.present import (
    DETAIL_WIDTHS,
    HEADER_FILL,
    HEADER_FONT,
    INPUT_HEADER_FILL,
    SCORE_DETAILS,
    WIDTHS,
    contrast,
    currency_format,
)
from ..core.rules.model import Rules, load_rules
from ..core.scoring import LEDGER_COLUMNS
from ..core.values.headers import LEADS_INPUTS
from ..core.values.parse import DATE_ORDERS
from ..core.values.vocabulary import ANSWER_CHOICES, CONSENT_CHOICES, OVERDUE
from ..settings import MAPPING_SHEETS, mapping_label
from .parts import JOB_LABEL, JOBS

FIXED_TIME = dt.datetime(2026, 1, 1)          # document properties: a fixed date keeps the bytes reproducible
REFRESH_MACRO = "SampleCall"      # the only macro of xlwings' VBA project: every button calls it (see SHIM)
INPUT_WIDTHS = {"Lead ID": 10, "First name": 12, "Last name": 14, "Email": 28, "Phone": 16, "Job title": 22,
                "Company": 24, "Industry": 14, "Company size": 10, "Annual revenue": 14, "Country": 12, "Source": 14,
                "Owner": 16, "Created": 11, "Consent": 9, "Deal stage": 16, "Amount": 12, "Next action": 22,
                "Next action date": 12, "CRM status": 16, "Disqualified": 16}
XLWINGS_CONF = [("Interpreter_Win", ""), ("Interpreter_Mac", ""), ("PYTHONPATH", ""), ("Conda Path", ""),
                ("Conda Env", ""), ("UDF Modules", "addin.udfs"), ("Debug UDFs", False), ("Use UDF Server", False),
                ("Show Console", False)]


def vba_project() -> bytes:
    """The VBA project of the installed xlwings' quickstart_standalone.xlsm."""
    with resources.as_file(resources.files("xlwings").joinpath("quickstart_standalone.xlsm")) as path:
        with zipfile.ZipFile(path) as z:
            return z.read("xl/vbaProject.bin")


def interpreter_setting(platform: str | None = None, executable: str | None = None) -> dict[str, str]:
    """The xlwings.conf interpreter a new workbook gets: the Python that runs `leadq new`, under the
    key of the platform it runs on (Interpreter_Mac on macOS, whose current versions have no
    `python` on PATH; Interpreter_Win on Windows); nothing elsewhere (a Linux build is for any machine)."""
    platform = platform or sys.platform
    executable = executable or sys.executable
    if platform == "darwin":
        return {"Interpreter_Mac": executable}
    if platform == "win32":
        return {"Interpreter_Win": executable}
    return {}


_SHELL_WORD = re.compile(r"[A-Za-z0-9_./+@%:,=-]+")


def interpreter_warning(platform: str | None = None, executable: str | None = None) -> str | None:
    """Why the interpreter written for macOS will not start, or None. xlwings' AppleScript on macOS
    builds `<Interpreter_Mac> -B -u -W ignore -c "…"` and runs it with `do shell script`, the path
    unquoted (xlwings-<version>.applescript, VbaHandler; `|` separates its fields): a path with a space
    or another character the shell reads is cut there."""
    platform = platform or sys.platform
    executable = executable or sys.executable
    if platform != "darwin" or _SHELL_WORD.fullmatch(executable):
        return None
    return (f"warning: Interpreter_Mac is {executable}, whose path has a space or a character the shell reads; "
            "xlwings on macOS starts it unquoted, so the buttons will fail: use a Python whose path has none "
            "(e.g. python3 -m venv ~/venvs/leadq), run leadq new with it, or write that path on the xlwings.conf sheet")


def build_workbook(out: Path, rules: Rules | None = None, sample: dict[str, pd.DataFrame] | None = None,
                   conf: dict[str, str] | None = None, lite_rules: str | None = None) -> Path:
    """Write a LeadQ workbook: the template, optionally filled with sample data; `conf`: xlwings.conf
    values over the template's (e.g. interpreter_setting()).

    lite_rules: an xlwings Lite workbook (.xlsx): no VBA project and no xlwings.conf sheet, the
    rules (this rules.json text) in a LeadQ Rules sheet that Settings' Rules file names."""
    rules = rules or load_rules()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(out), {"strings_to_urls": False, "strings_to_formulas": False,
                                        "strings_to_numbers": False})
    wb.set_properties({"title": "LeadQ workbook", "subject": "Lead scoring and qualification", "author": "LeadQ",
                       "created": FIXED_TIME, "comments": "Built by LeadQ. Run Refresh or `leadq refresh` to score."})
    wb.set_custom_property("LeadQ template", "1")
    lite = lite_rules is not None
    if not lite:
        wb.add_vba_project(io.BytesIO(vba_project()), is_stream=True)
        wb.set_vba_name("ThisWorkbook")
    f = _Formats(wb, rules)

    leads = wb.add_worksheet("Leads")
    activities = wb.add_worksheet("Activities")
    qualification = wb.add_worksheet("Qualification")
    summary = wb.add_worksheet("Summary")
    details = wb.add_worksheet(SCORE_DETAILS)
    settings = wb.add_worksheet("Settings")
    if lite:
        from ..rules_sheet import SHEET as RULES_SHEET
        from ..rules_sheet import rows_of
        rules_ws = wb.add_worksheet(RULES_SHEET)
        for r, (line,) in enumerate(rows_of(lite_rules)):
            rules_ws.write_string(r, 0, line, f.title if r == 0 else f.code)
        rules_ws.set_column(0, 0, 110)
    else:
        conf_sheet = wb.add_worksheet("xlwings.conf")
        for i, ws in enumerate(wb.worksheets(), start=1):
            ws.set_vba_name(f"Sheet{i}")

    # LeadQ's own sheets first: their texts get the first shared-string indexes, so recognising them
    # later (io/ownership.py) reads only the start of the string table, however big the data.
    _summary_placeholder(summary, f)
    _details_sheet(details, f)
    lists = _settings_sheet(wb, settings, rules, f, lite)
    _leads_sheet(wb, leads, rules, f, sample.get("Leads") if sample else None, lists)
    _activities_sheet(activities, rules, f, sample.get("Activities") if sample else None)
    _qualification_sheet(qualification, rules, f, sample.get("Qualification") if sample else None)
    for r, (k, v) in enumerate([] if lite else XLWINGS_CONF):
        v = (conf or {}).get(k, v)
        conf_sheet.write_string(r, 0, k, f.text)
        if isinstance(v, bool):
            conf_sheet.write_boolean(r, 1, v, f.text)
        else:
            conf_sheet.write_string(r, 1, v, f.text)
    if not lite:
        conf_sheet.write_string(len(XLWINGS_CONF) + 1, 0, "xlwings reads these settings from A1 down. UDF Modules points at "
                                "the installed LeadQ package; set Interpreter_Win / Interpreter_Mac to your Python if it "
                                "is not on PATH.", f.note)
        conf_sheet.set_column(0, 0, 18)
        conf_sheet.set_column(1, 1, 40)
    leads.activate()
    wb.close()
    return out


class _Formats:
    def __init__(self, wb, rules: Rules):
        self.title = wb.add_format({"bold": True, "font_size": 16, "font_color": HEADER_FILL})
        self.note = wb.add_format({"italic": True, "font_color": "#595959"})
        self.input_header = wb.add_format({"bold": True, "bg_color": INPUT_HEADER_FILL, "text_wrap": True,
                                           "valign": "vcenter", "bottom": 1})
        self.computed_header = wb.add_format({"bold": True, "bg_color": HEADER_FILL, "font_color": HEADER_FONT,
                                              "text_wrap": True, "valign": "vcenter", "bottom": 1})
        self.text = wb.add_format({})
        self.code = wb.add_format({"font_name": "Consolas"})
        self.date = wb.add_format({"num_format": "yyyy-mm-dd"})
        self.int = wb.add_format({"num_format": "#,##0"})
        self.money = wb.add_format({"num_format": currency_format(rules.currency)})
        self._wb, self._outputs = wb, {}
        self.stage = {s: wb.add_format({"bg_color": rules.stage_color(s), "font_color": contrast(rules.stage_color(s))})
                      for s in rules.data.get("stages", {})}
        self.red = wb.add_format({"bg_color": "#C00000", "font_color": "#FFFFFF"})

    def output(self, name: str):
        """An output column's cell format, from the registry (core.report.outputs.COLUMNS); one per distinct format."""
        col = BY_NAME[name]
        spec = {k: v for k, v in (("num_format", col.number_format), ("align", col.align)) if v}
        if not spec:
            return None
        token = tuple(sorted(spec.items()))
        if token not in self._outputs:
            self._outputs[token] = self._wb.add_format(spec)
        return self._outputs[token]


DATE_FORMAT = "\0date"      # formats[DATE_FORMAT]: how a date lands in a column with no format of its own


def _write_frame(ws, first_row: int, columns: list[str], frame: pd.DataFrame | None, formats: dict) -> int:
    """Write values cell by cell as their type (text always as text). Returns the number of rows."""
    if frame is None or frame.empty:
        return 0
    for r, row in enumerate(frame.reindex(columns=columns).itertuples(index=False), start=first_row):
        for c, (name, v) in enumerate(zip(columns, row)):
            fmt = formats.get(name)
            if v is None or (isinstance(v, float) and v != v) or v is pd.NaT or (isinstance(v, str) and v == ""):
                continue
            if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
                ws.write_datetime(r, c, pd.Timestamp(v).to_pydatetime(), fmt or formats.get(DATE_FORMAT))
            elif isinstance(v, bool):
                ws.write_boolean(r, c, v, fmt)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, float(v), fmt)
            else:
                ws.write_string(r, c, str(v), fmt)
    return len(frame)


def _leads_sheet(wb, ws, rules: Rules, f: _Formats, frame, lists: dict[str, str]) -> None:
    inputs = list(LEADS_INPUTS)
    computed = outputs()                 # the current layout's columns (read now: a test may pin an older layout)
    columns = inputs + _extra(frame, inputs + computed) + computed
    ws.write_string(0, 0, "LeadQ — Leads", f.title)
    ws.write_string(1, 0, "Type or paste your leads in the table. Dark blue columns are computed by LeadQ: "
                    "press Refresh (or run `leadq refresh`); they are overwritten on every refresh.", f.note)
    ws.set_row(0, 30)
    ws.insert_button(0, 5, {"macro": REFRESH_MACRO, "caption": "Refresh", "width": 120, "height": 32})
    header = 2
    formats = {"Created": f.date, "Next action date": f.date, "Company size": f.int, "Annual revenue": f.money,
               "Amount": f.money, DATE_FORMAT: f.date, **{c: f.output(c) for c in computed}}
    n = _write_frame(ws, header + 1, columns, frame, formats)
    last = header + max(n, 1)
    ws.add_table(header, 0, last, len(columns) - 1, {
        "name": "Leads", "style": "Table Style Light 9",
        "columns": [{"header": c, "header_format": f.computed_header if c in computed else f.input_header}
                    for c in columns]})
    ws.set_row(header, 32)
    for i, c in enumerate(columns):
        ws.set_column(i, i, WIDTHS.get(c, INPUT_WIDTHS.get(c, 12)), formats.get(c))
    ws.freeze_panes(header + 1, 1)
    stage_col = columns.index("Deal stage")
    ws.data_validation(header + 1, stage_col, 1_048_575, stage_col, {
        "validate": "list", "source": lists["stages"], "error_type": "warning",
        "error_title": "Deal stage", "error_message": "Not a stage of the pipeline in rules.json."})
    consent = columns.index("Consent")
    ws.data_validation(header + 1, consent, 1_048_575, consent, {"validate": "list", "source": CONSENT_CHOICES,
                                                                  "error_type": "warning"})
    out = columns.index("Stage")
    for s, fmt in f.stage.items():
        ws.conditional_format(header + 1, out, last, out, {"type": "cell", "criteria": "==",
                                                           "value": '"' + rules.stage_label(s).replace('"', '""') + '"',
                                                           "format": fmt})
    status = columns.index("Next action status")
    ws.conditional_format(header + 1, status, last, status, {"type": "cell", "criteria": "==", "value": f'"{OVERDUE}"',
                                                             "format": f.red})


def _extra(frame, known: list[str]) -> list[str]:
    """An imported export's own columns (kept after LeadQ's, under their header)."""
    return [] if frame is None else [str(c) for c in frame.columns if c not in known]


def _activities_sheet(ws, rules: Rules, f: _Formats, frame) -> None:
    columns = ["Lead ID", "Date", "Activity", "Detail"]
    columns += _extra(frame, columns)
    n = _write_frame(ws, 1, columns, frame, {"Date": f.date, DATE_FORMAT: f.date})
    ws.add_table(0, 0, max(n, 1), len(columns) - 1, {"name": "Activities", "style": "Table Style Light 9",
                                      "columns": [{"header": c, "header_format": f.input_header} for c in columns]})
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 11, f.date)
    ws.set_column(2, 2, 20)
    ws.set_column(3, 3, 50)
    ws.freeze_panes(1, 0)
    ws.data_validation(1, 2, 1_048_575, 2, {"validate": "list", "source": "=LeadQ_ActivityTypes", "error_type": "warning",
                                            "error_title": "Activity", "error_message": "Not an activity type of rules.json."})


def _qualification_sheet(ws, rules: Rules, f: _Formats, frame) -> None:
    checklist = rules.checklist
    columns = ["Lead ID"] + [c.id for c in checklist.criteria] + ["Notes"]
    columns += _extra(frame, columns)
    n = _write_frame(ws, 1, columns, frame, {DATE_FORMAT: f.date})
    ws.add_table(0, 0, max(n, 1), len(columns) - 1, {
        "name": "Qualification", "style": "Table Style Light 9",
        "columns": [{"header": c, "header_format": f.input_header} for c in columns]})
    for i, c in enumerate(checklist.criteria, start=1):
        ws.write_comment(0, i, f"{checklist.name}: {c.question}", {"author": "LeadQ", "x_scale": 1.6})
        ws.data_validation(1, i, 1_048_575, i, {"validate": "list", "source": "=LeadQ_Answers", "error_type": "warning",
                                                "error_title": c.label,
                                                "error_message": "Answer Yes / No (Oui / Non, x, 1/0) or leave blank."})
    ws.set_column(0, 0, 10)
    ws.set_column(1, len(columns) - 2, 14)
    ws.set_column(len(columns) - 1, len(columns) - 1, 40)
    ws.freeze_panes(1, 1)


def _summary_placeholder(ws, f: _Formats) -> None:
    from ..core.report.page import TITLE_ROWS
    ws.hide_gridlines(2)
    ws.write_string(0, 0, "LeadQ — Summary", f.title)
    ws.write_string(2, 0, "Press Refresh (or run `leadq refresh` on this file) to build the summary.", f.note)
    ws.insert_button(0, 6, {"macro": REFRESH_MACRO, "caption": "Refresh", "width": 120, "height": 32})
    ws.set_row(0, 30)
    ws.set_column(0, 0, 24)
    # How the report prints (core.report.page), as the file door writes it: the Refresh button keeps the
    # sheet's page setup and sets only the print area (the part of it xlwings can set on every engine).
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, TITLE_ROWS - 1)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)


def _details_sheet(ws, f: _Formats) -> None:
    ws.write_row(0, 0, LEDGER_COLUMNS, f.computed_header)
    for i, c in enumerate(LEDGER_COLUMNS):
        ws.set_column(i, i, DETAIL_WIDTHS[c])
    ws.freeze_panes(1, 0)


def _settings_sheet(wb, ws, rules: Rules, f: _Formats, lite: bool = False) -> dict[str, str]:
    ws.write_row(0, 0, ["Setting", "Value", "Help"], f.input_header)
    rules_row = (("Rules file", "sheet:Rules", "sheet:Rules: the rules are the JSON in the Rules sheet (xlwings Lite has "
                                               "no folder beside the workbook); check them with the Check rules script.")
                 if lite else ("Rules file", "rules.json", "Path of rules.json, relative to this workbook's folder."))
    rows = [rules_row,
            ("As-of date", None, "Date ages are measured at (blank: today). Same data + same date = same scores."),
            ("Last refresh", None, "Written by LeadQ."),
            ("Status", None, "Written by LeadQ: OK, or what went wrong."),
            ("Activities source", None, "Blank: the Activities sheet. Or a log too big for a sheet: events.parquet, "
                                        "events/*.parquet, events.csv or crm.duckdb#events (relative to this folder)."),
            ("Score details file", None, "Where the full Score details go when they pass a sheet's 1,048,576 rows "
                                         "(blank: WORKBOOK.score-details.parquet beside this workbook)."),
            ("Date order", "auto", "How dates like 03/04/2026 are read: auto (each column tells by a day above 12; "
             "none: day first, with a warning), DMY (03/04 = 3 April), MDY (US: March 4) or YMD."),
            (JOB_LABEL, JOBS[0], "What the Run button beside runs: " + ", ".join(JOBS[:-1]) + " or " + JOBS[-1]
             + " (the result is written in Status; Refresh buttons on Leads and Summary always refresh).")]
    if lite:                # no VBA, no buttons: Lite lists its scripts in its own task pane
        rows = rows[:-1]
    for r, (k, v, h) in enumerate(rows, start=1):
        ws.write_string(r, 0, k, f.text)
        if v:
            ws.write_string(r, 1, v, f.text)
        ws.write_string(r, 2, h, f.note)
    order = next(i for i, r in enumerate(rows, start=1) if r[0] == "Date order")
    ws.data_validation(order, 1, order, 1, {"validate": "list", "source": list(DATE_ORDERS), "error_type": "warning"})
    if not lite:
        job = len(rows)
        ws.data_validation(job, 1, job, 1, {"validate": "list", "source": list(JOBS), "error_type": "stop",
                                            "error_title": JOB_LABEL, "error_message": "Choose one of the jobs in the list."})
        ws.insert_button(job, 3, {"macro": REFRESH_MACRO, "caption": "Run", "width": 90, "height": 22})
    top = len(rows) + 2
    ws.write_row(top, 0, ["Column mapping", "Your header"], f.input_header)
    ws.write_string(top, 2, "Only if LeadQ does not recognise a column of your export: write its header beside the "
                    "LeadQ field it holds (e.g. close_value beside Amount). A mapping beats every known alias.", f.note)
    fields = [mapping_label(sheet, name) for sheet, names in MAPPING_SHEETS.items() for name in names]
    for r, label in enumerate(fields, start=top + 1):
        ws.write_string(r, 0, label, f.text)
    ws.set_column(1, 1, 16, f.date)
    ws.set_column(0, 0, 22)
    ws.set_column(2, 2, 60)
    ws.write_row(0, 4, ["Deal stages", "Answers", "Activity types"], f.input_header)
    stages = [s["stage"] for s in rules.pipeline]
    for r, s in enumerate(stages, start=1):
        ws.write_string(r, 4, s)
    for r, a in enumerate(ANSWER_CHOICES, start=1):
        ws.write_string(r, 5, a)
    types = list(rules.activities)
    for r, t in enumerate(types, start=1):
        ws.write_string(r, 6, t)
    ws.set_column(4, 6, 20)
    wb.define_name("LeadQ_DealStages", f"=Settings!$E$2:$E${len(stages) + 1}")
    wb.define_name("LeadQ_Answers", f"=Settings!$F$2:$F${len(ANSWER_CHOICES) + 1}")
    wb.define_name("LeadQ_ActivityTypes", f"=Settings!$G$2:$G${len(types) + 1}")
    return {"stages": "=LeadQ_DealStages"}


SHIM = '''"""Called by every button of {name}.xlsm (xlwings runs `import {name}; {name}.main()`): Refresh on
Leads and Summary refreshes; Run on Settings runs the job chosen beside it (Settings > Job to run)."""

from addin.macros import refresh  # noqa: F401  (the one job of earlier versions' shim)
from addin.macros import run_button


def main():
    run_button()
'''


def write_shim(workbook: Path) -> Path:
    """NAME.py beside NAME.xlsm: the module the workbook's Refresh button imports."""
    path = Path(workbook).with_suffix(".py")
    path.write_text(SHIM.format(name=Path(workbook).stem), encoding="utf-8")
    return path


def main(argv=None) -> int:
    """`python -m addin.io.template [OUT.xlsm]`: rebuild the template (default workbook_template.xlsm)."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m addin.io.template", description="Rebuild LeadQ's workbook template.")
    parser.add_argument("out", nargs="?", default="workbook_template.xlsm", help="the .xlsm to write (default: %(default)s)")
    out = Path(parser.parse_args(sys.argv[1:] if argv is None else argv).out)
    if out.suffix.lower() != ".xlsm":
        parser.error(f"{out}: the template is a macro workbook and must end in .xlsm")
    build_workbook(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
