"""The refresh job: score a workbook's input with the settings resolved for it; write it back (file door).

`compute` is the job every door shares: the CLI's `leadq refresh`, the Refresh button, the worksheet
functions and Lite all score through it, so the settings, the activity source and the problems met
while reading are decided once. `refresh` is the file door's whole job (read, compute, write).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from ..core.evaluate import evaluate
from ..core.history import refreshed_at
from ..core.model import Evaluation
from ..core.report.present import settings_status
from ..engines.external import activities_input
from ..errors import Problem, WorkbookError
from ..problems import MISSING_SHEET, NOT_A_WORKBOOK
from ..settings import RunSettings, resolve
from .inputs import WorkbookInput, from_file


def now_stamp() -> str:
    """The Last refresh stamp of a refresh starting now (minutes, the workbook's clock)."""
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def run_settings(inp: WorkbookInput, rules=None, as_of=None, as_of_where: str = "--as-of") -> RunSettings:
    """The rules, as-of date, date order and column mapping this workbook's run uses (addin.settings)."""
    return resolve(inp.path, inp.settings, inp.settings_rows, rules=rules, as_of=as_of, as_of_where=as_of_where,
                   sheet=inp.rules_sheet)


def _read_problems(inp: WorkbookInput, on_sheet: bool) -> list[Problem]:
    # The Activities sheet is not needed when the log lives elsewhere.
    return [p for p in inp.problems if on_sheet or not (p.code == MISSING_SHEET and "Activities" in p.message)]


def compute(inp: WorkbookInput, rules=None, as_of=None, activities=None, engine=None, spark_master=None,
            run: RunSettings | None = None, clock: str | None = None,
            as_of_where: str = "--as-of") -> tuple[Evaluation, RunSettings]:
    """Evaluate a workbook's input with the settings resolved for it (or `run`, already resolved).

    activities, engine, spark_master: where the activity log is and what scores it
    (engines.external.activities_input); clock: when the refresh runs (the Last refresh stamp),
    as its Lead history rows say; without it, the as-of day."""
    run = run or run_settings(inp, rules, as_of, as_of_where)
    acts, source = activities_input(inp.activities, inp.settings, inp.settings_rows, inp.path, activities, engine,
                                    spark_master)
    ev = evaluate(inp.leads, acts, run.rules, qualification=inp.qualification, as_of=run.as_of,
                  date_order=run.date_order, column_mapping=run.column_mapping, history=inp.history,
                  refreshed_at=None if clock is None else refreshed_at(run.as_of, clock), overrides=inp.overrides)
    ev.rules_source = run.rules_source
    ev.add_problems(_read_problems(inp, source.is_sheet))
    return ev, run


@dataclass
class RefreshResult:
    evaluation: Evaluation
    problems: list[Problem]
    report: object | None                 # io.writer.WriteReport
    rules_source: str
    details_file: Path | None = None      # the full ledger, when it passed the sheet's rows


def status(ev: Evaluation | None, stamp: str, error: str | None = None) -> dict[str, str]:
    """The Settings values a refresh leaves (Last refresh, Status), for every door."""
    return settings_status(ev, stamp, error=error)


def summary_page(ev: Evaluation, stamp: str):
    """The Summary sheet laid out (core.report.summary_layout): what every door renders, cell by cell or as XML."""
    from ..core.report.summary import summarise
    from ..core.report.summary_layout import summary_layout
    return summary_layout(summarise(ev), ev.rules, stamp)


def open_workbook(workbook) -> Path:
    """A workbook path a job may read: it exists, is a file, and is not a CSV/.xls/.ods given by mistake."""
    workbook = Path(workbook)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    if workbook.is_dir():
        raise WorkbookError(f"{workbook} is a folder; give the path of a workbook (.xlsm)")
    not_a_workbook(workbook)
    return workbook


def not_a_workbook(path: Path) -> None:
    """A CSV, .xls or .ods given where a LeadQ workbook is expected: say exactly what to do."""
    kind = {".csv": "a CSV export", ".tsv": "a CSV export", ".txt": "a text export",
            ".xls": "an old-format Excel file (.xls)", ".ods": "an OpenDocument sheet (.ods)"}.get(path.suffix.lower())
    if kind:
        out = path.with_suffix(".xlsm").name
        p = Problem(NOT_A_WORKBOOK, str(path),
                    f"this is {kind}, not a LeadQ workbook: build one from it with "
                    f"`leadq new {out} --leads {path.name}`, then run `leadq refresh {out}`", "error")
        raise WorkbookError(str(p), [p])


def refresh(workbook, rules=None, as_of=None, output=None, progress=None, now: str | None = None, activities=None,
            engine=None, spark_master=None) -> RefreshResult:
    """Score the workbook and write the results into it (or into `output`), atomically.

    rules: a rules file (default: Settings > Rules file, else rules.json beside the workbook);
    as_of: the date ages are measured at; activities: where the activity log is (default:
    Settings > Activities source, else the sheet); engine: pandas, duckdb or spark;
    spark_master: the Spark cluster's URL; progress: called with a short message per step;
    now: the Last refresh stamp (default: now). Holds the workbook's lock (io.guard: one writer at a time).
    """
    from contextlib import nullcontext

    from ..io.guard import workbook_lock
    if not Path(workbook).is_file():
        return _refresh(workbook, rules, as_of, output, progress, now, activities, engine, spark_master)
    with workbook_lock(workbook), (workbook_lock(output) if output and Path(output).parent.is_dir() else nullcontext()):
        return _refresh(workbook, rules, as_of, output, progress, now, activities, engine, spark_master)


def check_refresh_output(workbook: Path, target: Path, inp: WorkbookInput, run: RunSettings, activities=None) -> None:
    """`--output` is the workbook's kind (a macro workbook never as .xlsx) and none of the run's inputs: the
    Activities source, the rules file, the Score details file the last refresh saved (io.guard.check_output)."""
    from ..engines.source import settings_source
    from ..io import ledger_file
    from ..io.guard import check_output
    from ..io.writer import check_extension
    check_extension(workbook, target)
    if os.path.realpath(target) == os.path.realpath(workbook):
        return                          # in place, as without --output
    source = settings_source(inp.settings, inp.settings_rows, workbook, activities)
    details = ledger_file.details_path(workbook, inp.settings, inp.settings_rows)
    check_output(target, inputs=[*source.paths, run.rules_path, details], suffixes=(workbook.suffix.lower(),),
                 what="the refreshed workbook", flag="--output")


def _refresh(workbook, rules, as_of, output, progress, now, activities, engine, spark_master) -> RefreshResult:
    from ..io import ledger_file
    from ..io.package import fingerprint
    from ..io.parts.summary import summary_writer
    from ..io.writer import check_not_open, write_results
    from .new import shim_problems
    workbook = open_workbook(workbook)
    step = progress or (lambda msg: None)
    check_not_open(workbook)
    step("reading the workbook")
    expect = fingerprint(workbook)
    inp = from_file(workbook, later=True)      # the Activities sheet may still be loading while scoring starts
    inp.problems += shim_problems(workbook)
    from ..io.writer import prefetch_leads
    leads_sheet = prefetch_leads(workbook, inp.source.layouts["Leads"],
                                 inp.activities if isinstance(inp.activities, Future) else None)
    run = run_settings(inp, rules, as_of)
    if output is not None:
        check_refresh_output(workbook, Path(output), inp, run, activities)
    step("scoring")
    stamp = now or now_stamp()
    # Lead history's time of day is the Last refresh stamp's, as the macro's is
    ev, run = compute(inp, rules, as_of, activities, engine, spark_master, run=run, clock=stamp)
    data = inp.source
    # The writer needs none of the input values (only how many leads rows there are): free them.
    inp.activities = inp.qualification = inp.history = data.activities = data.qualification = data.history = None
    inp.overrides = data.overrides = None
    data.leads = data.leads.iloc[:, :0]
    inp.leads = data.leads
    from ..io.package import return_free_memory
    return_free_memory()            # what reading and scoring freed, before the sheets are written
    step("writing results")
    target = Path(output) if output else workbook
    # The Score details file is checked on every refresh (a hostile path is refused even when unused),
    # and is never the workbook, its output, the rules or the activity log.
    full_path = ledger_file.details_path(target, data.settings, data.settings_rows)
    from ..engines.source import settings_source
    source = settings_source(data.settings, data.settings_rows, workbook, activities)
    ledger_file.check_not_input(full_path, [workbook, target, run.rules_path, *source.paths],
                                ledger_file.details_where(data.settings_rows))
    shown, full, saving = ev, None, None
    if len(ev.details) > ledger_file.ROOM:
        step("writing the full Score details")
        full = full_path
        from ..io.package import background
        fd, tmp = ledger_file.details_temporary(full, ledger_file.details_where(data.settings_rows))
        saving = background().submit(ledger_file.write_details_file, fd, tmp, ev.details)  # while the workbook is written
        shown = dataclasses.replace(ev, details=ledger_file.kind_totals(ev.details, full.name))
    try:
        # the workbook is replaced only once the Score details file is written (before_replace)
        report = write_results(workbook, data, shown, target=target, settings=status(ev, stamp),
                               summary=summary_writer(ev, stamp), expect=expect,
                               before_replace=None if saving is None else saving.result, leads_sheet=leads_sheet)
    except BaseException:
        if saving is not None:          # the workbook was not written: neither is the Score details file
            try:
                saving.result()
            except Exception:
                pass
            ledger_file.discard_details_file(tmp)
        raise
    if saving is not None:
        ledger_file.commit_details_file(saving.result(), full)
    return RefreshResult(ev, ev.problems + report.problems, report, run.rules_source, full)
