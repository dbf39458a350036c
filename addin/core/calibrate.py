"""Learn the points from outcomes: lift per rule, suggested integer points and MQL threshold,
measured on held-out leads.

The features are the ones LeadQ already computes: each fit rule's hit (each band of a bands
rule, the units of a per rule) and the decayed, capped count of each activity type and page
rule. A regularised logistic regression on the training part gives one weight per feature; the
weights become integer points on the rules' own scale, so the suggested file stays a rules.json
anyone can read, and its score is what the why-ledger explains. Everything is measured on a
stratified, seeded held-out part the fit never saw, by scoring it with the suggested rules
through the same engine a refresh uses. Pure numpy/pandas/scikit-learn: no files.

This module runs the job and measures; `features` builds the model's columns and new-rule
candidates, `suggest` turns weights into points, a rules file and a threshold, `stats` holds the
Wilson interval and ROC AUC.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import LeadQError, Problem, WorkbookError
from . import fitrules
from .evaluate import Evaluation, Origin, evaluate
from .features import LEAK_CONVERSION, MIN_HITS, Feature, candidate_matrix, features, new_rule_candidates
from .headers import LEAD_ID, canonicalize
from .parse import to_answer
from .rules import Rules, check_rules, load_rules
from .stats import auc, wilson
from .suggest import Goal, choose_threshold, fit_weights, same_share, suggest_rules, to_points
from .text import did_you_mean, key

MIN_OUTCOMES = 10        # a rule with fewer won (or lost) among its hits gets a warning
SMALL_SAMPLE = 200       # fewer outcomes than this: say the sample is small


@dataclass
class Calibration:
    """What calibrate() found; `suggested` is a complete rules.json (a dict) that passes check-rules."""

    outcome: str
    counts: dict
    report: pd.DataFrame                 # per rule / activity type / page rule: hits, conversion, lift, Wilson
    suggested: dict
    changes: list[dict]
    threshold: dict
    metrics: dict
    calibration: pd.DataFrame            # held-out: score band -> leads, won, observed and predicted conversion
    gain: pd.DataFrame                   # held-out: share of leads contacted -> share of won found
    new_rules: list[dict] = field(default_factory=list)
    leaks: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    holdout_ids: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

def outcome_of(ev: Evaluation, frame: pd.DataFrame, spec: str) -> tuple[np.ndarray, str, list[Problem]]:
    """1 won / 0 lost / NaN open per lead, a description, and the cells not understood.

    spec: "won" (deal stages: won vs lost outcomes of the pipeline) or a Leads column holding
    1/0, Yes/No (blank: still open).
    """
    col = _find_column(frame, ev.headers, spec)
    if key(spec) == "won" and col is None:
        o = ev.context["Outcome"].to_numpy(object)
        return np.where(o == "won", 1.0, np.where(o == "lost", 0.0, np.nan)), "won vs lost deals (Deal stage)", []
    if col is None:
        cols = [ev.headers.get(c, c) for c in frame.columns]
        raise WorkbookError(f'Leads!1:1: no column "{spec}" to read the outcome from{did_you_mean(spec, cols)}; '
                            'use --outcome won for won vs lost deals', [])
    values, bad = to_answer(frame[col])
    problems = []
    if bad.any():
        origin = Origin(frame, "Leads")
        raw = frame[col].to_numpy(object)
        for pos in np.flatnonzero(bad.to_numpy())[:20]:
            problems.append(origin.problem("outcome-not-understood", int(pos), ev.headers.get(col, col),
                                           f'outcome "{raw[pos]}" is not understood (write 1/0 or Yes/No); the lead is left out'))
    said = (" — a column of that name is read before the keyword won (won vs lost deals): rename the column to "
            "use the keyword") if key(spec) == "won" else ""
    return values.to_numpy(float), f'column "{ev.headers.get(col, col)}" (1/Yes = converted){said}', problems

def _find_column(frame: pd.DataFrame, headers: dict, name: str) -> str | None:
    from .headers import canonical_field
    k = key(name)
    for c in frame.columns:
        if c == canonical_field(name) or key(c) == k or key(headers.get(c, c)) == k:
            return c
    return None

def _platt(score_train, y_train, score_test) -> np.ndarray:
    """Probabilities from a score: a one-feature logistic fit on the training part."""
    from sklearn.linear_model import LogisticRegression
    s = np.asarray(score_train, dtype=float).reshape(-1, 1)
    if np.ptp(s) == 0:
        return np.full(len(score_test), y_train.mean())
    m = LogisticRegression(C=1e6, max_iter=5000).fit(s, y_train)
    return m.predict_proba(np.asarray(score_test, dtype=float).reshape(-1, 1))[:, 1]

def calibration_table(score: np.ndarray, y: np.ndarray, prob: np.ndarray, lo: float, hi: float, bands: int = 5) -> pd.DataFrame:
    """Held-out leads per score band: how many, how many won, observed vs predicted conversion."""
    edges = np.linspace(lo, hi, bands + 1)
    idx = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, bands - 1)
    rows = []
    for b in range(bands):
        m = idx == b
        last = b == bands - 1
        rows.append({"Band": f"{edges[b]:g}–{'' if last else '<'}{edges[b + 1]:g}", "Leads": int(m.sum()),
                     "Won": int(y[m].sum()), "Observed": float(y[m].mean()) if m.any() else np.nan,
                     "Predicted": float(prob[m].mean()) if m.any() else np.nan})
    return pd.DataFrame(rows)

def gain_table(y: np.ndarray, scores: dict[str, np.ndarray], seed: int, steps: int = 10) -> pd.DataFrame:
    """Share of won deals found when contacting the top x % of held-out leads by each score (ties in random order)."""
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(y))
    out = {"Leads contacted": np.linspace(0, 1, steps + 1)}
    for name, s in scores.items():
        order = np.lexsort((tiebreak, -np.asarray(s, dtype=float)))
        found = np.concatenate([[0], np.cumsum(y[order])]) / max(y.sum(), 1)
        out[name] = found[np.rint(out["Leads contacted"] * len(y)).astype(int)]
    out["Random"] = out["Leads contacted"].copy()
    return pd.DataFrame(out)

def calibrate(leads: pd.DataFrame, activities: pd.DataFrame | None, rules, *, qualification=None, as_of=None,
              date_order: str = "auto", outcome: str = "won", holdout: float = 0.3, seed: int = 0, exclude=(), goal: Goal | None = None,
              new_rules: bool = True, source: dict | None = None) -> Calibration:
    """Measure every rule against outcomes and suggest points and an MQL threshold.

    leads / activities / qualification: as for evaluate(); rules: a Rules object or anything
    load_rules() accepts; outcome: "won" (won vs lost deals) or a Leads column of 1/0, Yes/No;
    holdout: share of the closed leads kept apart for measuring; exclude: Leads columns never
    used (fields filled in after contact); goal: how to choose the MQL threshold; source: the
    rules file's JSON to base the suggestion on (default: the validated rules).
    """
    from sklearn.model_selection import train_test_split
    rules = load_rules(rules)
    goal = goal or Goal()
    ev = evaluate(leads, activities, rules, qualification=qualification, as_of=as_of, date_order=date_order)
    frame, _ = canonicalize(leads.reset_index(drop=True), "Leads")
    frame = frame.iloc[ev.leads.index]
    frame.attrs = {"leadq_origin": _origin_of(leads, ev)}
    frame = fitrules.blank(frame, rules.blank_values, ev.headers, skip=(LEAD_ID,)).reset_index(drop=True)
    y_all, described, problems = outcome_of(ev, frame, outcome)

    banned = set()
    keyword = key(outcome) == "won" and _find_column(frame, ev.headers, outcome) is None
    for name in [*exclude, *([] if keyword else [outcome])]:
        col = _find_column(frame, ev.headers, name)
        if col is None:
            cols = [ev.headers.get(c, c) for c in frame.columns]
            raise WorkbookError(f'--exclude: no Leads column "{name}"{did_you_mean(name, cols)}', [])
        banned.add(col)

    closed = np.flatnonzero(~np.isnan(y_all))
    y = y_all[closed]
    won, lost = int(y.sum()), int(len(y) - y.sum())
    counts = {"leads": len(frame), "closed": len(closed), "won": won, "lost": lost,
              "left_out": int(np.isnan(y_all).sum()), "not_understood": len(problems)}
    if min(won, lost) < 5:
        raise LeadQError(f"too few outcomes to learn from: {won} won and {lost} lost among {len(frame)} leads "
                         f"(outcome: {described}); calibrate needs at least 5 of each, and some hundreds to be reliable")
    notes = []
    if len(closed) < SMALL_SAMPLE:
        notes.append(f"small sample: {len(closed)} leads with an outcome (fewer than {SMALL_SAMPLE}); every figure "
                        "below is uncertain — read the Wilson intervals, and re-run with more closed deals")
    train_i, test_i = train_test_split(np.arange(len(closed)), test_size=holdout, stratify=y, random_state=seed)
    train, test = closed[train_i], closed[test_i]

    x, feats, left_out = features(ev, frame, rules, banned)
    report = rule_report(x, feats, y_all, closed)
    used = {c for rid, cols in fitrules.columns(frame, [*rules.fit, *rules.disqualify])[0].items() for c in cols.values()}
    candidates, leaks = new_rule_candidates(frame, ev.headers, y_all, train, used, banned) if new_rules else ([], [])
    leaks += _existing_leaks(report)
    xn, new_slices = candidate_matrix(frame, candidates)
    x_model = np.hstack([x, xn])

    prior = np.array([f.current for f in feats] + [0.0] * xn.shape[1], dtype=float)
    w, b0, c = fit_weights(x_model[train], y_all[train], seed, prior)
    lo, hi = _score_range(rules, ev)
    pts, base, scale = to_points(w, b0, x_model[train], lo, hi)
    live = x_model[train].std(axis=0) > 0
    k = len(feats)
    new_points = [pts[k + s.start: k + s.stop] for s in new_slices]
    suggested, changes = suggest_rules(source if source is not None else _file_data(rules), rules, feats, pts[:k], base,
                                       candidates, new_points, left_out, live[:k], x[train], ev.as_of.date().isoformat())
    new_list = [r for r in suggested["fit"] if r.get("label", "").startswith("new:")]

    # Score everything with the suggested points (the engine a refresh uses), then choose the threshold.
    trial, problems_s = check_rules(suggested)
    if trial is None:
        raise LeadQError("the suggested rules do not validate (a bug): " + "; ".join(map(str, problems_s)), problems_s)
    ev_new = evaluate(leads, activities, trial, qualification=qualification, as_of=as_of, date_order=date_order)
    s_old = ev.leads["Score"].to_numpy(float)
    s_new = ev_new.leads["Score"].to_numpy(float)
    threshold = choose_threshold(goal, s_old, s_new, rules.mql, y_all, train, frame)
    th = dict(suggested.get("thresholds") or {})
    change_list = [{"what": "thresholds.mql", "old": rules.mql, "new": threshold["mql"], "note": goal.describe()}]
    th["mql"] = threshold["mql"]
    hot = max(same_share(s_old, rules.hot, s_new), threshold["mql"])
    if "hot" in th or hot != rules.hot:
        change_list.append({"what": "thresholds.hot", "old": rules.hot, "new": hot, "note": "same share of hot leads"})
        th["hot"] = hot
    suggested["thresholds"] = th
    fit_old, fit_new = ev.leads["Fit score"].to_numpy(float), ev_new.leads["Fit score"].to_numpy(float)
    grades = {g: same_share(fit_old, t, fit_new) for g, t in rules.grades}
    if grades and list(grades.values()) == sorted(set(grades.values()), reverse=True):
        for g, t in grades.items():
            if t != dict(rules.grades)[g]:
                change_list.append({"what": f"grades.{g}", "old": dict(rules.grades)[g], "new": t, "note": "same share of leads"})
        suggested["grades"] = {**grades, "else": rules.grade_else}
    changes = [ch for ch in changes if not (ch["what"] == "score.base" and ch["old"] == ch["new"])] + change_list
    final, problems_f = check_rules(suggested)
    if final is None:
        raise LeadQError("the suggested rules do not validate (a bug): " + "; ".join(map(str, problems_f)), problems_f)

    yt = y_all[test]
    model_logit = b0 + x_model @ w
    p_old = _platt(s_old[train], y_all[train], s_old[test])
    p_new = _platt(s_new[train], y_all[train], s_new[test])
    from sklearn.metrics import brier_score_loss
    metrics = {
        "auc_current": auc(yt, s_old[test]), "auc_suggested": auc(yt, s_new[test]), "auc_model": auc(yt, model_logit[test]),
        "auc_current_train": auc(y_all[train], s_old[train]), "auc_suggested_train": auc(y_all[train], s_new[train]),
        "brier_current": float(brier_score_loss(yt, p_old)), "brier_suggested": float(brier_score_loss(yt, p_new)),
        "brier_base_rate": float(brier_score_loss(yt, np.full(len(yt), y_all[train].mean()))),
        "train": len(train), "test": len(test), "test_won": int(yt.sum()), "C": c, "points_per_logit": scale,
    }
    mql = threshold["mql"]
    above = s_new[test] >= mql
    threshold.update({"holdout_mqls": int(above.sum()), "holdout_precision": float(yt[above].mean()) if above.any() else np.nan,
                      "holdout_recall": float(yt[above].sum() / max(yt.sum(), 1))})
    if len(test) and min(yt.sum(), len(yt) - yt.sum()) < 10:
        notes.append(f"the held-out part has only {int(yt.sum())} won and {int(len(yt) - yt.sum())} lost leads: "
                        "its AUC can move by several points with another --seed")
    cal = calibration_table(s_new[test], yt, p_new, lo, hi)
    cal_old = calibration_table(s_old[test], yt, p_old, lo, hi)
    cal.insert(1, "Leads (current)", cal_old["Leads"])
    cal.insert(2, "Observed (current)", cal_old["Observed"])
    gain = gain_table(yt, {"Suggested": s_new[test], "Current": s_old[test]}, seed)
    leads_ids = ev.leads["Lead ID"].to_numpy(object)
    return Calibration(described, counts, report, suggested, changes, threshold, metrics, cal, gain,
                       new_list, leaks, notes, [str(i) for i in leads_ids[test]], problems)

def _origin_of(leads: pd.DataFrame, ev: Evaluation) -> dict:
    o = Origin(leads, "Leads")
    return {"sheet": o.sheet, "rows": o.rows[ev.leads.index.to_numpy()], "letters": o.letters}

def _file_data(rules: Rules) -> dict:
    data = copy.deepcopy(rules.data)
    return {"$schema": "./rules.schema.json", **data}

def _score_range(rules: Rules, ev: Evaluation) -> tuple[float, float]:
    lo, hi = rules.score_range
    s = ev.leads["Score"].to_numpy(float)
    lo = float(np.quantile(s, 0.01)) if lo is None else float(lo)
    hi = float(np.quantile(s, 0.99)) if hi is None else float(hi)
    return (lo, hi) if hi > lo else (lo, lo + 100)

def rule_report(x: np.ndarray, feats: list[Feature], y_all: np.ndarray, closed: np.ndarray) -> pd.DataFrame:
    """Per feature, over every lead with an outcome: hits, conversion when hit / not hit, lift, Wilson, warnings."""
    y = y_all[closed]
    hit = x[closed] > 0
    n_hit = hit.sum(axis=0)
    won_hit = (hit * y[:, None]).sum(axis=0)
    n_not = len(y) - n_hit
    won_not = y.sum() - won_hit
    base = y.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        conv_hit = won_hit / n_hit
        conv_not = won_not / n_not
    lo, hi = wilson(won_hit, n_hit)
    warn = []
    for nh, wh in zip(n_hit, won_hit):
        w = []
        if nh < MIN_HITS:
            w.append(f"only {int(nh)} hits")
        if min(wh, nh - wh) < MIN_OUTCOMES and nh:
            w.append(f"only {int(min(wh, nh - wh))} {'won' if wh <= nh - wh else 'lost'} among its hits")
        warn.append("; ".join(w))
    return pd.DataFrame({
        "Rule": [f.name for f in feats], "Kind": [f.kind for f in feats], "Points": [f.current for f in feats],
        "Hits": n_hit.astype(int), "Won when hit": won_hit.astype(int), "Conversion when hit": conv_hit,
        "Conversion when not": conv_not, "Lift": conv_hit / base if base else np.nan,
        "Wilson low": lo, "Wilson high": hi, "Warning": warn})

def _existing_leaks(report: pd.DataFrame) -> list[dict]:
    m = (report["Hits"] >= 20) & (report["Conversion when hit"] >= LEAK_CONVERSION)
    return [{"field": r, "why": f"{c:.0%} of its {h} closed leads converted: is it filled in after contact?"}
            for r, c, h in zip(report["Rule"][m], report["Conversion when hit"][m], report["Hits"][m])]
