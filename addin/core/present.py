"""What LeadQ writes where, decided once for every writer (the headless zip writer and xlwings).

Pure: turns an Evaluation into the values of the owned Leads columns, the Score details table and
the colour rules; the writers only put these into cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .evaluate import Evaluation
from .headers import LEADS_OUTPUTS
from .scoring import LEDGER_COLUMNS
from .vocabulary import ACTION_COLORS, STAGES

EXCEL_MAX_ROWS = 1_048_576
OWNED_NAME = "_LeadQ_Outputs"        # hidden defined name recording the Leads columns LeadQ owns
SCORE_DETAILS = "Score details"
SUMMARY = "Summary"
HISTORY_NAME = "_LeadQ_History"      # hidden defined name: the History sheet is LeadQ's (it may append to it)

NUMBER_FORMATS = {"Fit score": "0.0", "Engagement score": "0.0", "Score": "0.0", "Stage since": "yyyy-mm-dd",
                  "Days in stage": "0"}
DATE_OUTPUTS = {"Stage since"}       # written as Excel date serials
WIDTHS = {"Fit score": 9, "Engagement score": 12, "Score": 8, "Grade": 7, "Stage": 14, "Checklist": 40,
          "Interests": 24, "Next action status": 14, "Why": 60, "Stage since": 11, "Days in stage": 9}
DETAIL_FORMATS = {"Raw points": "0.00", "Decay factor": "0.0000", "Cap": "0.00", "Points": "0.00"}
DETAIL_WIDTHS = {"Lead ID": 12, "Rule": 26, "Kind": 9, "Matched": 40, "Count": 8, "Raw points": 11,
                 "Decay factor": 12, "Cap": 9, "Points": 9}
HEADER_FILL = "#1F3864"          # computed-column headers: dark blue, white bold text
HEADER_FONT = "#FFFFFF"
INPUT_HEADER_FILL = "#D9E1F2"


@dataclass(frozen=True)
class ColorRule:
    """Cells of `column` whose text equals `text` get this fill and font colour."""

    column: str
    text: str
    fill: str
    font: str


def contrast(fill: str) -> str:
    """Black or white text, whichever reads better on the fill."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "#FFFFFF"


def color_rules(ev: Evaluation) -> list[ColorRule]:
    rules = ev.rules
    out = [ColorRule("Stage", rules.stage_label(s), rules.stage_color(s), contrast(rules.stage_color(s))) for s in STAGES]
    out += [ColorRule("Next action status", t, f, c) for t, (f, c) in ACTION_COLORS.items()]
    return out


def owned_positions(headers: list[str], first_col: int, marked: list[int] | None = None) -> tuple[list[int], bool]:
    """Columns (0-based) where LeadQ's outputs go on Leads, and whether they are new.

    `marked` are the columns recorded as LeadQ's on the last refresh; they are reused when
    their headers still read as the outputs, else an existing block of output headers is,
    else the outputs go right after the last header. A user column with an output's name is
    an error, never overwritten.
    """
    from ..errors import WorkbookError
    from .text import key
    want = [key(n) for n in LEADS_OUTPUTS]
    if marked:
        names = [headers[c - first_col] if 0 <= c - first_col < len(headers) else None for c in marked]
        if [key(n) for n in names] == want:
            return list(marked), False
    keys = [key(h) for h in headers]
    for start in range(len(keys) - len(want) + 1):
        if keys[start:start + len(want)] == want:
            return [first_col + start + i for i in range(len(want))], False
    clash = [h for h in headers if key(h) in want]
    if clash:
        raise WorkbookError(f'Leads has a column "{clash[0]}", a name LeadQ writes its results under; rename that '
                            'column (e.g. "Old score") so LeadQ can add its own')
    start = first_col + len(headers)
    return list(range(start, start + len(want))), True


def excel_text(value):
    """Text as Excel must store it when typed through its object model: a leading = + - @ would
    start a formula, so such text gets Excel's text prefix (an apostrophe, not shown)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def owned_values(ev: Evaluation, n_rows: int) -> pd.DataFrame:
    """The output columns for every input row (rows the engine skipped stay blank)."""
    out = ev.leads.reindex(range(n_rows))[LEADS_OUTPUTS]
    for c in out.columns:
        if c in DATE_OUTPUTS:
            out[c] = excel_serial(out[c])
        elif out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].astype(object).where(out[c].notna(), "")
    return out


def excel_serial(values) -> pd.Series:
    """Dates (and date-times) as Excel serial numbers; NaT as NaN."""
    from .parse import EXCEL_EPOCH
    s = pd.to_datetime(pd.Series(values))
    return (s - EXCEL_EPOCH) / pd.Timedelta(days=1)


def details_values(ev: Evaluation) -> tuple[pd.DataFrame, int]:
    """The Score details table, cut to what a sheet can hold; returns (rows, rows left out)."""
    d = ev.details[LEDGER_COLUMNS]
    room = EXCEL_MAX_ROWS - 1
    if len(d) > room:
        return d.iloc[:room], len(d) - room
    return d, 0


def settings_status(ev: Evaluation | None, refreshed_at: str, error: str | None = None) -> dict[str, str]:
    """Values LeadQ writes on the Settings sheet, by row label."""
    if error:
        return {"Last refresh": refreshed_at, "Status": f"Failed: {error}"}
    n_prob = ev.problem_total
    used = f" with {ev.rules_source}" if ev.rules_source else ""
    return {"Last refresh": refreshed_at,
            "Status": f"OK — {len(ev.leads)} leads scored{used}, {n_prob} data problem{'s' * (n_prob != 1)} (see Summary)"}


def stage_counts(ev: Evaluation) -> dict[str, int]:
    counts = pd.Series(ev.context["Stage"]).value_counts()
    return {s: int(counts.get(s, 0)) for s in STAGES}


__all__ = ["ColorRule", "color_rules", "owned_values", "details_values", "settings_status", "contrast",
           "NUMBER_FORMATS", "WIDTHS", "OWNED_NAME", "SCORE_DETAILS", "SUMMARY"]
