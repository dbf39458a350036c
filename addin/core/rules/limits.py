"""Bounds on what a rules file may hold, so no rules.json can make LeadQ compute nonsense or hang.

JSON as Python reads it accepts NaN and Infinity, and numbers like 1e308 or 10**400 that overflow
every sum they enter; a rules file with tens of thousands of rules makes each refresh take minutes.
Both are refused here, each at its JSON path, before the schema is even checked.
"""

from __future__ import annotations

import math

from ...problems import BAD_NUMBER, TOO_MANY_RULES, TOO_MANY_VALUES

MAX_NUMBER = 1e12            # no point value, threshold or range bound needs more; sums stay exact
MAX_ITEMS = {"fit": 2_000, "pages": 2_000, "disqualify": 2_000, "activities": 500}
MAX_LIST_VALUES = 10_000     # values of one rule (e.g. the domains of email_domain_in)


def _number_problem(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return "NaN is not a number LeadQ can score with; write a number such as 10"
    if isinstance(value, float) and math.isinf(value):
        return f"{'-' if value < 0 else ''}Infinity is not a number LeadQ can score with; write a number such as 10"
    if abs(value) > MAX_NUMBER:
        shown = f"{value:.3g}" if isinstance(value, float) else (str(value) if len(str(value)) <= 20 else f"a {len(str(value))}-digit number")
        return f"{shown} is too large: numbers in rules.json must lie between -{MAX_NUMBER:,.0f} and {MAX_NUMBER:,.0f}"
    return None


def limit_problems(data: dict) -> list[tuple[list, str, str]]:
    """(JSON path parts, problem code, message) for every absurd number and every oversized section."""
    out: list[tuple[list, str, str]] = []
    for section, limit in MAX_ITEMS.items():
        items = data.get(section)
        if isinstance(items, (list, dict)) and len(items) > limit:
            out.append(([section], TOO_MANY_RULES, f"{len(items):,} entries; the limit is {limit:,} "
                        "(a refresh would take minutes): merge rules that share a field, e.g. one contains_any with many values"))
    if out:
        return out       # do not walk a huge file further
    stack: list[tuple[list, object]] = [([], data)]
    while stack:
        parts, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((parts + [k], v) for k, v in value.items())
        elif isinstance(value, list):
            if len(value) > MAX_LIST_VALUES:
                out.append((parts, TOO_MANY_VALUES, f"{len(value):,} values; the limit is {MAX_LIST_VALUES:,}"))
                continue
            stack.extend((parts + [i], v) for i, v in enumerate(value))
        else:
            msg = _number_problem(value)
            if msg:
                out.append((parts, BAD_NUMBER, msg))
    return sorted(out, key=lambda p: [str(x) for x in p[0]])
