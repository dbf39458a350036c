import pandas as pd
import pytest

from addin.core.rules.operators import OPERATORS, FieldValues

VALUES = ["Directeur Général", "ceo", "", None, "50", 1200, "1 000", "anne@Gmail.com", "Étudiant", "51-200"]


def mask(op, value, values=VALUES):
    return list(OPERATORS[op](FieldValues(pd.Series(values, dtype=object)), value))


F, T = False, True


@pytest.mark.parametrize("op, value, expected", [
    ("equals", "CEO", [F, T, F, F, F, F, F, F, F, F]),
    ("equals", 50, [F, F, F, F, T, F, F, F, F, F]),
    ("not_equals", "CEO", [T, F, T, T, T, T, T, T, T, T]),
    ("in", ["ceo", "etudiant"], [F, T, F, F, F, F, F, F, T, F]),
    ("in", [1200, 50], [F, F, F, F, T, T, F, F, F, F]),
    ("not_in", ["ceo"], [T, F, T, T, T, T, T, T, T, T]),
    ("contains_any", ["directeur", "étud"], [T, F, F, F, F, F, F, F, T, F]),
    ("contains_any", "gmail", [F, F, F, F, F, F, F, T, F, F]),
    ("not_contains", ["ceo"], [T, F, T, T, T, T, T, T, T, T]),
    ("like", "dir*g?n?ral", [T, F, F, F, F, F, F, F, F, F]),
    ("like", "*@*.com", [F, F, F, F, F, F, F, T, F, F]),
    ("between", [50, 1000], [F, F, F, F, T, F, T, F, F, T]),   # the range 51-200 lies inside
    ("gt", 999, [F, F, F, F, F, T, T, F, F, F]),
    ("gte", 1000, [F, F, F, F, F, T, T, F, F, F]),
    ("lt", 100, [F, F, F, F, T, F, F, F, F, F]),
    ("lte", 50, [F, F, F, F, T, F, F, F, F, F]),
    ("is_empty", None, [F, F, T, T, F, F, F, F, F, F]),
    ("not_empty", None, [T, T, F, F, T, T, T, T, T, T]),
    ("email_domain_in", ["gmail.com"], [F, F, F, F, F, F, F, T, F, F]),
])
def test_operator_truth_table(op, value, expected):
    assert mask(op, value) == expected


def test_like_treats_regex_characters_literally():
    assert mask("like", "a.b(c)*", ["a.b(c)d", "axb(c)d"]) == [True, False]


def test_contains_any_escapes_user_text():
    assert mask("contains_any", ["c++", "(vp)"], ["C++ dev", "the (VP) of", "vp"]) == [True, True, False]


def test_numbers_typed_the_french_way_compare_as_numbers():
    assert mask("gt", 1000, ["1 500", "1,5", "1.500,00", "2 000 €"]) == [True, False, True, True]


def test_the_registry_is_the_schema_enum_and_the_rules_reference_table():
    from conftest import ROOT

    from addin.core.rules.model import schema
    from addin.core.rules.operators import REGISTRY, markdown_table
    assert list(schema()["$defs"]["operator"]["enum"]) == list(REGISTRY)
    assert markdown_table() in (ROOT / "docs" / "RULES.md").read_text("utf-8")


@pytest.mark.parametrize("op, value, message", [
    ("between", [1000, 50], '"between" needs the smaller number first: [50, 1000]'),
    ("between", [1, True], '"between" needs two numbers, e.g. [50, 1000]'),
    ("in", [], '"in" needs a non-empty list of texts or numbers, e.g. ["France", "Belgique"]'),
    ("in", [["a"]], '"in" needs a non-empty list of texts or numbers, e.g. ["France", "Belgique"]'),
    ("contains_any", ["  "], '"contains_any" needs a text or a non-empty list of texts, e.g. ["CEO", "Director"]'),
    ("gt", "10", '"gt" needs a number, e.g. 1000'),
    ("is_empty", "x", '"is_empty" takes no value; remove "value"'),
    ("frobnicate", 1, 'unknown operator "frobnicate"'),
])
def test_each_operator_checks_its_own_value(op, value, message):
    from addin.core.rules.operators import value_shape_error
    assert value_shape_error(op, value, True) == message


def test_every_operator_accepts_its_documented_example():
    from addin.core.rules.operators import REGISTRY
    for op in REGISTRY.values():
        assert op.check(op.example.get("value"), "value" in op.example) is None, op.name


def test_equals_true_reads_every_yes_word():
    assert mask("equals", True, ["Oui", "x", "TRUE", "non", ""]) == [True, True, True, False, False]
