"""Next actions: overdue, due this week and missing next actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...values.vocabulary import ACTION_ALERTS, ACTION_ORDER, DUE_SOON, MISSING, NO_DATE, OVERDUE, SLA_BREACHED
from ..page import ACTION_ROWS, Page, cell_value

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "actions"


def _table(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    status = ctx["Next action status"]
    m = status.isin(ACTION_ALERTS).to_numpy()
    used = ["Next action status", "Days left", "Score", "Lead ID", "Name", "Owner", "Stage label", "Next action",
            "Next action date", "Row"]
    sub = ctx[used][m]            # only the columns shown and sorted on: the rows are taken from these alone
    order = sub["Next action status"].map(ACTION_ORDER)
    sub = sub.assign(_o=order.to_numpy()).sort_values(["_o", "Days left", "Score"], ascending=[True, True, False],
                                                      kind="stable")
    return pd.DataFrame({"Status": sub["Next action status"], "Lead ID": sub["Lead ID"], "Name": sub["Name"],
                         "Owner": sub["Owner"], "Stage": sub["Stage label"], "Next action": sub["Next action"],
                         "Due": pd.to_datetime(sub["Next action date"]), "Days late": (-sub["Days left"]).clip(lower=0),
                         "Row": sub["Row"]}).reset_index(drop=True)


def data(ev: Evaluation, **options) -> dict:
    return {"actions": _table(ev.context, ev)}


def cells(p: Page, s: Summary, rules) -> None:
    counts = s.actions["Status"].value_counts()
    sla = f"{counts[SLA_BREACHED]} past the follow-up deadline (SLA), " if counts.get(SLA_BREACHED) else ""
    r = p.section(f"Next actions — {sla}{counts.get(OVERDUE, 0)} overdue, {counts.get(DUE_SOON, 0)} due this week, "
                  f"{counts.get(MISSING, 0) + counts.get(NO_DATE, 0)} missing",
                  "For leads from MQL to Opportunity. Overdue: due before the as-of date.")
    p.header(r, ["Status", "Lead ID", "Owner", "Due", "Days late", "Next action"], {"Days late"})
    shown = s.actions.head(ACTION_ROWS)
    for i, row in shown.iterrows():
        rr, status = r + 1 + i, row["Status"]
        late = status == OVERDUE
        p.put(rr, 0, status, status)                       # each flagged status has its own colours
        p.link(rr, 1, row["Lead ID"], row["Row"])
        p.put(rr, 2, cell_value(row["Owner"]) or "", "red" if late else "text")
        p.put(rr, 3, row["Due"], "red_date" if late else "date")
        p.put(rr, 4, row["Days late"] if late else None, "red" if late else "int")
        p.put(rr, 5, cell_value(row["Next action"]) or ("(none)" if status == MISSING else ""), "red" if late else "text")
    if len(s.actions) > len(shown):
        p.put(r + 1 + len(shown), 0, f"… and {len(s.actions) - len(shown)} more", "note")
    p.end_section()
