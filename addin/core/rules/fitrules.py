"""The four kinds of fit rule — a condition, `all`, `bands`, `per` — and `blank_values`.

One home for what a fit rule reads, how it is checked and how it scores: `rules` asks
`problems()`, `evaluate` asks `fields()` and `blank()`, `scoring` asks `hits()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...problems import BAND_SHAPE, BAND_UNREACHABLE, FIT_RULE_KEY, FIT_RULE_KIND, OPERATOR_VALUE
from ..values.text import arrow_text, fold, fold_series, key
from .operators import NUMERIC_OPERATORS, OPERATORS, FieldValues, value_shape_error

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# numpy and pandas are imported inside the functions that score: validating rules.json
# (`leadq check-rules`) calls problems() and must start without loading them.

KINDS = ("op", "all", "bands", "per")


def kind(rule: dict) -> str:
    """Which kind a (validated) fit rule is."""
    return next((k for k in KINDS if k in rule), "op")


def fields(rule: dict) -> list[str]:
    """The Leads fields a fit or disqualify rule reads, in order."""
    if "all" in rule:
        return [c["field"] for c in rule["all"]]
    return [rule["field"]]


def numeric_fields(rule: dict) -> list[str]:
    """The fields a rule reads as numbers (where text that is not a number is worth reporting)."""
    if "all" in rule:
        return [c["field"] for c in rule["all"] if c.get("op") in NUMERIC_OPERATORS]
    if "per" in rule or rule.get("op") in NUMERIC_OPERATORS:
        return [rule["field"]]
    if "bands" in rule and any("gte" in b or "lt" in b for b in rule["bands"]):
        return [rule["field"]]
    return []


def band_label(band: dict) -> str:
    """How a band reads in the ledger: its label, else `50–<200`, `≥200`, `<10` or its values."""
    if band.get("label"):
        return band["label"]
    if "in" in band:
        return ", ".join(_num(v) for v in band["in"])
    lo, hi = band.get("gte"), band.get("lt")
    if lo is not None and hi is not None:
        return f"{_num(lo)}–<{_num(hi)}"
    return f"≥{_num(lo)}" if lo is not None else f"<{_num(hi)}"


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def columns(frame: pd.DataFrame, rules: list[dict]) -> tuple[dict[str, dict[str, str]], list[tuple[dict, str]]]:
    """Resolve the fields each rule reads to frame columns (canonical name, else same key).

    Returns ({rule id: {field: column}} for rules whose every field exists, [(rule, missing field)]).
    """
    from ..values.headers import canonical_field
    by_key = {key(c): c for c in frame.columns}
    found, missing = {}, []
    for rule in rules:
        cols = {}
        for f in fields(rule):
            col = canonical_field(f)
            col = col if col in frame.columns else by_key.get(key(f))
            if col is None:
                missing.append((rule, f))
            else:
                cols[f] = col
        if len(cols) == len(set(fields(rule))):
            found[rule["id"]] = cols
    return found, missing


# ---------------------------------------------------------------------------- scoring
@dataclass
class Hits:
    """The rows a fit rule scores: positions, count, raw and final points in hundredths, matched text.

    `band` is the index of the band each hit fell in (-1: else, or not a bands rule).
    """

    lead: np.ndarray
    count: np.ndarray
    raw_c: np.ndarray
    points_c: np.ndarray
    matched: np.ndarray
    band: np.ndarray


def cents(points) -> np.ndarray:
    import numpy as np
    return np.rint(np.asarray(points, dtype=float) * 100).astype(np.int64)


def field_values(frame: pd.DataFrame, column: str, views: dict | None = None) -> FieldValues:
    """The column's FieldValues; `views` ({column: FieldValues} of this very frame, unchanged since) keeps
    each column's folded text, numbers and blanks for every rule that reads it."""
    if views is None:
        return FieldValues(frame[column])
    found = views.get(column)
    if found is None:
        found = views[column] = FieldValues(frame[column])
    return found


def condition_mask(frame: pd.DataFrame, cond: dict, column: str, views: dict | None = None) -> np.ndarray:
    return OPERATORS[cond["op"]](field_values(frame, column, views), cond.get("value")).to_numpy(bool)


def hits(frame: pd.DataFrame, rule: dict, columns: dict[str, str], views: dict | None = None) -> Hits:
    """Score one fit rule over every lead; `columns` maps each field it reads to a frame column;
    `views`: see field_values."""
    import numpy as np
    k = kind(rule)
    if k == "all":
        mask = np.ones(len(frame), dtype=bool)
        for cond in rule["all"]:
            mask &= condition_mask(frame, cond, columns[cond["field"]], views)
        where = np.flatnonzero(mask)
        shown = [_shown_values(frame[columns[c["field"]]].iloc[where]) for c in rule["all"]]
        matched = np.array([" & ".join(t) for t in zip(*shown)], dtype=object) if len(where) else np.zeros(0, object)
        return _flat(where, cents(rule["points"]).item(), matched)
    col = frame[columns[rule["field"]]]
    if k == "op":
        where = np.flatnonzero(condition_mask(frame, rule, columns[rule["field"]], views))
        return _flat(where, cents(rule["points"]).item(), _shown_values(col.iloc[where]))
    values = field_values(frame, columns[rule["field"]], views)
    if k == "per":
        units = np.floor(np.clip(values.number.to_numpy(float), 0, None) / float(rule["per"]))
        where = np.flatnonzero(np.nan_to_num(units) > 0)
        units = units[where].astype(np.int64)
        raw = units * cents(rule["points"]).item()
        cap = cents(rule["max_points"]).item() if "max_points" in rule else np.iinfo(np.int64).max
        final = np.clip(raw, -cap, cap)
        return Hits(where, units, raw, final, _shown_values(col.iloc[where]), np.full(len(where), -1))
    # bands: the first band that matches wins; `else` scores the other non-blank values
    band = np.full(len(frame), -2, dtype=np.int64)           # -2: no band, -1: else
    for b, spec in enumerate(rule["bands"]):
        if "in" in spec:
            m = OPERATORS["in"](values, spec["in"]).to_numpy(bool)
        else:
            num = values.number
            m = num.notna().to_numpy().copy()
            if "gte" in spec:
                m &= (num >= float(spec["gte"])).to_numpy()
            if "lt" in spec:
                m &= (num < float(spec["lt"])).to_numpy()
        band[(band == -2) & m] = b
    if "else" in rule:
        band[(band == -2) & ~values.blank.to_numpy()] = -1
    where = np.flatnonzero(band > -2)
    b = band[where]
    pts = cents([spec["points"] for spec in rule["bands"]] + [rule.get("else", 0)])[b]
    labels = np.array([band_label(spec) for spec in rule["bands"]] + ["else"], dtype=object)
    shown = _shown_values(col.iloc[where])
    matched = np.array([f"{v} ({lab})" for v, lab in zip(shown, labels[b])], dtype=object)
    return Hits(where, np.ones(len(where), dtype=np.int64), pts, pts, matched, b)


def _flat(where: np.ndarray, points_c: int, matched: np.ndarray) -> Hits:
    import numpy as np
    n = len(where)
    pts = np.full(n, points_c, dtype=np.int64)
    return Hits(where, np.ones(n, dtype=np.int64), pts, pts.copy(), matched, np.full(n, -1))


def _shown_values(values) -> np.ndarray:
    """Matched cell values as text, each distinct value formatted once; 700.0 reads 700. `values`: an
    object array, or a Series (Arrow text is numbered in Arrow: its values are shown as they are)."""
    import numpy as np
    import pandas as pd
    arr = arrow_text(values) if isinstance(values, pd.Series) else None
    if arr is not None:
        enc = arr.dictionary_encode()
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return np.append(enc.dictionary.to_numpy(zero_copy_only=False).astype(object), "")[codes]
    if isinstance(values, pd.Series):
        values = values.to_numpy(object)
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    texts = np.array([shown(v) for v in uniq] + [""], dtype=object)
    return texts[codes]


def shown(value) -> str:
    if value is None or value != value:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 and getattr(value, "minute", 0) == 0 else value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------- blank placeholders
def blank(frame: pd.DataFrame, blank_values, real: dict[str, str] | None = None, skip=()) -> pd.DataFrame:
    """The frame with placeholder cells (`blank_values`) made empty; columns untouched when none apply.

    blank_values: a list for every column, or {"*": [...], "Column": [...]}; column names match
    as headers do (case, accents, spaces), through `real` (canonical -> header the user sees).
    """
    import pandas as pd

    if not blank_values:
        return frame
    spec = {"*": list(blank_values)} if isinstance(blank_values, list) else dict(blank_values)
    every = {fold(v) for v in spec.get("*", [])}
    named = {key(name): {fold(v) for v in vals} for name, vals in spec.items() if name != "*"}
    from ..values.headers import canonical_field
    named_canonical = {key(canonical_field(name)): named[key(name)] for name in spec if name != "*"}
    out = None
    for col in frame.columns:
        if col in skip:
            continue
        ks = {key(col), key((real or {}).get(col, col))}
        words = every | set().union(*[named.get(k, set()) | named_canonical.get(k, set()) for k in ks])
        if not words or pd.api.types.is_numeric_dtype(frame[col].dtype):
            continue
        values = frame[col]
        hit = fold_series(values if isinstance(values.dtype, pd.StringDtype) else values.astype(object)).isin(words).to_numpy()
        if hit.any():
            out = frame.copy() if out is None else out
            out[col] = frame[col].astype(object).where(~hit, None)
    return frame if out is None else out


# ---------------------------------------------------------------------------- validation
def problems(rule: dict, at: list) -> list[tuple[list, str, str, str]]:
    """Meaning checks of one fit rule (its shape passed the schema): (path, code, message, severity)."""
    out: list[tuple[list, str, str, str]] = []
    present = [k for k in KINDS if k in rule]
    if not present:
        return [(at, FIT_RULE_KIND, 'a fit rule needs "op" (with field and value), "all", "bands" or "per"', "error")]
    if len(present) > 1:
        return [(at + [present[1]], FIT_RULE_KIND,
                 f'a fit rule is one kind: "{present[0]}" or "{present[1]}", not both; split it into two rules', "error")]
    k = present[0]
    if k == "all":
        if "field" in rule:
            out.append((at + ["field"], FIT_RULE_KEY, '"all" rules name a field in each condition; remove "field"', "error"))
    elif "field" not in rule:
        out.append((at, FIT_RULE_KEY, f'a "{k}" rule needs a "field"', "error"))
    if k == "bands":
        if "points" in rule:
            out.append((at + ["points"], FIT_RULE_KEY, 'a "bands" rule takes its points from each band; remove "points"', "error"))
    elif "points" not in rule:
        out.append((at, FIT_RULE_KEY, 'missing "points"', "error"))
    for extra, owner in (("else", "bands"), ("max_points", "per"), ("value", "op")):
        if extra in rule and k != owner:
            out.append((at + [extra], FIT_RULE_KEY, f'"{extra}" only goes with "{owner}"; remove it', "error"))
    if k == "op":
        err = value_shape_error(rule["op"], rule.get("value"), "value" in rule) if isinstance(rule.get("op"), str) else None
        if err:
            out.append((at + ["value"] if "value" in rule else at, OPERATOR_VALUE, err, "error"))
    if k == "all" and isinstance(rule["all"], list):
        for j, cond in enumerate(rule["all"]):
            if isinstance(cond, dict) and isinstance(cond.get("op"), str):
                err = value_shape_error(cond["op"], cond.get("value"), "value" in cond)
                if err:
                    out.append((at + ["all", j, "value"] if "value" in cond else at + ["all", j], OPERATOR_VALUE, err, "error"))
    if k == "bands" and isinstance(rule["bands"], list):
        out += _band_problems(rule["bands"], at + ["bands"])
    return out


def _band_problems(bands: list, at: list) -> list[tuple[list, str, str, str]]:
    out = []
    seen: list[tuple[int, float, float]] = []
    for j, b in enumerate(bands):
        if not isinstance(b, dict):
            continue
        has_range = "gte" in b or "lt" in b
        if "in" in b and has_range:
            out.append((at + [j], BAND_SHAPE, 'a band is a range ("gte" / "lt") or a list ("in"), not both', "error"))
            continue
        if not has_range and "in" not in b:
            out.append((at + [j], BAND_SHAPE, 'a band needs "gte" and/or "lt" (numbers), or "in" (a list of values)', "error"))
            continue
        if not has_range:
            continue
        lo, hi = b.get("gte", -math.inf), b.get("lt", math.inf)
        if not all(isinstance(v, (int, float)) for v in (lo, hi)):
            continue
        if lo >= hi:
            out.append((at + [j], BAND_SHAPE, f"an empty band: gte ({_num(lo)}) must be below lt ({_num(hi)})", "error"))
            continue
        cover = next((i for i, a, z in seen if a <= lo and hi <= z), None)
        if cover is not None:
            out.append((at + [j], BAND_UNREACHABLE,
                        f"this band can never match: band {cover + 1} already takes every value in it (first match wins); "
                        "list the narrower band first", "error"))
        seen.append((j, lo, hi))
    return out
