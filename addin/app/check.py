"""The check-rules job: is a rules file valid, and what does it hold — for a path, or a workbook's rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.rules.model import Rules
from ..errors import Problem
from ..settings import check_rules_file, rules_location

if TYPE_CHECKING:
    from .inputs import WorkbookInput


@dataclass
class RulesCheck:
    path: Path | None                 # None: the bundled default rules (or the rules kept in a sheet: `label`)
    rules: Rules | None               # None when invalid
    problems: list[Problem] = field(default_factory=list)
    label: str | None = None          # what was checked when it is not a file: "the Rules sheet"

    @property
    def valid(self) -> bool:
        return self.rules is not None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        """One sentence for a Status cell."""
        name = self.label or (self.path.name if self.path is not None else None)
        if name is not None and self.path is None:
            if self.valid:
                return f"{name} is valid: {len(self.rules.fit)} fit rules, {len(self.rules.activities)} activity types"
            return f"{len(self.errors)} problem(s) in {name}: " + " | ".join(str(p) for p in self.errors)
        if self.path is None:
            return "no rules file: the bundled default rules are used (set Rules file on Settings)"
        if self.valid:
            return f"{self.path.name} is valid: {len(self.rules.fit)} fit rules, {len(self.rules.activities)} activity types"
        return f"{len(self.errors)} problem(s) in {self.path.name}: " + " | ".join(str(p) for p in self.errors)


def check_file(path) -> RulesCheck:
    """Check one rules file (JSON Schema, then meaning), with located problems."""
    path = Path(path)
    rules, problems = check_rules_file(path)
    return RulesCheck(path, rules, problems)


def check_input(inp: WorkbookInput) -> RulesCheck:
    """Check the rules the workbook's Settings name: its Rules sheet, a file, or rules.json beside it."""
    from .. import rules_sheet
    from ..settings import chosen_rules_sheet
    sheet = chosen_rules_sheet(inp.settings, inp.settings_rows, inp.rules_sheet)
    if sheet is not None:
        rules, problems = rules_sheet.check_sheet(sheet)
        return RulesCheck(None, rules, problems, label=f"the {sheet.name} sheet")
    path, _ = rules_location(inp.path, inp.settings, inp.settings_rows)
    if path is None:
        return RulesCheck(None, None)
    return check_file(path)
