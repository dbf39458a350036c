"""Rules kept inside the workbook: a LeadQ-owned *Rules* sheet holding the rules.json text, one line per row.

xlwings Lite has no folder beside the workbook (the book's path is just its name, looked up in the
browser's throw-away file system), so a Lite workbook carries its rules in a sheet. Desktop and CLI
users may do the same. The sheet's A1 says what it is (LeadQ's mark: a sheet without it is the
user's and is never read as rules); the JSON starts in A2, one line per row, and is validated by
the same checks as rules.json, each problem named by its cell: `Rules!A25: $.activities.webinar.points …`.

Settings choose: *Rules file* `sheet:Rules` (or another sheet's name) reads that sheet; a blank
*Rules file* reads the book's LeadQ Rules sheet when there is one, else rules.json beside the book.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .core.rules import model as core_rules
from .core.rules.model import Rules
from .core.values.text import key
from .errors import Problem, RulesError
from .problems import RULES_SHEET_EMPTY

SHEET = "Rules"
SUGGESTED = "Rules (suggested)"      # where Lite's Calibrate writes the suggested rules (no folder for a file)
PREFIX = "sheet:"
TITLE = "LeadQ rules: the rules.json text, one line per row from row 2 (check it with Check rules; copy it out with `leadq rules-out`)"
MARK = "LeadQ rules"
FIRST_ROW = 2
MAX_LINES = 20_000


@dataclass(frozen=True)
class RulesSheet:
    """Column A of a LeadQ Rules sheet from FIRST_ROW down, as read from the book or the file."""

    name: str
    lines: tuple
    top_row: int = FIRST_ROW


def is_ours(first_cell) -> bool:
    """A1 of a Rules sheet LeadQ wrote starts with its mark."""
    return isinstance(first_cell, str) and first_cell.startswith(MARK)


def named_sheet(configured) -> str | None:
    """The sheet a Settings *Rules file* value names ("sheet:Rules" -> "Rules"), or None for a file or a blank."""
    if isinstance(configured, str) and configured.strip().casefold().startswith(PREFIX):
        return configured.strip()[len(PREFIX):].strip() or SHEET
    return None


def wanted(settings: dict) -> str:
    """The name of the Rules sheet a reader should read for these Settings."""
    from .settings import RULES_FILE
    return named_sheet(settings.get(key(RULES_FILE))) or SHEET


def _line(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():     # a cell holding a bare number (a line like `10`)
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_column(name: str, column: list) -> RulesSheet | None:
    """A Rules sheet from its column A values (A1 first); None when A1 lacks LeadQ's mark."""
    if not column or not is_ours(column[0]):
        return None
    lines = [_line(v) for v in column[1:MAX_LINES + 1]]
    while lines and not lines[-1].strip():
        lines.pop()
    return RulesSheet(name, tuple(lines))


def text_of(sheet: RulesSheet) -> str:
    return "\n".join(sheet.lines)


def rows_of(text: str) -> list[list[str]]:
    """The cells of a Rules sheet holding `text`: the title in A1, then one line per row."""
    return [[TITLE]] + [[line] for line in text.lstrip("\ufeff").splitlines()]


def _relocate(p: Problem, sheet: RulesSheet) -> Problem:
    if not p.line:
        return dataclasses.replace(p, where=f"{sheet.name}!A{sheet.top_row}" + (f": {p.path}" if p.path else ""),
                                   sheet=sheet.name)
    cell = f"A{sheet.top_row + p.line - 1}"
    return dataclasses.replace(p, where=f"{sheet.name}!{cell}" + (f": {p.path}" if p.path else ""), sheet=sheet.name,
                               row=sheet.top_row + p.line - 1, column="A", cell=cell)


def check_sheet(sheet: RulesSheet) -> tuple[Rules | None, list[Problem]]:
    """Validate the sheet's rules as rules.json is validated; every problem named by its cell."""
    if not any(line.strip() for line in sheet.lines):
        p = Problem(RULES_SHEET_EMPTY, f"{sheet.name}!A{sheet.top_row}",
                    "the Rules sheet holds no rules: paste the rules.json text from A2 down, one line per row "
                    "(or run `leadq rules-in`)", "error", sheet=sheet.name)
        return None, [p]
    rules, problems = core_rules.check_rules(text_of(sheet), sheet.name)
    return rules, [_relocate(p, sheet) for p in problems]


def load_sheet(sheet: RulesSheet) -> Rules:
    """The sheet's rules, or a RulesError listing every problem by cell."""
    rules, problems = check_sheet(sheet)
    if rules is None:
        errors = [p for p in problems if p.severity == "error"]
        raise RulesError(f"{len(errors)} problem(s) in the {sheet.name} sheet: " + "; ".join(map(str, errors)), problems)
    return rules
