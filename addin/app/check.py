"""The check-rules job: is a rules file valid, and what does it hold — for a path, or a workbook's rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.rules import Rules
from ..errors import Problem
from ..settings import check_rules_file, rules_location
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .inputs import WorkbookInput


@dataclass
class RulesCheck:
    path: Path | None                 # None: the bundled default rules
    rules: Rules | None               # None when invalid
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.rules is not None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        """One sentence for a Status cell."""
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
    """Check the rules file the workbook's Settings (or rules.json beside it) names."""
    path, _ = rules_location(inp.path, inp.settings, inp.settings_rows)
    if path is None:
        return RulesCheck(None, None)
    return check_file(path)
