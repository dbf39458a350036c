"""Funnel: leads at each stage now and reached, the conversion between stages, lost and disqualified; a bar chart of the leads reached."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...values.text import text_or_empty
from ...values.vocabulary import DISQUALIFIED, FUNNEL, LOST, REACH, VISITOR
from ..page import Page, stage_style

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "funnel"
REPORT = True            # printed: part of the report on the Summary's first two pages
CHARTS = ("Funnel",)          # the charts it draws (ChartSpec.name), in order


def reach_of(stages: pd.Series) -> np.ndarray:
    """How far along the funnel each lead's stage is (REACH); NaN (a float array) where it is not a stage.
    Each distinct stage is looked up once."""
    codes, uniques = pd.factorize(stages, use_na_sentinel=True)
    table = np.array([REACH.get(u, np.nan) for u in np.asarray(uniques, dtype=object)] + [np.nan], dtype=float)
    out = table[codes]                 # code -1 (no stage): the NaN at the end
    return out.astype(np.int64) if not np.isnan(out).any() else out


def _table(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    total = len(ctx)
    now = ctx["Stage"].value_counts()
    reach = reach_of(ctx["Stage"])
    rows, prev = [], None
    for i, s in enumerate(FUNNEL):
        reached = int((reach >= i).sum()) if s != VISITOR else total
        rows.append({"Stage": ev.rules.stage_label(s), "Key": s, "Now": int(now.get(s, 0)),
                     "Share": now.get(s, 0) / total if total else 0.0, "Reached": reached,
                     "Conversion": (reached / prev if prev else np.nan) if s != VISITOR else np.nan})
        prev = reached
    return pd.DataFrame(rows)


def _outcomes(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    lost = ctx["Stage"] == LOST
    disq = ctx["Stage"] == DISQUALIFIED
    reasons = text_or_empty(ctx.loc[disq, "Reason"]).value_counts()
    return pd.DataFrame([
        {"Outcome": ev.rules.stage_label(LOST), "Key": LOST, "Leads": int(lost.sum()),
         "Amount": float(np.nansum(ctx.loc[lost, "Amount"])), "Details": ""},
        {"Outcome": ev.rules.stage_label(DISQUALIFIED), "Key": DISQUALIFIED, "Leads": int(disq.sum()),
         "Amount": np.nan, "Details": ", ".join(f"{r} ({n})" for r, n in reasons.items())},
    ])


def data(ev: Evaluation, **options) -> dict:
    return {"funnel": _table(ev.context, ev), "outcomes": _outcomes(ev.context, ev)}


def cells(p: Page, s: Summary, rules) -> None:
    r = p.section("Funnel", "Now: leads at the stage today. Reached: at the stage or further. "
                            "Conversion: reached ÷ reached at the previous stage.")
    p.header(r, ["Stage", "Now", "Share", "Reached", "Conversion"], {"Now", "Share", "Reached", "Conversion"})
    first = r + 1
    for i, row in s.funnel.iterrows():
        rr = first + i
        p.put(rr, 0, row["Stage"], stage_style(rules.stage_color(row["Key"])))
        p.put(rr, 1, int(row["Now"]), "int")
        p.put(rr, 2, float(row["Share"]), "pct")
        p.put(rr, 3, int(row["Reached"]), "int")
        p.put(rr, 4, float(row["Conversion"]), "pct")
    last = first + len(s.funnel) - 1
    p.put(last + 1, 0, "Overall conversion to customer", "bold")
    p.put(last + 1, 4, s.kpis["Overall conversion"], "pct1")
    for i, row in s.outcomes.iterrows():
        rr = last + 3 + i
        p.put(rr, 0, row["Outcome"], stage_style(rules.stage_color(row["Key"])))
        p.put(rr, 1, int(row["Leads"]), "int")
        if not math.isnan(row["Amount"]):
            p.put(rr, 2, float(row["Amount"]), "money")
        if row["Details"]:
            p.put(rr, 3, f"Reasons: {row['Details']}", "note")
    p.chart(14, name="Funnel", title="Leads by stage (reached)", horizontal=True, cats=(0, first, last),
            vals=(3, first, last), labels=list(s.funnel["Stage"]), values=list(s.funnel["Reached"]),
            colors=[rules.stage_color(x) for x in s.funnel["Key"]], fmt="#,##0")
    p.end_section()
