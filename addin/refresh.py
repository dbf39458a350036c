"""The headless refresh: read the workbook, run the engine, write what LeadQ owns. Also `new`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from .core.evaluate import Evaluation, evaluate
from .core.history import refreshed_at
from .core.present import settings_status
from .core.rules import default_rules_text, load_rules
from .engines.external import activities_input
from .errors import Problem, WorkbookError
from .io import ledger_file
from .io.package import fingerprint
from .io.reader import WorkbookData, read_workbook
from .io.summary_sheet import summary_writer
from .io.writer import WriteReport, check_not_open, write_results
from .settings import RunSettings, resolve

SHIM_MARK = "from addin.macros import refresh"


def importable_name(stem: str) -> str:
    """A name Python can import that looks like `stem` ("Q3 Pipeline" -> "Q3_Pipeline")."""
    import keyword
    import re
    name = re.sub(r"\W", "_", stem)
    if not name or name[0].isdigit():
        name = "_" + name if name else "workbook"
    return name + "_" if keyword.iskeyword(name) else name


def _importable(stem: str) -> bool:
    import keyword
    return stem.isidentifier() and not keyword.iskeyword(stem) and stem.isascii()


def check_importable_name(out: Path) -> None:
    """The Refresh button's VBA runs `import <workbook name>`: the name must be a Python identifier."""
    if not _importable(out.stem):
        raise WorkbookError(f"{out.name}: Excel's Refresh button runs \"import {out.stem}\", and Python cannot import "
                            f"that name; call the workbook {importable_name(out.stem)}{out.suffix} (letters, digits "
                            "and _ only, not starting with a digit)")


def shim_problems(workbook: Path) -> list[Problem]:
    """Warnings when the workbook's Refresh button cannot find its Python module."""
    if workbook.suffix.lower() != ".xlsm":
        return []
    if not _importable(workbook.stem):
        return [Problem("refresh-button-name", workbook.name,
                        f"Excel's Refresh button runs \"import {workbook.stem}\", which Python cannot do; rename the "
                        f"workbook {importable_name(workbook.stem)}.xlsm (the CLI works either way)", severity="warning")]
    shim = workbook.with_suffix(".py")
    text = shim.read_text("utf-8", "replace") if shim.is_file() else ""
    if SHIM_MARK not in text:
        what = "is missing" if not shim.exists() else "is not LeadQ's"
        return [Problem("refresh-button-module", shim.name,
                        f"{shim.name}, the module Excel's Refresh button imports, {what}; run `leadq new` for a "
                        "fresh workbook, or copy NAME.py from one (the CLI works either way)", severity="warning")]
    return []


@dataclass
class RefreshResult:
    evaluation: Evaluation
    problems: list[Problem]
    report: WriteReport | None
    rules_source: str
    details_file: Path | None = None     # the full ledger, when it passed the sheet's rows


def compute(data: WorkbookData, workbook: Path, rules=None, as_of=None, activities=None, engine=None,
            spark_master=None, run: RunSettings | None = None, clock=None) -> tuple[Evaluation, RunSettings]:
    """Evaluate a workbook's data with the settings resolved for it (see addin.settings, or `run` when
    already resolved); activities, engine, spark_master: where the activity log is and what scores it
    (engines.external.activities_input); clock: when the refresh runs, as its Lead history rows say."""
    run = run or resolve(workbook, data.settings, data.settings_rows, rules=rules, as_of=as_of)
    acts, source = activities_input(data.activities, data.settings, data.settings_rows, workbook, activities, engine,
                                    spark_master)
    ev = evaluate(data.leads, acts, run.rules, qualification=data.qualification, as_of=run.as_of,
                  date_order=run.date_order, column_mapping=run.column_mapping, history=data.history,
                  refreshed_at=None if clock is None else refreshed_at(run.as_of, clock))
    ev.rules_source = run.rules_source
    # The Activities sheet is not needed when the log lives elsewhere.
    ev.add_problems([p for p in data.problems if source.is_sheet or not (p.code == "missing-sheet" and "Activities" in p.message)])
    return ev, run


def refresh(workbook, rules=None, as_of=None, output=None, progress=None, now: str | None = None, activities=None,
            engine=None, spark_master=None) -> RefreshResult:
    """Score the workbook and write the results into it (or into `output`), atomically, holding the
    workbook's lock (io.guard: one writer at a time).

    activities: where the activity log is (default: Settings > Activities source, else the sheet);
    engine: pandas, duckdb or spark; spark_master: the Spark cluster's URL.
    """
    from .io.guard import workbook_lock
    if not Path(workbook).is_file():
        return _refresh(workbook, rules, as_of, output, progress, now, activities, engine, spark_master)
    from contextlib import nullcontext
    with workbook_lock(workbook), (workbook_lock(output) if output and Path(output).parent.is_dir() else nullcontext()):
        return _refresh(workbook, rules, as_of, output, progress, now, activities, engine, spark_master)


def _refresh(workbook, rules, as_of, output, progress, now, activities, engine, spark_master) -> RefreshResult:
    workbook = Path(workbook)
    step = progress or (lambda msg: None)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    if workbook.is_dir():
        raise WorkbookError(f"{workbook} is a folder; give the path of a workbook (.xlsm)")
    not_a_workbook(workbook)
    check_not_open(workbook)
    step("reading the workbook")
    expect = fingerprint(workbook)
    data = read_workbook(workbook, later=True)      # the Activities sheet may still be loading while scoring starts
    data.problems += shim_problems(workbook)
    step("scoring")
    stamp = now or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    # Lead history's time of day is the Last refresh stamp's, as the macro's is
    ev, run = compute(data, workbook, rules, as_of, activities, engine, spark_master, clock=stamp)
    # The writer needs none of the input values (only how many leads rows there are): free them.
    data.activities = data.qualification = data.history = None
    data.leads = data.leads.iloc[:, :0]
    step("writing results")
    target = Path(output) if output else workbook
    # The Score details file is checked on every refresh (a hostile path is refused even when unused),
    # and is never the workbook, its output, the rules or the activity log.
    full_path = ledger_file.details_path(target, data.settings, data.settings_rows)
    from .engines.source import settings_source
    source = settings_source(data.settings, data.settings_rows, workbook, activities)
    ledger_file.check_not_input(full_path, [workbook, target, run.rules_path, *source.paths],
                                ledger_file.details_where(data.settings_rows))
    shown, full, saving = ev, None, None
    if len(ev.details) > ledger_file.ROOM:
        step("writing the full Score details")
        full = full_path
        from .io.package import background
        fd, tmp = ledger_file.details_temporary(full, ledger_file.details_where(data.settings_rows))
        saving = background().submit(ledger_file.write_details_file, fd, tmp, ev.details)  # while the workbook is written
        shown = dataclasses.replace(ev, details=ledger_file.kind_totals(ev.details, full.name))
    try:
        report = write_results(workbook, data, shown, target=target, settings=settings_status(ev, stamp),
                               summary=summary_writer(ev, stamp), expect=expect,
                               before_replace=None if saving is None else saving.result)   # the workbook only replaced once the file is
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


def not_a_workbook(path: Path) -> None:
    """A CSV, .xls or .ods given where a LeadQ workbook is expected: say exactly what to do."""
    kind = {".csv": "a CSV export", ".tsv": "a CSV export", ".txt": "a text export",
            ".xls": "an old-format Excel file (.xls)", ".ods": "an OpenDocument sheet (.ods)"}.get(path.suffix.lower())
    if kind:
        out = path.with_suffix(".xlsm").name
        p = Problem("not-a-workbook", str(path),
                    f"this is {kind}, not a LeadQ workbook: build one from it with "
                    f"`leadq new {out} --leads {path.name}`, then run `leadq refresh {out}`", "error")
        raise WorkbookError(str(p), [p])


def preview(workbook, new_rules, as_of=None):
    """Evaluate a workbook's data with its current rules and with `new_rules`, on the same as-of date;
    writes nothing. Returns (current evaluation, new evaluation, Preview)."""
    from .core.preview import compare
    workbook = Path(workbook)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    not_a_workbook(workbook)
    data = read_workbook(workbook)
    current = resolve(workbook, data.settings, data.settings_rows, as_of=as_of)
    proposed = resolve(workbook, data.settings, data.settings_rows, rules=new_rules, as_of=current.as_of)
    old, _ = compute(data, workbook, run=current)
    new, _ = compute(data, workbook, run=proposed)
    return old, new, compare(old, new)


def new_workbook(out, sample: bool = False, as_of=None, rules=None, force: bool = False,
                 imports: dict | None = None) -> list[Path]:
    """A new workbook from the template (with sample data, or the exports in `imports`:
    {"Leads": path or (path, sheet), ...}), its NAME.py shim, and rules.json beside it.

    An existing workbook (or a NAME.py that is not LeadQ's shim) is never replaced unless `force`."""
    from .io.sample import sample_frames
    from .io.template import build_workbook, write_shim
    out = Path(out)
    if out.suffix.lower() != ".xlsm":
        raise WorkbookError(f"{out}: the workbook must end in .xlsm (it carries the Refresh macro)")
    check_importable_name(out)
    if not out.parent.is_dir():
        raise WorkbookError(f"{out}: the folder {out.parent} does not exist; create it first")
    if not force:
        if out.exists():
            raise WorkbookError(f"{out} already exists; LeadQ does not replace a workbook (it may hold your data): "
                                "choose another name, or add --force to replace it")
        shim = out.with_suffix(".py")
        if shim.exists() and SHIM_MARK not in shim.read_text("utf-8", "replace"):
            raise WorkbookError(f"{shim} already exists and is not LeadQ's; the Refresh button needs that name: "
                                "move it, or add --force to replace it")
    check_not_open(out)
    rules_obj = load_rules(Path(rules)) if rules else load_rules()
    frames = sample_frames(as_of or dt.date.today()) if sample else None
    if imports:
        from .io.importer import prepare, read_export
        frames = {}
        for sheet, source in imports.items():
            if source:
                path, name = source if isinstance(source, tuple) else (source, None)
                frames[sheet] = prepare(read_export(path, name), sheet)
    import os

    from xlsxwriter.exceptions import FileCreateError

    from .io.package import TEMP_PREFIX, write_error
    # Built beside, then moved into place: a --force over a full workbook never leaves half a file.
    tmp = out.with_name(f"{TEMP_PREFIX}{os.getpid()}-{out.name}.tmp")
    try:
        build_workbook(tmp, rules_obj, frames)
        os.replace(tmp, out)
        written = [out, write_shim(out)]
    except FileCreateError as e:      # XlsxWriter wraps the OS error
        raise write_error(out, e.args[0] if e.args and isinstance(e.args[0], OSError) else OSError(str(e))) from None
    except OSError as e:
        raise write_error(out, e) from None
    finally:
        tmp.unlink(missing_ok=True)
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
