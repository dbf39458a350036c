"""What LeadQ writes where, decided once for every writer (the headless zip writer and xlwings).

Pure: turns an Evaluation into the values of the owned Leads columns, the Score details table and
the colour rules; the writers only put these into cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..model import Evaluation
from ..scoring import LEDGER_COLUMNS
from ..values.vocabulary import ACTION_COLORS, STAGES
from .outputs import BY_NAME, COLUMNS, outputs

EXCEL_MAX_ROWS = 1_048_576
SCORE_DETAILS = "Score details"
SUMMARY = "Summary"

# Derived from the output column registry (core.report.outputs.COLUMNS), never spelled here.
NUMBER_FORMATS = {c.name: c.number_format for c in COLUMNS if c.number_format}
DATE_OUTPUTS = {c.name for c in COLUMNS if c.kind == "date"}       # written as Excel date serials
NUMERIC_OUTPUTS = {c.name for c in COLUMNS if c.kind in ("number", "date")}   # number cells; the others text
WIDTHS = {c.name: c.width for c in COLUMNS}
DETAIL_FORMATS = {"Raw points": "0.00", "Decay factor": "0.0000", "Cap": "0.00", "Points": "0.00"}
DETAIL_WIDTHS = {"Lead ID": 12, "Rule": 26, "Kind": 9, "Matched": 40, "Count": 8, "Raw points": 11,
                 "Decay factor": 12, "Cap": 9, "Points": 9}
HEADER_FILL = "#1F3864"          # computed-column headers: dark blue, white bold text
HEADER_FONT = "#FFFFFF"
INPUT_HEADER_FILL = "#D9E1F2"
# Cell formats as tokens (the keywords of the file writer's StyleBook.xf); each writer renders them.
LEADS_HEADER_FORMAT = {"bold": True, "color": HEADER_FONT, "fill": HEADER_FILL, "wrap": True, "valign": "center"}
DETAILS_HEADER_FORMAT = {"bold": True, "color": HEADER_FONT, "fill": HEADER_FILL}


@dataclass(frozen=True)
class ColorRule:
    """Cells of `column` whose text equals `text` get this fill and font colour."""

    column: str
    text: str
    fill: str
    font: str


def currency_format(currency: str) -> str:
    """Excel's number format for whole amounts in the rules' currency."""
    symbol = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "CAD": "$"}.get(currency, currency)
    return f'#,##0 "{symbol}"' if currency in ("EUR", "CHF") else f'"{symbol}"#,##0'


def contrast(fill: str) -> str:
    """Black or white text, whichever reads better on the fill."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "#FFFFFF"


def color_rules(ev: Evaluation) -> list[ColorRule]:
    rules = ev.rules
    out = [ColorRule("Stage", rules.stage_label(s), rules.stage_color(s), contrast(rules.stage_color(s))) for s in STAGES]
    out += [ColorRule("Next action status", t, f, c) for t, (f, c) in ACTION_COLORS.items()]
    return out


def output_format(name: str) -> dict:
    """The cell format of an output column's values on Leads."""
    col = BY_NAME.get(name)
    fmt = {"num_fmt": col.number_format} if col and col.number_format else {}
    return {**fmt, "halign": col.align} if col and col.align else fmt


def detail_format(name: str) -> dict:
    """The cell format of a Score details column's values."""
    return {"num_fmt": DETAIL_FORMATS[name]} if name in DETAIL_FORMATS else {}


def excel_text(value):
    """Text as it must be written through Excel's object model (xlwings `Range.value`, Office.js
    `range.values`) to be stored as that text: Excel treats written text as typed input, so
    "001001" would become the number 1001, "1/2" or "2018-12-31" a date, "TRUE" a boolean, and a
    leading = + - @ would start a formula (xlwings #1269, office-js #229). Any text Excel could
    reinterpret gets Excel's text prefix, an apostrophe, which is not stored. The test is wider than
    Excel's parser on purpose (locales differ: "1,5" is a number in French): the prefix is harmless
    on text that would have stayed text."""
    if isinstance(value, str) and value:
        first = value.lstrip()[:1]
        if (not first.isalpha() or value.strip().upper() in _WORDS
                or (len(value.split()) <= 3 and any(ch.isdigit() for ch in value))):
            return "'" + value
    return value


_WORDS = {"TRUE", "FALSE", "VRAI", "FAUX", "WAHR", "FALSCH", "VERDADERO", "FALSO"}     # booleans, as locales type them


def owned_values(ev: Evaluation, n_rows: int, objects: bool = True) -> pd.DataFrame:
    """The output columns for every input row (rows the engine skipped stay blank). objects: text columns
    as Python objects, blanks as ""; else a column of text held in Arrow stays so, blanks missing (a
    writer that leaves blanks out either way: no round trip through Python objects)."""
    out = ev.leads.reindex(index=range(n_rows), columns=outputs())
    for c in out.columns:
        if c in DATE_OUTPUTS:
            out[c] = excel_serial(out[c])
        elif not objects and isinstance(out[c].dtype, pd.StringDtype) and out[c].dtype.storage == "pyarrow":
            continue
        elif out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].astype(object).where(out[c].notna(), "")
    return out


def excel_serial(values) -> pd.Series:
    """Dates (and date-times) as Excel serial numbers; NaT as NaN."""
    from ..values.parse import EXCEL_EPOCH
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
    from ...problems import grouped
    lines = len(grouped(ev.problems, ev.problem_counts))
    on = f" on {lines:,} line{'s' * (lines != 1)}" if lines < n_prob else ""
    return {"Last refresh": refreshed_at,
            "Status": f"OK — {len(ev.leads)} leads scored{used}, {n_prob} data problem{'s' * (n_prob != 1)}{on} (see Summary)"}


def stage_counts(ev: Evaluation) -> dict[str, int]:
    counts = pd.Series(ev.context["Stage"]).value_counts()
    return {s: int(counts.get(s, 0)) for s in STAGES}


__all__ = ["ColorRule", "color_rules", "owned_values", "details_values", "settings_status", "contrast",
           "NUMBER_FORMATS", "WIDTHS", "SCORE_DETAILS", "SUMMARY"]
