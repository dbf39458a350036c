"""Privacy by design: consent honoured, retention flagged, identifiers pseudonymised.

Pure functions over the engine's arrays (no files): `consent_step` reads the Consent column,
`retention_step` finds leads kept past `privacy.retention_months`, `flag_status` puts both in
the Next action status, and `pseudonym` turns a name or an email into a stable salted hash.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..problems import CONSENT_NOT_UNDERSTOOD, NOT_A_DATE
from .values.parse import blank_mask, to_date
from .values.text import fold, fold_series
from .values.vocabulary import CONSENT_NO_WORDS, CONSENT_YES_WORDS, NO_CONSENT, RETENTION_EXPIRED, UNKNOWN_WORDS

CONSENT = "Consent"
LAST_UPDATED = "Last updated"
# the columns whose dates count as a touch: the lead was created, updated, or has an action planned
TOUCH_COLUMNS = ("Created", LAST_UPDATED)
# The audit sheet `leadq forget` appends to (one line per erasure, salted hashes only).
PRIVACY_LOG = "Privacy log"
LOG_COLUMNS = ["Date (UTC)", "Request", "Lead ID hashes", "Leads", "Activities", "Qualification", "Score details",
               "History", "Activities file", "Salt"]


@dataclass(frozen=True)
class Policy:
    """The `privacy` section of rules.json, every key filled."""

    handoff: bool = True             # consent.required_for_handoff
    scoring: bool = False            # consent.required_for_scoring
    blank_yes: bool = False          # consent.blank_means == "yes"
    retention_months: int | None = None

    @classmethod
    def of(cls, rules) -> Policy:
        data = rules.privacy if hasattr(rules, "privacy") else (rules or {})
        consent = data.get("consent") or {}
        return cls(bool(consent.get("required_for_handoff", True)), bool(consent.get("required_for_scoring", False)),
                   consent.get("blank_means", "no") == "yes", data.get("retention_months"))


def read_consent(values: pd.Series, date_order: str = "auto", blank_yes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(consent given, not understood) per cell: yes words and dates (the day consent was given)
    mean yes; no words mean no; blank means `blank_yes`; anything else is reported and means no."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    yes_u, bad_u = [], []
    undecided = []
    for i, u in enumerate(uniques):
        if isinstance(u, bool):
            word = "true" if u else "false"
        elif isinstance(u, float) and u.is_integer() and u in (0.0, 1.0):
            word = str(int(u))
        else:
            word = fold(u)
        if word in CONSENT_YES_WORDS:
            yes_u.append(True), bad_u.append(False)
        elif word in CONSENT_NO_WORDS:
            yes_u.append(False), bad_u.append(False)
        elif word in UNKNOWN_WORDS:
            yes_u.append(blank_yes), bad_u.append(False)
        else:
            yes_u.append(False), bad_u.append(True)
            undecided.append(i)
    if undecided:           # a date in the cell: consent given that day
        dates, not_date = to_date(pd.Series([uniques[i] for i in undecided], dtype=object), date_order)
        for i, ok in zip(undecided, (dates.notna() & ~not_date).to_numpy()):
            if ok:
                yes_u[i], bad_u[i] = True, False
    yes = np.array(yes_u + [blank_yes], dtype=bool)[codes]
    bad = np.array(bad_u + [False], dtype=bool)[codes]
    return yes, bad


def consent_step(lead, rules, date_order: str, log) -> np.ndarray:
    """Whether each kept lead has consent (all True when the sheet has no Consent column)."""
    if CONSENT not in lead.frame.columns:
        return np.ones(lead.n, dtype=bool)
    policy = Policy.of(rules)
    raw = lead.frame[CONSENT]
    yes, bad = read_consent(raw, date_order, policy.blank_yes)
    vals = raw.to_numpy(object)
    lead.report(log, CONSENT_NOT_UNDERSTOOD, bad, CONSENT,
                lambda k: f'consent "{vals[k]}" is not understood, so the lead counts as without consent; '
                          "write Yes/No (Oui/Non, Ja/Nein, Opt-in/Opt-out) or the date consent was given")
    return yes


def without_engagement(ledger: pd.DataFrame, tags, consent: np.ndarray, rules):
    """Drop the engagement of leads without consent when rules.json says consent is required for scoring."""
    if not Policy.of(rules).scoring or consent.all():
        return ledger, tags
    ledger = ledger[consent[ledger["lead"].to_numpy()]].reset_index(drop=True)
    if tags is not None and len(tags):
        tags = tags[consent[tags["lead"].to_numpy()]].reset_index(drop=True)
    return ledger, tags


def retention_step(lead, rules, open_deal: np.ndarray, action_date: pd.Series, last_day, as_of: pd.Timestamp,
                   date_order: str, log) -> tuple[np.ndarray, np.ndarray]:
    """(retention expired, last touch) per lead. The last touch is the latest of Created, Last updated,
    the next action date and the last activity; a lead with no date at all cannot be judged and is
    not flagged, nor is one with an open deal."""
    n = lead.n
    policy = Policy.of(rules)
    touches = [np.asarray(action_date, dtype="datetime64[ns]")]
    if last_day is not None:
        touches.append(np.asarray(last_day).astype("datetime64[D]").astype("datetime64[ns]"))
    for col in TOUCH_COLUMNS:
        if col in lead.frame.columns:
            dates, bad = to_date(lead.frame[col], date_order)
            if policy.retention_months and col == LAST_UPDATED:     # Created is read nowhere else: no new reports
                vals = lead.frame[col].to_numpy(object)
                lead.report(log, NOT_A_DATE, bad.to_numpy(), col,
                            lambda k, v=vals: f'"{v[k]}" is not a date (use 22/11/2026 or 2026-11-22)')
            touches.append(dates.to_numpy("datetime64[ns]"))
    stacked = np.vstack([t.astype("datetime64[ns]").view(np.int64) for t in touches]) if touches else np.zeros((0, n))
    nat = np.iinfo(np.int64).min
    last = stacked.max(axis=0) if len(stacked) else np.full(n, nat)
    last_touch = np.where(last == nat, np.datetime64("NaT"), last.astype("datetime64[ns]"))
    if not policy.retention_months:
        return np.zeros(n, dtype=bool), last_touch
    cutoff = (as_of - pd.DateOffset(months=int(policy.retention_months))).to_datetime64()
    expired = (last != nat) & (last_touch < cutoff) & ~np.asarray(open_deal, dtype=bool)
    return expired, last_touch


def flag_status(status: np.ndarray, consent: np.ndarray, expired: np.ndarray, rules) -> np.ndarray:
    """Next action status with the privacy flags on top: Retention expired, then No consent."""
    policy = Policy.of(rules)
    out = np.where(~consent, NO_CONSENT, status) if policy.handoff else np.asarray(status, dtype=object)
    return np.where(expired, RETENTION_EXPIRED, out).astype(object)


def may_hand_off(ctx: pd.DataFrame, rules) -> np.ndarray:
    """True for leads sales may be handed (consent given, or consent not required for hand-off)."""
    if not Policy.of(rules).handoff or "Consent" not in ctx.columns:
        return np.ones(len(ctx), dtype=bool)
    return ctx["Consent"].to_numpy(bool)


# ---------------------------------------------------------------------------- pseudonyms
def normalise_identifier(value) -> str:
    """The form an identifier is hashed in: an email or Lead ID typed twice differently hashes the same."""
    return fold(value)


def pseudonym(value, salt: bytes, prefix: str = "") -> str:
    """A stable, salted, one-way token for a personal value ('' stays '')."""
    text = normalise_identifier(value)
    if not text:
        return ""
    return prefix + hmac.new(salt, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def pseudonyms(values: pd.Series, salt: bytes, prefix: str = "") -> np.ndarray:
    """pseudonym() of a whole column, each distinct value hashed once."""
    folded = fold_series(values.where(~blank_mask(values), None).astype(object))
    codes, uniques = pd.factorize(folded, use_na_sentinel=True)
    table = np.array([pseudonym(u, salt, prefix) for u in uniques] + [""], dtype=object)
    return table[codes]


# ---------------------------------------------------------------------------- Summary figures
def privacy_counts(ctx: pd.DataFrame) -> dict[str, int]:
    """The Summary's privacy figures: leads without consent, leads past the retention period."""
    no_consent = int((~ctx["Consent"].to_numpy(bool)).sum()) if "Consent" in ctx.columns else 0
    expired = int(ctx["Retention expired"].to_numpy(bool).sum()) if "Retention expired" in ctx.columns else 0
    return {"No consent": no_consent, "Retention expired": expired}


def privacy_table(ctx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Leads kept past the retention period, longest idle first: erase them (`leadq forget`) or renew consent."""
    columns = ["Lead ID", "Name", "Owner", "Stage", "Last touch", "Months idle", "Consent", "Row"]
    if "Retention expired" not in ctx.columns or not ctx["Retention expired"].any():
        return pd.DataFrame(columns=columns)
    sub = ctx[ctx["Retention expired"].to_numpy(bool)].sort_values(["Last touch", "Lead ID"], kind="stable")
    touch = pd.to_datetime(sub["Last touch"])
    months = ((as_of.year - touch.dt.year) * 12 + (as_of.month - touch.dt.month)
              - (as_of.day < touch.dt.day).astype(int))
    return pd.DataFrame({"Lead ID": sub["Lead ID"], "Name": sub["Name"], "Owner": sub["Owner"],
                         "Stage": sub["Stage label"], "Last touch": touch, "Months idle": months.to_numpy(),
                         "Consent": np.where(sub["Consent"].to_numpy(bool), "Yes", "No"),
                         "Row": sub["Row"]}).reset_index(drop=True)
