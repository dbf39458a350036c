"""LeadQ: lead scoring and qualification for Excel workbooks.

The public API works on pandas DataFrames, so a notebook can use the engine without a workbook.
"""

from .core.evaluate import Evaluation, evaluate
from .core.rules import Rules, check_rules, load_rules, schema
from .errors import LeadQError, Problem, RulesError, WorkbookError

__all__ = ["Evaluation", "LeadQError", "Problem", "Rules", "RulesError", "WorkbookError",
           "check_rules", "evaluate", "load_rules", "schema"]
__version__ = "0.1.0"
