import json

import pytest
from conftest import ROOT

import addin
from addin.core.rules.model import schema
from addin.core.rules.operators import OPERATORS
from addin.settings import check_rules_file as check_rules
from addin.settings import load_rules


def codes(problems):
    return [p.code for p in problems]


def test_repository_rules_are_valid_and_the_packaged_defaults():
    rules = load_rules(ROOT / "rules.json")
    packaged = json.loads((ROOT / "addin" / "default_rules.json").read_text("utf-8"))
    repo = json.loads((ROOT / "rules.json").read_text("utf-8"))
    repo.pop("$schema"), packaged.pop("$schema")
    assert repo == packaged
    assert rules.activities["webinar"]["points"] == 20
    assert rules.activities["newsletter_signup"]["points"] == 5
    assert rules.activities["whitepaper_download"]["points"] == 15
    assert rules.mql == 25 and rules.checklist.name == "BANT"
    assert [(s["stage"], s.get("probability")) for s in rules.pipeline[:5]] == [
        ("Needs analysis", 0.10), ("Proposal", 0.25), ("Pricing", 0.40), ("Presentation", 0.60), ("Negotiation", 0.80)]


def test_schema_operator_list_equals_engine_operator_table():
    assert set(schema()["$defs"]["operator"]["enum"]) == set(OPERATORS)


def test_every_schema_property_has_a_description():
    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if name != "$schema":
                    assert "description" in sub or "$ref" in sub, f"{path}.{name} has no description"
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
    walk(schema(), "$")


def test_five_mistakes_are_all_reported_with_path_and_line(tmp_path):
    text = (ROOT / "rules.json").read_text("utf-8")
    text = (text.replace('"webinar":             {"points": 20,', '"webinar":             {"points": "20",')
                .replace('"mql": 25', '"mql": 25, "hott": 3')
                .replace('"probability": 0.80', '"probability": 80')
                .replace('"value": [50, 1000]', '"value": [1000, 50]')
                .replace('"framework": "BANT"', '"framework": "bant"'))
    path = tmp_path / "rules.json"
    path.write_text(text, "utf-8")
    rules, problems = check_rules(path)
    assert rules is None
    lines = text.splitlines()
    found = {p.code: p for p in problems}
    assert set(found) == {"schema-type", "schema-additionalProperties", "probability-range", "operator-value", "schema-enum"}
    assert found["schema-type"].path == "$.activities.webinar.points"
    assert '"20"' in lines[found["schema-type"].line - 1]
    assert "remove the quotes" in found["schema-type"].message
    assert found["schema-additionalProperties"].path == "$.thresholds.hott"
    assert 'did you mean "hot"' in found["schema-additionalProperties"].message
    assert "write 0.8 for 80 %" in found["probability-range"].message
    assert found["operator-value"].path == "$.fit[2].value"
    assert 'did you mean "BANT"' in found["schema-enum"].message
    for p in problems:
        assert p.where.startswith(f"rules.json:{p.line}: $.")


def test_json_syntax_error_names_line_and_column():
    rules, problems = check_rules('{\n  "name": "x",\n  "fit": [],\n}')
    assert codes(problems) == ["json-syntax"]
    assert problems[0].line == 4 and "trailing comma" in problems[0].message


def test_duplicate_json_key_is_reported():
    _, problems = check_rules('{"name": "a", "name": "b"}')
    assert codes(problems) == ["duplicate-key"]


@pytest.mark.parametrize("patch, code, where", [
    ({"fit": [{"id": "a", "field": "Email", "op": "not_empty", "points": 1},
              {"id": "a", "field": "Email", "op": "is_empty", "points": 1}]}, "duplicate-id", "$.fit[1].id"),
    ({"pages": [{"id": "p", "match": "*", "activity": "webinr"}]}, "undefined-activity-type", "$.pages[0].activity"),
    ({"thresholds": {"mql": 50, "hot": 30}}, "thresholds-order", "$.thresholds.hot"),
    ({"grades": {"A": 10, "B": 20}}, "grades-order", "$.grades.B"),
    ({"pipeline": [{"stage": "P", "probability": 1.5}, {"stage": "W", "outcome": "won"}, {"stage": "L", "outcome": "lost"}]},
     "probability-range", "$.pipeline[0].probability"),
    ({"pipeline": [{"stage": "P", "probability": 0.5}, {"stage": "L", "outcome": "lost"}]}, "pipeline-no-won", "$.pipeline"),
    ({"pipeline": [{"stage": "P", "probability": 0.5}, {"stage": "W", "outcome": "won"}]}, "pipeline-no-lost", "$.pipeline"),
    ({"pipeline": [{"stage": "P"}, {"stage": "W", "outcome": "won"}, {"stage": "L", "outcome": "lost"}]},
     "probability-missing", "$.pipeline[0]"),
    ({"qualification": {"framework": "MEDIC"}}, "schema-enum", "$.qualification.framework"),
    ({"qualification": {"framework": "BANT", "require": ["Budgett"]}}, "unknown-criterion", "$.qualification.require[0]"),
    ({"qualification": {"framework": "BANT", "require": {"min": 5}}}, "require-min", "$.qualification.require.min"),
    ({"qualification": {"framework": "custom"}}, "criteria-missing", "$.qualification"),
    ({"fit": [{"id": "b", "field": "Company size", "op": "between", "value": [10], "points": 1}]}, "operator-value", "$.fit[0].value"),
    ({"fit": [{"id": "b", "field": "Country", "op": "in", "value": "France", "points": 1}]}, "operator-value", "$.fit[0].value"),
    ({"fit": [{"id": "b", "field": "Country", "op": "is_empty", "value": "x", "points": 1}]}, "operator-value", "$.fit[0].value"),
    ({"fit": [{"id": "b", "field": "Country", "op": "gt", "points": 1}]}, "operator-value", "$.fit[0]"),
    ({"activities": {"webinar": {"points": 20, "max_count": 0}}}, "schema-minimum", "$.activities.webinar.max_count"),
    ({"activities": {"webinar": {"pointz": 20}}}, "schema-required", "$.activities.webinar"),
    ({"decay": {"half_life_days": 30, "window_days": 10}}, "decay-kinds", "$.decay"),
    ({"score": {"min": 50, "max": 10}}, "score-range", "$.score"),
    ({"thresholds": {"mql": 150}}, "threshold-unreachable", "$.thresholds.mql"),
    ({"stages": {"MQL": {"color": "orange"}}}, "schema-pattern", "$.stages.MQL.color"),
    ({"pipeline": [{"stage": "Won", "outcome": "won", "probability": 1},
                   {"stage": "L", "outcome": "lost"}]}, "outcome-probability", "$.pipeline[0].probability"),
])
def test_each_validation_code_names_its_place(patch, code, where):
    text = json.dumps(patch, indent=2)
    rules, problems = check_rules(text)
    assert rules is None
    hit = [p for p in problems if p.code == code]
    assert hit, [str(p) for p in problems]
    assert hit[0].path == where
    assert hit[0].line is not None and hit[0].message


def test_unknown_key_suggests_the_right_one():
    _, problems = check_rules({"activities": {"webinar": {"points": 20, "max_cout": 2}}})
    assert 'unknown key "max_cout" (did you mean "max_count"?)' in problems[0].message


def test_near_miss_field_is_a_warning_not_an_error():
    rules, problems = check_rules({"fit": [{"id": "s", "field": "Company sise", "op": "gt", "value": 5, "points": 1}]})
    assert rules is not None
    assert problems[0].severity == "warning" and 'did you mean "Company size"' in problems[0].message


def test_omitted_sections_take_the_defaults_and_stage_styles_merge():
    rules = load_rules({"stages": {"MQL": {"label": "Piste qualifiée"}}})
    assert rules.stage_label("MQL") == "Piste qualifiée"
    assert rules.stage_color("MQL") == "#FFC000"
    assert rules.activities["webinar"]["points"] == 20


def test_load_rules_raises_with_every_problem():
    with pytest.raises(addin.RulesError) as e:
        load_rules({"thresholds": {"mql": "25"}, "grades": {"A": 1, "B": 2}})
    assert {p.code for p in e.value.problems} == {"schema-type", "grades-order"}


def test_load_rules_accepts_path_text_and_dict(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('{"name": "x"}', "utf-8")
    assert load_rules(p).name == load_rules('{"name": "x"}').name == load_rules({"name": "x"}).name == "x"


def test_missing_file_is_a_rules_error(tmp_path):
    with pytest.raises(addin.RulesError) as e:
        load_rules(tmp_path / "nope.json")
    assert e.value.problems[0].code == "file-not-found"
