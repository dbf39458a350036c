"""explain(): one lead's score rule by rule, and why it has its stage.

Used by `leadq explain`, the LEADQ_EXPLAIN worksheet function and notebooks (`addin.explain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...errors import LeadQError
from ..model import Evaluation, lead_key
from ..scoring import LEDGER_COLUMNS
from ..values.text import did_you_mean
from ..values.vocabulary import CUSTOMER, DISQUALIFIED, LEAD, LOST, MQL, OPPORTUNITY, SQL, VISITOR


@dataclass(frozen=True)
class Explanation:
    """A lead's computed columns, its why-ledger (points add up to the score) and its stage reason."""

    lead: dict
    ledger: pd.DataFrame
    stage: str
    stage_reason: str

    @property
    def total(self) -> float:
        return round(float(self.ledger["Points"].sum()), 2)


def explain(ev: Evaluation, lead_id) -> Explanation:
    """Explain one lead of an evaluation; a LeadQError (with a did-you-mean) when there is no such lead."""
    wanted = lead_key(lead_id)
    hit = ev.leads.index[ev.leads["Lead ID"] == wanted]
    if len(hit) == 0:
        raise LeadQError(f'no lead "{lead_id}"{did_you_mean(str(lead_id), ev.leads["Lead ID"].tolist())}')
    row = ev.leads.loc[hit[0]]
    ctx = ev.context.loc[hit[0]]
    ledger = ev.details[ev.details["Lead ID"] == wanted][LEDGER_COLUMNS].reset_index(drop=True)
    lead = {k: _plain(v) for k, v in row.items()}
    return Explanation(lead, ledger, ctx["Stage"], stage_reason(ctx, ev))


def _plain(v):
    """A value as JSON holds it: numpy scalars as Python numbers, dates (Stage since) as ISO text."""
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.date().isoformat()
    return v.item() if hasattr(v, "item") else v


def _pts(x: float) -> str:
    return f"{x:g}"


def stage_reason(ctx: pd.Series, ev: Evaluation) -> str:
    """Why a lead (a row of Evaluation.context) has its stage, and what the next stage needs."""
    rules = ev.rules
    label = rules.stage_label
    stage, score, mql = ctx["Stage"], float(ctx["Score"]), rules.mql
    deal = ctx["Deal stage"]
    checklist = rules.checklist.name
    if stage == CUSTOMER:
        return f'{label(CUSTOMER)}: deal stage "{deal}" is won'
    if stage == LOST:
        return f'{label(LOST)}: deal stage "{deal}" is lost'
    if stage == DISQUALIFIED:
        return f"{label(DISQUALIFIED)}: {ctx['Reason']}"
    if stage == OPPORTUNITY:
        return f'{label(OPPORTUNITY)}: open deal at "{deal}" ({float(ctx["Probability"]):.0%} to win)'
    if stage == SQL:
        return f"{label(SQL)}: score {_pts(score)} ≥ {_pts(mql)}, an email, and the {checklist} checklist passes"
    if stage == MQL:
        gaps = ctx["Gaps"] or "the checklist's pass rule"
        return f"{label(MQL)}: score {_pts(score)} ≥ {_pts(mql)} and an email; {label(SQL)} needs {gaps}"
    if stage == LEAD:
        return (f"{label(LEAD)}: an email, but score {_pts(score)} < {_pts(mql)}; "
                f"{label(MQL)} needs {_pts(round(mql - score, 2))} more points")
    if stage == VISITOR:
        return f"{label(VISITOR)}: no email yet; {label(LEAD)} needs one"
    return label(stage)
