"""Worksheet functions for Excel (xlwings UDFs). Thin: cells in, engine, cells out.

Arguments arrive as 2-D lists (header row first) exactly as Excel passes ranges; results go back
as 2-D lists that spill. Errors come back as one readable string, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xlwings as xw

from .core.evaluate import evaluate
from .core.headers import LEADS_OUTPUTS
from .core.present import parse_settings
from .core.rules import Rules, find_rules_file, load_rules
from .core.scoring import LEDGER_COLUMNS
from .core.text import key
from .errors import LeadQError

_CACHE: dict[str, tuple[float, Rules]] = {}


def rules_path(book=None, settings: dict | None = None) -> Path | None:
    """The rules file, as `leadq refresh` finds it (the Settings path, else rules.json beside the
    workbook); without a workbook $LEADQ_RULES, else ./rules.json. None means the bundled defaults.
    `settings` spares reading the Settings sheet again when the caller has it."""
    if book is not None:
        if settings is None:
            try:
                used = book.sheets["Settings"].used_range
                settings, _ = parse_settings(used.options(ndim=2).value, used.row)
            except Exception:   # no Settings sheet
                settings = {}
        found = find_rules_file(Path(book.fullname).parent, settings.get(key("Rules file")))
        if found:
            return found
    env = os.environ.get("LEADQ_RULES")
    if env:
        return Path(env)
    here = Path("rules.json")
    return here if here.exists() else None


def cached_rules(path: Path | None) -> Rules:
    """Rules loaded once per file version: reloaded when the file's modification time changes."""
    if path is None:
        return _CACHE.setdefault("<default>", (0.0, load_rules()))[1]
    mtime = path.stat().st_mtime if path.exists() else -1.0
    hit = _CACHE.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    rules = load_rules(path)
    _CACHE[str(path)] = (mtime, rules)
    return rules


def frame(rows) -> pd.DataFrame | None:
    """A 2-D list with a header row (as Excel passes a range) as a DataFrame; blank rows dropped."""
    if rows is None:
        return None
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], list):
        raise LeadQError("pass a whole table, header row included (e.g. Leads[#All])")
    header = [str(h).strip() if h is not None else f"Column {i + 1}" for i, h in enumerate(rows[0])]
    body = [r for r in rows[1:] if any(v not in (None, "") for v in r)]
    return pd.DataFrame(body, columns=header, dtype=object)


def _cells(df: pd.DataFrame) -> list[list]:
    out = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return [list(df.columns)] + [[None if isinstance(v, float) and np.isnan(v) else v for v in r] for r in out]


def _error(e: Exception) -> list[list[str]]:
    problems = getattr(e, "problems", None)
    text = "; ".join(str(p) for p in problems if p.severity == "error") if problems else str(e)
    return [[f"LeadQ: {text}"]]


def _table_function(fn):
    """xlwings declarations of a function taking the three tables: each range arrives as a 2-D list,
    the calling cell is passed as `caller`, and the result spills (xw.func stays outermost)."""
    fn = xw.ret(expand="table")(fn)
    fn = xw.arg("caller", vba="Application.Caller")(fn)
    for name in ("qualification", "activities", "leads"):
        fn = xw.arg(name, ndim=2)(fn)
    return xw.func(fn)


def _evaluate(leads, activities, qualification, as_of, caller):
    """The engine on ranges as Excel passes them, with the calling workbook's rules."""
    book = caller.sheet.book if caller is not None else None
    return evaluate(frame(leads), frame(activities), cached_rules(rules_path(book)),
                    qualification=frame(qualification), as_of=None if as_of in (None, "") else as_of)


@_table_function
def LEADQ_TABLE(leads, activities=None, qualification=None, as_of=None, caller=None):
    """LeadQ's computed columns for the whole Leads table (header row included), in one spilling array."""
    try:
        ev = _evaluate(leads, activities, qualification, as_of, caller)
        n = len(frame(leads))
        out = ev.leads.reindex(range(n))[LEADS_OUTPUTS]
        return _cells(out)
    except (LeadQError, OSError) as e:
        return _error(e)


@_table_function
def LEADQ_EXPLAIN(lead_id, leads, activities=None, qualification=None, as_of=None, caller=None):
    """One lead's score, rule by rule: the why-ledger, whose points add up to the score."""
    try:
        ev = _evaluate(leads, activities, qualification, as_of, caller)
        key = str(int(lead_id)) if isinstance(lead_id, float) and lead_id.is_integer() else str(lead_id).strip()
        ledger = ev.details[ev.details["Lead ID"] == key]
        if key not in set(ev.leads["Lead ID"]):
            return [[f'LeadQ: no lead "{key}" in the table']]
        return _cells(ledger[LEDGER_COLUMNS].astype({"Rule": object, "Kind": object}))
    except (LeadQError, OSError) as e:
        return _error(e)


@xw.func
@xw.arg("caller", vba="Application.Caller")
def LEADQ_POINTS(activity_type, caller=None):
    """Points of one activity of this type in the current rules."""
    try:
        book = caller.sheet.book if caller is not None else None
        return cached_rules(rules_path(book)).activity_points(str(activity_type))
    except KeyError as e:
        return f"LeadQ: {e.args[0]}"
    except (LeadQError, OSError) as e:
        return _error(e)[0][0]
