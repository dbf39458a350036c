import pandas as pd
import pytest

from addin.core.operators import OPERATORS, FieldValues

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
    ("between", [50, 1000], [F, F, F, F, T, F, T, F, F, F]),
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
