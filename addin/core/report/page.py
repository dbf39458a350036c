"""The Summary page's machinery, shared by its sections (core.report.sections): styles, links, charts,
the layout, the cursor that flows sections down the page, and where printed pages break.

Pure: sections flow down the page (each starts where the previous one ended, a chart beside a
table reserving its height), so no row number or chart anchor is written anywhere. Styles are
tokens (the keywords of a cell format), hyperlinks carry raw text; the file writer and the
xlwings macro only render this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..values.text import column_letter
from ..values.vocabulary import ACTION_COLORS, OVERDUE
from .present import HEADER_FILL, contrast, currency_format

ACCENT = "#2F5597"
SOFT = "#D9E1F2"
GREY_TEXT = "#595959"
RED = ACTION_COLORS[OVERDUE][0]           # late actions in red text
WIDTHS = [24, 20, 16, 13, 14, 16, 12, 12, 12, 12, 12, 12, 12]
SECTION_GAP = 3              # a section starts two blank rows below the previous one's last row
CHART_COLUMNS = (6, 13)      # charts sit right of the tables, from column G to column M
QUEUE_ROWS, ACTION_ROWS, QUALITY_ROWS = 25, 40, 200


@dataclass(frozen=True)
class Style:
    """A cell format token: a name and the keywords of the file writer's StyleBook.xf."""

    name: str
    fmt: tuple[tuple[str, object], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return dict(self.fmt)


def style(name: str, **fmt) -> Style:
    return Style(name, tuple(sorted(fmt.items())))


def styles(currency: str) -> dict[str, Style]:
    """Every named style of the Summary; money formats follow the rules' currency."""
    money = currency_format(currency)
    kpi = {"bold": True, "size": 16, "color": HEADER_FILL, "halign": "left"}
    table = {
        "title": dict(bold=True, size=18, color=HEADER_FILL),
        "subtitle": dict(italic=True, color=GREY_TEXT),
        "section": dict(bold=True, size=13, color=HEADER_FILL, border_bottom=HEADER_FILL),
        "section_line": dict(border_bottom=HEADER_FILL),
        "head": dict(bold=True, fill=SOFT, border_bottom=ACCENT),
        "head_num": dict(bold=True, fill=SOFT, border_bottom=ACCENT, halign="right"),
        "text": {}, "note": dict(italic=True, color=GREY_TEXT),
        "int": dict(num_fmt="#,##0"), "num": dict(num_fmt="0.0"), "pct": dict(num_fmt="0%"),
        "pct1": dict(num_fmt="0.0%"), "money": dict(num_fmt=money), "date": dict(num_fmt="yyyy-mm-dd"),
        "bold": dict(bold=True), "bold_money": dict(bold=True, num_fmt=money),
        "kpi_label": dict(color=GREY_TEXT, size=9),
        "kpi": dict(kpi, num_fmt="#,##0"), "kpi_pct": dict(kpi, num_fmt="0.0%"), "kpi_money": dict(kpi, num_fmt=money),
        "kpi_alert": dict(kpi, color=RED, num_fmt="#,##0"),
        "link": dict(color="#0563C1", underline=True), "red": dict(color=RED),
        "red_date": dict(color=RED, num_fmt="yyyy-mm-dd"),
        "grid_cell": dict(num_fmt="#,##0", halign="center"),
        "rise": dict(color="#00783C", num_fmt="+0.0;-0.0;0"), "fall": dict(color=RED, num_fmt="+0.0;-0.0;0"),
        "datetime": dict(num_fmt="yyyy-mm-dd hh:mm"),
    }
    table.update({status: dict(bold=True, fill=fill, color=font) for status, (fill, font) in ACTION_COLORS.items()})
    return {name: style(name, **fmt) for name, fmt in table.items()}


def stage_style(color: str) -> Style:
    return style(f"stage {color}", bold=True, fill=color, color=contrast(color))


@dataclass(frozen=True)
class Link:
    """A cell linking to a place in the workbook; `text` is the raw text shown."""

    row: int
    col: int
    location: str
    text: str

    @property
    def ref(self) -> str:
        return f"{column_letter(self.col)}{self.row}"


@dataclass(frozen=True)
class ChartSpec:
    """A bar chart over a block of the Summary's own cells (rows 1-based, columns 0-based)."""

    name: str
    title: str
    horizontal: bool
    cats: tuple[int, int, int]           # (column, first row, last row)
    vals: tuple[int, int, int]
    labels: list[str]
    values: list[float]
    colors: list[str]
    fmt: str
    anchor: tuple[int, int, int, int]    # (first column, first row, column after, row after)
    kind: str = "bar"                    # "line": one series per entry of `series`
    series: tuple = ()                   # line charts: (name, column, colour, values) per series
    serials: tuple = ()                  # line charts: the categories as Excel date serials


@dataclass
class SummaryLayout:
    """The Summary page: cells (row 1-based, column 0-based) → (value, style), and the rest."""

    cells: dict[tuple[int, int], tuple[object, Style]] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    widths: list[float] = field(default_factory=lambda: list(WIDTHS))
    links: list[Link] = field(default_factory=list)
    charts: list[ChartSpec] = field(default_factory=list)
    sections: list[int] = field(default_factory=list)       # the row of each section's title
    report_rows: int | None = None       # the printed report's last row (the print area), when lists follow it

    @property
    def last_row(self) -> int:
        return max([r for r, _ in self.cells] + [1])

    @property
    def last_col(self) -> int:
        return max([c for _, c in self.cells] + [len(self.widths) - 1])

    def styles(self) -> list[Style]:
        """Every style used, in reading order (so a style book gets them in a stable order)."""
        return list(dict.fromkeys(st for _, (_, st) in sorted(self.cells.items())))


class Page:
    """A layout being filled top to bottom: `row` is where the next section starts."""

    def __init__(self, st: dict[str, Style], refreshed_at: str = ""):
        self.out = SummaryLayout()
        self.st = st
        self.refreshed_at = refreshed_at     # the title's "refreshed …" stamp
        self.row = 1
        self.reserved = 0                # last row a chart beside the current section covers

    def put(self, row: int, col: int, value, style_name: str | Style) -> None:
        st = style_name if isinstance(style_name, Style) else self.st[style_name]
        self.out.cells[(row, col)] = (cell_value(value), st)

    def section(self, title: str, note: str = "") -> int:
        """Title (and note) at the current row; returns the row after them."""
        r = self.row
        self.out.sections.append(r)
        self.put(r, 0, title, "section")
        for c in range(1, 6):
            self.put(r, c, None, "section_line")
        if note:
            self.put(r + 1, 0, note, "note")
        return r + (2 if note else 1)

    def header(self, row: int, names: list[str], numeric=frozenset()) -> None:
        for c, n in enumerate(names):
            self.put(row, c, n, "head_num" if n in numeric else "head")

    def link(self, row: int, col: int, lead_id, sheet_row) -> None:
        self.put(row, col, lead_id, "link")
        self.out.links.append(Link(row, col, f"'Leads'!A{int(sheet_row)}", str(lead_id)))

    def lead(self, row: int, lead) -> None:
        """A lead's ID (linked to its row on Leads), name and owner in the first three columns."""
        self.link(row, 0, lead["Lead ID"], lead["Row"])
        self.put(row, 1, lead["Name"] or "", "text")
        self.put(row, 2, cell_value(lead["Owner"]) or "", "text")

    def chart(self, rows: int, **spec) -> None:
        """A chart beside the section starting at the current row, `rows` rows tall."""
        c1, c2 = CHART_COLUMNS
        self.out.charts.append(ChartSpec(anchor=(c1, self.row, c2, self.row + rows), **spec))
        self.reserved = self.row + rows - 1

    def end_report(self) -> None:
        """The printed report ends here (the Summary's print area): one line saying so, and how to
        print the working lists below it too."""
        self.put(self.row, 0, "End of the printed report. The lists below stay on screen; to print them too, choose "
                              "Ignore Print Area in Excel's print settings (LibreOffice: Format ▸ Print Ranges ▸ Clear).",
                 "note")
        self.out.report_rows = self.row
        self.row += SECTION_GAP

    def end_section(self) -> None:
        """The next section starts below whatever this one used, chart included."""
        self.row = max(self.out.last_row, self.reserved) + SECTION_GAP
        self.reserved = 0


def cell_value(x):
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return None
    return x


# Printing. The Summary prints as a report: its first sections (those whose module says REPORT: the
# title and headline figures, funnel, pipeline, trend, velocity and SLA) are the print area, landscape,
# one page wide and at most two pages tall, with the title rows repeated; the working lists below them
# (since last refresh, groups, accounts, queues, actions, quality…) stay on screen. Fitting the whole
# sheet on two pages scaled its 11-point text to about 4 points (LibreOffice's PDF of the demo, looked
# at); one page wide it is about 70 % (text near 8 points). A page starts at a section (a manual break
# before the section that would not fit); a report that would still need a third page (a pipeline of
# many deal stages, a long SLA table) prints at the largest scale that keeps it on two pages, its
# pages still starting at sections. The page is the smaller of Letter and A4 landscape inside the margins.
PRINT_WIDTH_PT, PRINT_HEIGHT_PT = 720.0, 509.0
DEFAULT_ROW_PT = 15.0
TITLE_ROWS = 2            # the title and its subtitle, repeated at the top of each printed page
REPORT_PAGES = 2


@dataclass(frozen=True)
class PrintSetup:
    """How the Summary prints: its print area (last row and column, 1-based; None: the whole sheet),
    either `fit` (pages wide, pages tall; 0 = as many as needed) or a `scale` in percent, and the rows
    after which a page ends."""

    rows: int | None
    columns: int
    fit: tuple[int, int] | None
    breaks: list[int]
    scale: int | None = None

    @property
    def area(self) -> str | None:
        """The print area as Excel writes it (PageSetup.PrintArea): `$A$1:$M$98`."""
        return f"$A$1:${column_letter(self.columns - 1)}${self.rows}" if self.rows else None


MIN_SCALE = 40            # below this the text (11 points) prints under 4.5 points: fitted instead


def print_setup(page: SummaryLayout) -> PrintSetup:
    """The report's print area, and its pages: one page wide, a manual break before each section that
    would not fit on the page under the repeated title rows. A report that needs more than REPORT_PAGES
    pages that way prints at the largest scale that packs it on REPORT_PAGES (breaks still at sections),
    else fitted REPORT_PAGES tall."""
    columns = max(page.last_col + 1, max([c.anchor[2] for c in page.charts] + [0]))
    width = sum((w * 7 + 5) * 0.75 for w in page.widths[:columns])           # points at 100 %
    widest = min(1.0, PRINT_WIDTH_PT / width) if width else 1.0
    height = lambda r: page.heights.get(r, DEFAULT_ROW_PT) * (1.2 if r in page.sections else 1.0)   # noqa: E731
    bottom = page.report_rows or max(page.last_row, max([c.anchor[3] for c in page.charts] + [0]))
    starts = [s for s in page.sections if s <= bottom] + [bottom + 1]
    title = sum(height(r) for r in range(1, TITLE_ROWS + 1))
    first = sum(height(r) for r in range(1, starts[0]))
    spans = [(s, sum(height(r) for r in range(s, e))) for s, e in zip(starts, starts[1:])]

    def breaks_at(scale: float) -> list[int]:
        room = PRINT_HEIGHT_PT / scale * 0.95                               # sheet points per page (5 % to spare)
        used, breaks = first, []
        for s, h in spans:
            if used + h > room and used > title:
                breaks.append(s - 1)
                used = title
            used += h
        return breaks

    breaks = breaks_at(widest)
    if not page.report_rows or len(breaks) < REPORT_PAGES:
        return PrintSetup(page.report_rows, columns, (1, 0), breaks)
    for percent in range(int(widest * 100) - 1, MIN_SCALE - 1, -1):
        breaks = breaks_at(percent / 100)
        if len(breaks) < REPORT_PAGES:
            return PrintSetup(page.report_rows, columns, None, breaks, percent)
    return PrintSetup(page.report_rows, columns, (1, REPORT_PAGES), [])
