"""The preview job: what a new rules file would change on a workbook's leads; writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.model import Evaluation
from ..core.report.preview import Preview, compare
from ..settings import preview_rules_location
from .inputs import WorkbookInput, from_file
from .refresh import compute, open_workbook, run_settings


@dataclass
class PreviewResult:
    current: Evaluation
    new: Evaluation
    preview: Preview
    new_rules: Path | str             # what was compared with the current rules

    def __iter__(self):               # (old, new, preview), as addin.refresh.preview returned
        return iter((self.current, self.new, self.preview))


def preview_input(inp: WorkbookInput, new_rules=None, as_of=None) -> PreviewResult:
    """Evaluate the input with its current rules and with `new_rules` (default: Settings > Preview
    rules, else rules.new.json beside the workbook) on the same data and as-of date."""
    if new_rules is None:
        new_rules = preview_rules_location(inp.path, inp.settings, inp.settings_rows)
    current = run_settings(inp, as_of=as_of)
    proposed = run_settings(inp, rules=new_rules, as_of=current.as_of)
    old, _ = compute(inp, run=current)
    new, _ = compute(inp, run=proposed)
    return PreviewResult(old, new, compare(old, new), new_rules)


def preview(workbook, new_rules, as_of=None) -> PreviewResult:
    """Preview `new_rules` on a workbook file (iterates as (current, new, Preview))."""
    return preview_input(from_file(open_workbook(workbook)), new_rules, as_of)
