import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, ROOT, acts_frame

from addin.core.evaluate import evaluate
from addin.settings import check_rules_file as check_rules


def score(rules, leads, acts=None):
    ev = evaluate(pd.DataFrame(leads), acts, rules, as_of=AS_OF)
    return ev.leads.set_index("Lead ID"), ev.details


def problem_at(rules_text, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(rules_text, "utf-8")
    rules, problems = check_rules(path)
    return rules, [(p.code, p.where, p.message) for p in problems]


LEADS = [
    {"Lead ID": "A", "Email": "a@corp.fr", "Job title": "CEO", "Company size": 49, "Country": "France"},
    {"Lead ID": "B", "Email": "b@corp.fr", "Job title": "CEO", "Company size": 50, "Country": "Canada"},
    {"Lead ID": "C", "Email": "c@corp.fr", "Job title": "Analyst", "Company size": 1000, "Country": "Japon"},
    {"Lead ID": "D", "Email": "d@corp.fr", "Job title": "Directeur", "Company size": None, "Country": ""},
]


def test_all_rule_needs_every_condition(base_rules):
    base_rules["fit"] = [{"id": "big-boss", "points": 20, "all": [
        {"field": "Job title", "op": "contains_any", "value": ["CEO", "Directeur"]},
        {"field": "Company size", "op": "gte", "value": 50}]}]
    leads, details = score(base_rules, LEADS)
    assert leads["Fit score"].to_dict() == {"A": 0, "B": 20, "C": 0, "D": 0}
    row = details[details["Rule"] == "big-boss"].iloc[0]
    assert (row["Lead ID"], row["Matched"], row["Points"]) == ("B", "CEO & 50", 20)


def test_bands_are_exclusive_first_match_wins_and_else_skips_blanks(base_rules):
    base_rules["fit"] = [
        {"id": "size", "field": "Company size", "bands": [
            {"lt": 50, "points": -5}, {"gte": 50, "lt": 1000, "points": 10}, {"gte": 1000, "points": 3}]},
        {"id": "region", "field": "Country", "bands": [
            {"in": ["france", "Belgique"], "points": 5, "label": "core"}, {"in": ["Canada"], "points": 2}], "else": -3},
    ]
    leads, details = score(base_rules, LEADS)
    # 49 -> first band, 50 -> second only (between would count it twice), 1000 -> third; blank: no row
    assert leads["Fit score"].to_dict() == {"A": -5 + 5, "B": 10 + 2, "C": 3 - 3, "D": 0}
    matched = details.set_index(["Lead ID", "Rule"])["Matched"].to_dict()
    assert matched[("A", "size")] == "49 (<50)" and matched[("B", "size")] == "50 (50–<1000)"
    assert matched[("A", "region")] == "France (core)" and matched[("C", "region")] == "Japon (else)"
    assert ("D", "size") not in matched and ("D", "region") not in matched


def test_per_rule_counts_whole_units_and_clips_to_max_points(base_rules):
    base_rules["fit"] = [{"id": "visits", "field": "Total visits", "per": 2, "points": 3, "max_points": 10}]
    leads = [{"Lead ID": k, "Email": f"{k}@x.fr", "Total visits": v} for k, v in
             [("A", 5), ("B", 40), ("C", "abc"), ("D", -4), ("E", 1)]]
    out, details = score(base_rules, leads)
    assert out["Fit score"].to_dict() == {"A": 6, "B": 10, "C": 0, "D": 0, "E": 0}
    b = details[(details["Lead ID"] == "B") & (details["Rule"] == "visits")].iloc[0]
    assert (b["Count"], b["Raw points"], b["Cap"], b["Points"]) == (20, 60, -50, 10)


def test_score_base_is_a_ledger_row_and_the_ledger_still_sums_to_the_score(base_rules):
    base_rules["score"] = {"base": 12.5, "min": 0, "max": 100}
    acts = acts_frame([("A", "2026-11-20", "webinar", ""), ("A", "2026-11-21", "webinar", "")] * 3)
    leads, details = score(base_rules, LEADS, acts)
    assert leads.loc["C", "Score"] == 12.5 and leads.loc["C", "Fit score"] == 0 and leads.loc["C", "Engagement score"] == 0
    assert leads.loc["A", "Score"] == 100        # 12.5 + 15 + 120, clipped
    base = details[details["Rule"] == "score-base"]
    assert len(base) == 4 and set(base["Kind"].astype(str)) == {"base"} and set(base["Points"]) == {12.5}
    sums = details.groupby("Lead ID")["Points"].sum()
    assert (sums.round(2) == leads["Score"].loc[sums.index]).all()
    kinds = details[details["Lead ID"] == "A"]["Kind"].astype(str).tolist()
    assert kinds == ["fit", "activity", "base", "clip"]


def test_blank_values_global_and_per_field(base_rules):
    base_rules["blank_values"] = {"*": ["-"], "Lead Source": ["Select"]}
    base_rules["fit"] = [
        {"id": "no-source", "field": "Source", "op": "is_empty", "points": -4},
        {"id": "no-title", "field": "Job title", "op": "is_empty", "points": -1},
        {"id": "country", "field": "Country", "bands": [{"in": ["France"], "points": 1}], "else": 7},
    ]
    leads = [{"Lead ID": "A", "Email": "a@x.fr", "Lead Source": "select", "Job title": "Select", "Country": "–"},
             {"Lead ID": "B", "Email": "b@x.fr", "Lead Source": "Web", "Job title": "-", "Country": "-"}]
    out, _ = score(base_rules, leads)
    # "Select" is a placeholder for the source only; "-" for every column (an en dash is not "-")
    assert out["Fit score"].to_dict() == {"A": -4 + 7, "B": -1}


def test_blank_values_as_a_list_apply_to_every_column(base_rules):
    base_rules["blank_values"] = ["n/a"]
    base_rules["fit"] = [{"id": "x", "field": "Industry", "op": "not_empty", "points": 5}]
    out, _ = score(base_rules, [{"Lead ID": "A", "Industry": "N/A"}, {"Lead ID": "B", "Industry": "Retail"}])
    assert out["Fit score"].to_dict() == {"A": 0, "B": 5}


@pytest.mark.parametrize("rule, code, where, words", [
    ({"id": "x", "field": "Country", "points": 1}, "fit-rule-kind", "$.fit[0]", '"op" (with field and value), "all", "bands" or "per"'),
    ({"id": "x", "field": "Country", "op": "equals", "value": "F", "per": 2, "points": 1}, "fit-rule-kind", "$.fit[0].per", "not both"),
    ({"id": "x", "all": [{"field": "Country", "op": "in", "value": "F"}], "points": 1}, "operator-value", "$.fit[0].all[0].value",
     "non-empty list"),
    ({"id": "x", "field": "Country", "all": [{"field": "Country", "op": "not_empty"}], "points": 1}, "fit-rule-key",
     "$.fit[0].field", 'remove "field"'),
    ({"id": "x", "field": "Size", "bands": [{"gte": 10, "points": 1}], "points": 3}, "fit-rule-key", "$.fit[0].points",
     "from each band"),
    ({"id": "x", "field": "Size", "bands": [{"gte": 10, "points": 1}, {"gte": 50, "lt": 99, "points": 2}]}, "band-unreachable",
     "$.fit[0].bands[1]", "band 1 already takes"),
    ({"id": "x", "field": "Size", "bands": [{"gte": 10, "lt": 5, "points": 1}]}, "band-shape", "$.fit[0].bands[0]", "empty band"),
    ({"id": "x", "field": "Size", "bands": [{"in": ["a"], "lt": 5, "points": 1}]}, "band-shape", "$.fit[0].bands[0]", "not both"),
    ({"id": "x", "field": "Size", "bands": [{"points": 1}]}, "band-shape", "$.fit[0].bands[0]", '"gte" and/or "lt"'),
    ({"id": "x", "field": "Size", "op": "gt", "value": 3, "points": 1, "else": 2}, "fit-rule-key", "$.fit[0].else",
     '"else" only goes with "bands"'),
    ({"id": "x", "field": "Size", "per": 0, "points": 1}, "schema-exclusiveMinimum", "$.fit[0].per", "more than 0"),
    ({"id": "x", "field": "Size", "per": 10}, "fit-rule-key", "$.fit[0]", 'missing "points"'),
])
def test_new_rule_kinds_report_located_problems(tmp_path, rule, code, where, words):
    text = '{\n  "fit": [\n    ' + json.dumps(rule) + '\n  ]\n}\n'
    rules, problems = problem_at(text, tmp_path)
    assert rules is None
    hit = [p for p in problems if p[0] == code]
    assert hit, problems
    assert hit[0][1] == f"rules.json:3: {where}" and words in hit[0][2]


def test_blank_values_and_base_have_located_type_errors(tmp_path):
    text = '{\n  "score": {"base": "10"},\n  "blank_values": {"Source": "Select"}\n}\n'
    rules, problems = problem_at(text, tmp_path)
    assert [(c, w) for c, w, _ in problems] == [("schema-type", "rules.json:2: $.score.base"),
                                                ("schema-type", "rules.json:3: $.blank_values.Source")]


def test_every_example_of_the_fit_rule_kinds_in_the_reference_is_valid():
    text = (ROOT / "docs" / "RULES.md").read_text("utf-8").split("## Fit rule kinds", 1)[1].split("## Operators")[0]
    examples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert {next(k for k in ("all", "bands", "per") if k in e) for e in examples} == {"all", "bands", "per"}
    rules, problems = check_rules({"fit": examples})
    assert rules is not None, problems


@pytest.mark.parametrize("seed", range(5))
def test_ledger_sums_exactly_with_every_rule_kind(base_rules, seed):
    rng = np.random.default_rng(seed)
    base_rules["score"] = {"base": float(rng.integers(-300, 300)) / 100, "min": 0, "max": 60}
    base_rules["fit"] = [
        {"id": "size", "field": "Company size", "bands": [{"lt": 30, "points": -3.33}, {"gte": 30, "points": 7.77}]},
        {"id": "visits", "field": "Visits", "per": 3, "points": 1.11, "max_points": 9.99},
        {"id": "combo", "all": [{"field": "Company size", "op": "gt", "value": 10}, {"field": "Visits", "op": "lt", "value": 20}],
         "points": 4.44},
    ]
    n = 300
    leads = pd.DataFrame({"Lead ID": [f"L{i}" for i in range(n)], "Email": "x@y.fr",
                          "Company size": rng.integers(0, 100, n), "Visits": rng.integers(0, 60, n)})
    acts = acts_frame([(f"L{rng.integers(n)}", f"2026-{rng.integers(1, 12):02d}-10", "webinar", "") for _ in range(600)])
    base_rules["decay"] = {"half_life_days": 45}
    ev = evaluate(leads, acts, base_rules, as_of=AS_OF)
    sums = ev.details.groupby("Lead ID", observed=True)["Points"].sum().round(2)
    scores = ev.leads.set_index("Lead ID")["Score"]
    assert (sums == scores.loc[sums.index]).all()
    assert set(scores.index) - set(sums.index) <= set(scores[scores == 0].index)


def test_rules_reading_one_column_share_its_values():
    """fitrules.field_values: the rules of a refresh that read one column fold and parse it once, with the
    same hits as each rule reading it alone."""
    from addin.core.rules import fitrules
    frame = pd.DataFrame({"Job title": ["CEO", "Student", None, " Directeur "], "Company size": ["51-200", "12", "x", "5000"]})
    rules = [{"id": "a", "field": "Job title", "op": "contains_any", "value": ["ceo", "directeur"], "points": 5},
             {"id": "b", "field": "Job title", "op": "contains_any", "value": ["student"], "points": -5},
             {"id": "c", "field": "Company size", "op": "between", "value": [50, 250], "points": 3},
             {"id": "d", "field": "Company size", "op": "gt", "value": 1000, "points": 4}]
    views: dict = {}
    for rule in rules:
        cols = {rule["field"]: rule["field"]}
        alone, shared = fitrules.hits(frame, rule, cols), fitrules.hits(frame, rule, cols, views)
        assert np.array_equal(alone.lead, shared.lead) and list(alone.matched) == list(shared.matched)
    assert set(views) == {"Job title", "Company size"}
    assert fitrules.field_values(frame, "Job title", views) is views["Job title"]
    mask = fitrules.condition_mask(frame, rules[1], "Job title", views)
    assert mask.tolist() == [False, True, False, False]
