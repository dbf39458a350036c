"""A small xlwings engine backed by openpyxl, for tests only: lets `xw.Book.caller()` and the
LeadQ macros run unchanged against a real .xlsm file on Linux.

It implements the part of xlwings' (internal, version-pinned) engine interface that the macros
use — see xlwings/base_classes.py — and behaves like Excel, not like openpyxl, wherever a macro
could tell the difference. Each behaviour and where it comes from:

- Text written through `Range.value` is typed input: Excel coerces it as it coerces what a user
  types (`"001001"` -> 1001, `"1/2"` -> 2 January, `"2018-12-31"` -> a date, `"TRUE"` -> a boolean,
  `"=…"` -> a formula), unless the cell's number format is Text (`@`) or the text starts with an
  apostrophe (Excel's text prefix, not stored). Sources: xlwings issue #1269 ("Leading zeros are
  removed", answered: set `number_format = "@"` first); OfficeDev/office-js #229 (Office.js
  `range.values` coerces the same way; setting `numberFormat` "@" first keeps text); xlwings docs,
  "Data Structures Tutorial" (values are written as Excel interprets them). `_typed` below.
- Formula cells read as their value, never their text (COM `Range.Value`; the remote engine sends
  values only). A formula written in this session has no value here: reading it raises, so a test
  never passes on the formula's text.
- `Sheet.clear()` removes values, formats, hyperlinks and conditional formats (Excel's
  `Worksheet.Cells.Clear`; the remote engine's `sheetClear` action), not charts.
- Charts are an index-keyed collection, as in xlwings' remote engine (`xlwings/pro/_xlremote.py`,
  `Collection.__call__`/`__iter__` wrap positions and `Chart.delete` does
  `del parent.api["charts"][self.index - 1]`): a `Chart` deleted after an earlier one still holds its
  old position, so deleting front to back fails with IndexError as it does there. Chart types are
  kept (`chart_type` reads back what was set) and saved as that kind of chart.
- Synchronous reads the remote engine refuses raise its NotImplementedError ("Reading the left
  position synchronously isn't supported on this engine…"): `Range.left/top/width/height`,
  `formula`, `number_format`, `column_width`, `row_height`, `color`, `wrap_text`, the alignments,
  `hyperlink` (`_xlremote.py`, class Range), and reading conditional formats (`ConditionalFormats._loaded`).
  What the macros may do portably is what all of Excel (Windows, macOS) and the remote engine implement.
- `Range.conditional_formats` implements xlwings 0.37.5+'s portable API (`add_cell_value`, `clear`;
  main.py `ConditionalFormats`, implemented by `_xlwindows.py`, `_xlmac.py` and `_xlremote.py`); the
  rules land in the sheet's conditional formatting, where tests read them back from the file.
- Sheets: `Sheet.copy` copies everything on the sheet — values, formats, hyperlinks, conditional
  formats, merged cells, widths and heights, sheet-scoped names, print settings, its charts (whose data
  on the sheet becomes the copy's) — and names the copy "NAME (2)" (Excel's `Worksheet.Copy`,
  learn.microsoft.com/office/vba/api/excel.worksheet.copy; xlwings `main.py` `Sheet.copy` finds the copy by
  the new name and renames it; `_xlwindows.py` `Worksheet.Copy`, `_xlmac.py` `copy_worksheet`,
  `_xlremote.py` action `copySheet`). Renaming a sheet renames the references to it in other sheets'
  formulas and in workbook names; deleting it turns them into `#REF!` (Excel's behaviour; the remote
  engine mirrors the rename in its names: `_xlremote.py` `Sheet.name` setter, `_rename_sheet_in_formula`).
  `Sheet.visible` and `Sheet.move` (xlwings 0.37.5+) as in `main.py`.
- Defined names whose definition is not a range (a constant such as `=3`) are sent without a
  definition when `Engine.constant_names` is False, as older Office.js clients do (`_xlremote.py`
  `Name.refers_to`: "Older clients only send range coordinates. Non-range/multi-area names may have
  neither coordinates nor a definition in that payload" -> None).
- `Range.column_width` takes characters, as Excel's object model does on Windows and macOS (the
  remote engine takes points: `_xlremote.py` `Range.column_width`); `Engine.name` says which.

xlwings' remote engine itself is not used here: it is licensed for noncommercial use only.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import sys
from collections import Counter
from pathlib import Path

import openpyxl
import xlwings as xw
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.drawing.spreadsheet_drawing import AbsoluteAnchor
from openpyxl.drawing.xdr import XDRPoint2D, XDRPositiveSize2D
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, PatternFill, Side
from openpyxl.styles import Border as XlBorder
from openpyxl.styles import Font as XlFont
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import TableColumn

CALLS: Counter = Counter()      # calls into "Excel" made from outside this engine, by "Class.attribute"
TRAPS: dict = {}                # "Class.attribute" -> n: the n-th such call from now raises (tests of failed writes)


def _count(key: str) -> None:
    CALLS[key] += 1
    if key in TRAPS:
        TRAPS[key] -= 1
        if TRAPS[key] == 0:
            del TRAPS[key]
            raise OSError(f"Excel stopped responding ({key})")


class _Counted:
    """Counts every public attribute read or write from outside the engine: with the real Excel
    engine each of them is a call across the COM bridge, which costs milliseconds."""

    def __getattribute__(self, name):
        if not name.startswith("_") and sys._getframe(1).f_code.co_filename != __file__:
            _count(f"{type(self).__name__}.{name}")
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if not name.startswith("_") and sys._getframe(1).f_code.co_filename != __file__:
            _count(f"{type(self).__name__}.{name}=")
        object.__setattr__(self, name, value)


class _NoObjectModel:
    """Stands in for Excel's COM object: present (xlwings tests it for truth), but without members."""

    def __getattr__(self, name):
        raise AttributeError(f"the openpyxl test engine has no Excel object model ({name})")


class _RangeApi(_NoObjectModel):
    """The few members of Excel's Range object LeadQ uses where xlwings has no portable API
    (Font.Underline, IndentLevel); anything else raises, like _NoObjectModel."""

    def __init__(self, rng):
        object.__setattr__(self, "_rng", rng)
        object.__setattr__(self, "Font", _FontApi(rng))

    def __setattr__(self, name, value):
        if name != "IndentLevel":
            raise AttributeError(f"the openpyxl test engine cannot set Range.{name}")
        for c in self._rng.cells():
            c.alignment = _alignment(c, indent=value)


class _FontApi(_NoObjectModel):
    def __init__(self, rng):
        object.__setattr__(self, "_rng", rng)

    def __setattr__(self, name, value):
        if name != "Underline":
            raise AttributeError(f"the openpyxl test engine cannot set Font.{name}")
        for c in self._rng.cells():
            f = c.font
            c.font = openpyxl.styles.Font(name=f.name, size=f.sz, bold=f.b, italic=f.i, color=f.color,
                                          underline="single" if value == 2 else None)


def _alignment(cell, **kw):
    a = cell.alignment
    now = {"horizontal": a.horizontal, "vertical": a.vertical, "wrap_text": a.wrap_text, "indent": a.indent}
    return Alignment(**{**now, **kw})


def _refused(what: str, getter: str):
    """The remote engine's answer to a synchronous read it cannot do (xlwings/pro/_xlremote.py)."""
    raise NotImplementedError(f"Reading {what} synchronously isn't supported on this engine. "
                              f"Use 'await myrange.{getter}()' to fetch it on demand.")


_NUMBER = re.compile(r"^\s*[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?%?\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_US_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\s*$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
TODAY_YEAR = 2026            # the year Excel gives "1/2" (the current year; fixed here for reproducibility)


def _typed(text: str):
    """What Excel stores when `text` is written through `Range.value` into a General cell (en-US
    locale), as when a user types it: (value, is_formula). See the module docstring for sources."""
    if text == "":
        return None, False
    if text.startswith("'"):
        return text[1:], False                       # the text prefix: stored as text, apostrophe not kept
    if text.startswith("=") and len(text) > 1:
        return text, True
    if text.strip().upper() in ("TRUE", "FALSE"):
        return text.strip().upper() == "TRUE", False
    if _NUMBER.match(text) and any(ch.isdigit() for ch in text):
        t = text.strip().replace(",", "")
        pct = t.endswith("%")
        v = float(t.rstrip("%"))
        v = v / 100 if pct else v
        return (int(v) if v.is_integer() and not pct and "e" not in t.lower() and "." not in t else v), False
    if text[:1] in ("+", "-", "@") and len(text) > 1:
        return "=" + text.lstrip("+@"), True           # Excel reads these as the start of a formula
    for pattern, order in ((_ISO_DATE, "ymd"), (_US_DATE, "mdy")):
        m = pattern.match(text)
        if m:
            parts = dict(zip(order, m.groups()))
            year = parts.get("y") or str(TODAY_YEAR)
            year = int(year) + (2000 if len(year) == 2 and int(year) < 30 else 1900 if len(year) == 2 else 0)
            try:
                return dt.datetime(year, int(parts["m"]), int(parts["d"])), False
            except ValueError:
                return text, False                   # 13/1: not a date in this locale, stays text
    m = _TIME.match(text)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)), False
    return text, False


def column_pixels(chars: float, digit: int = 7) -> int:
    """A column's width in pixels for a width in characters (ECMA-376 Part 1, 18.3.1.13, Calibri 11:
    maximum digit width 7 px, 5 px of padding)."""
    stored = int((chars * digit + 5) / digit * 256) / 256
    return int((256 * stored + int(128 / digit)) / 256 * digit)


DEFAULT_WIDTH = 8.43           # characters: Excel's default column width (Calibri 11)
DEFAULT_HEIGHT = 15.0          # points: Excel's default row height (Calibri 11)



class Engine:
    name = "openpyxl-test"
    type = "test"
    constant_names = True      # False: defined names that are not ranges arrive without a definition (old Office.js)

    def __init__(self):
        self.apps = Apps()

    @staticmethod
    def clean_value_data(data, datetime_builder, empty_as, none_value, err_to_str=False):
        return [[empty_as if v is None else v for v in row] for row in data]

    @staticmethod
    def prepare_xl_data_element(x, options=None):
        if isinstance(x, dt.date) and not isinstance(x, dt.datetime):
            return dt.datetime(x.year, x.month, x.day)
        return x


class Apps:
    def __init__(self):
        self._apps = [App()]

    def keys(self):
        return [1]

    def __iter__(self):
        return iter(self._apps)

    def __len__(self):
        return len(self._apps)

    def __getitem__(self, pid):
        return self._apps[0]


class App(_Counted):
    engine = None       # set to the Engine instance when it is registered

    def __init__(self):
        self.status_bar = None
        self.screen_updating = True
        self.books = []
        self.pid = 1

    def activate(self, steal_focus=False):
        pass


class Book(_Counted):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.wb = openpyxl.load_workbook(self.path, keep_vba=True)
        self.app = App()
        self._charts: dict = {}           # worksheet -> [chart entries], in Excel's order (index-keyed)
        self._formulas: set = set()       # (sheet title, coordinate) of formulas written in this session
        self._cached = None               # the file's cached formula values (data_only), read when first needed

    def cached_value(self, ws, coordinate):
        """A formula cell's value: Excel's last calculated result, as saved in the file."""
        if (ws.title, coordinate) in self._formulas:
            raise NotImplementedError(f"{ws.title}!{coordinate} holds a formula written by this test: Excel would "
                                      "calculate it, the openpyxl test engine cannot")
        if self._cached is None:
            self._cached = openpyxl.load_workbook(self.path, data_only=True)
        if ws.title not in self._cached.sheetnames:
            raise NotImplementedError(f"{ws.title}!{coordinate}: a formula the test engine cannot calculate")
        return self._cached[ws.title][coordinate].value

    def charts_of(self, ws) -> list:
        return self._charts.setdefault(ws, [])

    @property
    def name(self):
        return self.path.name

    @property
    def fullname(self):
        return str(self.path)

    @property
    def sheets(self):
        return Sheets(self)

    def activate(self):
        pass

    @property
    def names(self):
        return Names(self)

    def save(self, path=None, password=None):
        for ws, entries in self._charts.items():
            ws._charts = [_build_chart(ws, e) for e in entries if e["source"] is not None]
        self.wb.save(path or self.path)

    def __eq__(self, other):
        return isinstance(other, Book) and other.path == self.path


class Sheets(_Counted):
    def __init__(self, book: Book):
        self.book = book

    def __call__(self, name_or_index):
        if isinstance(name_or_index, int):
            return Sheet(self.book, self.book.wb.worksheets[name_or_index - 1])
        return Sheet(self.book, self.book.wb[name_or_index])

    def __len__(self):
        return len(self.book.wb.worksheets)

    def __iter__(self):
        for ws in self.book.wb.worksheets:
            yield Sheet(self.book, ws)

    @property
    def active(self):
        return Sheet(self.book, self.book.wb.active)

    def add(self, before=None, after=None, name=None):
        index = self.book.wb.worksheets.index(after.ws) + 1 if after else None
        ws = self.book.wb.create_sheet(title=name, index=index)
        return Sheet(self.book, ws)


class PageSetup:
    """xlwings' PageSetup (main.py, new in 0.24.2): only `print_area` is portable — Excel's
    PageSetup.PrintArea on Windows (`_xlwindows.py`) and macOS (`_xlmac.py`), the remote engine's
    `setPrintArea` action (`_xlremote.py`). Excel reads it back as an absolute A1 address without the
    sheet's name ("$A$1:$M$80"), or None when the sheet has none; setting None clears it. It is
    stored as the sheet's Print_Area name, so it travels with a copy of the sheet."""

    def __init__(self, sheet):
        self.sheet = sheet

    @property
    def print_area(self):
        area = self.sheet.ws.print_area
        return area.split("!", 1)[1] if area else None

    @print_area.setter
    def print_area(self, value):
        if value is not None:
            range_boundaries(value.replace("$", ""))         # Excel refuses what is not an address
        self.sheet.ws.print_area = None if value is None else value.replace("$", "")


class Sheet(_Counted):
    def __init__(self, book: Book, ws):
        self.book = book
        self.ws = ws

    @property
    def name(self):
        return self.ws.title

    @name.setter
    def name(self, value):
        """Excel renames the references to the sheet too (formulas on other sheets, workbook names)."""
        _rewrite_references(self.book, self.ws.title, _sheet_prefix(value))
        self.ws.title = value

    @property
    def index(self):
        return self.book.wb.worksheets.index(self.ws) + 1

    def range(self, arg1, arg2=None):
        def cell(a):
            if isinstance(a, Range):
                return a.r1, a.c1, a.r2, a.c2
            if isinstance(a, tuple):
                return a[0], a[1], a[0], a[1]
            c1, r1, c2, r2 = range_boundaries(a.replace("$", ""))
            return r1, c1, r2, c2
        r1, c1, r2, c2 = cell(arg1)
        if arg2 is not None:
            rr1, cc1, rr2, cc2 = cell(arg2)
            r1, c1, r2, c2 = min(r1, rr1), min(c1, cc1), max(r2, rr2), max(c2, cc2)
        return Range(self, r1, c1, r2, c2)

    @property
    def used_range(self):
        ws = self.ws
        return Range(self, ws.min_row, ws.min_column, max(ws.max_row, ws.min_row), max(ws.max_column, ws.min_column))

    def clear(self):
        """Excel's Cells.Clear: values, formats, hyperlinks and conditional formats go; charts stay."""
        for row in self.ws.iter_rows():
            for c in row:
                c.value = None
                c.hyperlink = None
                c.style = "Normal"
        self.ws._hyperlinks = []
        self.ws.conditional_formatting = type(self.ws.conditional_formatting)()
        for merged in list(self.ws.merged_cells.ranges):
            self.ws.unmerge_cells(str(merged))

    @property
    def charts(self):
        return Charts(self)

    @property
    def page_setup(self):
        return PageSetup(self)

    def activate(self):
        self.book.wb.active = self.book.wb.worksheets.index(self.ws)

    def delete(self):
        """Excel's Worksheet.Delete: formulas on other sheets and workbook names that pointed at the
        sheet now say #REF! (a reference to a deleted sheet cannot be kept)."""
        _rewrite_references(self.book, self.ws.title, "#REF!")
        self.book._charts.pop(self.ws, None)
        self.book.wb.remove(self.ws)

    def copy(self, before=None, after=None):
        """Excel's Worksheet.Copy within the book: everything on the sheet is copied — values,
        formats, hyperlinks, conditional formats, merged cells, widths and heights, view settings and
        its charts, whose data (on the sheet itself) is the copy's. The copy is named "NAME (2)"
        (xlwings' Sheet.copy then renames it, main.py)."""
        wb = self.book.wb
        taken = {ws.title.casefold() for ws in wb.worksheets}
        name = next(f"{self.ws.title} ({i})" for i in range(2, 1000) if f"{self.ws.title} ({i})".casefold() not in taken)
        ws = wb.copy_worksheet(self.ws)
        ws.title = name
        ws.conditional_formatting = copy.deepcopy(self.ws.conditional_formatting)
        ws.views = copy.deepcopy(self.ws.views)
        ws.sheet_state = self.ws.sheet_state
        ws.defined_names = copy.deepcopy(self.ws.defined_names)      # sheet-scoped names travel with it
        ws._print_area, ws._print_rows, ws._print_cols = self.ws._print_area, self.ws._print_rows, self.ws._print_cols
        self.book._charts[ws] = copy.deepcopy(self.book.charts_of(self.ws))
        wb._sheets.remove(ws)
        target = (before or after).ws
        wb._sheets.insert(wb._sheets.index(target) + (0 if before is not None else 1), ws)

    def move(self, before=None, after=None):
        wb = self.book.wb
        wb._sheets.remove(self.ws)
        target = (before or after).ws
        wb._sheets.insert(wb._sheets.index(target) + (0 if before is not None else 1), self.ws)

    @property
    def visible(self):
        return self.ws.sheet_state == "visible"

    @visible.setter
    def visible(self, value):
        self.ws.sheet_state = "visible" if value else "hidden"

    @property
    def tables(self):
        return Tables(self)

    def __eq__(self, other):
        return isinstance(other, Sheet) and other.ws is self.ws


def _sheet_prefix(name: str) -> str:
    """How a formula names a sheet: Summary!, 'Lead history'! (quotes doubled inside)."""
    return f"{name}!" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) else "'" + name.replace("'", "''") + "'!"


def _rewrite_references(book: Book, title: str, prefix: str) -> None:
    """Point every formula on the other sheets and every workbook name that refers to sheet `title`
    at `prefix` instead ("Summary2!" after a rename, "#REF!" after a delete), as Excel does."""
    ref = re.compile(r"(?<![\w.'])(?:'" + re.escape(title.replace("'", "''")) + "'|" + re.escape(title) + ")!",
                     re.IGNORECASE)
    for ws in book.wb.worksheets:
        if ws.title == title:
            continue
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f" and isinstance(c.value, str) and ref.search(c.value):
                    c.value = ref.sub(lambda m: prefix, c.value)
    for dn in book.wb.defined_names.values():
        if dn.attr_text and ref.search(dn.attr_text):
            dn.attr_text = ref.sub(lambda m: prefix, dn.attr_text)


class Names(_Counted):
    """Workbook-level defined names (xlwings' Names impl: snapshot, call, contains, add)."""

    def __init__(self, book: Book):
        self.book = book

    def _dict(self):
        return self.book.wb.defined_names

    def snapshot(self):
        return [(n, Name(self.book, n)) for n in self._dict()]

    def __call__(self, name):
        if isinstance(name, int):
            return self.snapshot()[name - 1][1]
        if name not in self._dict():
            raise KeyError(name)
        return Name(self.book, name)

    def contains(self, name):
        return name in self._dict()

    def __len__(self):
        return len(self._dict())

    def add(self, name, refers_to):
        self._dict()[name] = DefinedName(name, attr_text=refers_to.lstrip("="))
        return Name(self.book, name)


class Name(_Counted):
    def __init__(self, book: Book, name: str):
        self.book, self._name = book, name

    @property
    def _dn(self):
        return self.book.wb.defined_names[self._name]

    @property
    def name(self):
        return self._name

    @property
    def refers_to(self):
        text = "=" + self._dn.attr_text
        if not App.engine.constant_names and "!" not in text:
            return None                  # old Office.js clients send range names only
        return text

    @refers_to.setter
    def refers_to(self, value):
        self._dn.attr_text = value.lstrip("=")

    def delete(self):
        del self.book.wb.defined_names[self._name]

    @property
    def api(self):
        return _NameApi(self)


class _NameApi(_NoObjectModel):
    def __init__(self, name: Name):
        object.__setattr__(self, "_name", name)

    def __setattr__(self, attr, value):
        if attr != "Visible":
            raise AttributeError(f"the openpyxl test engine cannot set Name.{attr}")
        self._name._dn.hidden = not value


class Tables(_Counted):
    """A sheet's Excel tables (ListObjects)."""

    def __init__(self, sheet: Sheet):
        self.sheet = sheet

    def __iter__(self):
        for name in self.sheet.ws.tables:
            yield Table(self.sheet, self.sheet.ws.tables[name])

    def __len__(self):
        return len(self.sheet.ws.tables)

    def __call__(self, name_or_index):
        if isinstance(name_or_index, int):
            return list(self)[name_or_index - 1]
        return Table(self.sheet, self.sheet.ws.tables[name_or_index])


class Table(_Counted):
    def __init__(self, sheet: Sheet, table):
        self.sheet, self.table = sheet, table

    @property
    def name(self):
        return self.table.displayName

    @property
    def range(self):
        c1, r1, c2, r2 = range_boundaries(self.table.ref)
        return Range(self.sheet, r1, c1, r2, c2)

    def resize(self, rng):
        """Like Excel: the table takes the new range; added columns are named by their header cells."""
        rng = rng.impl
        self.table.ref = f"{get_column_letter(rng.c1)}{rng.r1}:{get_column_letter(rng.c2)}{rng.r2}"
        if self.table.autoFilter is not None:
            self.table.autoFilter.ref = self.table.ref
        columns = self.table.tableColumns
        next_id = max([0] + [c.id for c in columns]) + 1
        for col in range(rng.c1 + len(columns), rng.c2 + 1):
            header = self.sheet.ws.cell(rng.r1, col).value
            columns.append(TableColumn(id=next_id, name=str(header) if header is not None else f"Column{next_id}"))
            next_id += 1


class Font(_Counted):
    def __init__(self, rng):
        self.rng = rng

    def _set(self, **kw):
        for c in self.rng.cells():
            f = c.font
            c.font = openpyxl.styles.Font(name=f.name, size=kw.get("size", f.sz), bold=kw.get("bold", f.b),
                                          italic=kw.get("italic", f.i), color=kw.get("color", f.color),
                                          underline=f.u)

    bold = property(lambda self: self.rng.first().font.b, lambda self, v: self._set(bold=v))
    italic = property(lambda self: self.rng.first().font.i, lambda self, v: self._set(italic=v))
    size = property(lambda self: self.rng.first().font.sz, lambda self, v: self._set(size=v))
    color = property(lambda self: self.rng.first().font.color,
                     lambda self, v: self._set(color="FF%02X%02X%02X" % tuple(v)))


class Range(_Counted):
    max_cells_per_read = None
    max_cells_per_write = None

    def __init__(self, sheet: Sheet, r1, c1, r2, c2):
        self.sheet, self.r1, self.c1, self.r2, self.c2 = sheet, r1, c1, r2, c2
        self.options = {}

    @property
    def api(self):
        return _RangeApi(self)

    def __call__(self, row, col=None):
        return Range(self.sheet, self.r1 + row - 1, self.c1 + col - 1, self.r1 + row - 1, self.c1 + col - 1)

    def __len__(self):
        return (self.r2 - self.r1 + 1) * (self.c2 - self.c1 + 1)

    @property
    def row(self):
        return self.r1

    @property
    def column(self):
        return self.c1

    @property
    def shape(self):
        return self.r2 - self.r1 + 1, self.c2 - self.c1 + 1

    @property
    def coords(self):
        return self.sheet.book.name, self.sheet.name, self.r1, self.c1, *self.shape

    @property
    def address(self):
        return f"${get_column_letter(self.c1)}${self.r1}:${get_column_letter(self.c2)}${self.r2}"

    def cells(self):
        for r in range(self.r1, self.r2 + 1):
            for c in range(self.c1, self.c2 + 1):
                yield self.sheet.ws.cell(r, c)

    def first(self):
        return self.sheet.ws.cell(self.r1, self.c1)

    def _read(self, cell):
        if cell.data_type == "f":
            return self.sheet.book.cached_value(self.sheet.ws, cell.coordinate)    # Excel reads a formula's value
        return cell.value

    @property
    def raw_value(self):
        ws = self.sheet.ws
        rows = [[self._read(ws.cell(r, c)) for c in range(self.c1, self.c2 + 1)] for r in range(self.r1, self.r2 + 1)]
        return rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else rows

    @raw_value.setter
    def raw_value(self, data):
        if not isinstance(data, (list, tuple)):
            data = [[data] * (self.c2 - self.c1 + 1)] * (self.r2 - self.r1 + 1)
        for i, row in enumerate(data):
            for j, v in enumerate(row):
                cell = self.sheet.ws.cell(self.r1 + i, self.c1 + j)
                if isinstance(v, str) and cell.number_format == "@":
                    cell.value = v[1:] if v.startswith("'") else v     # a Text cell keeps typed text as text
                    if cell.value == "":
                        cell.value = None
                    else:
                        cell.data_type = "s"
                elif isinstance(v, str):
                    value, formula = _typed(v)
                    cell.value = value
                    if formula:
                        self.sheet.book._formulas.add((self.sheet.ws.title, cell.coordinate))
                    elif isinstance(value, str):
                        cell.data_type = "s"
                    elif isinstance(value, (dt.datetime, dt.time)) and cell.number_format == "General":
                        cell.number_format = "m/d/yyyy" if isinstance(value, dt.datetime) else "h:mm"
                else:
                    cell.value = v
                    self.sheet.book._formulas.discard((self.sheet.ws.title, cell.coordinate))

    @property
    def formula(self):
        _refused("formulas", "get_formula")

    @property
    def conditional_formats(self):
        return ConditionalFormats(self)

    @property
    def font(self):
        return Font(self)

    @property
    def color(self):
        _refused("the fill color", "get_color")

    @color.setter
    def color(self, rgb):
        fill = PatternFill("solid", fgColor="FF%02X%02X%02X" % tuple(rgb))
        for c in self.cells():
            c.fill = fill

    @property
    def number_format(self):
        _refused("the number format", "get_number_format")

    @number_format.setter
    def number_format(self, value):
        for c in self.cells():
            c.number_format = value

    @property
    def column_width(self):
        _refused("the column width", "get_column_width")

    @column_width.setter
    def column_width(self, value):
        self.sheet.ws.column_dimensions[get_column_letter(self.c1)].width = value

    @property
    def wrap_text(self):
        _refused("the wrap text flag", "get_wrap_text")

    @wrap_text.setter
    def wrap_text(self, value):
        for c in self.cells():
            c.alignment = _alignment(c, wrap_text=bool(value))

    @property
    def horizontal_alignment(self):
        _refused("the horizontal alignment", "get_horizontal_alignment")

    @horizontal_alignment.setter
    def horizontal_alignment(self, value):
        for c in self.cells():
            c.alignment = _alignment(c, horizontal=value)

    @property
    def vertical_alignment(self):
        _refused("the vertical alignment", "get_vertical_alignment")

    @vertical_alignment.setter
    def vertical_alignment(self, value):
        for c in self.cells():
            c.alignment = _alignment(c, vertical=value)

    @property
    def borders(self):
        return Borders(self)

    @property
    def row_height(self):
        _refused("the row height", "get_row_height")

    @row_height.setter
    def row_height(self, value):
        for r in range(self.r1, self.r2 + 1):
            self.sheet.ws.row_dimensions[r].height = value

    @property
    def left(self):
        _refused("the left position", "get_left")

    @property
    def top(self):
        _refused("the top position", "get_top")

    @property
    def width(self):
        _refused("the width", "get_width")

    @property
    def height(self):
        _refused("the height", "get_height")

    @property
    def hyperlink(self):
        _refused("the hyperlink", "get_hyperlink")

    def clear_contents(self):
        for c in self.cells():
            c.value = None

    def clear(self):
        """Excel's Range.Clear: values, formats and hyperlinks of these cells."""
        for c in self.cells():
            c.value = None
            c.hyperlink = None
            c.style = "Normal"

    def add_hyperlink(self, address, text_to_display=None, screen_tip=None):
        cell = self.first()
        cell.value = text_to_display
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=address.lstrip("#"), display=text_to_display)


class Borders(_Counted):
    def __init__(self, rng: Range):
        self.rng = rng

    def __getitem__(self, side):
        return Border(self.rng, side)


class Border(_Counted):
    """One side; only the bottom edge (the one LeadQ draws) is modelled, on every cell of the range."""

    _WEIGHTS = {"hairline": "hair", "thin": "thin", "medium": "medium", "thick": "thick"}

    def __init__(self, rng: Range, side: str):
        if side != "edge_bottom":
            raise NotImplementedError(f"the openpyxl test engine only draws bottom borders, not {side}")
        self.rng, self.side = rng, side

    def _set(self, **kw):
        for c in self.rng.cells():
            b = c.border.bottom
            now = {"style": b.style or "thin", "color": b.color}
            c.border = XlBorder(left=c.border.left, right=c.border.right, top=c.border.top, bottom=Side(**{**now, **kw}))

    line_style = property(lambda self: self.rng.first().border.bottom.style,
                          lambda self, v: self._set(style=None if v is None else "thin"))
    weight = property(lambda self: self.rng.first().border.bottom.style,
                      lambda self, v: self._set(style=self._WEIGHTS[v]))
    color = property(lambda self: self.rng.first().border.bottom.color,
                     lambda self, v: self._set(color="FF%02X%02X%02X" % tuple(v)))


class Charts(_Counted):
    """A sheet's charts, index-keyed as in xlwings' remote engine (see the module docstring)."""

    def __init__(self, sheet: Sheet):
        self.sheet = sheet

    @property
    def _entries(self) -> list:
        return self.sheet.book.charts_of(self.sheet.ws)

    def __len__(self):
        return len(self._entries)

    def __iter__(self):
        for i in range(len(self._entries)):
            yield Chart(self.sheet, i + 1)

    def __call__(self, key):
        if isinstance(key, int):
            if key > len(self):
                raise KeyError(key)
            return Chart(self.sheet, key)
        for i, e in enumerate(self._entries):
            if e["name"] == key:
                return Chart(self.sheet, i + 1)
        raise KeyError(key)

    def __contains__(self, key):
        return any(e["name"] == key for e in self._entries) if isinstance(key, str) else 1 <= key <= len(self)

    def add(self, left, top, width, height, chart_type=None, source=None, plot_by=None, name=None, anchor=None,
            style=None, **kw):
        if anchor is not None:
            raise NotImplementedError("the test engine places charts by left/top (points), as LeadQ does")
        existing = {e["name"] for e in self._entries}
        default = next(f"Chart {i}" for i in range(1, len(existing) + 2) if f"Chart {i}" not in existing)
        self._entries.append({"name": name or default, "chart_type": chart_type or "column_clustered",
                              "left": float(left), "top": float(top), "width": float(width),
                              "height": float(height), "source": None})
        chart = Chart(self.sheet, len(self._entries))
        if source is not None:
            chart.set_source_data(source)
        return chart


class Chart(_Counted):
    """One chart, by its position in the sheet's collection (`key`), as the remote engine keys it."""

    def __init__(self, sheet, key: int):
        self.sheet, self.key = sheet, key

    @property
    def _entry(self) -> dict:
        return self.sheet.book.charts_of(self.sheet.ws)[self.key - 1]     # IndexError once the list shrank

    def set_source_data(self, rng, plot_by=None):
        self._entry["source"] = (rng.r1, rng.c1, rng.r2, rng.c2)

    @property
    def chart_type(self):
        return self._entry["chart_type"]

    @chart_type.setter
    def chart_type(self, value):
        if value not in ("column_clustered", "bar_clustered", "line", "line_markers"):
            raise ValueError(f"the test engine does not draw {value!r} charts")
        self._entry["chart_type"] = value

    @property
    def name(self):
        return self._entry["name"]

    @name.setter
    def name(self, value):
        self._entry["name"] = value

    # The payload carries a chart's geometry (the remote engine's Chart.left/top/width/height read it).
    left = property(lambda self: self._entry["left"])
    top = property(lambda self: self._entry["top"])
    width = property(lambda self: self._entry["width"])
    height = property(lambda self: self._entry["height"])

    def delete(self):
        del self.sheet.book.charts_of(self.sheet.ws)[self.key - 1]


_EMU_PER_POINT = 12700


def _build_chart(ws, e: dict):
    """The openpyxl chart a chart entry saves as: its kind, its data, where it was placed (points)."""
    r1, c1, r2, c2 = e["source"]
    if e["chart_type"].startswith("line"):
        chart = LineChart()
    else:
        chart = BarChart()
        chart.type = "bar" if e["chart_type"].startswith("bar") else "col"
    chart.add_data(Reference(ws, min_col=c1 + 1, min_row=r1, max_col=max(c2, c1 + 1), max_row=r2), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=c1, min_row=r1 + 1, max_row=r2))
    chart.title = e["name"]
    chart.anchor = AbsoluteAnchor(pos=XDRPoint2D(int(e["left"] * _EMU_PER_POINT), int(e["top"] * _EMU_PER_POINT)),
                                  ext=XDRPositiveSize2D(int(e["width"] * _EMU_PER_POINT),
                                                        int(e["height"] * _EMU_PER_POINT)))
    return chart


def cell_position(ws, row: int, col: int) -> tuple[float, float]:
    """Where Excel draws a cell's top-left corner, in points: the widths (in characters) and heights
    of the columns and rows before it, as the sheet holds them (for tests of chart placement)."""
    def width(c):
        letter = get_column_letter(c)
        dim = ws.column_dimensions[letter] if letter in ws.column_dimensions else None
        return dim.width if dim is not None and dim.customWidth and dim.width else DEFAULT_WIDTH

    def height(r):
        dim = ws.row_dimensions[r] if r in ws.row_dimensions else None
        return dim.height if dim is not None and dim.height else DEFAULT_HEIGHT
    return sum(column_pixels(width(c)) for c in range(1, col)) * 0.75, sum(height(r) for r in range(1, row))


class ConditionalFormats(_Counted):
    """xlwings' portable conditional formats for a range: add rules, clear them; no synchronous reads
    (the remote engine refuses them), the rules are read back from the sheet."""

    _OPERATORS = {"equal_to": "equal", "not_equal_to": "notEqual", "greater_than": "greaterThan",
                  "less_than": "lessThan", "greater_than_or_equal": "greaterThanOrEqual",
                  "less_than_or_equal": "lessThanOrEqual", "between": "between", "not_between": "notBetween"}

    def __init__(self, rng: Range):
        self.rng = rng

    def __len__(self):
        raise NotImplementedError("Inspecting conditional formats synchronously isn't supported on this engine. "
                                  "Use 'await myrange.get_conditional_formats()' to fetch them on demand.")

    __iter__ = __len__

    def add_cell_value(self, spec):
        hexa = lambda c: None if c is None else "FF%02X%02X%02X" % tuple(c)    # noqa: E731
        formulas = [spec["formula1"].lstrip("=")] + ([spec["formula2"].lstrip("=")] if spec.get("formula2") else [])
        fill = PatternFill(bgColor=hexa(spec.get("fill_color")), fill_type="solid") if spec.get("fill_color") else None
        font = XlFont(color=hexa(spec.get("font_color")), b=spec.get("font_bold"), i=spec.get("font_italic"))
        rule = CellIsRule(operator=self._OPERATORS[spec["operator"]], formula=formulas, fill=fill, font=font,
                          stopIfTrue=spec.get("stop_if_true") or None)
        cf = self.rng.sheet.ws.conditional_formatting
        for existing in cf._cf_rules.values():           # a new rule goes first (xlwings: SetFirstPriority)
            for r in existing:
                r.priority = (r.priority or 0) + 1
        rule.priority = 1
        cf.add(self.rng.address.replace("$", ""), rule)
        return rule

    def clear(self):
        """Remove the rules on this range; a rule that also covers cells outside it stays there."""
        r = self.rng
        cf = r.sheet.ws.conditional_formatting
        kept = type(cf)()
        for fmt in cf:
            outside = [str(part) for part in _minus(fmt.sqref.ranges, (r.r1, r.c1, r.r2, r.c2))]
            if outside:
                for rule in fmt.rules:
                    kept.add(" ".join(outside), rule)
        r.sheet.ws.conditional_formatting = kept


def _minus(ranges, box):
    """The parts of `ranges` (openpyxl CellRanges) outside the rectangle `box` (r1, c1, r2, c2)."""
    from openpyxl.worksheet.cell_range import CellRange
    r1, c1, r2, c2 = box
    out = []
    for cr in ranges:
        if cr.max_row < r1 or cr.min_row > r2 or cr.max_col < c1 or cr.min_col > c2:
            out.append(cr)
            continue
        pieces = [(cr.min_row, cr.min_col, r1 - 1, cr.max_col), (r2 + 1, cr.min_col, cr.max_row, cr.max_col),
                  (max(cr.min_row, r1), cr.min_col, min(cr.max_row, r2), c1 - 1),
                  (max(cr.min_row, r1), c2 + 1, min(cr.max_row, r2), cr.max_col)]
        out += [CellRange(min_row=a, min_col=b, max_row=c, max_col=d) for a, b, c, d in pieces if a <= c and b <= d]
    return out


def open_as_caller(path: Path) -> xw.Book:
    """Open `path` through this engine and make it what `xw.Book.caller()` returns."""
    if "openpyxl-test" not in xw.engines.engines_by_name:
        impl = Engine()
        App.engine = impl
        xw.engines.add(xw.main.Engine(impl=impl))
    xw.engines.active = xw.engines["openpyxl-test"]
    book = xw.Book(impl=Book(path))
    book.set_mock_caller()
    return book
