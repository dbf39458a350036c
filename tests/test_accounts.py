"""Accounts and buying groups (issue 25): grouping, coverage, account fields in rules, the Summary section."""

import io
import json

import openpyxl
import pandas as pd
import pytest
from conftest import AS_OF, ROOT

from addin.cli import run
from addin.core.accounts import DEFAULTS, group, normalise_company
from addin.core.evaluate import evaluate
from addin.core.report.summary import summarise
from addin.core.rules.model import check_rules
from addin.refresh import new_workbook
from addin.settings import load_rules

RULES = str(ROOT / "rules.json")


def _frame(rows):
    return pd.DataFrame(rows, columns=["Lead ID", "Email", "Company", "Job title", "Company ID"])


def test_company_id_then_normalised_name_then_email_domain_free_mail_excluded():
    leads = _frame([
        ["L1", "a@acme.example", "ACME, Inc.", "CEO", None],
        ["L2", "b@acme.example", "Acme", "CFO", None],
        ["L3", "c@other.example", "Acme SAS", "Product Manager", "A-9"],     # its id wins over its name
        ["L4", "d@zeta.example", None, "Analyst", None],                     # by domain
        ["L5", "e@gmail.com", None, "CEO", None],                            # free-mail: no account
        ["L6", "f@zeta.example", "", "Directrice", None],
    ])
    acc = group(leads, load_rules(RULES))
    code = acc.code
    assert code[0] == code[1] != code[2]
    assert code[3] == code[5] and code[4] == -1
    assert acc.how.tolist() == [1, 1, 0, 2, 3, 2]
    assert acc.names[code[0]] in ("ACME, Inc.", "Acme") and acc.names[code[3]] == "zeta.example"
    assert normalise_company("Société Générale SA") == "societe generale"


def _evaluate(leads, rules):
    return evaluate(leads, None, rules, as_of=AS_OF)


def test_coverage_counts_required_roles_by_weight_and_names_the_missing_ones():
    rules = load_rules({"accounts": {"roles": [
        {"name": "Decision-maker", "titles": ["CEO"], "required": True, "weight": 2},
        {"name": "Finance", "titles": ["CFO", "DAF"], "required": True, "weight": 1},
        {"name": "Champion", "titles": ["Manager"], "required": True, "weight": 1},
        {"name": "User", "titles": ["Analyst"]}]}})
    leads = _frame([["L1", "a@acme.example", "Acme", "CEO", None], ["L2", "b@acme.example", "Acme", "Analyst", None],
                    ["L3", "c@beta.example", "Beta", "DAF", None], ["L4", "d@beta.example", "Beta", "Sales Manager", None]])
    s = summarise(_evaluate(leads, rules))
    got = s.accounts.set_index("Account")
    assert got.loc["Acme", "Buying group"] == "1 of 3 roles, missing Finance, Champion"
    assert got.loc["Acme", "Coverage"] == pytest.approx(0.5)
    assert got.loc["Beta", "Buying group"] == "2 of 3 roles, missing Decision-maker"
    assert got.loc["Beta", "Coverage"] == pytest.approx(0.5)
    assert s.accounts_note == "Leads grouped by company name 4"


def test_account_fields_can_be_read_by_a_fit_rule():
    rules = load_rules({"fit": [{"id": "buying-group", "field": "Account coverage", "op": "gte", "value": 0.75,
                                 "points": 10},
                                {"id": "committee", "field": "Account contacts", "op": "gte", "value": 3, "points": 4}],
                        "accounts": {"roles": [{"name": "Boss", "titles": ["CEO"], "required": True},
                                               {"name": "Money", "titles": ["CFO"], "required": True}]}})
    leads = _frame([["L1", "a@acme.example", "Acme", "CEO", None], ["L2", "b@acme.example", "Acme", "CFO", None],
                    ["L3", "c@acme.example", "Acme", "Intern", None], ["L4", "d@beta.example", "Beta", "CEO", None]])
    ev = _evaluate(leads, rules)
    fit = ev.leads.set_index("Lead ID")["Fit score"]
    assert fit.to_dict() == {"L1": 14, "L2": 14, "L3": 14, "L4": 0}
    assert not [p for p in ev.problems if p.code == "rule-column-missing"]
    _, problems = check_rules({"fit": [{"id": "x", "field": "Account coverage", "op": "gte", "value": 0.5, "points": 1}]})
    assert not [p for p in problems if p.code == "unknown-field"]


@pytest.mark.parametrize("how, want", [("max", 30), ("sum", 80), ("top3_mean", 80 / 3)])
def test_account_score_is_max_sum_or_top3_mean(how, want):
    rules = load_rules({"fit": [{"id": "t", "field": "Job title", "op": "equals", "value": "A", "points": 30},
                                {"id": "u", "field": "Job title", "op": "equals", "value": "B", "points": 20}],
                        "accounts": {"score": how}})
    leads = _frame([["L1", "a@x.example", "X", "A", None], ["L2", "b@x.example", "X", "B", None],
                    ["L3", "c@x.example", "X", "C", None], ["L4", "d@x.example", "X", "A", None]])
    # scores 30, 20, 0, 30: max 30, sum 80 — L3 stays at 0; top 3 = 30, 30, 20
    table = summarise(_evaluate(leads, rules)).accounts
    assert table.loc[0, "Account score"] == pytest.approx(want, abs=0.005)


def test_a_bad_accounts_key_is_located(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"accounts": {"score": "best", "roles": [{"name": "CFO"}]}}, indent=2), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(["check-rules", str(path)], out, err) == 1
    text = out.getvalue() + err.getvalue()
    assert "rules.json:3: $.accounts.score" in text
    assert "$.accounts.roles[0]" in text and "titles" in text


def _independent_coverage(ws):
    """The demo's buying groups computed here, from the Leads sheet, without LeadQ's code."""
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    h = list(rows[0])
    fold = lambda t: "".join(c for c in __import__("unicodedata").normalize("NFKD", str(t or "").lower())  # noqa: E731
                             if not __import__("unicodedata").combining(c))
    roles = [r for r in DEFAULTS["roles"] if r.get("required")]
    out = {}
    for r in rows[1:]:
        if r[0] is None:
            continue
        held = out.setdefault(r[h.index("Company")], set())
        for role in roles:
            if any(fold(p) in fold(r[h.index("Job title")]) for p in role["titles"]):
                held.add(role["name"])
    text = {}
    for company, held in out.items():
        missing = [r["name"] for r in roles if r["name"] not in held]
        text[company] = f"{len(roles) - len(missing)} of {len(roles)} roles" + (
            f", missing {', '.join(missing)}" if missing else ", complete")
    return text


def test_the_demo_summary_lists_each_accounts_coverage_and_missing_roles(tmp_path):
    path = tmp_path / "demo.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    out, err = io.StringIO(), io.StringIO()
    assert run(["refresh", str(path), "--as-of", AS_OF, "--rules", RULES], out, err) == 0, err.getvalue()
    wb = openpyxl.load_workbook(path, data_only=True)
    want = _independent_coverage(wb["Leads"])
    cells = [[c.value for c in row] for row in wb["Summary"].iter_rows()]
    start = next(i for i, r in enumerate(cells) if isinstance(r[0], str) and r[0].startswith("Accounts ("))
    header = next(i for i in range(start, start + 4) if cells[i][0] == "Account")
    got = {}
    for r in cells[header + 1:]:
        if not r[0]:
            break
        got[r[0]] = (r[1], r[6])
    assert len(got) == min(15, len(want))
    assert {k: v[1] for k, v in got.items()} == {k: want[k] for k in got}
    assert any(v[1] == "3 of 3 roles, complete" for v in got.values())
    assert any("missing Finance" in v[1] for v in got.values())
    contacts = {}
    for r in list(wb["Leads"].iter_rows(min_row=4, values_only=True)):
        if r[0]:
            contacts[r[6]] = contacts.get(r[6], 0) + 1
    assert {k: v[0] for k, v in got.items()} == {k: contacts[k] for k in got}
