"""`leadq new`: a workbook from the template (with sample data or a CRM's exports), its NAME.py shim for
the Refresh button, and rules.json beside it; `leadq new --lite` for xlwings Lite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..core.rules.model import default_rules_text
from ..errors import Problem, WorkbookError
from ..io.writer import check_not_open
from ..problems import REFRESH_BUTTON_MODULE, REFRESH_BUTTON_NAME
from ..settings import load_rules, rules_file_text

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
    if _shadows(out.stem):
        raise WorkbookError(f"{out.name}: its module {out.stem}.py would hide the \"{out.stem}\" module Python already has (the "
                            f"Refresh button imports {out.stem}, and so do LeadQ and its libraries); call the workbook "
                            f"{out.stem}_leads{out.suffix}")


def _shadows(name: str) -> bool:
    """Whether NAME.py would hide a module Python already has (csv, pandas, json…)."""
    import importlib.util
    import sys
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def shim_problems(workbook: Path) -> list[Problem]:
    """Warnings when the workbook's Refresh button cannot find its Python module."""
    if workbook.suffix.lower() != ".xlsm":
        return []
    if not _importable(workbook.stem):
        return [Problem(REFRESH_BUTTON_NAME, workbook.name,
                        f"Excel's Refresh button runs \"import {workbook.stem}\", which Python cannot do; rename the "
                        f"workbook {importable_name(workbook.stem)}.xlsm (the CLI works either way)", severity="warning")]
    shim = workbook.with_suffix(".py")
    text = shim.read_text("utf-8", "replace") if shim.is_file() else ""
    if SHIM_MARK not in text:
        what = "is missing" if not shim.exists() else "is not LeadQ's"
        return [Problem(REFRESH_BUTTON_MODULE, shim.name,
                        f"{shim.name}, the module Excel's Refresh button imports, {what}; run `leadq new` for a "
                        "fresh workbook, or copy NAME.py from one (the CLI works either way)", severity="warning")]
    return []


def new_workbook(out, sample: bool = False, as_of=None, rules=None, force: bool = False,
                 imports: dict | None = None, lite: bool = False, notes: list[str] | None = None) -> list[Path]:
    """A new workbook from the template (with sample data, or the exports in `imports`:
    {"Leads": path or (path, sheet), ...}), its NAME.py shim, and rules.json beside it.

    An existing workbook (or a NAME.py that is not LeadQ's shim) is never replaced unless `force`."""
    from ..io.sample import sample_frames
    from ..io.template import build_workbook, interpreter_setting, interpreter_warning, write_shim
    out = Path(out)
    if lite:
        return _new_lite(out, sample, as_of, rules, force, imports)
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
        from ..io.importer import prepare, read_export
        frames = {}
        for sheet, source in imports.items():
            if source:
                path, name = source if isinstance(source, tuple) else (source, None)
                frames[sheet] = prepare(read_export(path, name), sheet, notes)
    import os

    from xlsxwriter.exceptions import FileCreateError

    from ..io.package import TEMP_PREFIX, write_error
    # Built beside, then moved into place: a --force over a full workbook never leaves half a file.
    tmp = out.with_name(f"{TEMP_PREFIX}{os.getpid()}-{out.name}.tmp")
    try:
        build_workbook(tmp, rules_obj, frames, conf=interpreter_setting())
        os.replace(tmp, out)
        written = [out, write_shim(out)]
        warning = interpreter_warning()
        if warning and notes is not None:
            notes.append(warning)
    except FileCreateError as e:      # XlsxWriter wraps the OS error
        raise write_error(out, e.args[0] if e.args and isinstance(e.args[0], OSError) else OSError(str(e))) from None
    except OSError as e:
        raise write_error(out, e) from None
    finally:
        tmp.unlink(missing_ok=True)
    beside = out.parent / "rules.json"
    if not beside.exists():
        text = rules_file_text(rules) if rules else default_rules_text()
        data = json.loads(text)
        data["$schema"] = "./rules.schema.json"
        from ..core.rules.model import rules_text
        beside.write_text(rules_text(data), encoding="utf-8")     # one rule per line, like the repository's
        from importlib import resources
        (out.parent / "rules.schema.json").write_text(
            resources.files("addin").joinpath("rules.schema.json").read_text("utf-8"), encoding="utf-8")
        written += [beside, out.parent / "rules.schema.json"]
    return written


def _new_lite(out: Path, sample, as_of, rules, force: bool, imports) -> list[Path]:
    """`leadq new --lite`: an .xlsx (no VBA) with the rules in its Rules sheet, and beside it the
    main.py and requirements.txt to paste into xlwings Lite's editor (addin.lite)."""
    from ..io.sample import sample_frames
    from ..io.template import build_workbook
    from ..lite import MAIN_PY, write_setup
    if out.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{out}: an xlwings Lite workbook ends in .xlsx (it carries no macro)")
    if not out.parent.is_dir():
        raise WorkbookError(f"{out}: the folder {out.parent} does not exist; create it first")
    if out.exists() and not force:
        raise WorkbookError(f"{out} already exists; LeadQ does not replace a workbook (it may hold your data): "
                            "choose another name, or add --force to replace it")
    for name in ("main.py", "requirements.txt"):
        other = out.parent / name
        if other.exists() and not force and (name == "requirements.txt" or other.read_text("utf-8", "replace") != MAIN_PY):
            raise WorkbookError(f"{other} already exists; LeadQ writes xlwings Lite's {name} there: "
                                "choose another folder, or add --force to replace it")
    check_not_open(out)
    text = rules_file_text(rules) if rules else default_rules_text()
    rules_obj = load_rules(Path(rules)) if rules else load_rules()
    frames = sample_frames(as_of or dt.date.today()) if sample else None
    if imports:
        from ..io.importer import prepare, read_export
        frames = {sheet: prepare(read_export(*(src if isinstance(src, tuple) else (src, None))), sheet)
                  for sheet, src in imports.items() if src}
    import os
    tmp = out.with_name(f".leadq-{os.getpid()}-{out.name}.tmp")
    try:
        build_workbook(tmp, rules_obj, frames, lite_rules=text)
        os.replace(tmp, out)       # built beside, then moved: a --force never leaves half a workbook
    finally:
        tmp.unlink(missing_ok=True)
    return [out, *write_setup(out.parent)]
