"""summarise(): the tables a manager reads on the Summary sheet, computed from an Evaluation.

Each section's tables are computed by its module (core.report.sections, in SECTIONS order) and kept in
Summary.sections under its name; the headline figures (kpis) are computed here from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..model import Evaluation
from ..privacy import privacy_counts
from ..values.vocabulary import CUSTOMER, LOST_OUTCOME, MQL, OPEN, OVERDUE, SQL, WON
from .sections import SECTIONS
from .sections.grid import score_bands
from .sections.queues import hot_open

__all__ = ["Summary", "at_cap", "score_bands", "summarise"]


@dataclass
class Summary:
    """Every table of the Summary sheet, plus the headline figures.

    `sections` holds each section's data by section name (sections.SECTIONS: a dict of named tables);
    every table reads as an attribute too: s.funnel, s.outcomes, s.pipeline, s.by_source, s.by_owner,
    s.handoff, s.hottest, s.actions, s.grid, s.quality, s.privacy, s.memory (what the Lead history tells),
    s.accounts and s.accounts_note (core.accounts), s.health (core.report.monitoring.Health).
    """

    kpis: dict[str, float]
    meta: dict = field(default_factory=dict)
    sections: dict[str, dict] = field(default_factory=dict)

    def __getattr__(self, name: str):
        if not name.startswith("__"):
            for tables in self.__dict__.get("sections", {}).values():
                if name in tables:
                    return tables[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def summarise(ev: Evaluation, hot_limit: int = 10) -> Summary:
    """Funnel, pipeline, groups, queues, grid and data quality of an evaluation."""
    ctx = ev.context
    s = Summary({}, {"as_of": ev.as_of.date().isoformat(), "rules": ev.rules.name, "version": ev.rules.version,
                     "currency": ev.rules.currency, "rules_source": ev.rules_source},
                {section.NAME: section.data(ev, hot_limit=hot_limit) for section in SECTIONS if hasattr(section, "data")})
    funnel, pipeline, actions = s.funnel, s.pipeline, s.actions
    total = len(ctx)
    customers = int((ctx["Stage"] == CUSTOMER).sum())
    hot = hot_open(ctx, ev)
    won = pipeline[pipeline["Outcome"] == WON]
    lost_p = pipeline[pipeline["Outcome"] == LOST_OUTCOME]
    s.kpis.update({
        "Leads": total,
        "MQL": int(funnel.loc[funnel["Key"] == MQL, "Reached"].iloc[0]),
        "SQL": int(funnel.loc[funnel["Key"] == SQL, "Reached"].iloc[0]),
        "Customers": customers,
        "Overall conversion": customers / total if total else 0.0,
        "Weighted pipeline": float(pipeline["Weighted"].sum()),
        "Manual probabilities": int(pipeline["Manual"].sum()) if len(pipeline) else 0,
        "Overrides": int(ctx["Overridden"].sum()) if "Overridden" in ctx else 0,
        "Overrides expired": ev.overrides_expired,
        "Open pipeline": float(pipeline.loc[pipeline["Outcome"] == OPEN, "Amount"].sum()),
        "Won": float(won["Amount"].sum()),
        "Lost": float(lost_p["Amount"].sum()),
        "Overdue actions": int((actions["Status"] == OVERDUE).sum()),
        "Data problems": ev.problem_total,
        **privacy_counts(ctx),
        "At score maximum": at_cap(ev),
        "Hot open leads": int(hot.sum()),        # all of them: the Summary lists the first hot_limit
        # open deals whose amount is missing count 0 in the weighted pipeline: said beside it
        "Open deals without amount": int(((ctx["Outcome"] == OPEN).to_numpy()
                                          & ~(pd.to_numeric(ctx["Amount"], errors="coerce").abs() > 0).to_numpy()).sum()),
    })
    return s


def at_cap(ev: Evaluation) -> int:
    """How many leads sit at the score maximum (their unclipped totals tell them apart)."""
    hi = ev.rules.score_range[1]
    return 0 if hi is None else int((ev.context["Total"].to_numpy() >= hi).sum())
