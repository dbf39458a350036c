"""The rule operators: a table of vectorised functions over a whole column.

Each operator takes a `FieldValues` (one Leads column, with lazily computed folded text and
numbers) and the rule's value, and returns a boolean mask. The schema's operator enum and this
table are tested to be the same set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd

from .parse import blank_mask, to_number
from .text import fold, fold_series, map_unique


class FieldValues:
    """One column of values, with the views operators need computed once."""

    def __init__(self, values: pd.Series):
        self.raw = values

    @cached_property
    def blank(self) -> pd.Series:
        return blank_mask(self.raw)

    @cached_property
    def text(self) -> pd.Series:
        if pd.api.types.is_numeric_dtype(self.raw.dtype) and not pd.api.types.is_bool_dtype(self.raw.dtype):
            as_text = self.raw.map(lambda v: "" if pd.isna(v) else (f"{v:g}" if isinstance(v, float) else str(v)))
            return fold_series(as_text)
        return fold_series(self.raw.astype(object))

    @cached_property
    def number(self) -> pd.Series:
        return to_number(self.raw)[0]

    @cached_property
    def not_a_number(self) -> pd.Series:
        return to_number(self.raw)[1]


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equals_one(f: FieldValues, v) -> pd.Series:
    if _is_number(v):
        return f.number.eq(float(v)).fillna(False)
    if isinstance(v, bool):
        return f.text.isin(["true", "1", "yes", "oui", "vrai"] if v else ["false", "0", "no", "non", "faux"])
    return f.text.eq(fold(v))


def _in(f: FieldValues, values) -> pd.Series:
    mask = pd.Series(False, index=f.raw.index)
    texts = [fold(v) for v in _as_list(values) if not _is_number(v)]
    nums = [float(v) for v in _as_list(values) if _is_number(v)]
    if texts:
        mask |= f.text.isin(texts)
    if nums:
        mask |= f.number.isin(nums)
    return mask


def _contains_any(f: FieldValues, values) -> pd.Series:
    needles = [fold(v) for v in _as_list(values) if fold(v)]
    if not needles:
        return pd.Series(False, index=f.raw.index)
    pattern = "|".join(re.escape(n) for n in needles)   # escaped literal text, never a user regex
    return f.text.str.contains(pattern, regex=True).fillna(False).astype(bool)


def glob_to_regex(pattern: str) -> str:
    """Translate a glob (* and ?) to an anchored regex over folded text."""
    out = []
    for ch in fold(pattern):
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "^" + "".join(out) + "$"


def glob_mask(text: pd.Series, pattern: str) -> pd.Series:
    """Match folded text against a glob, evaluating each distinct value once."""
    rx = re.compile(glob_to_regex(pattern), re.DOTALL)
    codes, uniques = pd.factorize(text)
    hits = np.array([bool(rx.match(u)) for u in uniques] + [False], dtype=bool)
    return pd.Series(hits[codes], index=text.index)


def _between(f: FieldValues, value) -> pd.Series:
    lo, hi = float(value[0]), float(value[1])
    return f.number.between(lo, hi).fillna(False).astype(bool)


def _compare(method: str) -> Callable[[FieldValues, object], pd.Series]:
    def op(f: FieldValues, value) -> pd.Series:
        return getattr(f.number, method)(float(value)).fillna(False).astype(bool)
    return op


def _email_domain_in(f: FieldValues, values) -> pd.Series:
    domains = {fold(v).lstrip("@") for v in _as_list(values)}
    return map_unique(f.text, lambda t: "@" in t and t.rpartition("@")[2].strip() in domains,
                      missing=False, dtype=bool)


OPERATORS: dict[str, Callable[[FieldValues, object], pd.Series]] = {
    "equals": lambda f, v: _equals_one(f, v) & ~f.blank,
    "not_equals": lambda f, v: ~(_equals_one(f, v) & ~f.blank),
    "in": _in,
    "not_in": lambda f, v: ~_in(f, v),
    "contains_any": _contains_any,
    "not_contains": lambda f, v: ~_contains_any(f, v),
    "like": lambda f, v: glob_mask(f.text, str(v)) & ~f.blank,
    "between": _between,
    "gt": _compare("gt"),
    "gte": _compare("ge"),
    "lt": _compare("lt"),
    "lte": _compare("le"),
    "is_empty": lambda f, v: f.blank.copy(),
    "not_empty": lambda f, v: ~f.blank,
    "email_domain_in": _email_domain_in,
}

NUMERIC_OPERATORS = {"between", "gt", "gte", "lt", "lte"}


def value_shape_error(op: str, value, has_value: bool) -> str | None:
    """Explain why a rule's value does not fit its operator, or return None."""
    if op in ("is_empty", "not_empty"):
        return None if not has_value or value is None else f'"{op}" takes no value; remove "value"'
    if not has_value:
        return f'"{op}" needs a "value"'
    if op in ("in", "not_in", "email_domain_in"):
        if not isinstance(value, list) or not value:
            return f'"{op}" needs a non-empty list, e.g. ["France", "Belgique"]'
        if any(isinstance(v, (list, dict)) or v is None for v in value):
            return f'"{op}" needs a list of texts or numbers'
        return None
    if op in ("contains_any", "not_contains"):
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            return f'"{op}" needs a text or a non-empty list of texts, e.g. ["CEO", "Director"]'
        return None
    if op == "like":
        return None if isinstance(value, str) and value else '"like" needs a pattern text, e.g. "*@*.fr"'
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            return '"between" needs two numbers, e.g. [50, 1000]'
        if value[0] > value[1]:
            return f'"between" needs the smaller number first: [{value[1]}, {value[0]}]'
        return None
    if op in ("gt", "gte", "lt", "lte"):
        return None if _is_number(value) else f'"{op}" needs a number, e.g. 1000'
    if op in ("equals", "not_equals"):
        return None if isinstance(value, (str, int, float, bool)) else f'"{op}" needs one text or number; use "in" for a list'
    return None
