"""Score health: is the score still any good? (the Summary's *Score health* section)

Leads are grouped by the period they entered (their Created date, else their first Lead history
row; quarters by default). For each of the last periods: how many entered, how many closed (won or
lost), conversion (won ÷ closed) per score band of today's rules, the ROC AUC of today's score on
those closed leads, and the share of leads per grade (drift). The rules have gone stale when, in
the latest period with enough closed leads, the top band converts less than the band below it, or
the AUC fell by more than a margin since the earliest period with enough closed leads: then a
warning says so with the command to run (`leadq calibrate`). Pure and vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..values.vocabulary import CUSTOMER, LOST

DEFAULTS = {"period": "quarter", "periods": 4, "min_closed": 30, "auc_drop": 0.1}
_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


@dataclass
class Health:
    table: pd.DataFrame          # one row per period
    bands: list[str]             # score band names, coldest first
    grades: list[str]
    warning: str                 # "" when the rules look fine
    note: str                    # what the periods are and where the dates came from


def config(rules) -> dict:
    return {**DEFAULTS, **(rules.data.get("monitoring") or {})}


def auc(score: np.ndarray, won: np.ndarray) -> float:
    """ROC AUC of a score for a won/lost outcome (Mann–Whitney, ties counted half); nan without both."""
    pos, neg = int(won.sum()), int((~won).sum())
    if not pos or not neg:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[won].sum() - pos * (pos + 1) / 2) / (pos * neg))


def entered(ev) -> tuple[pd.Series, str]:
    """When each lead entered: its Created date, else its first Lead history row."""
    ctx = ev.context
    created = pd.to_datetime(ctx["Created"]) if "Created" in ctx else pd.Series(pd.NaT, index=ctx.index)
    source = "Created date"
    if ev.history is not None and created.isna().any():
        rows = pd.concat([ev.history.past, ev.history.appended], ignore_index=True)
        if len(rows):
            first = rows.groupby("Lead ID")["Refreshed at"].min()
            from_history = pd.to_datetime(ctx["Lead ID"].map(first))
            created = created.fillna(pd.Series(from_history.to_numpy(), index=ctx.index))
            source = "Created date, else first Lead history row"
    return created, source


def score_health(ev, bands: list[tuple[str, float, float]]) -> Health:
    """The Score health table and the stale-rules warning of an evaluation."""
    cfg = config(ev.rules)
    ctx = ev.context
    when, source = entered(ev)
    freq = _FREQ.get(cfg["period"], "Q")
    period = when.dt.to_period(freq)
    grades = [g for g, _ in ev.rules.grades] + [ev.rules.grade_else]
    names = [b[0] for b in bands]
    empty = Health(pd.DataFrame(), names, grades, "", "")
    if period.isna().all():
        return empty
    last = sorted(period.dropna().unique())[-int(cfg["periods"]):]
    stage = ctx["Stage"].to_numpy(object)
    won, closed = stage == CUSTOMER, np.isin(stage, [CUSTOMER, LOST])
    score, grade = ctx["Score"].to_numpy(float), ctx["Grade"].to_numpy(object)
    band = np.select([(score >= lo) & (score < hi) for _, lo, hi in bands], list(range(len(bands))), default=0)
    rows = []
    for p in last:                               # a handful of periods, each vectorised
        m = (period == p).to_numpy()
        c = m & closed
        row = {"Period": str(p), "Entered": int(m.sum()), "Closed": int(c.sum()), "Won": int((c & won).sum())}
        for i, name in enumerate(names):
            cb = c & (band == i)
            row[name] = (won[cb].sum() / cb.sum()) if cb.sum() else np.nan
            row[name + " closed"] = int(cb.sum())
        row["AUC"] = auc(score[c], won[c])
        for g in grades:
            row["Grade " + g] = float((grade[m] == g).mean()) if m.any() else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    note = (f"Leads by the {cfg['period']} they entered ({source}); conversion = won ÷ closed (Customer or Lost), "
            f"per score band of today's rules; AUC of today's score on the closed leads")
    return Health(table, names, grades, _stale(table, names, cfg), note)


def _stale(table: pd.DataFrame, bands: list[str], cfg: dict) -> str:
    enough = table[table["Closed"] >= cfg["min_closed"]]
    if enough.empty:
        return ""
    latest = enough.iloc[-1]
    why = []
    top, below = bands[-1], bands[-2] if len(bands) > 1 else None
    if below and latest[top + " closed"] and latest[below + " closed"] and latest[top] < latest[below]:
        why.append(f"in {latest['Period']} the {top} band converted {latest[top]:.0%}, less than {below} "
                   f"({latest[below]:.0%})")
    first = enough.iloc[0]
    if len(enough) > 1 and first["AUC"] - latest["AUC"] > cfg["auc_drop"]:
        why.append(f"the score's AUC fell from {first['AUC']:.2f} ({first['Period']}) to {latest['AUC']:.2f} "
                   f"({latest['Period']})")
    if not why:
        return ""
    return ("The rules may have gone stale: " + "; ".join(why) +
            " — run `leadq calibrate WORKBOOK` to see which rules lost their lift and suggested points")
