"""What the CRM already knows: its status column, and what makes a contact a Lead.

A CRM export carries its own verdict (`Lead Status`, `Lifecycle Stage`, `Statut`…). rules.json's
`crm_status` maps each value to a funnel stage, and the CRM wins where it knows more: a closed
status (Customer, Lost, Disqualified) closes an open lead; MQL, SQL or Opportunity raise a lead
that LeadQ computed lower; "keep" leaves LeadQ's stage. Values are compared like headers (case,
accents, spaces and punctuation ignored). `lead_requires` says what makes a Lead rather than a
Visitor: an email or a phone (default), an email, or a phone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .values.parse import blank_mask
from .values.text import key
from .values.vocabulary import CLOSED_STAGES, CUSTOMER, DISQUALIFIED, LOST, MQL, OPPORTUNITY, REACH, SQL

KEEP = "keep"
CRM_TARGETS = [CUSTOMER, LOST, DISQUALIFIED, OPPORTUNITY, SQL, MQL, KEEP]
LEAD_REQUIRES = ["email or phone", "email", "phone"]


def _target(spec) -> tuple[str, str | None]:
    """(stage or keep, disqualification reason) of one crm_status entry."""
    if isinstance(spec, dict):
        return spec.get("stage", KEEP), spec.get("reason")
    return str(spec), None


def crm_table(crm_status: dict) -> dict[str, tuple[str, str | None]]:
    """folded status value -> (stage or keep, reason); later entries (the user's) win."""
    return {key(value): _target(spec) for value, spec in (crm_status or {}).items()}


def apply_crm_status(stage: np.ndarray, reason: np.ndarray, status: pd.Series, crm_status: dict):
    """The stages after the CRM's word; returns (stage, reason, unknown status values with counts)."""
    table = crm_table(crm_status)
    codes, uniques = pd.factorize(status.astype(object).where(~blank_mask(status)), use_na_sentinel=True)
    found = [table.get(key(u)) for u in uniques]
    target_u = np.array([f[0] if f else KEEP for f in found] + [KEEP], dtype=object)
    reason_u = np.array([(f[1] or str(u).strip()) if f else None for f, u in zip(found, uniques)] + [None], dtype=object)
    target, why = target_u[codes], reason_u[codes]
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    unknown = {str(u).strip(): int(counts[i]) for i, (u, f) in enumerate(zip(uniques, found)) if f is None and key(u)}
    open_now = ~np.isin(stage, CLOSED_STAGES)
    reach = np.vectorize(REACH.get, otypes=[np.int64])
    stage = stage.copy()
    reason = reason.copy()
    close = open_now & np.isin(target, CLOSED_STAGES)
    stage[close] = target[close]
    dq = close & (target == DISQUALIFIED)
    reason[dq] = np.where(pd.isna(reason[dq]), why[dq], reason[dq])
    raise_ = open_now & np.isin(target, [MQL, SQL, OPPORTUNITY])
    if raise_.any():
        up = raise_.copy()
        up[raise_] = reach(target[raise_]) > reach(stage[raise_])
        stage[up] = target[up]
    return stage, reason, unknown


def has_contact(email: pd.Series, phone: pd.Series, requires: str) -> np.ndarray:
    """Whether each lead can be reached as the rules require (an email has an @, a phone 6 digits)."""
    has_email = (~blank_mask(email)).to_numpy() & email.astype(str).str.contains("@", regex=False).to_numpy()
    blank = blank_mask(phone)
    if blank.all():                 # no phone at all (a column of blanks, or none)
        digits = np.zeros(len(phone), dtype=np.int64)
    else:                           # digits counted once per distinct phone
        codes, uniques = pd.factorize(phone.astype(object).where(~blank, ""))
        digits = np.append(pd.Series(uniques, dtype=object).astype(str).str.count(r"\d").to_numpy(), 0)[codes]
    has_phone = digits >= 6
    return {"email": has_email, "phone": has_phone}.get(requires, has_email | has_phone)
