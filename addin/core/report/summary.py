"""summarise(): the tables a manager reads on the Summary sheet, computed from an Evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..history import Memory, memory
from ..model import Evaluation
from ..privacy import may_hand_off, privacy_counts, privacy_table
from ..values.text import fold_series
from ..values.vocabulary import (
    ACTION_ALERTS,
    ACTION_ORDER,
    CLOSED_STAGES,
    CUSTOMER,
    DISQUALIFIED,
    FUNNEL,
    LOST,
    LOST_OUTCOME,
    MQL,
    OPEN,
    OVERDUE,
    REACH,
    SQL,
    VISITOR,
    WON,
    default_probability,
)


@dataclass
class Summary:
    """Every table of the Summary sheet, plus the headline figures."""

    kpis: dict[str, float]
    funnel: pd.DataFrame
    outcomes: pd.DataFrame
    pipeline: pd.DataFrame
    by_source: pd.DataFrame
    by_owner: pd.DataFrame
    handoff: pd.DataFrame
    hottest: pd.DataFrame
    actions: pd.DataFrame
    grid: pd.DataFrame
    quality: pd.DataFrame
    meta: dict = field(default_factory=dict)
    privacy: pd.DataFrame = field(default_factory=pd.DataFrame)   # leads kept past the retention period
    memory: Memory | None = None         # what the Lead history tells (since last refresh, trend, velocity, SLA)
    accounts: pd.DataFrame | None = None  # one row per account (core.accounts.account_table)
    accounts_note: str = ""               # how leads were grouped into accounts
    health: object = None                 # core.report.monitoring.Health: conversion per band per period, drift, staleness


def _reached(stages: pd.Series) -> np.ndarray:
    return stages.map(REACH).to_numpy()


def _funnel(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    total = len(ctx)
    now = ctx["Stage"].value_counts()
    reach = _reached(ctx["Stage"])
    rows, prev = [], None
    for i, s in enumerate(FUNNEL):
        reached = int((reach >= i).sum()) if s != VISITOR else total
        rows.append({"Stage": ev.rules.stage_label(s), "Key": s, "Now": int(now.get(s, 0)),
                     "Share": now.get(s, 0) / total if total else 0.0, "Reached": reached,
                     "Conversion": (reached / prev if prev else np.nan) if s != VISITOR else np.nan})
        prev = reached
    return pd.DataFrame(rows)


def _group(ctx: pd.DataFrame, by: str) -> pd.DataFrame:
    reach = _reached(ctx["Stage"])
    # 'Google', 'google ' and 'GOOGLE' are one source, shown in its most frequent spelling.
    text = ctx[by].fillna("").astype(str).str.strip()
    folded = fold_series(text).str.replace(" ", "", regex=False)
    spelling = (pd.DataFrame({"k": folded.to_numpy(), "t": text.to_numpy()}).value_counts(sort=True)
                .reset_index().drop_duplicates("k").set_index("k")["t"])
    key = folded.map(spelling).replace("", "(none)")
    frame = pd.DataFrame({by: key.to_numpy(), "Leads": 1, "MQL": reach >= 2, "SQL": reach >= 3, "Opportunities": reach >= 4,
                          "Customers": (ctx["Stage"] == CUSTOMER).to_numpy()})
    out = frame.groupby(by, sort=False).sum(numeric_only=True).astype(int)
    out["Conversion"] = out["Customers"] / out["Leads"]
    return out.sort_values(["Leads", "Customers"], ascending=False).reset_index()


def _pipeline(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    rows = []
    for st in ev.rules.pipeline:
        m = (ctx["Deal stage"] == st["stage"]).to_numpy()
        amount = float(np.nansum(ctx["Amount"].to_numpy()[m]))
        outcome = st.get("outcome", OPEN)
        prob = st.get("probability", default_probability(outcome))
        # A probability set by hand (Leads' Probability, an Overrides row) weighs its own deal.
        manual = ctx["Manual probability"].to_numpy(bool)[m] if "Manual probability" in ctx else np.zeros(int(m.sum()), bool)
        weighted = float(np.nansum(ctx["Weighted"].to_numpy(float)[m])) if "Weighted" in ctx else amount * prob
        rows.append({"Deal stage": st["stage"], "Outcome": outcome, "Count": int(m.sum()), "Amount": amount,
                     "Probability": prob, "Weighted": weighted if outcome == OPEN else 0.0,
                     "Manual": int(manual.sum()) if outcome == OPEN else 0})
    return pd.DataFrame(rows)


def _lead_rows(ctx: pd.DataFrame, ev: Evaluation, mask, order, ascending, limit=None) -> pd.DataFrame:
    sub = ctx[mask].sort_values(order, ascending=ascending, kind="stable")
    if limit:
        sub = sub.head(limit)
    days = (ev.as_of - pd.to_datetime(sub["Last activity"])).dt.days
    return pd.DataFrame({"Lead ID": sub["Lead ID"], "Name": sub["Name"], "Company": sub["Company"],
                         "Owner": sub["Owner"], "Stage": sub["Stage label"], "Score": sub["Score"],
                         "Grade": sub["Grade"], "Missing": sub["Gaps"], "Days since activity": days.to_numpy(),
                         "Row": sub["Row"]}).reset_index(drop=True)


def _actions(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    status = ctx["Next action status"]
    m = status.isin(ACTION_ALERTS).to_numpy()
    sub = ctx[m].copy()
    order = sub["Next action status"].map(ACTION_ORDER)
    sub = sub.assign(_o=order.to_numpy()).sort_values(["_o", "Days left", "Score"], ascending=[True, True, False],
                                                      kind="stable")
    return pd.DataFrame({"Status": sub["Next action status"], "Lead ID": sub["Lead ID"], "Name": sub["Name"],
                         "Owner": sub["Owner"], "Stage": sub["Stage label"], "Next action": sub["Next action"],
                         "Due": pd.to_datetime(sub["Next action date"]), "Days late": (-sub["Days left"]).clip(lower=0),
                         "Row": sub["Row"]}).reset_index(drop=True)


def score_bands(ev: Evaluation) -> list[tuple[str, float, float]]:
    lo, hi = ev.rules.score_range
    mql, hot = ev.rules.mql, ev.rules.hot
    return [(f"Cold (< {mql:g})", -np.inf, mql), (f"Warm ({mql:g}–{hot:g})", mql, hot), (f"Hot (≥ {hot:g})", hot, np.inf)]


def _grid(ctx: pd.DataFrame, ev: Evaluation) -> pd.DataFrame:
    grades = [g for g, _ in ev.rules.grades] + [ev.rules.grade_else]
    bands = score_bands(ev)
    score = ctx["Score"].to_numpy()
    data = {name: [int(((ctx["Grade"] == g).to_numpy() & (score >= lo) & (score < hi)).sum()) for g in grades]
            for name, lo, hi in bands}
    out = pd.DataFrame(data, index=pd.Index(grades, name="Grade"))
    out["Total"] = out.sum(axis=1)
    return out.reset_index()


def _quality(ev: Evaluation) -> pd.DataFrame:
    """One line per kind of problem, sheet and column (problems.grouped): its rows' count and first cells."""
    from ...problems import grouped
    rows = [{"Sheet": p.sheet or "", "Cell": _cells(p), "Column": p.column or "", "Rows": p.count or 1,
             "Problem": p.code, "Details": p.message, "Severity": p.severity}
            for p in grouped(ev.problems, ev.problem_counts) if p.message]
    return pd.DataFrame(rows, columns=["Sheet", "Cell", "Column", "Rows", "Problem", "Details", "Severity"])


def _cells(p) -> str:
    """The cells a (grouped) problem names, without its sheet and column: "A5, A6, A9 … and 2,997 more rows"."""
    if p.cell or not p.count or not p.sheet:
        return p.cell or ""
    where = p.where.removeprefix(f"{p.sheet}!")
    return where.removesuffix(f' (column "{p.column}")') if p.column is not None else where


def summarise(ev: Evaluation, hot_limit: int = 10) -> Summary:
    """Funnel, pipeline, groups, queues, grid and data quality of an evaluation."""
    ctx = ev.context
    funnel = _funnel(ctx, ev)
    pipeline = _pipeline(ctx, ev)
    total = len(ctx)
    customers = int((ctx["Stage"] == CUSTOMER).sum())
    lost = ctx["Stage"] == LOST
    disq = ctx["Stage"] == DISQUALIFIED
    reasons = ctx.loc[disq, "Reason"].fillna("").astype(str).value_counts()
    outcomes = pd.DataFrame([
        {"Outcome": ev.rules.stage_label(LOST), "Key": LOST, "Leads": int(lost.sum()),
         "Amount": float(np.nansum(ctx.loc[lost, "Amount"])), "Details": ""},
        {"Outcome": ev.rules.stage_label(DISQUALIFIED), "Key": DISQUALIFIED, "Leads": int(disq.sum()),
         "Amount": np.nan, "Details": ", ".join(f"{r} ({n})" for r, n in reasons.items())},
    ])
    open_stage = ~ctx["Stage"].isin(CLOSED_STAGES).to_numpy()
    # Leads clipped at the score maximum tie on Score: their unclipped total keeps them ranked.
    rank, order = ["Score", "Total", "Lead ID"], [False, False, True]
    handoff = _lead_rows(ctx, ev, (ctx["Stage"] == MQL).to_numpy() & may_hand_off(ctx, ev.rules), rank, order)
    hot = open_stage & (ctx["Score"] >= ev.rules.hot).to_numpy()
    hottest = _lead_rows(ctx, ev, hot, rank, order, limit=hot_limit)
    actions = _actions(ctx, ev)
    won = pipeline[pipeline["Outcome"] == WON]
    lost_p = pipeline[pipeline["Outcome"] == LOST_OUTCOME]
    kpis = {
        "Leads": total,
        "MQL": int(funnel.loc[funnel["Key"] == MQL, "Reached"].iloc[0]),
        "SQL": int(funnel.loc[funnel["Key"] == SQL, "Reached"].iloc[0]),
        "Customers": customers,
        "Overall conversion": customers / total if total else 0.0,
        "Weighted pipeline": float(pipeline["Weighted"].sum()),
        "Manual probabilities": int(pipeline["Manual"].sum()) if len(pipeline) else 0,
        "Overrides": int(ctx["Overridden"].sum()) if "Overridden" in ctx else 0,
        "Overrides expired": ev.overrides_expired,
        "Open pipeline": float(pipeline.loc[pipeline["Outcome"] == OPEN, "Amount"].sum()),
        "Won": float(won["Amount"].sum()),
        "Lost": float(lost_p["Amount"].sum()),
        "Overdue actions": int((actions["Status"] == OVERDUE).sum()),
        "Data problems": ev.problem_total,
        **privacy_counts(ctx),
        "At score maximum": at_cap(ev),
        "Hot open leads": int(hot.sum()),        # all of them: the Summary lists the first hot_limit
        # open deals whose amount is missing count 0 in the weighted pipeline: said beside it
        "Open deals without amount": int(((ctx["Outcome"] == OPEN).to_numpy()
                                          & ~(pd.to_numeric(ctx["Amount"], errors="coerce").abs() > 0).to_numpy()).sum()),
    }
    return Summary(kpis, funnel, outcomes, pipeline, _group(ctx, "Source"), _group(ctx, "Owner"), handoff, hottest,
                   actions, _grid(ctx, ev), _quality(ev),
                   {"as_of": ev.as_of.date().isoformat(), "rules": ev.rules.name, "version": ev.rules.version,
                    "currency": ev.rules.currency, "rules_source": ev.rules_source},
                   privacy_table(ctx, ev.as_of), memory(ev) if ev.history is not None else None,
                   *_accounts(ev), _health(ev))


def _health(ev: Evaluation):
    from .monitoring import score_health
    return score_health(ev, score_bands(ev))


def _accounts(ev: Evaluation) -> tuple[pd.DataFrame | None, str]:
    if ev.accounts is None:
        return None, ""
    from ..accounts import account_table, grouping_note
    return account_table(ev.accounts, ev.context, ev.rules), grouping_note(ev.accounts)


def at_cap(ev: Evaluation) -> int:
    """How many leads sit at the score maximum (their unclipped totals tell them apart)."""
    hi = ev.rules.score_range[1]
    return 0 if hi is None else int((ev.context["Total"].to_numpy() >= hi).sum())
