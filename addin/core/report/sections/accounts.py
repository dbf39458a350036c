"""Accounts: leads grouped by company, the best first, with their buying group's coverage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..page import Page

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "accounts"


def _table(ev: Evaluation) -> tuple[pd.DataFrame | None, str]:
    if ev.accounts is None:
        return None, ""
    from ...accounts import account_table, grouping_note
    return account_table(ev.accounts, ev.context, ev.rules), grouping_note(ev.accounts)


def data(ev: Evaluation, **options) -> dict:
    table, note = _table(ev)
    return {"accounts": table, "accounts_note": note}


def cells(p: Page, s: Summary, rules) -> None:
    """Accounts: leads grouped by company, the best first, with their buying group's coverage."""
    if s.accounts is None or not len(s.accounts):
        return
    from ...accounts import config
    cfg = config(rules)
    how = {"max": "best contact's score", "sum": "sum of its contacts' scores",
           "top3_mean": "mean of its 3 best contacts' scores"}[cfg["score"]]
    top = int(cfg["top"])
    r = p.section(f"Accounts ({len(s.accounts):,})",
                  f"{s.accounts_note}. Account score: {how}. Buying group: required roles (from job titles) "
                  "held by at least one contact." + (f" The {top} best accounts are shown." if len(s.accounts) > top else ""))
    p.header(r, ["Account", "Contacts", "Best score", "Account score", "Most advanced", "Open pipeline", "Buying group"],
             {"Contacts", "Best score", "Account score", "Open pipeline"})
    for i, row in s.accounts.head(top).iterrows():
        rr = r + 1 + i
        p.put(rr, 0, row["Account"], "text")
        p.put(rr, 1, int(row["Contacts"]), "int")
        p.put(rr, 2, float(row["Best score"]), "num")
        p.put(rr, 3, float(row["Account score"]), "num")
        p.put(rr, 4, row["Most advanced stage"], "text")
        p.put(rr, 5, float(row["Open pipeline"]), "money")
        p.put(rr, 6, row["Buying group"], "text")
    p.end_section()
