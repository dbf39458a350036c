"""Every part of a workbook LeadQ owns, listed once: its sheet, the hidden defined name that records
it, the signature that recognises it in a workbook made before the records, and who writes it.

Ownership checks (io.ownership), the Excel door's fresh-sheet step (addin.macros) and the Summary's
chart clean-up (io.parts.summary) all read this list; a part added here is refused, claimed and
cleaned everywhere without another edit. A user's own sheet named like one of these is theirs: every
door refuses to write it (and to read it as LeadQ's), leaving the file or book unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.calibrate.view import CALIBRATION
from ...core.history import COLUMNS as HISTORY_COLUMNS
from ...core.history import SHEET as HISTORY
from ...core.privacy import LOG_COLUMNS, PRIVACY_LOG
from ...core.report.present import SCORE_DETAILS, SUMMARY
from ...core.report.preview import SHEET as PREVIEW
from ...core.scoring import LEDGER_COLUMNS
from ...rules_sheet import MARK as RULES_MARK
from ...rules_sheet import SHEET as RULES
from ...rules_sheet import SUGGESTED as RULES_SUGGESTED


@dataclass(frozen=True)
class OwnedSheet:
    """A sheet LeadQ makes and rewrites (or appends to)."""

    sheet: str
    defined_name: str                    # hidden name pointing at the sheet: the record that it is LeadQ's
    header: tuple[str, ...] = ()         # signature: the column names LeadQ writes in its first row, or
    title: str = ""                      # signature: the title LeadQ writes in its first rows
    writers: tuple[str, ...] = ()        # the file writer and the Excel door's writer
    charts: bool = False                 # holds LeadQ's charts (part names: chart_part)

    def looks_ours(self, rows: list[list]) -> bool:
        """A sheet's values (first rows) are LeadQ's: empty, or carrying this part's signature."""
        cells = [v for r in rows for v in r if v not in (None, "")]
        if not cells:
            return True
        if self.header:
            first = [str(v) for v in rows[0]] if rows else []
            return all(c in first for c in self.header)
        return any(str(v).startswith(self.title) for r in rows[:3] for v in r)


OWNED: tuple[OwnedSheet, ...] = (
    OwnedSheet(SUMMARY, "_LeadQ_Summary", title="LeadQ — Summary",
               writers=("io.parts.summary.summary_writer", "macros.write_summary"), charts=True),
    OwnedSheet(SCORE_DETAILS, "_LeadQ_Details", header=tuple(LEDGER_COLUMNS),
               writers=("io.writer (Score details)", "macros.write_details")),
    OwnedSheet(HISTORY, "_LeadQ_History", header=tuple(HISTORY_COLUMNS),
               writers=("io.parts.history.write_history", "macros.write_history")),
    OwnedSheet(PREVIEW, "_LeadQ_Preview", title=PREVIEW, writers=("macros.preview_rules",)),
    OwnedSheet(CALIBRATION, "_LeadQ_Calibration", title="LeadQ — Calibration", writers=("macros.calibrate",)),
    OwnedSheet(PRIVACY_LOG, "_LeadQ_PrivacyLog", header=tuple(LOG_COLUMNS), writers=("app.forget._log",)),
    # the rules kept in the workbook (addin.rules_sheet): read by every door, written on request only
    OwnedSheet(RULES, "_LeadQ_Rules", title=RULES_MARK, writers=("io.rules_book.rules_in", "io.template (--lite)")),
    OwnedSheet(RULES_SUGGESTED, "_LeadQ_RulesSuggested", title=RULES_MARK, writers=("lite.calibrate",)),
)
BY_SHEET = {p.sheet: p for p in OWNED}
# Not here: the input sheets LeadQ reads and never writes — Leads (but for its output columns),
# Activities, Qualification and Overrides (a sheet named Overrides without LeadQ's columns is left
# alone with a warning, core.overrides). The Accounts are a Summary section, not a sheet.

# Cells and names LeadQ owns outside its sheets.
LEADS_OUTPUTS_NAME, LAYOUT_NAME = "_LeadQ_Outputs", "_LeadQ_Layout"     # core.report.outputs: the Leads output columns
JOB_LABEL = "Job to run"           # Settings: what the Run button on that sheet does (addin.macros.run_button)
# The Run button's jobs, as the template's drop-down shows them; each is the macro of that name in snake
# case in addin.macros (which derives its dispatch from this list). A new job: its macro, and its name here.
# Here, not in io.template: xlwings Lite imports the macros, and has no XlsxWriter.
JOBS = ("Refresh", "Preview rules", "Calibrate", "Check rules", "Export for CRM")
SETTING_NAMES = {"Last refresh": "_LeadQ_LastRefresh", "Status": "_LeadQ_Status"}   # the Settings cells LeadQ writes

CHART_PREFIX = "xl/charts/chartLeadQ"
DRAWING = "xl/drawings/drawingLeadQSummary.xml"


def chart_part(name: str) -> str:
    """The package part of the Summary chart named `name` in its layout (core.report.summary_layout.ChartSpec.name)."""
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"a chart name makes its part name: letters and digits only, not {name!r}")
    return f"{CHART_PREFIX}{name}.xml"


def owned(sheet: str) -> OwnedSheet:
    return BY_SHEET[sheet]
