"""Read the Leads, Activities, Qualification and Settings sheets into DataFrames.

Positions (which Excel row and column each value came from) come from the package's own XML
(table ranges, first cells); the values come from fastexcel, the fastest reader available.
Each DataFrame carries `attrs["leadq_origin"]` so the engine's problems name real cells.

This module imports neither pandas nor numpy at its top: `read_ahead` starts parsing a workbook's
big tables before the scoring code (pandas …) is imported, and must itself start in a few ms.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import fastexcel

from ..core.report.outputs import outputs
from ..core.values.headers import header_row as header_row_index
from ..core.values.text import did_you_mean, key
from ..errors import Problem, WorkbookError
from ..problems import MISSING_SHEET
from .package import Package, col_letter, file_version, parse_range, parse_ref

if TYPE_CHECKING:
    import pandas as pd

SHEETS = ("Leads", "Activities", "Qualification", "Overrides")
# fastexcel logs a warning for every blank column it reads as text; the columns are fine.
logging.getLogger("fastexcel").setLevel(logging.ERROR)
logging.getLogger("fastexcel.types.dtype").setLevel(logging.ERROR)


@dataclass
class TableLayout:
    """Where a sheet's table sits: header row, first column and its headers (Excel numbering)."""

    sheet: str
    part: str
    header_row: int
    first_col: int                   # 0-based column index
    headers: list[str]
    last_row: int                    # last data row (== header_row when empty)
    table_name: str | None = None
    table_part: str | None = None
    relative_header: int = 0         # plain sheets: header index within the reader's used range
    table_last_row: int = 0          # the table's own last data row, before the rows below it (core.values.table.rows_below)
    maybe_below: bool = False        # the sheet has cells under the table (its dimension says so)

    @property
    def first_data_row(self) -> int:
        return self.header_row + 1


@dataclass
class WorkbookData:
    leads: pd.DataFrame
    activities: pd.DataFrame | None
    qualification: pd.DataFrame | None
    settings: dict[str, object]
    layouts: dict[str, TableLayout]
    problems: list[Problem] = field(default_factory=list)
    settings_rows: dict[str, int] = field(default_factory=dict)   # Settings label key -> Excel row
    history: pd.DataFrame | None = None          # the History sheet's rows (None: no History yet)
    history_sheet: str | None = None             # its real name, when LeadQ's History sheet exists
    rules_sheet: object = None                   # LeadQ's Rules sheet (addin.rules_sheet.RulesSheet), if any
    overrides: pd.DataFrame | None = None        # the Overrides sheet's rows (the user's input; None: no sheet)


class _Reader:
    """fastexcel (calamine, in Rust) with its errors, even its panics, turned into sentences naming the sheet."""

    def __init__(self, path: Path, lazy: bool = False):
        self.path = path
        self._inner = None if lazy else self._call("the workbook", fastexcel.read_excel, str(path))

    @property
    def inner(self):
        """fastexcel's reader; a lazy _Reader opens the file on first use (a table parsed ahead needs none)."""
        if self._inner is None:
            self._inner = self._call("the workbook", fastexcel.read_excel, str(self.path))
        return self._inner

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:         # fastexcel's own hierarchy, and pyo3's PanicException (a BaseException)
            if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
                raise
            # A signal handler's exception raised while fastexcel ran (SIGTERM: cli.Terminated, Ctrl-C) comes back
            # wrapped in a SystemError ("returned a result with an exception set"): a stop, not a damaged file.
            stop = e.__cause__ or e.__context__
            if isinstance(e, SystemError) and stop is not None and not isinstance(stop, Exception):
                raise stop from None
            raise WorkbookError(f"{self.path.name}: {what} cannot be read ({type(e).__name__}: {str(e)[:160]}); open the "
                                "file in Excel, let it repair the workbook and save it") from None

    def load_sheet(self, name, **kwargs):
        sheet = self._call(f'the sheet "{name}"', self.inner.load_sheet, name, **kwargs)
        return sheet if kwargs.get("n_rows") == 0 else _Loaded(self, f'the sheet "{name}"', sheet)

    def load_table(self, name, **kwargs):
        return _Loaded(self, f'the table "{name}"', self._call(f'the table "{name}"', self.inner.load_table, name, **kwargs))


class _Loaded:
    def __init__(self, reader: _Reader, what: str, obj):
        self.reader, self.what, self.obj = reader, what, obj

    def to_pandas(self):
        return self.reader._call(self.what, self.obj.to_pandas)


def _first_cells(package: Package, part: str, limit_rows: int = 60) -> list[tuple[int, int]]:
    """(row, col) of the valued cells of the first rows, decompressing only the sheet's start."""
    buf = package.read_start(part, lambda data: data.count(b"</row>") > limit_rows)
    out: list[tuple[int, int]] = []
    for m in re.finditer(rb'<c\b[^>]*?\br="([A-Z]+\d+)"[^>]*?(?:/>|>(.*?)</c>)', buf, re.S):
        if m.group(2) and (b"<v" in m.group(2) or b"<is" in m.group(2)):
            out.append(parse_ref(m.group(1).decode()))
    return out


def _table_for(package: Package, tables: dict, sheet: str):
    """The Excel table named like the sheet, else the first table on that sheet."""
    for name, (sheet_name, part, root) in tables.items():
        if key(name) == key(sheet) and key(sheet_name) == key(sheet):
            return name, part, root
    for name, (sheet_name, part, root) in tables.items():
        if key(sheet_name) == key(sheet):
            return name, part, root
    return None


def _layout(package: Package, reader, tables: dict, sheet: str) -> TableLayout | None:
    real = package.real_sheet_name(sheet)
    if real is None:
        return None
    part = package.sheets[real]
    found = _table_for(package, tables, real)
    if found:
        name, tpart, root = found
        r1, c1, r2, c2 = parse_range(root.get("ref"))
        headers = [tc.get("name") for tc in root.iterfind("{*}tableColumns/{*}tableColumn")]
        totals = int(root.get("totalsRowCount", "0") or 0)
        return TableLayout(real, part, r1, c1, headers, r2 - totals, name, tpart, table_last_row=r2 - totals,
                           maybe_below=not totals and _sheet_bottom(package, part) > r2)
    cells = _first_cells(package, part)
    if not cells:
        return TableLayout(real, part, 1, 0, [], 1)
    # The header is the first row with at least two values (a title row above it is skipped).
    rows: dict[int, list[int]] = {}
    for r, c in cells:
        rows.setdefault(r, []).append(c)
    ordered = sorted(rows)
    header_row = ordered[header_row_index([len(rows[r]) for r in ordered])]
    first_col = min(c for _, c in cells)        # the reader's used range starts at the leftmost value
    sheet_obj = reader.load_sheet(real, header_row=header_row - min(rows), n_rows=0)
    headers = [c.name for c in sheet_obj.available_columns()]
    return TableLayout(real, part, header_row, first_col, headers, header_row + sheet_obj.total_height,
                       relative_header=header_row - min(rows))


def _sheet_bottom(package: Package, part: str) -> int:
    """The last row the sheet's <dimension> names (a sheet without one: as far as Excel goes)."""
    head = package.read_start(part, lambda data: b"<sheetData" in data, limit=200_000)
    m = re.search(rb'<dimension\b[^>]*?\bref="([^"]+)"', head)
    try:
        return parse_range(m.group(1).decode())[2] if m else 1_048_576
    except ValueError:
        return 1_048_576


def _below(reader, layout: TableLayout, keep: list[int], problems: list | None) -> pd.DataFrame | None:
    """The rows typed or pasted under the table (core.values.table.rows_below), as a frame of the kept
    columns; the layout's last row moves down over them. None when there are none."""
    from ..core.values.table import below_problem, blank_rows, rows_below
    letters = ",".join(col_letter(layout.first_col + i) for i in keep)
    try:
        frame = reader.inner.load_sheet(layout.sheet, header_row=None, skip_rows=layout.table_last_row,
                                        use_columns=letters).to_pandas()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:      # nothing under the table in its columns (fastexcel: no such rows or columns; a panic)
        return None
    if len(frame.columns) != len(keep):
        return None
    blank = blank_rows(frame)
    n = rows_below(blank)
    if not n:
        return None
    frame = frame.iloc[:n]
    layout.last_row = layout.table_last_row + n
    if problems is not None:
        problems.append(below_problem(layout.sheet, int((~blank[:n]).sum()), layout.table_last_row + 1, layout.last_row))
    return frame


def _kept(layout: TableLayout) -> list[int]:
    """The table's columns read: all but LeadQ's own output columns on Leads (never inputs: skipping them is
    faster, and no type is guessed on blanks)."""
    outputs_ = {key(n) for n in outputs()} if layout.sheet.casefold() == "leads" else set()
    return [i for i, h in enumerate(layout.headers) if key(h) not in outputs_]


def _load(reader, layout: TableLayout, problems: list | None = None, ahead: Future | None = None) -> pd.DataFrame:
    """The sheet's frame; `ahead`: the table's parsing begun by read_ahead (_Ahead.take), used when it succeeded."""
    from ..core.values.table import tag_origin
    if layout.table_name:
        keep = _kept(layout)
        table = _Ahead.result(ahead)
        if table is not None:
            table = _Loaded(reader, f'the table "{layout.table_name}"', table)
        else:
            table = reader.load_table(layout.table_name, use_columns=keep)
        frame = table.to_pandas()
        del table
        frame.columns = [layout.headers[i] for i in keep][: len(frame.columns)]
        frame = frame.iloc[: max(layout.table_last_row - layout.header_row, 0)]
        below = _below(reader, layout, keep, problems) if layout.maybe_below else None
        if below is not None:
            import pandas as pd
            below.columns = list(frame.columns)
            if len(frame) < layout.table_last_row - layout.header_row:      # the table's own empty last rows
                frame = frame.reindex(range(layout.table_last_row - layout.header_row))
            frame = pd.concat([frame.astype(object), below.astype(object)], ignore_index=True)
    else:
        frame = reader.load_sheet(layout.sheet, header_row=layout.relative_header).to_pandas()
        layout.headers = [str(c) for c in frame.columns]
        layout.last_row = layout.header_row + len(frame)
    return tag_origin(frame, layout.sheet, layout.first_data_row, layout.first_col)


def _load_all(path: Path, reader: _Reader, layouts: dict[str, TableLayout], later: bool = False,
              problems: list | None = None, ahead: _Ahead | None = None) -> dict:
    """Every sheet's frame. The Activities log (usually the biggest sheet) is read in a second
    thread with its own reader while this one reads the others: fastexcel parses without holding
    Python's lock, so on two cores the reads overlap. later: Activities is left as the Future of
    its frame (evaluate() waits for it only when it needs it: the leads' own steps go first).
    ahead: the tables read_ahead began parsing (each is used if it is of the same layout)."""
    def begun(sheet: str, lay: TableLayout) -> Future | None:
        return ahead.take(sheet, lay) if ahead is not None else None
    big = layouts.get("Activities")
    if big is None or (os.cpu_count() or 1) < 2:
        return {sheet: _load(reader, lay, problems, begun(sheet, lay)) for sheet, lay in layouts.items()}
    from concurrent.futures import ThreadPoolExecutor
    big_ahead = begun("Activities", big)
    if big_ahead is not None and later:
        # A refresh (the log parsed ahead): the save copies the log's zip entry as it is; its check runs now,
        # on a core the reads leave idle while that parse is awaited (package.check_while_reading).
        from .package import check_while_reading
        check_while_reading(path, [big.part])
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadq-read")
    activities = pool.submit(lambda: _load(_Reader(path, lazy=big_ahead is not None), big, problems, big_ahead))
    pool.shutdown(wait=False)
    try:
        frames = {sheet: _load(reader, lay, problems, begun(sheet, lay)) for sheet, lay in layouts.items() if lay is not big}
    except BaseException:
        activities.cancel()
        raise
    frames["Activities"] = activities if later else activities.result()
    return frames


# ---------------------------------------------------------------- reading ahead
AHEAD = ("Activities", "Leads")     # the tables read_ahead parses, in this order (the log is the longest)


class _Ahead:
    """The Activities table, then the Leads table, parsed in a thread of their own from before the scoring
    code is imported (read_ahead). read_workbook takes each when it comes to it (`take`): a table whose
    parsing has not begun by then is read as usual, and not begun afterwards."""

    def __init__(self, path: Path):
        self.path = path
        self.identity = file_version(path)
        self.layouts: dict[str, TableLayout] = {}
        self.tables: dict[str, Future] = {}           # sheet -> Future of fastexcel's table
        self.taken: set[str] = set()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            package = Package(self.path)
            try:
                tables = package.tables()
                for sheet in AHEAD:
                    real = package.real_sheet_name(sheet)
                    if real is not None and _table_for(package, tables, real) is not None:
                        self.layouts[sheet] = _layout(package, None, tables, sheet)
            finally:
                package.close()
            reader = fastexcel.read_excel(str(self.path))
        except Exception:
            return
        for sheet, lay in list(self.layouts.items()):
            with self.lock:
                if sheet in self.taken:
                    continue
                future = self.tables[sheet] = Future()
            try:
                table = reader.load_table(lay.table_name, use_columns=_kept(lay))
                if file_version(self.path) != self.identity:
                    raise OSError("the file changed while it was read")
                future.set_result([table])      # a box the reading empties: the cells are freed once converted
            except BaseException as e:      # fastexcel's errors, pyo3's PanicException: read_workbook reads anew
                future.set_exception(e)

    def take(self, sheet: str, lay: TableLayout) -> Future | None:
        """The parsing of that sheet's table begun ahead, if it is of this layout; None: read it now."""
        with self.lock:
            self.taken.add(sheet)
            future = self.tables.get(sheet)
        return future if future is not None and self.layouts.get(sheet) == lay else None

    @staticmethod
    def result(future: Future | None):
        """fastexcel's table parsed ahead, or None when it failed or the file has changed since it was first seen."""
        if future is None:
            return None
        try:
            box = future.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            return None
        return box.pop() if box else None


_ahead: _Ahead | None = None


def read_ahead(path) -> None:
    """Begin parsing the workbook's Activities and Leads tables now, in a thread of their own: fastexcel
    parses without holding Python's lock, so the parsing goes on while the scoring code is imported, on
    the second core. The next read_workbook of the same file uses them, if the file has not changed since
    (else it reads it anew, as without this). Never raises: anything that goes wrong here is met again, and
    reported, when the workbook is read."""
    global _ahead
    try:
        ahead = _Ahead(Path(path))
    except Exception:
        return
    _ahead = ahead
    threading.Thread(target=ahead.run, name="leadq-ahead", daemon=True).start()


def _take_ahead(path: Path) -> _Ahead | None:
    """The tables read_ahead began for this very file (same path, same version), or None."""
    global _ahead
    ahead = _ahead
    if ahead is None:
        return None
    try:
        if os.path.realpath(ahead.path) != os.path.realpath(path) or file_version(path) != ahead.identity:
            return None
    except OSError:
        return None
    _ahead = None
    return ahead


def table_layout(package: Package, reader, sheet: str, tables: dict | None = None) -> TableLayout | None:
    """Where a sheet's table sits: its Excel table named like the sheet (else its first), else the
    used range below the first row with two values. None when there is no such sheet."""
    return _layout(package, reader, package.tables() if tables is None else tables, sheet)


def read_sheet(path: Path, package: Package, sheet: str) -> pd.DataFrame | None:
    """One sheet's table as a frame tagged with its cells; None when there is no such sheet or header."""
    reader = _Reader(Path(path))
    lay = table_layout(package, reader, sheet)
    return _load(reader, lay) if lay and lay.headers else None


def read_settings(reader, package: Package) -> tuple[dict[str, object], dict[str, int]]:
    """Settings as {label key: value} from columns A and B, and the Excel row of each label."""
    real = package.real_sheet_name("Settings")
    if real is None:
        return {}, {}
    cells = _first_cells(package, package.sheets[real])
    if not cells:
        return {}, {}
    top = min(r for r, _ in cells)
    from ..settings import parse_settings
    frame = reader.load_sheet(real, header_row=None, n_rows=80, use_columns=[0, 1]).to_pandas()
    return parse_settings(frame.astype(object).to_numpy().tolist(), top)


def read_rules_sheet(reader, package: Package, settings: dict):
    """The book's LeadQ Rules sheet (the one Settings name, else "Rules"), or None (addin.rules_sheet)."""
    from .. import rules_sheet
    real = package.real_sheet_name(rules_sheet.wanted(settings))
    if real is None:
        return None
    frame = reader.load_sheet(real, header_row=None, use_columns=[0]).to_pandas()
    column = frame.iloc[:, 0].astype(object).tolist() if frame.shape[1] else []
    return rules_sheet.from_column(real, column)


def read_workbook(path: Path, package: Package | None = None, later: bool = False) -> WorkbookData:
    """Read the input sheets of a LeadQ workbook (any header spelling; tables or plain sheets).
    later: `activities` may be a Future of the frame, still being read (see _load_all)."""
    path = Path(path)
    own = package is None
    package = package or Package(path)
    try:
        reader = _Reader(path)
        tables = package.tables()
        layouts = {}
        for sheet in SHEETS:
            lay = _layout(package, reader, tables, sheet)
            if lay is not None:
                layouts[sheet] = lay
        if "Leads" not in layouts:
            hint = did_you_mean("Leads", list(package.sheets))
            p = Problem(MISSING_SHEET, str(path.name), f'no "Leads" sheet{hint}; LeadQ reads leads from a sheet named Leads',
                        "error")
            raise WorkbookError(f"{path.name}: {p.message}", [p])
        problems = []
        frames = _load_all(path, reader, layouts, later, problems, _take_ahead(path))
        if "Activities" not in layouts:
            problems.append(Problem(MISSING_SHEET, path.name, 'no "Activities" sheet: engagement scores are 0', "warning"))
        settings, settings_rows = read_settings(reader, package)
        from .parts.history import read_history
        history_sheet, history = read_history(reader, package)
        return WorkbookData(frames["Leads"], frames.get("Activities"), frames.get("Qualification"),
                            settings, layouts, problems, settings_rows, history, history_sheet,
                            read_rules_sheet(reader, package, settings), frames.get("Overrides"))
    finally:
        if own:
            package.close()
