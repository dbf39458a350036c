"""The Summary sheet as data: which value goes in which cell with which style, computed once.

Each section lays itself out (core.report.sections, in SECTIONS order) on a page (core.report.page):
sections flow down the page, each starting where the previous one ended, a chart beside a table
reserving its height. The page machinery is re-exported here for the file writer and the macro.
"""

from __future__ import annotations

from .page import (
    ACCENT,
    ACTION_ROWS,
    CHART_COLUMNS,
    DEFAULT_ROW_PT,
    GREY_TEXT,
    PRINT_HEIGHT_PT,
    PRINT_WIDTH_PT,
    QUALITY_ROWS,
    QUEUE_ROWS,
    RED,
    REPORT_PAGES,
    SECTION_GAP,
    SOFT,
    TITLE_ROWS,
    WIDTHS,
    ChartSpec,
    Link,
    Page,
    PrintSetup,
    Style,
    SummaryLayout,
    print_setup,
    stage_style,
    style,
    styles,
)
from .sections import SECTIONS
from .sections.history import TREND_ROWS, history_sections
from .summary import Summary

_Page = Page

__all__ = ["ACCENT", "ACTION_ROWS", "CHART_COLUMNS", "DEFAULT_ROW_PT", "GREY_TEXT", "PRINT_HEIGHT_PT", "PRINT_WIDTH_PT",
           "QUALITY_ROWS", "QUEUE_ROWS", "RED", "SECTIONS", "SECTION_GAP", "SOFT", "TITLE_ROWS", "TREND_ROWS", "WIDTHS",
           "ChartSpec", "Link", "Page", "PrintSetup", "REPORT_PAGES", "Style", "SummaryLayout", "history_sections", "print_setup", "stage_style",
           "style", "styles", "summary_layout"]


def summary_layout(s: Summary, rules, refreshed_at: str) -> SummaryLayout:
    """Every section of the Summary, one below the other, with its styles, links and charts; the
    printed report (the sections whose module says REPORT, first in SECTIONS) ends with a line."""
    p = Page(styles(s.meta["currency"]), refreshed_at)
    for section in SECTIONS:
        if not getattr(section, "REPORT", False) and p.out.report_rows is None:
            p.end_report()
        section.cells(p, s, rules)
    return p.out
