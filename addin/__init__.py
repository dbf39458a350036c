"""LeadQ: lead scoring and qualification for Excel workbooks.

The public API works on pandas DataFrames, so a notebook can use the engine without a workbook.
Names are imported on first use, so that `leadq --help` and `leadq check-rules` start without
loading pandas.
"""

from importlib import import_module

from .errors import LeadQError, Problem, RulesError, WorkbookError

__version__ = "0.1.0"
__all__ = ["Calibration", "Evaluation", "Explanation", "Goal", "LeadQError", "Problem", "Rules", "RulesError", "Summary",
           "WorkbookError", "WorkbookInput", "calibrate", "calibrate_file", "check_file", "check_rules", "evaluate",
           "explain", "explain_file", "load_rules", "new_workbook", "preview", "refresh", "schema", "summarise"]

# The jobs (addin.app) and the engine (addin.core), imported on first use under their own signatures
# (tests/test_doors.py compares them).
_LAZY = {"Calibration": ".core.calibrate.fit", "Goal": ".core.calibrate.suggest", "calibrate": ".core.calibrate.fit",
         "Evaluation": ".core.model", "evaluate": ".core.evaluate", "Explanation": ".core.report.explain",
         "explain": ".core.report.explain", "Rules": ".core.rules.model", "schema": ".core.rules.model",
         "Summary": ".core.report.summary", "summarise": ".core.report.summary", "check_rules": ".settings", "load_rules": ".settings",
         "refresh": ".app.refresh", "preview": ".app.preview", "explain_file": ".app.explain",
         "calibrate_file": ".app.calibrate", "check_file": ".app.check", "WorkbookInput": ".app.inputs",
         "new_workbook": ".refresh"}
_RENAMED = {"check_rules": "check_rules_file"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'addin' has no attribute {name!r}")
