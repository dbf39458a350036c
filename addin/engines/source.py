"""Where the activity log is: the Activities sheet, CSV/Parquet files (a glob too), or a DuckDB table.

Written on the Settings sheet (*Activities source*) or given as `--activities SRC`:
  (blank) or "sheet"        the workbook's Activities sheet (the default)
  events.parquet            one file; CSV works the same (.csv, .csv.gz, .tsv)
  events/*.parquet          every file the glob matches, read in name order
  crm.duckdb#events         the table `events` of a DuckDB database file
Relative paths are relative to the workbook's folder. A path written on Settings must stay inside
the workbook's folder or a folder the user allows (settings.trusted_path); `--activities` is free.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.values.text import key
from ..errors import Problem, WorkbookError
from ..problems import ACTIVITIES_SOURCE

SHEET_WORDS = {"", "sheet", "activities", "activitiessheet", "workbook"}
PARQUET = (".parquet", ".pq", ".parq")
CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
DATABASES = (".duckdb", ".ddb", ".db")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass(frozen=True)
class ActivitiesSource:
    """A resolved activities source. kind: sheet, parquet, csv or duckdb."""

    kind: str
    text: str = ""
    paths: tuple[str, ...] = ()      # files in read order; the database file for duckdb
    table: str | None = None

    @property
    def is_sheet(self) -> bool:
        return self.kind == "sheet"

    @property
    def label(self) -> str:
        """How problems name the source, as the user wrote it."""
        return self.text or "Activities"


SHEET = ActivitiesSource("sheet")


def _fail(where: str, message: str):
    p = Problem(ACTIVITIES_SOURCE, where, message, "error")
    raise WorkbookError(str(p), [p])


def _kind_of(name: str) -> str | None:
    low = name.lower()
    if low.endswith(PARQUET):
        return "parquet"
    if low.endswith(CSV):
        return "csv"
    return None


def parse_source(text, base: Path | str = ".", where: str = "--activities", trust=None) -> ActivitiesSource:
    """Resolve what the user wrote into files or a database table; a clear error when it cannot be read.

    `where` names the place the text came from in error messages (a Settings cell, the option);
    `trust(path text) -> real Path`: the check every path from a workbook passes (None: the user's own).
    """
    check = trust or (lambda p: Path(p))
    if text is None or (isinstance(text, float) and text != text) or key(text) in SHEET_WORDS:
        return SHEET
    raw = str(text).strip()
    base = Path(base)
    if "#" in raw:
        db, _, table = raw.rpartition("#")
        if not db.lower().endswith(DATABASES):
            _fail(where, f'"{raw}": a database source is FILE.duckdb#TABLE, e.g. crm.duckdb#events')
        if not _TABLE_NAME.match(table):
            _fail(where, f'"{raw}": "{table}" is not a table name (letters, digits and _, e.g. crm.duckdb#events)')
        path = check(db) if trust else (Path(db) if Path(db).is_absolute() else base / db)
        if not path.is_file():
            _fail(where, f'"{raw}": no database file {path}')
        return ActivitiesSource("duckdb", raw, (str(path),), table)
    pattern = raw if Path(raw).is_absolute() else str(base / raw)
    if glob.has_magic(raw):
        if trust:                   # the folder the glob starts from, then every file it matches
            static = Path(raw)
            while glob.has_magic(str(static)):
                static = static.parent
            check(str(static))
        paths = sorted(str(check(p)) if trust else p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not paths:
            _fail(where, f'"{raw}": no file matches {pattern}')
    else:
        real = check(raw)
        if not Path(pattern).is_file():
            _fail(where, f'"{raw}": no such file {pattern} (give a .parquet or .csv file, a glob such as '
                         'events/*.parquet, or crm.duckdb#events)')
        paths = [str(real) if trust else pattern]
    kinds = {_kind_of(p) for p in paths}
    if None in kinds:
        odd = next(p for p in paths if _kind_of(p) is None)
        _fail(where, f'"{raw}": {Path(odd).name} is neither Parquet (.parquet) nor CSV (.csv); '
                     "export the activity log to one of them")
    if len(kinds) > 1:
        _fail(where, f'"{raw}": the glob matches both Parquet and CSV files; point it at one kind')
    return ActivitiesSource(kinds.pop(), raw, tuple(paths))


def settings_source(settings: dict, settings_rows: dict, workbook: Path, explicit=None) -> ActivitiesSource:
    """--activities, else the Settings row *Activities source*, else the sheet."""
    if explicit is not None:
        return parse_source(explicit, Path.cwd(), "--activities")
    from ..settings import ACTIVITIES_SOURCE, trusted_path
    row = settings_rows.get(key(ACTIVITIES_SOURCE))
    where = f"Settings!B{row} ({ACTIVITIES_SOURCE})" if row else f"Settings ({ACTIVITIES_SOURCE})"
    return parse_source(settings.get(key(ACTIVITIES_SOURCE)), Path(workbook).parent if workbook is not None else Path.cwd(),
                        where, trust=lambda text: trusted_path(workbook, text, where))
