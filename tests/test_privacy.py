"""Privacy by design (issue 15): consent honoured, retention flagged, pseudonyms (the pure core)."""

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, acts_frame, leads_frame

from addin.core.evaluate import evaluate
from addin.core.privacy import pseudonym, read_consent
from addin.core.report.summary import summarise
from addin.settings import check_rules_file as check_rules


def _lead(lid, consent, **kw):
    row = {"Lead ID": lid, "Email": f"{lid.lower()}@acme.example", "Job title": "CEO", "Consent": consent}
    row.update(kw)
    return row


def _mql_acts(*ids):
    return acts_frame([(i, "2026-11-20", "webinar", "") for i in ids])


@pytest.mark.parametrize("header", ["Consent", "Opt-in", "Consentement", "GDPR consent", "RGPD", "Einwilligung"])
@pytest.mark.parametrize("value, given", [
    ("Yes", True), ("No", False),                       # English
    ("Oui", True), ("Non", False), ("non ", False),     # French
    ("Ja", True), ("Nein", False),                      # German
    ("Sí", True), ("Opt-in", True), ("Opt-out", False), ("Withdrawn", False), ("Refusé", False),
    ("x", True), (1, True), (0, False), (True, True), (False, False),
    ("2026-03-14", True), ("14/03/2026", True), (pd.Timestamp("2026-03-14"), True),
    ("", False), (None, False),                         # not recorded: no consent by default
])
def test_consent_values_in_several_languages_decide_the_hand_off(base_rules, header, value, given):
    # a second lead with consent recorded: a column empty on every row is no column (see the test below)
    leads = leads_frame([{"Lead ID": "A1", "Email": "a@acme.example", "Job title": "CEO", header: value},
                         {"Lead ID": "A2", "Email": "b@acme.example", header: "Yes"}])
    ev = evaluate(leads, _mql_acts("A1"), base_rules, as_of=AS_OF)
    status = ev.leads["Next action status"].iat[0]
    handoff = summarise(ev).handoff
    assert ev.leads["Stage"].iat[0] == "MQL"                # scored and staged all the same
    assert (status == "No consent") is (not given)
    assert list(handoff["Lead ID"]) == (["A1"] if given else [])
    assert not [p for p in ev.problems if p.code == "consent-not-understood"]


def test_a_consent_column_empty_on_every_row_is_no_consent_column(base_rules):
    leads = leads_frame([{"Lead ID": "A1", "Email": "a@acme.example", "Job title": "CEO", "Consent": None},
                         {"Lead ID": "A2", "Email": "b@acme.example", "Consent": ""}])
    ev = evaluate(leads, _mql_acts("A1"), base_rules, as_of=AS_OF)
    assert ev.leads["Next action status"].iat[0] != "No consent"
    assert list(summarise(ev).handoff["Lead ID"]) == ["A1"]
    [p] = [p for p in ev.problems if p.code == "empty-column" and p.sheet == "Leads"]    # (Activities: its empty Detail)
    assert p.message.startswith('column "Consent" is empty on every row, so it is read as absent: consent is not checked')


def test_a_consent_value_not_understood_is_reported_and_counts_as_no(base_rules):
    leads = leads_frame([_lead("A1", "maybe later")])
    ev = evaluate(leads, _mql_acts("A1"), base_rules, as_of=AS_OF)
    [p] = [p for p in ev.problems if p.code == "consent-not-understood"]
    assert p.where == 'Leads!D2 (column "Consent")' and "maybe later" in p.message
    assert ev.leads["Next action status"].iat[0] == "No consent"


def test_without_a_consent_column_consent_is_not_checked(base_rules):
    leads = leads_frame([{"Lead ID": "A1", "Email": "a@acme.example", "Job title": "CEO"}])
    ev = evaluate(leads, _mql_acts("A1"), base_rules, as_of=AS_OF)
    assert ev.leads["Next action status"].iat[0] == "Missing"
    assert list(summarise(ev).handoff["Lead ID"]) == ["A1"]


def test_blank_means_yes_when_the_rules_say_so(base_rules):
    rules = {**base_rules, "privacy": {"consent": {"blank_means": "yes"}}}
    ev = evaluate(leads_frame([_lead("A1", ""), _lead("A2", "Non")]), _mql_acts("A1", "A2"), rules, as_of=AS_OF)
    assert list(ev.leads["Next action status"]) == ["Missing", "No consent"]


def test_consent_required_for_scoring_removes_engagement_only(base_rules):
    rules = {**base_rules, "privacy": {"consent": {"required_for_scoring": True}}}
    leads = leads_frame([_lead("A1", "Yes"), _lead("A2", "No")])
    ev = evaluate(leads, _mql_acts("A1", "A2"), rules, as_of=AS_OF)
    assert list(ev.leads["Engagement score"]) == [20, 0]
    assert list(ev.leads["Fit score"]) == [15, 15]
    assert list(ev.leads["Score"]) == [35, 15]
    assert set(ev.details.loc[ev.details["Lead ID"] == "A2", "Rule"]) == {"decision-maker"}
    default = evaluate(leads, _mql_acts("A1", "A2"), base_rules, as_of=AS_OF)
    assert list(default.leads["Engagement score"]) == [20, 20]        # default: consent is not needed to score


def test_consent_not_required_for_handoff_keeps_the_queue(base_rules):
    rules = {**base_rules, "privacy": {"consent": {"required_for_handoff": False}}}
    ev = evaluate(leads_frame([_lead("A1", "No")]), _mql_acts("A1"), rules, as_of=AS_OF)
    assert ev.leads["Next action status"].iat[0] == "Missing"
    assert list(summarise(ev).handoff["Lead ID"]) == ["A1"]


def test_summary_counts_leads_without_consent(base_rules):
    leads = leads_frame([_lead("A1", "Yes"), _lead("A2", "Non"), _lead("A3", "Nein"), _lead("A4", "")])
    s = summarise(evaluate(leads, _mql_acts("A1", "A2", "A3", "A4"), base_rules, as_of=AS_OF))
    assert s.kpis["No consent"] == 3
    assert list(s.handoff["Lead ID"]) == ["A1"]


# ---------------------------------------------------------------------------- retention
def _retention_leads():
    return leads_frame([
        _lead("OLD", "Yes", Created="2022-01-10"),                                  # idle 4 years: expired
        _lead("OLDDEAL", "Yes", Created="2022-01-10", **{"Deal stage": "Proposal"}),  # open deal: kept
        _lead("OLDWON", "Yes", Created="2022-01-10", **{"Deal stage": "Won"}),       # closed deal: expired
        _lead("ACTIVE", "Yes", Created="2022-01-10"),                               # recent activity: kept
        _lead("UPDATED", "Yes", Created="2022-01-10", **{"Last modified": "2025-06-01"}),  # updated: kept
        _lead("EDGE", "No", Created="2023-11-23"),                                  # 35 months: kept
        _lead("NODATE", "Yes"),                                                     # cannot tell: kept
    ])


def test_leads_idle_past_the_retention_period_are_flagged(base_rules):
    rules = {**base_rules, "privacy": {"retention_months": 36},
             "pipeline": [{"stage": "Proposal", "probability": 0.25}, {"stage": "Won", "outcome": "won"},
                          {"stage": "Lost", "outcome": "lost"}]}
    acts = acts_frame([("ACTIVE", "2026-01-05", "page_visit", "")])
    ev = evaluate(_retention_leads(), acts, rules, as_of=AS_OF)
    status = dict(zip(ev.leads["Lead ID"], ev.leads["Next action status"]))
    assert [k for k, v in status.items() if v == "Retention expired"] == ["OLD", "OLDWON"]
    assert status["EDGE"] == "No consent"
    s = summarise(ev)
    assert s.kpis["Retention expired"] == 2
    assert list(s.privacy["Lead ID"]) == ["OLD", "OLDWON"]
    assert list(s.privacy["Months idle"]) == [58, 58]
    assert s.privacy["Last touch"].iat[0] == pd.Timestamp("2022-01-10")


def test_no_retention_period_flags_nobody(base_rules):
    ev = evaluate(_retention_leads(), None, base_rules, as_of=AS_OF)
    assert "Retention expired" not in set(ev.leads["Next action status"])
    assert summarise(ev).kpis["Retention expired"] == 0


# ---------------------------------------------------------------------------- rules
@pytest.mark.parametrize("privacy, message", [
    ({"retention_months": 0}, "retention_months"),
    ({"consent": {"required_for_handof": True}}, "required_for_handof"),
    ({"consent": {"blank_means": "maybe"}}, "blank_means"),
])
def test_check_rules_names_bad_privacy_keys(privacy, message):
    rules, problems = check_rules({"privacy": privacy})
    assert rules is None
    assert any(message in f"{p.where} {p.message}" for p in problems)


def test_privacy_keys_merge_over_the_defaults():
    rules, _ = check_rules({"privacy": {"retention_months": 24, "consent": {"required_for_scoring": True}}})
    assert rules.privacy == {"consent": {"required_for_handoff": True, "required_for_scoring": True, "blank_means": "no"},
                             "retention_months": 24}


# ---------------------------------------------------------------------------- pseudonyms
def test_pseudonyms_are_stable_salted_and_ignore_case():
    a = pseudonym("Jane.Doe@Acme.example ", b"salt-1")
    assert a == pseudonym("jane.doe@acme.example", b"salt-1")
    assert a != pseudonym("jane.doe@acme.example", b"salt-2")
    assert len(a) == 16 and "jane" not in a
    assert pseudonym("", b"s") == ""


def test_read_consent_is_vectorised_over_distinct_values():
    yes, bad = read_consent(pd.Series(["Oui", "Non", "Oui", None, "???"] * 1000, dtype=object))
    assert yes[:5].tolist() == [True, False, True, False, False]
    assert bad[:5].tolist() == [False, False, False, False, True]
    assert np.count_nonzero(yes) == 2000
