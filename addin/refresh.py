"""The headless refresh: read the workbook, run the engine, write what LeadQ owns. Also `new`."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from .core.evaluate import Evaluation, evaluate
from .core.history import refreshed_at
from .core.present import settings_status
from .core.rules import default_rules_text, load_rules
from .errors import Problem, WorkbookError
from .io.reader import WorkbookData, read_workbook
from .io.summary_sheet import summary_writer
from .io.writer import WriteReport, check_not_open, write_results
from .settings import RunSettings, resolve


@dataclass
class RefreshResult:
    evaluation: Evaluation
    problems: list[Problem]
    report: WriteReport | None
    rules_source: str


def compute(data: WorkbookData, workbook: Path, rules=None, as_of=None, refreshed_at=None,
            run: RunSettings | None = None) -> tuple[Evaluation, RunSettings]:
    """Evaluate a workbook's data with the settings resolved for it (see addin.settings)."""
    run = run or resolve(workbook, data.settings, data.settings_rows, rules=rules, as_of=as_of)
    ev = evaluate(data.leads, data.activities, run.rules, qualification=data.qualification, as_of=run.as_of,
                  date_order=run.date_order, history=data.history, refreshed_at=refreshed_at)
    ev.rules_source = run.rules_source
    ev.add_problems(data.problems)
    return ev, run


def refresh(workbook, rules=None, as_of=None, output=None, progress=None, now: str | None = None) -> RefreshResult:
    """Score the workbook and write the results into it (or into `output`), atomically."""
    workbook = Path(workbook)
    step = progress or (lambda msg: None)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    check_not_open(workbook)
    step("reading the workbook")
    data = read_workbook(workbook)
    step("scoring")
    clock = dt.datetime.now()
    stamp = now or clock.strftime("%Y-%m-%d %H:%M")
    run = resolve(workbook, data.settings, data.settings_rows, rules=rules, as_of=as_of)
    ev, run = compute(data, workbook, run=run, refreshed_at=refreshed_at(run.as_of, clock))
    data.activities = data.qualification = data.history = None   # the writer needs none of them: free them
    step("writing results")
    target = Path(output) if output else workbook
    report = write_results(workbook, data, ev, target=target, settings=settings_status(ev, stamp),
                           summary=summary_writer(ev, stamp))
    return RefreshResult(ev, ev.problems, report, run.rules_source)


def preview(workbook, new_rules, as_of=None):
    """Evaluate a workbook's data with its current rules and with `new_rules`, on the same as-of date;
    writes nothing. Returns (current evaluation, new evaluation, Preview)."""
    from .core.preview import compare
    workbook = Path(workbook)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    data = read_workbook(workbook)
    current = resolve(workbook, data.settings, data.settings_rows, as_of=as_of)
    proposed = resolve(workbook, data.settings, data.settings_rows, rules=new_rules, as_of=current.as_of)
    old, _ = compute(data, workbook, run=current)
    new, _ = compute(data, workbook, run=proposed)
    return old, new, compare(old, new)


def new_workbook(out, sample: bool = False, as_of=None, rules=None) -> list[Path]:
    """A new workbook from the template (with sample data), its NAME.py shim, and rules.json beside it."""
    from .io.sample import sample_frames
    from .io.template import build_workbook, write_shim
    out = Path(out)
    if out.suffix.lower() != ".xlsm":
        raise WorkbookError(f"{out}: the workbook must end in .xlsm (it carries the Refresh macro)")
    check_not_open(out)
    rules_obj = load_rules(Path(rules)) if rules else load_rules()
    frames = sample_frames(as_of or dt.date.today()) if sample else None
    written = [build_workbook(out, rules_obj, frames), write_shim(out)]
    beside = out.parent / "rules.json"
    if not beside.exists():
        text = Path(rules).read_text("utf-8") if rules else default_rules_text()
        data = json.loads(text)
        data["$schema"] = "./rules.schema.json"
        from .core.rules import rules_text
        beside.write_text(rules_text(data), encoding="utf-8")     # one rule per line, like the repository's
        from importlib import resources
        (out.parent / "rules.schema.json").write_text(
            resources.files("addin").joinpath("rules.schema.json").read_text("utf-8"), encoding="utf-8")
        written += [beside, out.parent / "rules.schema.json"]
    return written
