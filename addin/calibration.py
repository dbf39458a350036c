"""`leadq calibrate` around the pure core: read the workbook and its rules, write the suggested file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .core.calibrate import Calibration, Goal, calibrate
from .core.rules import default_rules_text, rules_text
from .errors import LeadQError
from .io.reader import read_workbook
from .settings import resolve


def calibrate_workbook(workbook, rules=None, as_of=None, **options) -> tuple[Calibration, str, Path | None]:
    """Calibrate a workbook file; returns (calibration, where the rules came from, rules file path or None)."""
    workbook = Path(workbook)
    if not workbook.exists():
        raise LeadQError(f"{workbook}: no such file")
    data = read_workbook(workbook)
    run = resolve(workbook, data.settings, data.settings_rows, rules=rules, as_of=as_of)
    text = run.rules_path.read_text("utf-8-sig") if run.rules_path else default_rules_text()
    cal = calibrate(data.leads, data.activities, run.rules, qualification=data.qualification, as_of=run.as_of,
                    date_order=run.date_order, source=json.loads(text), **options)
    cal.problems = data.problems + cal.problems
    return cal, run.rules_source, run.rules_path


def write_suggested(cal: Calibration, target, rules_path: Path | None, workbook=None) -> Path:
    """Write the suggested rules to a new file (atomically); never over the rules in use or a rules.json."""
    target = Path(target)
    if target.name.casefold() == "rules.json" or (rules_path and target.exists() and target.resolve() == rules_path.resolve()):
        raise LeadQError(f"{target}: calibrate never writes over a rules.json; choose another name, "
                         "e.g. --write rules.suggested.json, review it, then copy it over yourself")
    from .io.guard import check_output
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


def goal_of(precision=None, share=None, per_week=None) -> Goal:
    if precision is not None:
        return Goal("precision", precision)
    if share is not None:
        return Goal("share", share)
    if per_week is not None:
        return Goal("per_week", per_week)
    return Goal()
