"""Where things sit on a sheet, in points, computed from the layout — never read back from Excel.

xlwings' remote engine (xlwings Server, xlwings Lite) cannot read `Range.left/top` synchronously,
so a chart is placed from the widths and heights LeadQ itself gives the columns and rows. Widths are
in characters (Excel's object model on Windows and macOS takes them so); the remote engine takes
points (`column_width` there is Office.js' `format.columnWidth`), hence `width_for`.
"""

from __future__ import annotations

DIGIT_PX = 7                 # Calibri 11's maximum digit width, in pixels (the template's font)
DEFAULT_WIDTH = 8.43         # Excel's default column width, in characters
DEFAULT_HEIGHT = 15.0        # Excel's default row height, in points
POINTS_PER_PX = 0.75


def column_pixels(chars: float) -> int:
    """A column's width in pixels for a width in characters (ECMA-376 Part 1, 18.3.1.13: the width
    is stored rounded to 1/256 of a character with 5 px of padding, then drawn in whole pixels)."""
    stored = int((chars * DIGIT_PX + 5) / DIGIT_PX * 256) / 256
    return int((256 * stored + int(128 / DIGIT_PX)) / 256 * DIGIT_PX)


def column_points(chars: float) -> float:
    return column_pixels(chars) * POINTS_PER_PX


def cell_position(row: int, col: int, widths: list[float] | None = None,
                  heights: dict[int, float] | None = None) -> tuple[float, float]:
    """The top-left corner of cell (row, col) (1-based), in points from the sheet's top-left corner,
    given the widths in characters of the first columns (others: Excel's default) and row heights
    in points by row (others: the default)."""
    widths, heights = widths or [], heights or {}
    left = sum(column_points(widths[c] if c < len(widths) and widths[c] else DEFAULT_WIDTH) for c in range(col - 1))
    top = sum(heights.get(r, DEFAULT_HEIGHT) for r in range(1, row))
    return left, top


def box(r1: int, c1: int, r2: int, c2: int, widths=None, heights=None) -> dict[str, float]:
    """left, top, width and height of the block from cell (r1, c1) to the top-left of (r2, c2)."""
    left, top = cell_position(r1, c1, widths, heights)
    right, bottom = cell_position(r2, c2, widths, heights)
    return {"left": left, "top": top, "width": right - left, "height": bottom - top}


def width_for(engine_name: str, chars: float) -> float:
    """A column width in the unit the engine's `Range.column_width` takes."""
    return column_points(chars) if engine_name == "remote" else chars
