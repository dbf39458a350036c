"""Header matching that cannot crash, the Column mapping, and what reading real values says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, acts_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import addin
from addin.core.values.headers import LEADS_INPUTS, LEADS_OUTPUTS, canonicalize, match_headers
from addin.core.values.parse import read_dates, read_numbers

KNOWN = [h for name, aliases in LEADS_INPUTS.items() for h in [name, *aliases]] + LEADS_OUTPUTS + [
    "Deal - Title", "Person - Email", "Deal - Value", "Organization - Name", "Prospect ID", "opportunity_id", "Notes", ""]


def _casing(draw, header: str) -> str:
    mode = draw(st.sampled_from(["same", "upper", "lower", "spaced"]))
    return {"same": header, "upper": header.upper(), "lower": header.lower(), "spaced": f"  {header} "}[mode]


@st.composite
def header_rows(draw):
    picked = draw(st.lists(st.sampled_from(KNOWN), min_size=1, max_size=14))
    picked += draw(st.lists(st.sampled_from(picked), max_size=4))          # duplicates
    headers = [_casing(draw, h) for h in draw(st.permutations(picked))]
    return headers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=header_rows(), plain=st.booleans())
def test_any_headers_in_a_table_or_a_plain_sheet_never_raise(headers, plain, tmp_path_factory):
    """Permutations, duplicates and casings of known headers and aliases: evaluate either scores
    the leads or says, as a LeadQError, that no Lead ID column can be found — never a crash."""
    rows = [[f"v{i}-{j}" if j else f"L{i}" for j in range(len(headers))] for i in range(3)]
    frame = pd.DataFrame(rows, columns=headers) if plain else pd.DataFrame(rows, columns=range(len(headers)))
    if not plain:
        frame.columns = headers                          # a table's headers, repeated or not
    out, hmap = canonicalize(frame, "Leads")
    assert out.columns.is_unique and len(out) == 3
    claimed = list(hmap.columns.values()) + hmap.custom + list(hmap.outputs.values())
    assert len(claimed) <= len(headers)
    try:
        ev = addin.evaluate(frame, None, None, as_of=AS_OF)
    except addin.LeadQError as e:
        assert "Lead ID" in str(e)
    else:
        assert len(ev.leads) <= 3


def test_the_export_beside_the_template_columns_no_longer_crashes():
    """Salesforce pasted into the template's table: its Lead Source / Created Date / Lead Owner
    sit beside the template's Source / Created / Owner. The exact header wins; a note names both."""
    leads = pd.DataFrame([{"Lead ID": "1", "Email": "a@b.fr", "Source": "", "Created": "", "Owner": "",
                           "Lead Source": "Web", "Created Date": "11/25/2016", "Lead Owner": "Sam", "Mobile": "06 12 34 56 78",
                           "Phone": ""}])
    ev = addin.evaluate(leads, None, None, as_of=AS_OF)
    notes = [p.message for p in ev.problems if p.code == "header-conflict"]
    assert len(notes) == 4
    assert any('"Source" and "Lead Source" both mean "Source": "Source" is used (the LeadQ name' in n for n in notes)
    assert ev.leads.iloc[0]["Stage"] == "Lead"


def test_a_mapping_beats_aliases_and_a_missing_one_is_reported():
    leads = pd.DataFrame([{"Record ID": "1", "Email": "a@b.fr", "close_value": "1 000", "Deal Value": "5",
                           "deal_stage": "Proposal"}])
    ev = addin.evaluate(leads, None, None, as_of=AS_OF, column_mapping={"Leads": {"Amount": "Deal Value", "Owner": "Rep"}})
    assert ev.context.iloc[0]["Amount"] == 5
    missing = [p for p in ev.problems if p.code == "mapping-header-missing"]
    assert len(missing) == 1 and '"Owner" is "Rep"' in missing[0].message


def test_near_misses_are_suggested_and_the_only_id_column_is_the_lead_id():
    leads = pd.DataFrame([{"mql_id": "m1", "Emial": "a@b.fr", "Phone": "06 12 34 56 78"}])
    ev = addin.evaluate(leads, None, None, as_of=AS_OF)
    codes = {p.code: p.message for p in ev.problems}
    assert ev.leads.iloc[0]["Lead ID"] == "m1"
    assert '"mql_id" is used as Lead ID (the only id column)' in codes["lead-id-guessed"]
    assert 'column "Emial" looks like "Email"' in codes["header-near-miss"]
    with pytest.raises(addin.LeadQError, match="several columns could be it"):
        addin.evaluate(pd.DataFrame([{"mql_id": "m1", "seller_id": "s1"}]), None, None, as_of=AS_OF)


def test_entity_prefixes_only_claim_their_own_fields():
    hmap = match_headers(["Deal - ID", "Deal - Title", "Deal - Value", "Person - Email", "Organization - Name"], "Leads")
    assert hmap.columns == {"Lead ID": "Deal - ID", "Amount": "Deal - Value", "Email": "Person - Email",
                            "Company": "Organization - Name"}
    assert hmap.custom == ["Deal - Title"]


def test_grouped_warnings_no_contact_column_no_amount_unknown_stages(tmp_path):
    leads = pd.DataFrame([{"Lead ID": str(i), "Company": "X", "Deal stage": s}
                          for i, s in enumerate(["Prospecting", "Prospecting", "Won", "Closing"])])
    ev = addin.evaluate(leads, None, None, as_of=AS_OF)
    msg = {p.code: p.message for p in ev.problems}
    # the Won deal makes one lead a Customer: the warning counts the 3 that stay Visitors
    assert msg["no-contact-column"].startswith('no "Email" or "Phone" column: 3 of 4 leads stay Visitors, as a Lead needs '
                                               'email or phone (the other one takes its stage from a deal stage')
    assert msg["no-amount-column"].startswith('4 lead(s) have a deal stage but the sheet has no "Amount" column')
    assert '3 lead(s) have a deal stage the pipeline does not know: "Prospecting" ×2, "Closing" ×1' in msg["unknown-deal-stages"]
    quality = addin.summarise(ev).quality
    assert quality.to_string().count("no \"Email\" or \"Phone\" column") == 1


def test_lead_requires_is_configurable():
    leads = pd.DataFrame([{"Lead ID": "1", "Email": "", "Phone": "06 12 34 56 78"},
                          {"Lead ID": "2", "Email": "a@b.fr", "Phone": ""}])
    by_default = addin.evaluate(leads, None, None, as_of=AS_OF).leads["Stage"].tolist()
    email_only = addin.evaluate(leads, None, {"lead_requires": "email"}, as_of=AS_OF).leads["Stage"].tolist()
    assert by_default == ["Lead", "Lead"] and email_only == ["Visitor", "Lead"]


def test_crm_status_map_from_rules_and_unknown_values_counted():
    leads = pd.DataFrame([{"Lead ID": str(i), "Email": f"{i}@x.fr", "Lead Status": s}
                          for i, s in enumerate(["Gold", "Gold", "Closed - Converted", "customer", "Weird"])])
    ev = addin.evaluate(leads, None, {"crm_status": {"Gold": "SQL"}}, as_of=AS_OF)
    assert ev.leads["Stage"].tolist() == ["SQL", "SQL", "Opportunity", "Customer", "Lead"]
    unknown = next(p for p in ev.problems if p.code == "unknown-crm-status")
    assert '"Weird" ×1' in unknown.message and "crm_status" in unknown.message


def test_date_order_inferred_per_column_conflicts_named_never_swapped():
    us = read_dates(pd.Series(["11/1/2016", "11/25/2016", "3/4/2016"]))
    assert us.order == "MDY" and list(us.dates.dt.strftime("%Y-%m-%d")) == ["2016-11-01", "2016-11-25", "2016-03-04"]
    fr = read_dates(pd.Series(["1/11/2016", "25/11/2016", "4/3/2016"]))
    assert fr.order == "DMY" and list(fr.dates.dt.strftime("%Y-%m-%d")) == ["2016-11-01", "2016-11-25", "2016-03-04"]
    acts = acts_frame([("A", "11/25/2026", "webinar", ""), ("A", "11/20/2026", "webinar", ""), ("A", "13/11/2026", "webinar", ""),
                       ("A", "11/02/2026", "webinar", "")])
    leads = pd.DataFrame([{"Lead ID": "A", "Email": "a@b.fr"}])
    ev = addin.evaluate(leads, acts, None, as_of="2026-12-01")     # after every activity: the last one counts
    conflict = [p for p in ev.problems if p.code == "date-order-conflict"]
    assert [p.where for p in conflict] == ['Activities!B4 (column "Date")']
    assert '"13/11/2026" can only be DMY, but 2 date(s) of this column can only be MDY' in conflict[0].message
    assert ev.context.iloc[0]["Last activity"] == pd.Timestamp("2026-11-25")   # read month-first, like the column
    ev = addin.evaluate(leads, acts_frame([("A", "03/04/2026", "webinar", "")]), None, as_of=AS_OF)
    assert any(p.code == "date-order-guessed" and "set Date order to MDY" in p.message for p in ev.problems)
    ev = addin.evaluate(leads, acts, None, as_of=AS_OF, date_order="DMY")
    bad = [p.message for p in ev.problems if p.code == "not-a-date"]
    assert bad[0].startswith('"11/25/2026" is not a date in the DMY order set on Settings (it reads as MDY')


@pytest.mark.parametrize("text, expected", [
    ("2016-10-20 14:33", "2016-10-20"), ("Oct 20, 2016", "2016-10-20"), ("20 oct. 2016", "2016-10-20"),
    ("20 octobre 2016", "2016-10-20"), ("42663", "2016-10-20"), ("2016-10-20T14:33:00.000+0000", "2016-10-20"),
    ("10/20/2016 02:33 PM", "2016-10-20"), ("Thu, Oct 20, 2016", "2016-10-20"),
])
def test_date_forms(text, expected):
    assert read_dates(pd.Series([text])).dates.iloc[0] == pd.Timestamp(expected)


def test_date_cells_and_serials():
    assert read_dates(pd.Series([pd.Timestamp("2016-10-20 14:33")])).dates.iloc[0] == pd.Timestamp("2016-10-20")
    assert read_dates(pd.Series([42663.6])).dates.iloc[0] == pd.Timestamp("2016-10-20")


@pytest.mark.parametrize("values, low, high", [
    (["1.200,50", "1.200"], [1200.5, 1200], [1200.5, 1200]),
    (["1,200.50", "1,200"], [1200.5, 1200], [1200.5, 1200]),
    (["12,5", "1.200"], [12.5, 1200], [12.5, 1200]),
    (["12k", "1,2 M€", "25 %"], [12_000, 1_200_000, 25], [12_000, 1_200_000, 25]),
    (["51-200", "1 000 - 4 999", "10,001+"], [51, 1000, 10001], [200, 4999, np.inf]),
])
def test_numbers_by_locale_and_ranges(values, low, high):
    n = read_numbers(pd.Series(values, dtype=object))
    assert n.low.tolist() == pytest.approx(low) and n.high.tolist() == pytest.approx(high) and not n.bad.any()


def test_range_operators_use_the_documented_end():
    leads = pd.DataFrame([{"Lead ID": str(i), "Email": "a@b.fr", "Company size": v}
                          for i, v in enumerate(["51-200", "1,001-5,000", "10,001+", "11-50"])])
    rules = {"fit": [{"id": "mid", "field": "Company size", "op": "between", "value": [50, 1000], "points": 10},
                     {"id": "big", "field": "Company size", "op": "gt", "value": 1000, "points": 5},
                     {"id": "small", "field": "Company size", "op": "lte", "value": 50, "points": 1}]}
    ev = addin.evaluate(leads, None, rules, as_of=AS_OF)
    assert ev.leads["Fit score"].tolist() == [10, 5, 5, 1]
    assert not [p for p in ev.problems if p.code == "not-a-number"]


def test_check_rules_refuses_one_activity_name_for_two_types():
    from addin.settings import check_rules_file as check_rules
    rules, problems = check_rules({"activities": {"a": {"points": 1, "aliases": ["Email Open"]},
                                                  "b": {"points": 1, "label": "email_open"}}})
    assert rules is None
    assert [(p.code, p.path) for p in problems] == [("duplicate-activity-name", "$.activities.b.label")]
