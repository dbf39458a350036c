"""The calibrate job: learn the points from outcomes; write the suggested rules beside, never over, rules.json."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core.calibrate.fit import Calibration, Goal, calibrate
from ..core.rules.model import default_rules_text, rules_text
from ..errors import LeadQError
from .inputs import WorkbookInput, from_file
from .refresh import open_workbook, run_settings

SUGGESTED = "rules.suggested.json"


@dataclass
class Calibrated:
    calibration: Calibration
    rules_source: str
    rules_path: Path | None

    def __iter__(self):               # (calibration, rules source, rules path), as calibrate_workbook returned
        return iter((self.calibration, self.rules_source, self.rules_path))


def calibrate_input(inp: WorkbookInput, rules=None, as_of=None, **options) -> Calibrated:
    """Calibrate the input's leads against their outcomes (core.calibrate.fit's options)."""
    run = run_settings(inp, rules, as_of)
    from ..settings import rules_file_text
    text = rules_file_text(run.rules_path) if run.rules_path else default_rules_text()
    cal = calibrate(inp.leads, inp.activities, run.rules, qualification=inp.qualification, as_of=run.as_of,
                    date_order=run.date_order, source=json.loads(text), **options)
    cal.problems = inp.problems + cal.problems
    return Calibrated(cal, run.rules_source, run.rules_path)


def calibrate_file(workbook, rules=None, as_of=None, **options) -> Calibrated:
    """Calibrate a workbook file (iterates as (calibration, rules source, rules path))."""
    return calibrate_input(from_file(open_workbook(workbook)), rules, as_of, **options)


def suggested_path(inp: WorkbookInput) -> Path:
    """Where a calibration started from a workbook writes its suggestion: rules.suggested.json beside it."""
    if inp.path is None:
        raise LeadQError("this workbook has no folder to write the suggested rules to; save it first")
    return Path(inp.path).resolve().parent / SUGGESTED


def write_suggested(cal: Calibration, target, rules_path: Path | None, workbook=None) -> Path:
    """Write the suggested rules to a new file (atomically); never over the rules in use or a rules.json."""
    target = Path(target)
    if target.name.casefold() == "rules.json" or (rules_path and target.exists() and target.resolve() == rules_path.resolve()):
        raise LeadQError(f"{target}: calibrate never writes over a rules.json; choose another name, "
                         "e.g. --write rules.suggested.json, review it, then copy it over yourself")
    from ..io.guard import check_output
    check_output(target, inputs=[workbook, rules_path], suffixes=(".json",), what="the suggested rules (JSON)",
                 flag="--write")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".leadq-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(rules_text(cal.suggested))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def worse_than_current(cal: Calibration) -> str | None:
    """Why the suggestion must not be written — it ranks the held-out leads worse than the current
    rules (lower ROC AUC) — or None."""
    m = cal.metrics
    old, new = m.get("auc_current"), m.get("auc_suggested")
    if old is None or new is None or old != old or new != new or new >= old:
        return None
    return (f"the suggested rules do worse than the current ones on the held-out part: ROC AUC {new:.3f} against "
            f"{old:.3f}, Brier {m['brier_suggested']:.3f} against {m['brier_current']:.3f}")


def goal_of(precision=None, share=None, per_week=None) -> Goal:
    """The MQL threshold's goal from the command line's three exclusive options."""
    if precision is not None:
        return Goal("precision", precision)
    if share is not None:
        return Goal("share", share)
    if per_week is not None:
        return Goal("per_week", per_week)
    return Goal()
