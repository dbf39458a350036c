"""Privacy: consent and retention counts, and the leads kept past the retention period (issue 15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...privacy import privacy_table
from ..page import ACTION_ROWS, Page

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "privacy"


def data(ev: Evaluation, **options) -> dict:
    return {"privacy": privacy_table(ev.context, ev.as_of)}


def cells(p: Page, s: Summary, rules) -> None:
    """Consent and retention counts, and the leads kept past the retention period (issue 15)."""
    k, months = s.kpis, rules.privacy.get("retention_months")
    limit = f"no activity, open deal or update for over {months} months" if months else "no retention period set"
    r = p.section(f"Privacy — {k['No consent']} without consent, {k['Retention expired']} past retention",
                  f"Without consent: never handed to sales. Past retention ({limit}): erase with "
                  "`leadq forget`, or renew consent.")
    if len(s.privacy):
        p.header(r, ["Lead ID", "Name", "Owner", "Last touch", "Months idle", "Stage"], {"Months idle"})
        shown = s.privacy.head(ACTION_ROWS)
        for i, row in shown.iterrows():
            rr = r + 1 + i
            p.lead(rr, row)
            p.put(rr, 3, row["Last touch"], "date")
            p.put(rr, 4, int(row["Months idle"]), "int")
            p.put(rr, 5, row["Stage"], "text")
        if len(s.privacy) > len(shown):
            p.put(r + 1 + len(shown), 0, f"… and {len(s.privacy) - len(shown)} more (filter Next action status on "
                                         "the Leads sheet)", "note")
    p.end_section()
