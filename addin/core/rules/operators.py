"""The rule operators: a table of vectorised functions over a whole column.

Each operator takes a `FieldValues` (one Leads column, with lazily computed folded text and
numbers) and the rule's value, and returns a boolean mask. The schema's operator enum and this
table are tested to be the same set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from jsonschema import Draft202012Validator

from ..values.text import arrow_text, fold, fold_series
from ..values.vocabulary import NO_WORDS, YES_WORDS

if TYPE_CHECKING:
    import pandas as pd

    from ..values.parse import Numbers

# numpy and pandas are imported inside the functions that compute: validating rules.json
# (`leadq check-rules`) reads the registry below and must start without loading them.


class FieldValues:
    """One column of values, with the views operators need computed once."""

    def __init__(self, values: pd.Series):
        self.raw = values

    @cached_property
    def blank(self) -> pd.Series:
        from ..values.parse import blank_mask
        return blank_mask(self.raw)

    @cached_property
    def text(self) -> pd.Series:
        import pandas as pd
        if pd.api.types.is_numeric_dtype(self.raw.dtype) and not pd.api.types.is_bool_dtype(self.raw.dtype):
            as_text = self.raw.map(lambda v: "" if pd.isna(v) else (f"{v:g}" if isinstance(v, float) else str(v)))
            return fold_series(as_text)
        # Arrow text is folded as it is (the same result as through Python objects, without them)
        return fold_series(self.raw if isinstance(self.raw.dtype, pd.StringDtype) else self.raw.astype(object))

    @cached_property
    def text_codes(self) -> tuple:
        """(codes, distinct folded texts as a Series of the text's own dtype): a text test is run once per
        distinct value (a column holds few) and spread with `per_row`."""
        import pandas as pd
        codes, uniques = pd.factorize(self.text, use_na_sentinel=True)
        return codes, pd.Series(uniques, dtype=self.text.dtype)

    def per_row(self, test) -> pd.Series:
        """`test` (a function of a Series of texts -> bool Series) run on each distinct folded text once
        (text_codes) and given to every row; a missing text (none: fold gives "") is False."""
        import numpy as np
        import pandas as pd
        codes, uniques = self.text_codes
        hit_u = test(uniques).to_numpy(bool)
        return pd.Series(np.append(hit_u, False)[codes], index=self.raw.index)

    @cached_property
    def email_domain(self) -> tuple:
        """(whether a text has an @ with something after it, what follows its last @ trimmed), in Arrow."""
        import pyarrow as pa
        import pyarrow.compute as pc
        text = arrow_text(self.text)
        if text is None:
            text = pa.array(self.text.to_numpy(object), pa.string(), from_pandas=True)
        found = pc.extract_regex(text, "@(?P<domain>[^@]*)$")          # what follows the last @
        return pc.is_valid(found), pc.utf8_trim_whitespace(found.field("domain"))

    @cached_property
    def numbers(self) -> Numbers:
        """Numbers and ranges ('51-200' keeps both ends: low 51, high 200)."""
        from ..values.parse import read_numbers
        return read_numbers(self.raw)

    @property
    def number(self) -> pd.Series:
        return self.numbers.value

    @property
    def not_a_number(self) -> pd.Series:
        return self.numbers.bad


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equals_one(f: FieldValues, v) -> pd.Series:
    if _is_number(v):
        return f.number.eq(float(v)).fillna(False)
    if isinstance(v, bool):
        return f.per_row(lambda t: t.isin(YES_WORDS if v else NO_WORDS))
    return f.per_row(lambda t: t.eq(fold(v)))


def _in(f: FieldValues, values) -> pd.Series:
    import pandas as pd
    mask = pd.Series(False, index=f.raw.index)
    texts = [fold(v) for v in _as_list(values) if not _is_number(v)]
    nums = [float(v) for v in _as_list(values) if _is_number(v)]
    if texts:
        mask |= f.per_row(lambda t: t.isin(texts))
    if nums:
        mask |= f.number.isin(nums)
    return mask


def _contains_any(f: FieldValues, values) -> pd.Series:
    import pandas as pd
    needles = [fold(v) for v in _as_list(values) if fold(v)]
    if not needles:
        return pd.Series(False, index=f.raw.index)
    pattern = "|".join(re.escape(n) for n in needles)   # escaped literal text, never a user regex
    return f.per_row(lambda t: t.str.contains(pattern, regex=True).fillna(False).astype(bool))


def glob_to_regex(pattern: str) -> str:
    """Translate a glob (* and ?) to an anchored regex over folded text that never backtracks.

    `*a*a*a*b` as plain `.*a.*a.*a.*b` takes time exponential in the number of stars on a long text
    (minutes for 12 stars). A glob matches iff each piece between stars matches at its leftmost
    place after the previous one, and the last piece at the end: atomic groups commit to those
    leftmost places, so the time is linear in the text (times the pattern's length)."""
    def piece(text: str) -> str:
        return "".join("." if ch == "?" else re.escape(ch) for ch in text)
    parts = re.split(r"\*+", fold(pattern))
    if len(parts) == 1:
        return "^" + piece(parts[0]) + "$"
    middle = "".join(f"(?>.*?{piece(p)})" for p in parts[1:-1] if p)
    return "^" + piece(parts[0]) + middle + ".*" + piece(parts[-1]) + "$"


def glob_mask(text: pd.Series, pattern: str) -> pd.Series:
    """Match folded text against a glob, evaluating each distinct value once."""
    import numpy as np
    import pandas as pd
    rx = re.compile(glob_to_regex(pattern), re.DOTALL)
    codes, uniques = pd.factorize(text)
    hits = np.array([bool(rx.match(u)) for u in uniques] + [False], dtype=bool)
    return pd.Series(hits[codes], index=text.index)


# A range ('51-200', '10,001+') matches a numeric rule only when the whole range does: between
# wants both ends inside; gt / gte read the low end, lt / lte the high end. A single number is a
# range whose ends are equal, so this is the plain comparison for it.
def _between(f: FieldValues, value) -> pd.Series:
    lo, hi = float(value[0]), float(value[1])
    return ((f.numbers.low >= lo) & (f.numbers.high <= hi)).fillna(False).astype(bool)


_END = {"gt": "low", "ge": "low", "lt": "high", "le": "high"}


def _compare(method: str) -> Callable[[FieldValues, object], pd.Series]:
    def op(f: FieldValues, value) -> pd.Series:
        end = getattr(f.numbers, _END[method])
        return getattr(end, method)(float(value)).fillna(False).astype(bool)
    return op


def _email_domain_in(f: FieldValues, values) -> pd.Series:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    domains = pa.array(sorted({fold(v).lstrip("@") for v in _as_list(values)}), pa.string())
    valid, domain = f.email_domain               # cut once for every rule reading the column
    hit = pc.and_(valid, pc.is_in(domain, domains))
    return pd.Series(np.asarray(pc.fill_null(hit, False), dtype=bool), index=f.raw.index)


@dataclass(frozen=True)
class Operator:
    """One rule operator: its vectorised function, its value check, its schema fragment and its doc.

    `value_schema` is the JSON Schema of the rule's "value" (None: the operator takes no value);
    `hint` is what check() says when the value does not fit; `extra` adds checks a schema cannot
    express (e.g. between's order). docs/RULES.md's operator table is `markdown_table()`.
    """

    name: str
    fn: Callable[[FieldValues, object], pd.Series]
    doc: str
    value_doc: str
    value_schema: dict | None
    hint: str
    example: dict
    extra: Callable[[object], str | None] | None = None

    def check(self, value, has_value: bool) -> str | None:
        """Why a rule's value does not fit this operator, or None."""
        if self.value_schema is None:
            return None if not has_value or value is None else f'"{self.name}" takes no value; remove "value"'
        if not has_value:
            return f'"{self.name}" needs a "value"'
        if not Draft202012Validator(self.value_schema).is_valid(value):
            return self.hint
        return self.extra(value) if self.extra else None


_TEXT_OR_NUMBER = {"type": ["string", "number", "boolean"]}
_NUMBER = {"type": "number"}
_LIST = {"type": "array", "minItems": 1, "items": {"type": ["string", "number", "boolean"]}}
_TEXTS = {"anyOf": [{"type": "string", "pattern": "\\S"},
                    {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "\\S"}}]}


def _between_order(value) -> str | None:
    return f'"between" needs the smaller number first: [{value[1]}, {value[0]}]' if value[0] > value[1] else None


def _compare_op(name: str, method: str, doc: str, example: dict) -> Operator:
    return Operator(name, _compare(method), doc, "a number", _NUMBER, f'"{name}" needs a number, e.g. 1000', example)


_REGISTRY = [
    Operator("equals", lambda f, v: _equals_one(f, v) & ~f.blank, "equals the value (text or number)",
             "one text or number", _TEXT_OR_NUMBER, '"equals" needs one text or number; use "in" for a list',
             {"field": "Country", "op": "equals", "value": "France"}),
    Operator("not_equals", lambda f, v: ~(_equals_one(f, v) & ~f.blank),
             "does not equal the value (blank counts as not equal)", "one text or number", _TEXT_OR_NUMBER,
             '"not_equals" needs one text or number; use "not_in" for a list',
             {"field": "Source", "op": "not_equals", "value": "Purchased list"}),
    Operator("in", _in, "is one of the values", "a list", _LIST,
             '"in" needs a non-empty list of texts or numbers, e.g. ["France", "Belgique"]',
             {"field": "Country", "op": "in", "value": ["France", "Belgique"]}),
    Operator("not_in", lambda f, v: ~_in(f, v), "is none of the values", "a list", _LIST,
             '"not_in" needs a non-empty list of texts or numbers, e.g. ["Education"]',
             {"field": "Industry", "op": "not_in", "value": ["Education"]}),
    Operator("contains_any", _contains_any, "contains any of the texts", "a text or a list", _TEXTS,
             '"contains_any" needs a text or a non-empty list of texts, e.g. ["CEO", "Director"]',
             {"field": "Job title", "op": "contains_any", "value": ["CEO", "Directeur"]}),
    Operator("not_contains", lambda f, v: ~_contains_any(f, v), "contains none of the texts", "a text or a list", _TEXTS,
             '"not_contains" needs a text or a non-empty list of texts, e.g. ["Assistant"]',
             {"field": "Job title", "op": "not_contains", "value": ["Assistant"]}),
    Operator("like", lambda f, v: glob_mask(f.text, str(v)) & ~f.blank,
             "matches the glob (`*` any text, `?` one character)", "a pattern", {"type": "string", "minLength": 1},
             '"like" needs a pattern text, e.g. "*@*.fr"', {"field": "Email", "op": "like", "value": "*@*.fr"}),
    Operator("between", _between, "is a number from the first to the second, inclusive (a range such as `51-200` must lie "
             "wholly inside)", "two numbers",
             {"type": "array", "minItems": 2, "maxItems": 2, "items": _NUMBER}, '"between" needs two numbers, e.g. [50, 1000]',
             {"field": "Company size", "op": "between", "value": [50, 1000]}, _between_order),
    _compare_op("gt", "gt", "is a number greater than the value (a range: its low end)", {"field": "Annual revenue", "op": "gt", "value": 1000000}),
    _compare_op("gte", "ge", "is a number greater than or equal to the value (a range: its low end)",
                {"field": "Company size", "op": "gte", "value": 50}),
    _compare_op("lt", "lt", "is a number less than the value (a range: its high end)", {"field": "Company size", "op": "lt", "value": 10}),
    _compare_op("lte", "le", "is a number less than or equal to the value (a range: its high end)",
                {"field": "Company size", "op": "lte", "value": 10}),
    Operator("is_empty", lambda f, v: f.blank.copy(), "is blank", "no value", None, "", {"field": "Phone", "op": "is_empty"}),
    Operator("not_empty", lambda f, v: ~f.blank, "is not blank", "no value", None, "", {"field": "Phone", "op": "not_empty"}),
    Operator("email_domain_in", _email_domain_in, "is an email whose domain is in the list", "a list of domains",
             {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
             '"email_domain_in" needs a non-empty list of domains, e.g. ["gmail.com"]',
             {"field": "Email", "op": "email_domain_in", "value": ["gmail.com"]}),
]
REGISTRY: dict[str, Operator] = {op.name: op for op in _REGISTRY}
OPERATORS: dict[str, Callable[[FieldValues, object], pd.Series]] = {op.name: op.fn for op in _REGISTRY}
NUMERIC_OPERATORS = {op.name for op in _REGISTRY if op.value_schema is not None and _NUMBER in
                     (op.value_schema, op.value_schema.get("items"))}


def value_shape_error(op: str, value, has_value: bool) -> str | None:
    """Explain why a rule's value does not fit its operator, or return None."""
    found = REGISTRY.get(op)
    if found is None:
        return f'unknown operator "{op}"'
    return found.check(value, has_value)


def markdown_table() -> str:
    """The operator table of docs/RULES.md, generated from the registry."""
    rows = ["| operator | true when the field… | value | example |", "|---|---|---|---|"]
    for op in _REGISTRY:
        example = json.dumps(op.example, ensure_ascii=False)
        rows.append(f"| `{op.name}` | {op.doc} | {op.value_doc} | `{example}` |")
    return "\n".join(rows)
