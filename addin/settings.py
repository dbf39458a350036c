"""Where a run's settings come from, decided once for the CLI, the macros, the UDFs and the API.

Given a workbook's Settings values, the explicit arguments (CLI flags, API or worksheet-function
arguments) and the environment, `resolve()` returns the rules actually used and why, the as-of
date and the workbook's date order. The precedence, everywhere:

- rules: explicit → the Settings *Rules file* path (relative to the workbook; a path that does not
  exist is an error naming the cell, never a silent fallback) → `rules.json` beside the workbook
  → `$LEADQ_RULES` → the bundled defaults;
- as-of date: explicit → Settings *As-of date* → today; read by `core.values.parse.date_value` in the
  workbook's date order, so `01/02/2026` means the same date on every route;
- date order: Settings *Date order* (auto, DMY, MDY, YMD) → auto;
- column mapping: the *Column mapping* rows of Settings (a LeadQ field in column A, your header in
  column B; `Activities: Date` for the Activities sheet) → none. A mapping beats every alias.

The trust boundary. A workbook is untrusted input (it arrives by e-mail), yet its Settings name
files: *Activities source*, *Score details file*, *Rules file*, *Preview rules*. Every such path
goes through `trusted_path()`: it must lie, symbolic links resolved, inside the workbook's folder
or inside a folder the user allows (`--allow-path DIR` on the command line, or $LEADQ_ALLOWED_PATHS,
folders separated by the OS path separator) — never a folder the workbook itself names. URLs are
refused. Paths the user types on the command line (`--activities`, `--rules`, `--output`) are the
user's own and are not checked.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .core.rules import model as core_rules
from .core.rules.model import Rules
from .core.values.headers import ACTIVITIES_INPUTS, LEADS_INPUTS
from .core.values.text import key
from .errors import Problem, RulesError, WorkbookError
from .problems import (
    FILE_NOT_FOUND,
    FILE_TOO_LARGE,
    NOT_UTF8,
    SETTINGS_BAD_DATE,
    SETTINGS_BAD_DATE_ORDER,
    SETTINGS_RULES_NOT_FOUND,
    SETTINGS_RULES_SHEET_NOT_FOUND,
    UNTRUSTED_PATH,
)

if TYPE_CHECKING:           # pandas is loaded by the runs that compute, not by `leadq check-rules`
    import pandas as pd

SHEET = "Settings"
RULES_FILE, AS_OF, DATE_ORDER = "Rules file", "As-of date", "Date order"
ACTIVITIES_SOURCE, DETAILS_FILE = "Activities source", "Score details file"   # resolved by engines.source, io.ledger_file
PREVIEW_RULES, PREVIEW_DEFAULT = "Preview rules", "rules.new.json"     # what the preview_rules macro compares
VALUE_COLUMN = "B"
ENV_RULES = "LEADQ_RULES"
ALLOW_FLAG, ENV_ALLOWED = "--allow-path", "LEADQ_ALLOWED_PATHS"

_ALLOWED: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("leadq_allowed", default=())

MAX_RULES_BYTES = 5_000_000
_CACHE: dict[str, tuple[tuple[float, int], Rules]] = {}


def rules_file_text(path) -> str:
    """A rules file's text (UTF-8, a BOM allowed); problems as RulesError naming the file. The only
    place LeadQ reads a rules file: the core takes text."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise RulesError(f"{path}: rules file not found", [
            Problem(FILE_NOT_FOUND, str(path), "rules file not found; pass the path of your rules.json")]) from None
    if size > MAX_RULES_BYTES:
        raise RulesError(f"{path}: rules file is too large", [
            Problem(FILE_TOO_LARGE, str(path), f"rules file is {size:,} bytes; the limit is {MAX_RULES_BYTES:,}")])
    try:
        return path.read_text("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RulesError(f"{path}: not UTF-8 text", [
            Problem(NOT_UTF8, str(path), f"the file is not UTF-8 text ({e.reason}); save it as UTF-8")]) from None
    except OSError as e:
        raise RulesError(f"{path}: cannot read the rules file ({e.strerror})", [
            Problem(FILE_NOT_FOUND, str(path), f"cannot read the rules file ({e.strerror})")]) from None


def _is_path(source) -> bool:
    return isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{"))


def check_rules_file(source) -> tuple[Rules | None, list[Problem]]:
    """Validate a rules file (a path), JSON text or dict; (rules or None, every problem and warning)."""
    if _is_path(source):         # an unreadable file is a RulesError, as a file that is not JSON is a problem
        return core_rules.check_rules(rules_file_text(source), Path(source).name)
    return core_rules.check_rules(source)


def load_rules(source=None) -> Rules:
    """Rules from a file path, JSON text, a dict or a Rules object (None: the bundled defaults);
    a RulesError listing every problem when they are not valid."""
    if _is_path(source):
        return core_rules.load_rules(rules_file_text(source), Path(source).name)
    return core_rules.load_rules(source)


@dataclass(frozen=True)
class RunSettings:
    """What one run uses: the rules and where they came from, the as-of date, the date order."""

    rules: Rules
    rules_path: Path | None
    rules_source: str            # said in the CLI line, --json, Settings' Status and the Summary title
    as_of: pd.Timestamp
    date_order: str
    column_mapping: dict = None          # {"Leads": {field: header}, "Activities": {...}}
    as_of_source: str = ""               # where the as-of date came from: "--as-of", "Settings!B3", "today (…)"


def parse_settings(rows, top_row: int) -> tuple[dict[str, object], dict[str, int]]:
    """Settings rows (label in the first column, value in the second) as {label key: value} and
    {label key: Excel row}; `top_row` is the Excel row of the first given row."""
    values, where = {}, {}
    for i, row in enumerate(rows):
        label = row[0] if len(row) else None
        if isinstance(label, str) and label.strip():
            value = row[1] if len(row) > 1 else None
            values[key(label)] = None if isinstance(value, float) and value != value else value
            where[key(label)] = top_row + i
    return values, where


def cached_rules(path: Path | None) -> Rules:
    """Rules loaded once per file version (modification time and size); None: the bundled defaults."""
    if path is None:
        return _CACHE.setdefault("<default>", ((0.0, 0), load_rules()))[1]
    stat = path.stat()
    stamp = (stat.st_mtime, stat.st_size)
    hit = _CACHE.get(str(path))
    if hit and hit[0] == stamp:
        return hit[1]
    rules = load_rules(path)
    _CACHE[str(path)] = (stamp, rules)
    return rules


def _cell(cells: dict[str, int], label: str) -> str:
    row = cells.get(key(label))
    return f"{SHEET}!{VALUE_COLUMN}{row}" if row else f"{SHEET} ({label})"


def _error(code: str, where: str, message: str) -> WorkbookError:
    p = Problem(code, where, message, "error", sheet=SHEET if where.startswith(SHEET) else None)
    return WorkbookError(str(p), [p])


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and value != value)


@contextmanager
def allowing(folders):
    """Within the block, workbook paths may also point inside `folders` (the CLI's --allow-path)."""
    token = _ALLOWED.set(tuple(Path(f).expanduser().resolve() for f in folders or ()))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def allowed_folders(workbook=None, env: dict | None = None) -> list[Path]:
    """The folders a workbook's paths may point into: its own, --allow-path's, $LEADQ_ALLOWED_PATHS's."""
    env = os.environ if env is None else env
    folders = [Path(workbook).resolve().parent if workbook is not None else Path.cwd().resolve()]
    folders += list(_ALLOWED.get())
    folders += [Path(f).expanduser().resolve() for f in (env.get(ENV_ALLOWED) or "").split(os.pathsep) if f.strip()]
    return folders


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def trusted_path(workbook, text: str, where: str, env: dict | None = None, label: str | None = None) -> Path:
    """A path written in the workbook (`where` names its cell), resolved against the workbook's folder
    and checked against the trust boundary (see the module's docstring): the real path (symbolic links
    followed), or an error naming the cell and the flag that allows the folder."""
    text = str(text).strip()
    if label and "(" not in where:
        where = f"{where} ({label})"
    if "://" in text or text.lower().startswith(("http:", "https:", "s3:", "gs:", "az:", "ftp:")):
        raise _error(UNTRUSTED_PATH, where,
                     f'"{text}" is a URL; a workbook may only name files in its own folder '
                     "(download the file beside the workbook and give its name)")
    folder = Path(workbook).resolve().parent if workbook is not None else Path.cwd()
    given = Path(text).expanduser() if text.startswith("~") else Path(text)
    path = given if given.is_absolute() else folder / given
    real = path.resolve()
    folders = allowed_folders(workbook, env)
    if not _inside(real, folders):
        why = "leads, through a symbolic link, " if real != Path(os.path.abspath(path)) else "is "
        raise _error(UNTRUSTED_PATH, where,
                     f'"{text}" {why}outside the workbook\'s folder ({real}); a workbook may only name files in '
                     f"its own folder: move the file there, or allow its folder with {ALLOW_FLAG} "
                     f"{real.parent} (or ${ENV_ALLOWED})")
    return real


def rules_location(workbook: Path | None, settings: dict, cells: dict, explicit=None,
                   env: dict | None = None) -> tuple[Path | None, str]:
    """The rules file a run uses and why, as (path or None for the bundled defaults, source text)."""
    env = os.environ if env is None else env
    if explicit is not None:
        path = Path(explicit)
        if not path.exists():
            raise _error(FILE_NOT_FOUND, str(path), "rules file not found; pass the path of your rules.json")
        return path, f"{path} (--rules)"
    folder = Path(workbook).resolve().parent if workbook is not None else Path.cwd()
    configured = settings.get(key(RULES_FILE))
    if not _blank(configured):
        text = str(configured).strip()
        where = _cell(cells, RULES_FILE)
        path = trusted_path(workbook, text, where, env, RULES_FILE)
        if not path.is_file():
            raise _error(SETTINGS_RULES_NOT_FOUND, where,
                         f'rules file "{text}" not found (looked for {path}); correct the path, '
                         "or clear the cell to use rules.json beside the workbook")
        return path, f"{text} ({where})"
    if workbook is not None and (folder / "rules.json").is_file():
        return folder / "rules.json", "rules.json beside the workbook"
    if env.get(ENV_RULES):
        path = Path(env[ENV_RULES])
        if not path.is_file():
            raise _error(FILE_NOT_FOUND, f"${ENV_RULES}", f'rules file "{path}" not found; fix or unset ${ENV_RULES}')
        return path, f"{path} (${ENV_RULES})"
    return None, "bundled default rules"


def preview_rules_location(workbook: Path, settings: dict, cells: dict) -> Path:
    """The rules file the `preview_rules` macro compares with the current ones: Settings *Preview
    rules* (relative to the workbook), else rules.new.json beside the workbook."""
    folder = Path(workbook).resolve().parent
    configured = settings.get(key(PREVIEW_RULES))
    if not _blank(configured):
        text = str(configured).strip()
        path = trusted_path(workbook, text, _cell(cells, PREVIEW_RULES), label=PREVIEW_RULES)
        if not path.is_file():
            raise _error(SETTINGS_RULES_NOT_FOUND, _cell(cells, PREVIEW_RULES),
                         f'rules file to preview "{text}" not found (looked for {path}); correct the path, '
                         f"or clear the cell to use {PREVIEW_DEFAULT} beside the workbook")
        return path
    path = folder / PREVIEW_DEFAULT
    if not path.is_file():
        raise _error(FILE_NOT_FOUND, str(path), f'no rules file to preview: write its path in Settings "{PREVIEW_RULES}", '
                     f"or save it as {PREVIEW_DEFAULT} beside the workbook")
    return path


def date_order(settings: dict, cells: dict) -> str:
    """The workbook's date order from Settings (auto when blank)."""
    from .core.values.parse import DATE_ORDERS
    value = settings.get(key(DATE_ORDER))
    if _blank(value):
        return "auto"
    found = {key(o): o for o in DATE_ORDERS}.get(key(value))
    if found is None:
        raise _error(SETTINGS_BAD_DATE_ORDER, _cell(cells, DATE_ORDER),
                     f'date order "{value}" is not one of auto, DMY, MDY, YMD (DMY: 31/12/2026, MDY: 12/31/2026)')
    return found


MAPPING_SHEETS = {"Leads": LEADS_INPUTS, "Activities": ACTIVITIES_INPUTS}


def mapping_label(sheet: str, name: str) -> str:
    """The Settings label of one Column mapping row: 'Email', or 'Activities: Date'."""
    return name if sheet == "Leads" else f"{sheet}: {name}"


def column_mapping(settings: dict) -> dict[str, dict[str, str]]:
    """The Column mapping filled in on Settings: {sheet: {LeadQ field: your header}}."""
    out: dict[str, dict[str, str]] = {}
    for sheet, fields in MAPPING_SHEETS.items():
        for name in fields:
            value = settings.get(key(mapping_label(sheet, name)))
            if not _blank(value):
                out.setdefault(sheet, {})[name] = str(value).strip()
    return out


def as_of_date(value, order: str, where: str) -> pd.Timestamp:
    """The as-of date from a value (blank: today), or an error naming where it was given."""
    import pandas as pd

    from .core.values.parse import date_value
    if _blank(value):
        return pd.Timestamp(dt.date.today())
    ts = date_value(value, order)
    if ts is None or not 1900 <= ts.year <= 2262:      # pandas holds dates up to 2262
        raise _error(SETTINGS_BAD_DATE, where, f'as-of date "{value}" is not a date (use 2026-11-22 or 22/11/2026)')
    return ts


def chosen_rules_sheet(settings: dict, cells: dict, sheet):
    """The workbook's Rules sheet (addin.rules_sheet) when the run's rules come from it: Settings
    *Rules file* says "sheet:NAME", or is blank and the book has LeadQ's Rules sheet; None: from a file."""
    from . import rules_sheet
    configured = settings.get(key(RULES_FILE))
    named = rules_sheet.named_sheet(configured)
    if named is None and (not _blank(configured) or sheet is None):
        return None
    if named is not None and (sheet is None or key(sheet.name) != key(named)):
        raise _error(SETTINGS_RULES_SHEET_NOT_FOUND, _cell(cells, RULES_FILE),
                     f'no LeadQ rules sheet "{named}" in this workbook (its A1 must start with "{rules_sheet.MARK}"); '
                     "copy your rules.json in with `leadq rules-in`, or clear the cell to use rules.json beside the workbook")
    return sheet


def sheet_rules(settings: dict, cells: dict, sheet) -> tuple[Rules, str] | None:
    """The rules kept in the workbook's chosen Rules sheet and how to name them, or None."""
    from . import rules_sheet
    chosen = chosen_rules_sheet(settings, cells, sheet)
    return None if chosen is None else (rules_sheet.load_sheet(chosen), f"the {chosen.name} sheet of the workbook")


def resolve(workbook=None, settings: dict | None = None, cells: dict | None = None, *, rules=None, as_of=None,
            env: dict | None = None, as_of_where: str = "--as-of", sheet=None) -> RunSettings:
    """Settings of one run. `settings`/`cells`: the Settings sheet as parse_settings returns it;
    `rules`: a path, or a Rules object / dict / JSON text given through the API; `as_of_where`:
    how to name an explicit as-of date that is not a date; `sheet`: the book's LeadQ Rules sheet
    (addin.rules_sheet.RulesSheet), if it has one."""
    settings, cells = settings or {}, cells or {}
    order = date_order(settings, cells)
    in_book = sheet_rules(settings, cells, sheet) if rules is None else None
    if in_book is not None:
        rules_obj, path, source = in_book[0], None, in_book[1]
    elif rules is not None and not isinstance(rules, (str, Path)) or (isinstance(rules, str) and rules.lstrip().startswith("{")):
        rules_obj, path, source = load_rules(rules), None, "rules given by the caller"
    else:
        path, source = rules_location(Path(workbook) if workbook else None, settings, cells, rules, env)
        rules_obj = cached_rules(path)
    if as_of is not None:
        day, from_ = as_of_date(as_of, order, as_of_where), as_of_where
    else:
        day = as_of_date(settings.get(key(AS_OF)), order, _cell(cells, AS_OF))
        from_ = (_cell(cells, AS_OF) if not _blank(settings.get(key(AS_OF)))
                 else f"today: {_cell(cells, AS_OF)} is empty")
    return RunSettings(rules_obj, path, source, day, order, column_mapping(settings), from_)
