"""LeadQ: lead scoring and qualification for Excel workbooks.

The public API works on pandas DataFrames, so a notebook can use the engine without a workbook.
"""

from .core.evaluate import Evaluation, evaluate
from .core.explain import Explanation, explain
from .core.rules import Rules, check_rules, load_rules, schema
from .core.summary import Summary, summarise
from .errors import LeadQError, Problem, RulesError, WorkbookError

__all__ = ["Evaluation", "Explanation", "LeadQError", "Problem", "Rules", "RulesError", "Summary", "WorkbookError",
           "check_rules", "evaluate", "explain", "load_rules", "refresh", "schema", "summarise"]


def refresh(workbook, rules=None, as_of=None, output=None):
    """Score a workbook file headlessly and write the results into it (or into `output`)."""
    from .refresh import refresh as _refresh
    return _refresh(workbook, rules=rules, as_of=as_of, output=output)
__version__ = "0.1.0"
