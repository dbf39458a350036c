"""Fit × engagement: leads by grade (fit) and score band."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..page import Page

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "grid"


def score_bands(ev: Evaluation) -> list[tuple[str, float, float]]:
    lo, hi = ev.rules.score_range
    mql, hot = ev.rules.mql, ev.rules.hot
    return [(f"Cold (< {mql:g})", -np.inf, mql), (f"Warm ({mql:g}–{hot:g})", mql, hot), (f"Hot (≥ {hot:g})", hot, np.inf)]


def _table(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    grades = [g for g, _ in ev.rules.grades] + [ev.rules.grade_else]
    bands = score_bands(ev)
    score = ctx["Score"].to_numpy()
    data = {name: [int(((ctx["Grade"] == g).to_numpy() & (score >= lo) & (score < hi)).sum()) for g in grades]
            for name, lo, hi in bands}
    out = pd.DataFrame(data, index=pd.Index(grades, name="Grade"))
    out["Total"] = out.sum(axis=1)
    return out.reset_index()


def data(ev: Evaluation, **options) -> dict:
    return {"grid": _table(ev.context, ev)}


def cells(p: Page, s: Summary, rules) -> None:
    r = p.section("Fit × engagement", "Leads by grade (fit) and score band.")
    p.header(r, list(s.grid.columns), set(s.grid.columns) - {"Grade"})
    for i, row in s.grid.iterrows():
        for c, name in enumerate(s.grid.columns):
            p.put(r + 1 + i, c, row[name] if c == 0 else int(row[name]), "bold" if c == 0 else "grid_cell")
    p.end_section()
