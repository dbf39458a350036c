"""The hand-off queue (MQLs waiting for sales) and the hottest open leads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...privacy import may_hand_off
from ...values.vocabulary import CLOSED_STAGES, MQL
from ..page import QUEUE_ROWS, Page

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "queues"


def _lead_rows(ctx: pd.DataFrame, ev: Evaluation, mask, order, ascending, limit=None) -> pd.DataFrame:
    used = ["Lead ID", "Name", "Company", "Owner", "Stage label", "Score", "Grade", "Gaps", "Last activity", "Row"]
    used += [c for c in ([order] if isinstance(order, str) else order) if c not in used]
    sub = ctx[used][mask].sort_values(order, ascending=ascending, kind="stable")      # the shown columns' rows only
    if limit:
        sub = sub.head(limit)
    days = (ev.as_of - pd.to_datetime(sub["Last activity"])).dt.days
    return pd.DataFrame({"Lead ID": sub["Lead ID"], "Name": sub["Name"], "Company": sub["Company"],
                         "Owner": sub["Owner"], "Stage": sub["Stage label"], "Score": sub["Score"],
                         "Grade": sub["Grade"], "Missing": sub["Gaps"], "Days since activity": days.to_numpy(),
                         "Row": sub["Row"]}).reset_index(drop=True)


def hot_open(ctx: pd.DataFrame, ev: Evaluation) -> np.ndarray:
    """Open leads scoring at least the rules' hot threshold."""
    open_stage = ~ctx["Stage"].isin(CLOSED_STAGES).to_numpy()
    return open_stage & (ctx["Score"] >= ev.rules.hot).to_numpy()


def data(ev: Evaluation, hot_limit: int = 10, **options) -> dict:
    ctx = ev.context
    # Leads clipped at the score maximum tie on Score: their unclipped total keeps them ranked.
    rank, order = ["Score", "Total", "Lead ID"], [False, False, True]
    handoff = _lead_rows(ctx, ev, (ctx["Stage"] == MQL).to_numpy() & may_hand_off(ctx, ev.rules), rank, order)
    hottest = _lead_rows(ctx, ev, hot_open(ctx, ev), rank, order, limit=hot_limit)
    return {"handoff": handoff, "hottest": hottest}


def cells(p: Page, s: Summary, rules) -> None:
    for title, frame, note, last in (
            ("Hand-off queue — MQLs waiting for sales", s.handoff,
             "Hottest first. Missing: the checklist criteria not yet answered yes.", "Missing"),
            ("Hottest open leads", s.hottest, f"Open leads scoring {rules.hot:g} or more." + (
                f" {s.kpis['At score maximum']:,} lead{'s sit' if s.kpis['At score maximum'] != 1 else ' sits'} at the "
                f"score maximum ({rules.score_range[1]:g}): leads tied there are ranked by their unclipped total."
                if s.kpis.get("At score maximum") else ""), "Stage")):
        total = s.kpis.get("Hot open leads", len(frame)) if frame is s.hottest else len(frame)
        r = p.section(f"{title} ({total:,})", note)
        p.header(r, ["Lead ID", "Name", "Owner", "Score", "Days idle", last], {"Score", "Days idle"})
        shown = frame.head(QUEUE_ROWS)
        for i, row in shown.iterrows():
            rr = r + 1 + i
            p.lead(rr, row)
            p.put(rr, 3, float(row["Score"]), "num")
            p.put(rr, 4, row["Days since activity"], "int")
            p.put(rr, 5, row[last], "text")
        if total > len(shown):
            p.put(r + 1 + len(shown), 0, f"… and {total - len(shown):,} more (filter Stage on the Leads sheet)", "note")
        p.end_section()
