"""The headless refresh: read the workbook, run the engine, write what LeadQ owns. Also `new`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from .core.evaluate import Evaluation, evaluate
from .core.present import settings_status
from .core.rules import default_rules_text, load_rules
from .engines.external import activities_input
from .errors import Problem, WorkbookError
from .io import ledger_file
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
    details_file: Path | None = None     # the full ledger, when it passed the sheet's rows


def compute(data: WorkbookData, workbook: Path, rules=None, as_of=None, activities=None, engine=None,
            spark_master=None) -> tuple[Evaluation, RunSettings]:
    """Evaluate a workbook's data with the settings resolved for it (see addin.settings); activities,
    engine, spark_master: where the activity log is and what scores it (engines.external.activities_input)."""
    run = resolve(workbook, data.settings, data.settings_rows, rules=rules, as_of=as_of)
    acts, source = activities_input(data.activities, data.settings, data.settings_rows, workbook, activities, engine,
                                    spark_master)
    ev = evaluate(data.leads, acts, run.rules, qualification=data.qualification, as_of=run.as_of,
                  date_order=run.date_order)
    ev.rules_source = run.rules_source
    # The Activities sheet is not needed when the log lives elsewhere.
    ev.add_problems([p for p in data.problems if source.is_sheet or not (p.code == "missing-sheet" and "Activities" in p.message)])
    return ev, run


def refresh(workbook, rules=None, as_of=None, output=None, progress=None, now: str | None = None, activities=None,
            engine=None, spark_master=None) -> RefreshResult:
    """Score the workbook and write the results into it (or into `output`), atomically.

    activities: where the activity log is (default: Settings > Activities source, else the sheet);
    engine: pandas, duckdb or spark; spark_master: the Spark cluster's URL.
    """
    workbook = Path(workbook)
    step = progress or (lambda msg: None)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    check_not_open(workbook)
    step("reading the workbook")
    data = read_workbook(workbook)
    step("scoring")
    ev, run = compute(data, workbook, rules, as_of, activities, engine, spark_master)
    data.activities = data.qualification = None     # the writer needs neither: free the biggest frames
    stamp = now or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    step("writing results")
    target = Path(output) if output else workbook
    shown, full = ev, None
    if len(ev.details) > ledger_file.ROOM:
        step("writing the full Score details")
        full = ledger_file.details_path(target, data.settings, data.settings_rows)
        ledger_file.write_details_file(full, ev.details)
        shown = dataclasses.replace(ev, details=ledger_file.kind_totals(ev.details, full.name))
    report = write_results(workbook, data, shown, target=target, settings=settings_status(ev, stamp),
                           summary=summary_writer(ev, stamp))
    return RefreshResult(ev, ev.problems, report, run.rules_source, full)


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
