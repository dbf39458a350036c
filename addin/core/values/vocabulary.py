"""LeadQ's words, defined once: funnel stages, next-action statuses, yes/no answers, deal outcomes.

Everything else imports these names; a test checks that no other module spells them again.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------- funnel stages
VISITOR, LEAD, MQL, SQL, OPPORTUNITY, CUSTOMER, LOST, DISQUALIFIED = (
    "Visitor", "Lead", "MQL", "SQL", "Opportunity", "Customer", "Lost", "Disqualified")
STAGES = [VISITOR, LEAD, MQL, SQL, OPPORTUNITY, CUSTOMER, LOST, DISQUALIFIED]
FUNNEL = [VISITOR, LEAD, MQL, SQL, OPPORTUNITY, CUSTOMER]
CLOSED_STAGES = [CUSTOMER, LOST, DISQUALIFIED]              # no longer open leads
NEEDS_ACTION = [MQL, SQL, OPPORTUNITY]                      # sales owes these a next action
SHOWS_CHECKLIST = [MQL, SQL, OPPORTUNITY, CUSTOMER]         # the Checklist column is filled from MQL on
# How far down the funnel a lead at each stage has come: a lost deal reached Opportunity.
REACH = {VISITOR: 0, LEAD: 1, MQL: 2, SQL: 3, OPPORTUNITY: 4, CUSTOMER: 5, LOST: 4, DISQUALIFIED: 0}

# ---------------------------------------------------------------------------- next actions
OVERDUE, DUE_SOON, MISSING, NO_DATE, PLANNED = "Overdue", "Due soon", "Missing", "No date", "Planned"
# privacy flags win over the action statuses: nobody should chase a lead that must not be contacted
NO_CONSENT, RETENTION_EXPIRED = "No consent", "Retention expired"
SLA_BREACHED = "SLA breached"     # no next action and longer in the stage than rules.json's sla allows
ACTION_STATUSES = [RETENTION_EXPIRED, NO_CONSENT, SLA_BREACHED, OVERDUE, DUE_SOON, MISSING, NO_DATE, PLANNED]
ACTION_ALERTS = [SLA_BREACHED, OVERDUE, DUE_SOON, MISSING, NO_DATE]       # listed on the Summary
ACTION_ORDER = {SLA_BREACHED: 0, OVERDUE: 0, DUE_SOON: 1, MISSING: 2, NO_DATE: 2}
# fill and font of each flagged status (conditional formats on Leads, styles on the Summary)
ACTION_COLORS = {SLA_BREACHED: ("#C65911", "#FFFFFF"), OVERDUE: ("#C00000", "#FFFFFF"),
                 DUE_SOON: ("#FFEB9C", "#7F6000"), MISSING: ("#F8CBAD", "#833C0B"), NO_DATE: ("#F8CBAD", "#833C0B"),
                 NO_CONSENT: ("#7030A0", "#FFFFFF"), RETENTION_EXPIRED: ("#404040", "#FFFFFF")}

# ---------------------------------------------------------------------------- Lead history sheet
REMOVED = "Removed"      # History's stage for a lead no longer on the Leads sheet (never a lead's stage)

# ---------------------------------------------------------------------------- answers (folded)
YES_WORDS = frozenset({"yes", "y", "oui", "o", "x", "✓", "✔", "☑", "true", "vrai", "1", "ok", "si"})
NO_WORDS = frozenset({"no", "n", "non", "false", "faux", "0", "✗", "✘", "☐"})
UNKNOWN_WORDS = frozenset({"", "?", "unknown", "inconnu", "inconnue", "nsp", "tbd", "n/a", "na", "-"})
ANSWER_CHOICES = ["Yes", "No", "Unknown", "Oui", "Non"]     # the Qualification drop-down
CONSENT_CHOICES = ["Oui", "Non", "Yes", "No"]              # the Leads Consent drop-down
# what the Consent column says beyond yes/no (a date there means consent given on that day)
CONSENT_YES_WORDS = YES_WORDS | frozenset({
    "ja", "granted", "given", "accepted", "accepte", "consented", "consent", "consenti", "consentement donne",
    "opt in", "opt-in", "optin", "opted in", "double opt in", "double opt-in", "subscribed", "inscrit", "d'accord"})
CONSENT_NO_WORDS = NO_WORDS | frozenset({
    "nein", "refused", "refuse", "declined", "withdrawn", "retire", "revoked", "revoque", "opt out", "opt-out",
    "optout", "opted out", "unsubscribed", "desinscrit", "desabonne", "no consent", "pas de consentement"})

# ---------------------------------------------------------------------------- deal outcomes
WON, LOST_OUTCOME, OPEN = "won", "lost", "open"
OUTCOMES = [WON, LOST_OUTCOME]


def default_probability(outcome: str | None) -> float:
    """Win probability of a pipeline stage that gives none: 1 for won, 0 for lost (and unknown)."""
    return 1.0 if outcome == WON else 0.0
