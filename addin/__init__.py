"""LeadQ: lead scoring and qualification for Excel workbooks.

The public API works on pandas DataFrames, so a notebook can use the engine without a workbook.
Names are imported on first use, so that `leadq --help` and `leadq check-rules` start without
loading pandas.
"""

from importlib import import_module

from .errors import LeadQError, Problem, RulesError, WorkbookError

__version__ = "0.1.0"
__all__ = ["Calibration", "Evaluation", "Explanation", "Goal", "LeadQError", "Problem", "Rules", "RulesError", "Summary",
           "WorkbookError", "calibrate", "check_rules", "evaluate", "explain", "load_rules", "refresh", "schema", "summarise"]

_LAZY = {"Calibration": ".core.calibrate", "Goal": ".core.suggest", "calibrate": ".core.calibrate",
         "Evaluation": ".core.evaluate", "evaluate": ".core.evaluate", "Explanation": ".core.explain",
         "explain": ".core.explain", "Rules": ".core.rules", "check_rules": ".core.rules", "load_rules": ".core.rules",
         "schema": ".core.rules", "Summary": ".core.summary", "summarise": ".core.summary"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'addin' has no attribute {name!r}")


def refresh(workbook, rules=None, as_of=None, output=None):
    """Score a workbook file headlessly and write the results into it (or into `output`)."""
    from .refresh import refresh as _refresh
    return _refresh(workbook, rules=rules, as_of=as_of, output=output)
