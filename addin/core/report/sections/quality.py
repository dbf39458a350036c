"""Data quality: one line per kind of problem, sheet and column, with its rows' count and first cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..page import QUALITY_ROWS, Page

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "quality"


def _table(ev: Evaluation) -> pd.DataFrame:
    """One line per kind of problem, sheet and column (problems.grouped): its rows' count and first cells."""
    from ....problems import grouped
    rows = [{"Sheet": p.sheet or "", "Cell": _cells(p), "Column": p.column or "", "Rows": p.count or 1,
             "Problem": p.code, "Details": p.message, "Severity": p.severity}
            for p in grouped(ev.problems, ev.problem_counts) if p.message]
    return pd.DataFrame(rows, columns=["Sheet", "Cell", "Column", "Rows", "Problem", "Details", "Severity"])


def _cells(p) -> str:
    """The cells a (grouped) problem names, without its sheet and column: "A5, A6, A9 … and 2,997 more rows"."""
    if p.cell or not p.count or not p.sheet:
        return p.cell or ""
    where = p.where.removeprefix(f"{p.sheet}!")
    return where.removesuffix(f' (column "{p.column}")') if p.column is not None else where


def data(ev: Evaluation, **options) -> dict:
    return {"quality": _table(ev)}


def cells(p: Page, s: Summary, rules) -> None:
    n, found = len(s.quality), s.kpis["Data problems"]
    r = p.section(f"Data quality — {found:,} problem{'s' * (found != 1)}",
                  f"Rows skipped or values not understood, on {n:,} line{'s' * (n != 1)}: rows of one kind, sheet and "
                  "column are one line with their count and first cells; fix them in the cells named." if n
                  else "Every row was read and understood.")
    if n:
        columns = ["Sheet", "Cell", "Column", "Rows", "Problem", "Details"]
        p.header(r, columns)
        for i, row in s.quality.head(QUALITY_ROWS).iterrows():
            for c, name in enumerate(columns):
                p.put(r + 1 + i, c, int(row[name]) if name == "Rows" else row[name], "int" if name == "Rows" else "text")
        if n > QUALITY_ROWS:
            p.put(r + 1 + QUALITY_ROWS, 0, f"… and {n - QUALITY_ROWS} more", "note")
    p.end_section()
