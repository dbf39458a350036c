"""addin.explain: the ledger of one lead, and why it has its stage."""

import pandas as pd
import pytest
from conftest import AS_OF, acts_frame, leads_frame

import addin
from addin.errors import LeadQError

YES4 = {"Budget": "Oui", "Authority": "x", "Need": "TRUE", "Timeframe": "✓"}


def _explain(base_rules, lead, answers=None, score_acts=()):
    leads = leads_frame([{"Lead ID": "A", **lead}])
    acts = acts_frame([("A", "2026-11-01", t, "") for t in score_acts])
    q = pd.DataFrame([{"Lead ID": "A", **answers}]) if answers else None
    return addin.explain(addin.evaluate(leads, acts, base_rules, qualification=q, as_of=AS_OF), "A")


@pytest.mark.parametrize("lead, answers, acts, reason", [
    ({"Email": "a@b.fr", "Deal stage": "Won"}, None, (), 'Customer: deal stage "Won" is won'),
    ({"Email": "a@b.fr", "Deal stage": "Perdu"}, None, (), 'Lost: deal stage "Lost" is lost'),
    ({"Email": "a@b.fr", "Disqualified": "spam"}, None, (), "Disqualified: spam"),
    ({"Email": "a@b.fr", "Deal stage": "Proposal"}, None, (), 'Opportunity: open deal at "Proposal" (25% to win)'),
    ({"Email": "a@b.fr"}, YES4, ("webinar", "simulator"),
     "SQL: score 35 ≥ 25, an email, and the BANT checklist passes"),
    ({"Email": "a@b.fr"}, {**YES4, "Need": "Non", "Budget": ""}, ("webinar", "simulator"),
     "MQL: score 35 ≥ 25 and an email; SQL needs Budget, Need"),
    ({"Email": "a@b.fr"}, None, ("webinar",), "Lead: an email, but score 20 < 25; MQL needs 5 more points"),
    ({"Email": ""}, None, ("webinar", "simulator"), "Visitor: no email yet; Lead needs one"),
])
def test_the_stage_reason_says_why_and_what_the_next_stage_needs(base_rules, lead, answers, acts, reason):
    ex = _explain(base_rules, lead, answers, acts)
    assert ex.stage_reason == reason
    assert ex.total == ex.lead["Score"]


def test_explain_uses_the_stage_labels_of_the_rules(base_rules):
    rules = {**base_rules, "stages": {"Lead": {"label": "Piste engagée"}, "MQL": {"label": "Piste qualifiée"}}}
    ex = _explain(rules, {"Email": "a@b.fr"}, None, ("webinar",))
    assert ex.stage_reason == "Piste engagée: an email, but score 20 < 25; Piste qualifiée needs 5 more points"


def test_an_unknown_lead_is_an_error_with_a_suggestion(base_rules):
    ev = addin.evaluate(leads_frame([{"Lead ID": "L1001", "Email": "a@b.fr"}]), None, base_rules, as_of=AS_OF)
    with pytest.raises(LeadQError, match='no lead "L1010" \\(did you mean "L1001"\\?\\)'):
        addin.explain(ev, "L1010")
    assert addin.explain(ev, " L1001 ").lead["Lead ID"] == "L1001"


def test_a_numeric_lead_id_is_found_as_excel_passes_it(base_rules):
    ev = addin.evaluate(leads_frame([{"Lead ID": 101, "Email": "a@b.fr"}]), None, base_rules, as_of=AS_OF)
    assert addin.explain(ev, 101.0).lead["Lead ID"] == "101"
