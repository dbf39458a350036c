"""Pipeline: deals, amount and weighted amount per deal stage; a bar chart of the weighted open pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...values.text import fold
from ...values.vocabulary import OPEN, default_probability
from ..page import ACCENT, Page
from ..present import currency_format

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "pipeline"
REPORT = True            # printed: part of the report on the Summary's first two pages
CHARTS = ("Pipeline",)


def _table(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    rows = []
    for st in ev.rules.pipeline:
        m = (ctx["Deal stage"] == st["stage"]).to_numpy()
        amount = float(np.nansum(ctx["Amount"].to_numpy()[m]))
        outcome = st.get("outcome", OPEN)
        prob = st.get("probability", default_probability(outcome))
        # A probability set by hand (Leads' Probability, an Overrides row) weighs its own deal.
        manual = ctx["Manual probability"].to_numpy(bool)[m] if "Manual probability" in ctx else np.zeros(int(m.sum()), bool)
        weighted = float(np.nansum(ctx["Weighted"].to_numpy(float)[m])) if "Weighted" in ctx else amount * prob
        rows.append({"Deal stage": st["stage"], "Outcome": outcome, "Count": int(m.sum()), "Amount": amount,
                     "Probability": prob, "Weighted": weighted if outcome == OPEN else 0.0,
                     "Manual": int(manual.sum()) if outcome == OPEN else 0})
    return pd.DataFrame(rows)


def data(ev: Evaluation, **options) -> dict:
    return {"pipeline": _table(ev.context, ev)}


def cells(p: Page, s: Summary, rules) -> None:
    missing = s.kpis.get("Open deals without amount", 0)
    r = p.section("Pipeline", "Weighted amount = amount × the stage's win probability (open deals only)." + (
        f" {missing:,} open deal{'s have' if missing != 1 else ' has'} no amount and count 0: fill Amount on the "
        "Leads sheet." if missing else ""))
    p.header(r, ["Deal stage", "Deals", "Amount", "Probability", "Weighted"], {"Deals", "Amount", "Probability", "Weighted"})
    first = r + 1
    for i, row in s.pipeline.iterrows():
        rr, is_open = first + i, row["Outcome"] == "open"
        said = is_open or fold(row["Outcome"]) in fold(row["Deal stage"])       # "Won", not "Won (won)"
        p.put(rr, 0, row["Deal stage"] + ("" if said else f" ({row['Outcome']})"), "text")
        p.put(rr, 1, int(row["Count"]), "int")
        p.put(rr, 2, float(row["Amount"]), "money")
        p.put(rr, 3, float(row["Probability"]), "pct")
        p.put(rr, 4, float(row["Weighted"]) if is_open else None, "money")
    last = first + len(s.pipeline) - 1
    manual = s.kpis.get("Manual probabilities", 0)
    p.put(last + 1, 0, "Weighted forecast (open deals)" + (
        f" — holds {manual} probabilit{'y' if manual == 1 else 'ies'} set by hand (Leads' Probability or Overrides)"
        if manual else ""), "bold")
    p.put(last + 1, 4, s.kpis["Weighted pipeline"], "bold_money")
    open_rows = s.pipeline.index[s.pipeline["Outcome"] == "open"]
    end = first + len(open_rows) - 1
    p.chart(15, name="Pipeline", title=f"Weighted pipeline by stage ({s.meta['currency']})", horizontal=False,
            cats=(0, first, end), vals=(4, first, end), labels=list(s.pipeline.loc[open_rows, "Deal stage"]),
            values=list(s.pipeline.loc[open_rows, "Weighted"]), colors=[ACCENT] * len(open_rows),
            fmt=currency_format(s.meta["currency"]))
    p.end_section()
