"""A small xlwings engine backed by openpyxl, for tests only: lets `xw.Book.caller()` and the
LeadQ macros run unchanged against a real .xlsm file on Linux.

It implements the part of xlwings' (internal, version-pinned) engine interface that the macros
use — see xlwings/base_classes.py — and mimics Excel where it matters for safety: a string
starting with "=" becomes a formula, an apostrophe prefix makes it text.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path

import openpyxl
import xlwings as xw
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, PatternFill, Side
from openpyxl.styles import Border as XlBorder
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import TableColumn

CALLS: Counter = Counter()      # calls into "Excel" made from outside this engine, by "Class.attribute"


class _Counted:
    """Counts every public attribute read or write from outside the engine: with the real Excel
    engine each of them is a call across the COM bridge, which costs milliseconds."""

    def __getattribute__(self, name):
        if not name.startswith("_") and sys._getframe(1).f_code.co_filename != __file__:
            CALLS[f"{type(self).__name__}.{name}"] += 1
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if not name.startswith("_") and sys._getframe(1).f_code.co_filename != __file__:
            CALLS[f"{type(self).__name__}.{name}="] += 1
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


class Engine:
    name = "openpyxl-test"
    type = "test"

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


class Book(_Counted):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.wb = openpyxl.load_workbook(self.path, keep_vba=True)
        self.app = App()

    @property
    def name(self):
        return self.path.name

    @property
    def fullname(self):
        return str(self.path)

    @property
    def sheets(self):
        return Sheets(self)

    @property
    def names(self):
        return Names(self)

    def save(self, path=None, password=None):
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

    def add(self, before=None, after=None, name=None):
        index = self.book.wb.worksheets.index(after.ws) + 1 if after else None
        ws = self.book.wb.create_sheet(title=name, index=index)
        return Sheet(self.book, ws)


class Sheet(_Counted):
    def __init__(self, book: Book, ws):
        self.book = book
        self.ws = ws

    @property
    def name(self):
        return self.ws.title

    @name.setter
    def name(self, value):
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
        for row in self.ws.iter_rows():
            for c in row:
                c.value = None
                c.style = "Normal"
        self.ws._hyperlinks = []

    @property
    def charts(self):
        return Charts(self)

    @property
    def tables(self):
        return Tables(self)

    def __eq__(self, other):
        return isinstance(other, Sheet) and other.ws is self.ws


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
        return "=" + self._dn.attr_text

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

    @property
    def raw_value(self):
        rows = [[self.sheet.ws.cell(r, c).value for c in range(self.c1, self.c2 + 1)] for r in range(self.r1, self.r2 + 1)]
        return rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else rows

    @raw_value.setter
    def raw_value(self, data):
        if not isinstance(data, (list, tuple)):
            data = [[data]]
        for i, row in enumerate(data):
            for j, v in enumerate(row):
                cell = self.sheet.ws.cell(self.r1 + i, self.c1 + j)
                if isinstance(v, str) and v == "":
                    cell.value = None                  # like Excel, an empty string empties the cell
                elif isinstance(v, str) and v.startswith("'"):
                    cell.value = v[1:]
                    cell.data_type = "s"           # Excel's text prefix
                else:
                    cell.value = v                 # like Excel, "=…" becomes a formula

    @property
    def font(self):
        return Font(self)

    @property
    def color(self):
        return self.first().fill.fgColor.rgb

    @color.setter
    def color(self, rgb):
        fill = PatternFill("solid", fgColor="FF%02X%02X%02X" % tuple(rgb))
        for c in self.cells():
            c.fill = fill

    @property
    def number_format(self):
        return self.first().number_format

    @number_format.setter
    def number_format(self, value):
        for c in self.cells():
            c.number_format = value

    @property
    def column_width(self):
        return self.sheet.ws.column_dimensions[get_column_letter(self.c1)].width

    @column_width.setter
    def column_width(self, value):
        self.sheet.ws.column_dimensions[get_column_letter(self.c1)].width = value

    @property
    def wrap_text(self):
        return self.first().alignment.wrap_text

    @wrap_text.setter
    def wrap_text(self, value):
        for c in self.cells():
            c.alignment = _alignment(c, wrap_text=bool(value))

    @property
    def horizontal_alignment(self):
        return self.first().alignment.horizontal

    @horizontal_alignment.setter
    def horizontal_alignment(self, value):
        for c in self.cells():
            c.alignment = _alignment(c, horizontal=value)

    @property
    def vertical_alignment(self):
        return self.first().alignment.vertical

    @vertical_alignment.setter
    def vertical_alignment(self, value):
        for c in self.cells():
            c.alignment = _alignment(c, vertical=value)

    @property
    def borders(self):
        return Borders(self)

    @property
    def row_height(self):
        return self.sheet.ws.row_dimensions[self.r1].height

    @row_height.setter
    def row_height(self, value):
        for r in range(self.r1, self.r2 + 1):
            self.sheet.ws.row_dimensions[r].height = value

    @property
    def left(self):
        return 64.0 * (self.c1 - 1)

    @property
    def top(self):
        return 15.0 * (self.r1 - 1)

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
    def __init__(self, sheet: Sheet):
        self.sheet = sheet

    def __len__(self):
        return len(self.sheet.ws._charts)

    def __iter__(self):
        for ch in list(self.sheet.ws._charts):
            yield Chart(self.sheet, ch)

    def __call__(self, index):
        return Chart(self.sheet, self.sheet.ws._charts[index - 1])

    def add(self, left, top, width, height, chart_type=None, source=None, plot_by=None, name=None, style=None, **kw):
        chart = BarChart()
        chart.anchor = f"{get_column_letter(int(left // 64) + 1)}{int(top // 15) + 1}"
        chart.width, chart.height = width / 28.3, height / 28.3
        self.sheet.ws.add_chart(chart)
        return Chart(self.sheet, chart)


class Chart(_Counted):
    def __init__(self, sheet, chart):
        self.sheet, self.chart = sheet, chart

    def set_source_data(self, rng, plot_by=None):
        ws = self.sheet.ws
        data = Reference(ws, min_col=rng.c1 + 1, min_row=rng.r1, max_col=rng.c1 + 1, max_row=rng.r2)
        cats = Reference(ws, min_col=rng.c1, min_row=rng.r1 + 1, max_row=rng.r2)
        self.chart.add_data(data, titles_from_data=True)
        self.chart.set_categories(cats)

    @property
    def chart_type(self):
        return "bar_clustered" if self.chart.type == "bar" else "column_clustered"

    @chart_type.setter
    def chart_type(self, value):
        self.chart.type = "bar" if value.startswith("xlBar") or "bar" in str(value).lower() else "col"

    @property
    def name(self):
        return getattr(self.chart, "_leadq_name", "")

    @name.setter
    def name(self, value):
        self.chart._leadq_name = value
        self.chart.title = value

    def delete(self):
        self.sheet.ws._charts.remove(self.chart)


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
