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

from ...errors import LeadQError, Problem, WorkbookError
from ...problems import OUTCOME_NOT_UNDERSTOOD
from ..evaluate import evaluate
from ..model import Evaluation, Origin
from ..rules import fitrules
from ..rules.model import Rules, check_rules, load_rules
from ..values.headers import LEAD_ID, canonicalize
from ..values.parse import to_answer
from ..values.text import did_you_mean, key
from .features import (
    LEAK_CONVERSION,
    MIN_HITS,
    Feature,
    candidate_matrix,
    column_leaks,
    features,
    interaction_rules,
    keep_recut_bands,
    new_rule_candidates,
)
from .stats import auc, wilson
from .suggest import Goal, choose_threshold, fit_weights, grade_thresholds, hot_threshold, suggest_rules, to_points

MIN_OUTCOMES = 10        # a rule with fewer won (or lost) among its hits gets a warning
SMALL_SAMPLE = 200       # fewer outcomes than this: say the sample is small
MAX_RULES = 40           # the suggestion's size by default (--max-rules): rules, activity types and page rules


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
    contradictions: list[dict] = field(default_factory=list)

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
            problems.append(origin.problem(OUTCOME_NOT_UNDERSTOOD, int(pos), ev.headers.get(col, col),
                                           f'outcome "{raw[pos]}" is not understood (write 1/0 or Yes/No); the lead is left out'))
    said = (" — a column of that name is read before the keyword won (won vs lost deals): rename the column to "
            "use the keyword") if key(spec) == "won" else ""
    return values.to_numpy(float), f'column "{ev.headers.get(col, col)}" (1/Yes = converted){said}', problems

def _find_column(frame: pd.DataFrame, headers: dict, name: str) -> str | None:
    from ..values.headers import canonical_field
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
              new_rules: bool = True, source: dict | None = None, holdout_by: str | None = None, keep=(),
              max_rules: int = MAX_RULES, points_per_doubling: float | None = None, interactions: int = 3) -> Calibration:
    """Measure every rule against outcomes and suggest points and an MQL threshold.

    leads / activities / qualification: as for evaluate(); rules: a Rules object or anything
    load_rules() accepts; outcome: "won" (won vs lost deals) or a Leads column of 1/0, Yes/No;
    holdout: share of the closed leads kept apart for measuring — stratified and seeded, or with
    holdout_by (a date column such as Created) the most recent ones; exclude: Leads columns never
    used (fields filled in after contact); keep: columns kept although they look like leaks;
    goal: how to choose the MQL threshold; max_rules: the suggestion's size; points_per_doubling:
    the scorecard's scale (default a tenth of the score range); source: the rules file's JSON to
    base the suggestion on (default: the validated rules).
    """
    rules = load_rules(rules)
    goal = goal or Goal()
    ev = evaluate(leads, activities, rules, qualification=qualification, as_of=as_of, date_order=date_order)
    frame, _ = canonicalize(leads.reset_index(drop=True), "Leads")
    frame = frame.iloc[ev.leads.index]
    frame.attrs = {"leadq_origin": _origin_of(leads, ev)}
    frame = fitrules.blank(frame, rules.blank_values, ev.headers, skip=(LEAD_ID,)).reset_index(drop=True)
    y_all, described, problems = outcome_of(ev, frame, outcome)

    banned = {_column(frame, ev.headers, name, "--exclude") for name in exclude}
    if not (key(outcome) == "won" and _find_column(frame, ev.headers, outcome) is None):   # a Won column is the outcome
        banned.add(_column(frame, ev.headers, outcome, "--outcome"))
    kept = {_column(frame, ev.headers, name, "--keep") for name in keep}

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
    train, test, split = _split(frame, ev.headers, closed, y, holdout, seed, holdout_by, date_order)
    yr = y_all[train]

    leaks, leak_cols = column_leaks(frame, ev.headers, y_all, train, banned, kept, seed)
    banned |= leak_cols
    x, feats, left_out = features(ev, frame, rules, banned)
    report = rule_report(x, feats, y_all, closed)
    used: dict[str, list[str]] = {}
    for rid, cols in fitrules.columns(frame, [*rules.fit, *rules.disqualify])[0].items():
        for c in cols.values():
            used.setdefault(c, []).append(rid)
    offered = new_rule_candidates(frame, ev.headers, y_all, train, used, banned) if new_rules else []
    candidates = [c for c in offered if "_recut" not in c]
    recuts = [c for c in offered if "_recut" in c]
    xn, _ = candidate_matrix(frame, candidates)
    k = len(feats)
    prior = np.array([f.current for f in feats], dtype=float)

    def fit(xc):
        xm = np.hstack([x, xc])
        return (xm, *fit_weights(xm[train], yr, seed, np.concatenate([prior, np.zeros(xc.shape[1])])))

    x_model, w, b0, c = fit(xn)
    if recuts:
        p_train = 1 / (1 + np.exp(-(b0 + x_model[train] @ w)))
        kept_recuts = keep_recut_bands(recuts, candidate_matrix(frame, recuts)[0][train], yr, p_train)
        if kept_recuts:
            candidates += kept_recuts
            xn, _ = candidate_matrix(frame, candidates)
            x_model, w, b0, c = fit(xn)
    if new_rules and interactions:
        # the strongest pairs among every condition the model now has (rules, new bands, re-cuts)
        p_train = 1 / (1 + np.exp(-(b0 + x_model[train] @ w)))
        conds, fields, names = _conditions(rules, feats, candidates)
        pairs = interaction_rules(x_model[train], conds, fields, names, yr, p_train, top=interactions)
        if pairs:
            candidates += pairs
            xn, _ = candidate_matrix(frame, candidates)
            x_model, w, b0, c = fit(xn)
    room = max(max_rules - len(rules.fit) - len(rules.activities) - len(rules.pages), 0)
    if len(candidates) > room:
        slices = _slices(candidates)
        strength = [float(np.std(x_model[train][:, k + s.start:k + s.stop] @ w[k + s.start:k + s.stop])) for s in slices]
        order = sorted(np.argsort(strength)[::-1][:room])
        notes.append(f"{len(candidates) - room} candidate rules left out to keep the suggestion within {max_rules} rules "
                     "(--max-rules)")
        candidates = [candidates[i] for i in order]
        xn, _ = candidate_matrix(frame, candidates)
        x_model, w, b0, c = fit(xn)
    new_slices = _slices(candidates)
    lo, hi = _score_range(rules, ev)
    pts, base, scale = to_points(w, b0, x_model[train], yr, lo, hi, points_per_doubling)
    if scale["note"]:
        notes.append(scale["note"])
    live = x_model[train].std(axis=0) > 0
    rate = yr.mean()
    for cand, sl in zip(candidates, new_slices):
        cols = x_model[train][:, k + sl.start:k + sl.stop] > 0
        n_hit = cols.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = (cols * yr[:, None]).sum(axis=0) / n_hit / rate
        cand["_stats"] = [(int(n), float(li)) for n, li in zip(n_hit, lift)]
        cand["_n"] = len(train)
    new_points = [pts[k + s.start: k + s.stop] for s in new_slices]
    suggested, changes = suggest_rules(source if source is not None else _file_data(rules), rules, feats, pts[:k], base,
                                       candidates, new_points, left_out, live[:k], x[train], ev.as_of.date().isoformat())
    new_list = [r for r in suggested["fit"] if r.get("label", "").startswith("new:")]

    # Score everything with the suggested points (the engine a refresh uses), then choose the thresholds.
    trial, problems_s = check_rules(suggested)
    if trial is None:
        raise LeadQError("the suggested rules do not validate (a bug): " + "; ".join(map(str, problems_s)), problems_s)
    ev_new = evaluate(leads, activities, trial, qualification=qualification, as_of=as_of, date_order=date_order)
    s_old = ev.leads["Score"].to_numpy(float)
    s_new = ev_new.leads["Score"].to_numpy(float)
    threshold = choose_threshold(goal, s_old, s_new, rules.mql, y_all, train, frame, lo, hi)
    th = dict(suggested.get("thresholds") or {})
    change_list = [{"what": "thresholds.mql", "old": rules.mql, "new": threshold["mql"], "note": threshold["goal"],
                    "effect": None}]
    th["mql"] = threshold["mql"]
    hot, hot_note = hot_threshold(s_old, rules.hot, s_new, threshold["mql"], lo, hi)
    change_list.append({"what": "thresholds.hot", "old": rules.hot, "new": hot, "note": hot_note, "effect": None})
    th["hot"] = hot
    suggested["thresholds"] = th
    fit_old, fit_new = ev.leads["Fit score"].to_numpy(float), ev_new.leads["Fit score"].to_numpy(float)
    grades, grade_note = grade_thresholds(fit_old, rules.grades, fit_new, lo, hi)
    if grades:
        for g, t in grades.items():
            change_list.append({"what": f"grades.{g}", "old": dict(rules.grades)[g], "new": t, "note": grade_note,
                                "effect": None})
        suggested["grades"] = {**grades, "else": rules.grade_else}
    changes = [ch for ch in changes if not (ch["what"] == "score.base" and ch["old"] == ch["new"])] + change_list
    final, problems_f = check_rules(suggested)
    if final is None:
        raise LeadQError("the suggested rules do not validate (a bug): " + "; ".join(map(str, problems_f)), problems_f)
    contradictions = _contradictions(x_model[train], yr, pts, [f.name for f in feats] + _slot_names(candidates))
    for ch in changes:
        for cd in contradictions:
            if ch["what"] == f"fit {cd['rule']}" or ch["what"] == f"activity {cd['rule'].replace('activity:', '')}":
                ch["note"] = ((ch["note"] + "; ") if ch["note"] else "") + cd["text"]

    yt = y_all[test]
    model_logit = b0 + x_model @ w
    p_old = _platt(s_old[train], yr, s_old[test])
    p_new = _platt(s_new[train], yr, s_new[test])
    from sklearn.metrics import brier_score_loss
    metrics = {
        "auc_current": auc(yt, s_old[test]), "auc_suggested": auc(yt, s_new[test]), "auc_model": auc(yt, model_logit[test]),
        "auc_current_train": auc(yr, s_old[train]), "auc_suggested_train": auc(yr, s_new[train]),
        "brier_current": float(brier_score_loss(yt, p_old)), "brier_suggested": float(brier_score_loss(yt, p_new)),
        "brier_base_rate": float(brier_score_loss(yt, np.full(len(yt), rate))),
        "train": len(train), "test": len(test), "test_won": int(yt.sum()), "C": c, "split": split,
        "points_per_logit": scale["points_per_logit"], "points_per_doubling": scale["points_per_doubling"],
        "anchor_score": scale["anchor_score"], "base_rate": scale["base_rate"],
        "confusion_current": confusion(yt, s_old[test], rules.mql),
        "confusion_suggested": confusion(yt, s_new[test], threshold["mql"]),
    }
    cs = metrics["confusion_suggested"]
    threshold.update({"holdout_mqls": cs["tp"] + cs["fp"], "holdout_precision": cs["precision"], "holdout_recall": cs["recall"]})
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
                       new_list, leaks + _existing_leaks(report), notes, [str(i) for i in leads_ids[test]], problems,
                       contradictions)


def _column(frame: pd.DataFrame, headers: dict, name: str, option: str) -> str:
    col = _find_column(frame, headers, name)
    if col is None:
        cols = [headers.get(c, c) for c in frame.columns]
        raise WorkbookError(f'{option}: no Leads column "{name}"{did_you_mean(name, cols)}', [])
    return col


def _split(frame, headers, closed, y, holdout, seed, holdout_by, date_order) -> tuple[np.ndarray, np.ndarray, str]:
    """(train, test) positions among all leads and how they were split: stratified and seeded, or by date."""
    if not holdout_by:
        from sklearn.model_selection import train_test_split
        tr, te = train_test_split(np.arange(len(closed)), test_size=holdout, stratify=y, random_state=seed)
        return closed[tr], closed[te], f"stratified and seeded (--seed {seed})"
    from ..values.parse import to_date
    col = _column(frame, headers, holdout_by, "--holdout-by")
    dates = to_date(frame[col].iloc[closed], date_order)[0].to_numpy("datetime64[ns]")
    dated = np.flatnonzero(~np.isnat(dates))
    shown = headers.get(col, col)
    if len(dated) < 20:
        raise WorkbookError(f'--holdout-by: only {len(dated)} leads with an outcome have a date in column "{shown}"; '
                            "fill it in, or leave --holdout-by out for a stratified split", [])
    order = dated[np.argsort(dates[dated], kind="stable")]
    n_test = int(round(holdout * len(order)))
    te = np.sort(order[len(order) - n_test:])
    tr = np.setdiff1d(np.arange(len(closed)), te)
    for part, name in ((te, "held-out (most recent)"), (tr, "training")):
        if y[part].min() == y[part].max():
            raise WorkbookError(f"--holdout-by {shown}: the {name} part has only {'won' if y[part].max() else 'lost'} "
                                "leads; choose another --holdout share, or leave --holdout-by out", [])
    since = pd.Timestamp(dates[te].min()).date().isoformat()
    return closed[tr], closed[te], f'the most recent {len(te)} by "{shown}" (from {since}); the older ones fitted the points'


def _slices(candidates: list[dict]) -> list[slice]:
    out, at = [], 0
    for c in candidates:
        n = 1 if "all" in c else len(c["bands"]) + (1 if "else" in c else 0)
        out.append(slice(at, at + n))
        at += n
    return out


def _slot_names(candidates: list[dict]) -> list[str]:
    out = []
    for c in candidates:
        if "all" in c:
            out.append(c["id"])
            continue
        out += [f"{c['id']}[{fitrules.band_label(b)}]" for b in c["bands"]] + ([f"{c['id']}[else]"] if "else" in c else [])
    return out


def _conditions(rules: Rules, feats: list[Feature], candidates: list[dict]) -> tuple[list, list, list]:
    """Per model column: its conditions as `all` conditions (None when it has none: per, activity, else), field, name."""
    from .features import band_conditions
    conds, fields, names = [], [], []
    for f in feats:
        kind, *where = f.ref
        c, fld = None, None
        if kind == "band":
            rule = rules.fit[where[0]]
            c, fld = band_conditions(rule["field"], rule["bands"][where[1]]), rule["field"]
        elif kind == "fit" and f.kind == "fit":
            rule = rules.fit[where[0]]
            if "all" in rule:
                c, fld = [dict(x) for x in rule["all"]], "+".join(x["field"] for x in rule["all"])
            elif "op" in rule:
                c = [{k: v for k, v in rule.items() if k in ("field", "op", "value")}]
                fld = rule["field"]
        conds.append(c)
        fields.append(fld)
        names.append(f.name)
    for cand in candidates:
        for b in cand["bands"]:
            conds.append(band_conditions(cand["field"], b))
            fields.append(cand["field"])
            names.append(f"{cand['field']} {fitrules.band_label(b)}")
        if "else" in cand:
            conds.append(None)
            fields.append(None)
            names.append(f"{cand['id']}[else]")
    return conds, fields, names


def _contradictions(x: np.ndarray, y: np.ndarray, pts: np.ndarray, names: list[str]) -> list[dict]:
    """Rules whose suggested sign is opposite to their own lift, with the rules their hits overlap."""
    hit = x > 0
    n = hit.sum(axis=0)
    rate = y.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = (hit * y[:, None]).sum(axis=0) / n / rate
    bad = np.flatnonzero((n > 0) & (pts != 0) & (((pts > 0) & (lift < 0.95)) | ((pts < 0) & (lift > 1.05))))
    if not len(bad):
        return []
    h = hit.astype(float)
    co = h.T @ h[:, bad]                      # features × contradicting
    out = []
    for j, i in enumerate(bad):
        share = co[:, j] / n[i]
        share[i] = 0
        share[pts == 0] = 0
        near = [int(t) for t in np.argsort(-share)[:3] if share[t] >= 0.2]
        text = (f"sign opposite to its lift {lift[i]:.2f}: a partial effect, it overlaps "
                + ", ".join(f"{names[t]} ({share[t]:.0%} of its hits)" for t in near)) if near else \
            f"sign opposite to its lift {lift[i]:.2f}: a partial effect of the other rules"
        out.append({"rule": names[i], "points": int(pts[i]), "lift": float(lift[i]),
                    "overlaps": [{"rule": names[t], "share": float(share[t])} for t in near], "text": text})
    return out


def confusion(y: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    """The confusion matrix of "score at or above the threshold" against won, with precision, recall and F1."""
    mql = np.asarray(score, float) >= threshold
    y = np.asarray(y) > 0
    tp, fp = int((mql & y).sum()), int((mql & ~y).sum())
    fn, tn = int((~mql & y).sum()), int((~mql & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision,
            "recall": recall, "f1": f1}


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
