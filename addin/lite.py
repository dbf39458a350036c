"""LeadQ in xlwings Lite: the Excel jobs with no Python install and no VBA (Windows, Mac, the web).

xlwings Lite runs Python (Pyodide) inside Excel: its `main.py` imports this module, whose `@script`
functions appear in Lite's script list (Refresh, Preview, Calibrate, Check rules) and whose `@func`
functions become worksheet functions. Every job goes through the application layer (addin.app) and
the Excel door's reader and renderers (addin.excel.read, addin.macros), as the desktop buttons do.

What differs from the desktop (Lite's limits: no folder beside the workbook, no threads, 2 GB):
- the rules come from the book's *Rules* sheet (addin.rules_sheet) or are the bundled defaults, said
  in Status; a Settings *Rules file* naming a file is an error naming its cell;
- Calibrate writes the suggested rules to a *Rules (suggested)* sheet, not a file; Preview compares
  with a rules sheet (Settings *Preview rules* `sheet:NAME`, default *Rules (suggested)*);
- the activity log is the Activities sheet (no DuckDB, Spark, Parquet or CSV source);
- worksheet functions get no calling book in Lite: they take the Rules sheet as their `rules`
  argument (e.g. `Rules!A1:A2000`), and without it say in their first header that the bundled
  default rules were used.
"""

from __future__ import annotations

import functools
from pathlib import Path

import xlwings as xw
from xlwings import arg, func, script

from . import macros, rules_sheet
from .app.calibrate import calibrate_input
from .app.check import check_input
from .app.explain import explain_input
from .app.inputs import WorkbookInput
from .app.preview import preview_input
from .app.refresh import compute
from .core.report.present import HEADER_FILL, excel_text
from .core.report.preview import SHEET as PREVIEW_SHEET
from .core.report.preview import sheet_rows
from .core.rules.model import rules_text
from .core.scoring import LEDGER_COLUMNS
from .core.values.headers import LEADS_OUTPUTS
from .core.values.text import key
from .errors import LeadQError, Problem, WorkbookError
from .excel.read import read_book
from .problems import LITE_NO_FOLDER
from .settings import PREVIEW_RULES, RULES_FILE

SUGGESTED_SHEET = rules_sheet.SUGGESTED
NO_FOLDER = ("xlwings Lite has no folder beside the workbook: keep the rules in the workbook's Rules sheet "
             '(write "sheet:Rules" here, or clear the cell; `leadq rules-in BOOK rules.json` copies a rules.json in)')
BUNDLED_NOTE = "[bundled default rules: pass the Rules sheet as the rules argument, e.g. Rules!A1:A2000]"


def lite_input(book, tables: bool = True) -> WorkbookInput:
    """The book's input as Lite sees it: no path (nothing lies beside the book), rules from its Rules sheet."""
    inp = read_book(book, tables=tables)
    configured = inp.settings.get(key(RULES_FILE))
    if isinstance(configured, str) and configured.strip() and rules_sheet.named_sheet(configured) is None:
        row = inp.settings_rows.get(key(RULES_FILE))
        where = f"Settings!B{row}" if row else "Settings (Rules file)"
        p = Problem(LITE_NO_FOLDER, where, NO_FOLDER, "error", sheet="Settings")
        raise WorkbookError(str(p), [p])
    inp.path = None
    return inp


def _guard(job: str | None):
    """Lite's entry point: the book Lite passes, through the macros' one error guard (macros.guarded_call)."""
    def wrap(action):
        @functools.wraps(action)
        def run(book: xw.Book, now: str | None = None) -> None:
            macros.guarded_call(book, action, job, now)
        return run
    return wrap


@script(name="LeadQ: Refresh")
@_guard(None)
def refresh(book, stamp: str) -> None:
    """Score the book and write LeadQ's columns, Score details, Lead history and Summary (as the Refresh button)."""
    macros._refuse_not_ours(book)
    macros.refresh_book(book, lite_input(book), stamp)     # all-or-nothing, as the Refresh button


@script(name="LeadQ: Check rules")
@_guard("rules check")
def check_rules(book, stamp: str) -> None:
    """Check the rules the book uses (its Rules sheet); the verdict, with cells, in Settings' Status."""
    inp = lite_input(book, tables=False)
    macros._status(book, inp.settings_rows, {"Status": check_input(inp).summary()}, inp.settings)


def _write_rows(book, name: str, rows: list[list]) -> None:
    sheet = macros._fresh_sheet(book, name)
    width = max(len(r) for r in rows)
    sheet.range((1, 1)).value = [[excel_text(v) for v in r] + [None] * (width - len(r)) for r in rows]


@script(name="LeadQ: Calibrate")
@_guard("Calibration")
def calibrate(book, stamp: str) -> None:
    """Learn the points from won and lost deals: the Calibration sheet, and the suggested rules in a
    *Rules (suggested)* sheet (Lite has no folder for rules.suggested.json); never over the Rules sheet."""
    from .core.calibrate.view import CALIBRATION, sheet_blocks
    macros._refuse_not_ours(book, [CALIBRATION, SUGGESTED_SHEET])
    inp = lite_input(book)
    cal = calibrate_input(inp).calibration
    cells, _ = sheet_blocks(cal)
    _write_rows(book, CALIBRATION, cells)
    macros._apply(macros._sheet(book, CALIBRATION).range((1, 1)), {"bold": True, "size": 14})
    _write_rows(book, SUGGESTED_SHEET, rules_sheet.rows_of(rules_text(cal.suggested)))
    m = cal.metrics
    macros._status(book, inp.settings_rows, {"Status": f"Calibrated {stamp}: held-out AUC {m['auc_current']:.3f} now, "
                                                       f"{m['auc_suggested']:.3f} suggested; suggested rules in the "
                                                       f"{SUGGESTED_SHEET} sheet"}, inp.settings)


def _preview_sheet(book, inp: WorkbookInput):
    configured = inp.settings.get(key(PREVIEW_RULES))
    name = rules_sheet.named_sheet(configured) or SUGGESTED_SHEET
    if isinstance(configured, str) and configured.strip() and rules_sheet.named_sheet(configured) is None:
        row = inp.settings_rows.get(key(PREVIEW_RULES))
        raise LeadQError(f"Settings!B{row}: " + NO_FOLDER.replace("(write \"sheet:Rules\" here", f'(write "sheet:{SUGGESTED_SHEET}" here'))
    sh = macros._sheet(book, name)
    column = [r[0] for r in sh.used_range.options(ndim=2).value] if sh is not None else []
    found = rules_sheet.from_column(sh.name, column) if sh is not None else None
    if found is None:
        raise LeadQError(f'no LeadQ rules sheet "{name}" to preview: run Calibrate, or write the sheet\'s name as '
                         f'"sheet:NAME" in Settings "{PREVIEW_RULES}"')
    return found


@script(name="LeadQ: Preview rules")
@_guard("rules preview")
def preview_rules(book, stamp: str) -> None:
    """What the rules in another sheet (default *Rules (suggested)*) would change; only the Rules preview sheet changes."""
    macros._refuse_not_ours(book, [PREVIEW_SHEET])
    inp = lite_input(book)
    new = _preview_sheet(book, inp)
    done = preview_input(inp, rules_sheet.load_sheet(new))
    old, p = done.current, done.preview
    body = sheet_rows(p, old.rules.stage_label, title=f"{PREVIEW_SHEET} — {old.rules_source} → the {new.name} sheet, "
                                                      f"as of {old.as_of.date().isoformat()}")
    _write_rows(book, PREVIEW_SHEET, body)
    macros._apply(macros._sheet(book, PREVIEW_SHEET).range((1, 1)), {"bold": True, "size": 14, "color": HEADER_FILL})
    macros._status(book, inp.settings_rows, {"Status": f"OK — rules preview {stamp}: {p.leads} leads, "
                                                       f"{int((p.stage_counts['Change'] != 0).sum())} stages change, "
                                                       f"{len(p.warnings)} warning(s) — see the {PREVIEW_SHEET} sheet"},
                   inp.settings)


# ------------------------------------------------------------------ worksheet functions

def _function_input(leads, activities, qualification, rules) -> WorkbookInput:
    from .udfs import frame
    sheet = None
    if rules is not None:
        column = [r[0] if isinstance(r, list) else r for r in rules] if isinstance(rules, list) else [rules]
        sheet = rules_sheet.from_column(rules_sheet.SHEET, column)
        if sheet is None:
            raise LeadQError(f'the rules argument is not LeadQ\'s Rules sheet: pass its column from A1 '
                             f'(e.g. Rules!A1:A2000; A1 starts with "{rules_sheet.MARK}")')
    return WorkbookInput(frame(leads), frame(activities), frame(qualification), rules_sheet=sheet,
                         history_note="(no Lead history in a Lite worksheet function)")


def _with_note(rows: list[list], inp: WorkbookInput) -> list[list]:
    if inp.rules_sheet is None and rows and rows[0]:
        rows[0][0] = f"{rows[0][0]} {BUNDLED_NOTE}"
    return rows


@func
@arg("leads", ndim=2)
@arg("activities", ndim=2)
@arg("qualification", ndim=2)
@arg("rules", ndim=2)
def LEADQ_TABLE(leads, activities=None, qualification=None, as_of=None, rules=None):
    """LeadQ's computed columns for the whole Leads table (header row included), in one spilling array."""
    from .udfs import _cells, _error
    try:
        inp = _function_input(leads, activities, qualification, rules)
        ev, _ = compute(inp, as_of=None if as_of in (None, "") else as_of, as_of_where="the as_of argument")
        return _with_note(_cells(ev.leads.reindex(range(len(inp.leads)))[LEADS_OUTPUTS]), inp)
    except Exception as e:
        return _error(e)


@func
@arg("leads", ndim=2)
@arg("activities", ndim=2)
@arg("qualification", ndim=2)
@arg("rules", ndim=2)
def LEADQ_EXPLAIN(lead_id, leads, activities=None, qualification=None, as_of=None, rules=None):
    """One lead's score, rule by rule, then a row saying why it has its stage."""
    from .udfs import _cells, _error
    try:
        inp = _function_input(leads, activities, qualification, rules)
        ex = explain_input(inp, lead_id, as_of=None if as_of in (None, "") else as_of,
                           as_of_where="the as_of argument").explanation
        ledger = _cells(ex.ledger.astype({"Rule": object, "Kind": object}))
        rows = ledger + [[ex.lead["Lead ID"], "stage", "stage", ex.stage_reason] + [None] * (len(LEDGER_COLUMNS) - 4)]
        return _with_note(rows, inp)
    except Exception as e:
        return _error(e)


@func
@arg("rules", ndim=2)
def LEADQ_POINTS(activity_type, rules=None):
    """Points of one activity of this type in the Rules sheet given (else the bundled defaults, said)."""
    from .app.refresh import run_settings
    from .udfs import _error
    try:
        inp = _function_input([["Lead ID"]], None, None, rules)
        points = run_settings(inp).rules.activity_points(str(activity_type))
        return points if inp.rules_sheet is not None else f"{points} {BUNDLED_NOTE}"
    except KeyError as e:
        return f"LeadQ: {e.args[0]}"
    except Exception as e:
        return _error(e)[0][0]


MAIN_PY = '''"""xlwings Lite's main.py for a LeadQ workbook: the scripts and worksheet functions come from LeadQ."""
from addin.lite import (LEADQ_EXPLAIN, LEADQ_POINTS, LEADQ_TABLE, calibrate, check_rules,  # noqa: F401
                        preview_rules, refresh)
'''


def requirements_txt(wheel: str | None = None) -> str:
    """Lite's requirements.txt: LeadQ (its wheel's URL, or the release on PyPI) with scikit-learn, which the
    Calibrate script needs (an optional extra of LeadQ; Pyodide has its build)."""
    from . import __version__
    return f"{wheel or f'leadq=={__version__}'}\nscikit-learn\n"


def write_setup(folder) -> list[Path]:
    """Write main.py and requirements.txt for Lite's editor into `folder`; the paths written."""
    folder = Path(folder)
    out = [folder / "main.py", folder / "requirements.txt"]
    out[0].write_text(MAIN_PY, encoding="utf-8")
    out[1].write_text(requirements_txt(), encoding="utf-8")
    return out
