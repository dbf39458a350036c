"""From fitted weights to a rules file: the regularised fit, integer points, the suggested
rules.json and the MQL threshold for a stated goal."""

from __future__ import annotations

import copy
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import WorkbookError
from ..rules import fitrules
from ..rules.model import Rules
from .features import Feature


@dataclass
class Goal:
    """How the MQL threshold is chosen: precision among MQLs, share of leads, or MQLs per week."""

    kind: str = "keep"      # keep (the current MQL share), precision, share, per_week
    value: float | None = None

    def describe(self) -> str:
        if self.kind == "precision":
            return f"at least {self.value:.0%} of MQLs won (on the training part)"
        if self.kind == "share":
            return f"{self.value:.0%} of leads are MQLs"
        if self.kind == "per_week":
            return f"{self.value:g} MQLs a week"
        return "keep today's share of leads at or above the MQL threshold"

def fit_weights(x: np.ndarray, y: np.ndarray, seed: int, prior: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """L2-regularised logistic regression, strength chosen by stratified cross-validation.

    With `prior` (today's points per feature), the penalty pulls the weights towards those points
    times a free factor instead of towards zero: the prior's total, prior·x, enters as one more
    feature scaled so large that its coefficient is practically unpenalised. Few outcomes then
    leave the marketer's proportions in place (a rescaled copy of today's points); many let the
    data move each rule. Returns (weight per raw feature, intercept, chosen C); constant columns
    get weight 0.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    sd = x.std(axis=0)
    live = sd > 0
    w = np.zeros(x.shape[1])
    if not live.any():
        p = y.mean()
        return w, float(np.log(p / (1 - p))), float("nan")
    mu = x[:, live].mean(axis=0)
    z = (x[:, live] - mu) / sd[live]
    anchor = None
    if prior is not None and np.any(prior[live]):
        total = z @ (prior[live] * sd[live])
        if total.std() > 0:
            anchor = total.std() / _ANCHOR_SCALE
            z = np.column_stack([z, total / anchor])
    folds = min(5, int(min(y.sum(), len(y) - y.sum())))
    if folds >= 2:
        model = LogisticRegressionCV(Cs=np.logspace(-3, 2, 11), cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                                     scoring="neg_log_loss", max_iter=5000, solver="newton-cholesky")
        with warnings.catch_warnings():   # scikit-learn announces parameter renames we do not use
            warnings.simplefilter("ignore", FutureWarning)
            model.fit(z, y)
            scores = np.asarray(next(iter(model.scores_.values())))       # folds × Cs
        # The one-standard-error rule: the strongest regularisation whose cross-validated log loss is
        # within one standard error of the best — with few outcomes, points should not chase noise.
        mean, se = scores.mean(axis=0), scores.std(axis=0, ddof=1) / np.sqrt(len(scores))
        best = int(np.argmax(mean))
        c = float(model.Cs_[int(np.flatnonzero(mean >= mean[best] - se[best])[0])])
    else:
        c = 1.0
    model = LogisticRegression(C=c, max_iter=5000, solver="newton-cholesky").fit(z, y)
    coef_z = model.coef_[0]
    if anchor is not None:
        gamma = coef_z[-1] / anchor
        coef_z = coef_z[:-1] + gamma * prior[live] * sd[live]
    coef = coef_z / sd[live]
    w[live] = coef
    b0 = float(model.intercept_[0] - (coef * mu).sum())
    return w, b0, c

_ANCHOR_SCALE = 100.0    # the prior feature's spread: its coefficient is 1/100 of a plain one, its penalty 1/10,000

def to_points(w: np.ndarray, b0: float, x_train: np.ndarray, y_train: np.ndarray, lo: float, hi: float,
              pdo: float | None = None) -> tuple[np.ndarray, int, dict]:
    """Integer points on a scorecard scale: a fixed number of points doubles the odds.

    `pdo` (points per doubling of the odds) defaults to a tenth of the score range (10 on 0–100);
    weak evidence therefore stays small, and points mean the same from one run to the next. A
    lead with the base rate's odds sits mid-range, shifted only as far as needed to keep the
    training leads' 0.5–99.5 % spread inside [lo, hi]; when that spread is wider than the range the
    points per doubling shrink until it fits (and the scale says so). The intercept becomes
    score.base. Returns (points per feature, base points, the scale: pdo, anchor score, note).
    """
    wanted = float(pdo) if pdo else (hi - lo) / 10
    logit = b0 + x_train @ w
    z_lo, z_hi = np.quantile(logit, [0.005, 0.995])
    note = ""
    use = wanted
    if (z_hi - z_lo) * wanted / math.log(2) > (hi - lo):
        use = math.floor((hi - lo) * math.log(2) / (z_hi - z_lo) * 10) / 10
        note = (f"the leads' spread of odds does not fit the score range at {wanted:g} points per doubling; "
                f"{use:g} points double the odds instead")
    factor = use / math.log(2)
    p = float(np.clip(np.mean(y_train), 1e-6, 1 - 1e-6))
    anchor_logit = math.log(p / (1 - p))
    offset = (lo + hi) / 2 - factor * anchor_logit
    s_lo, s_hi = offset + factor * z_lo, offset + factor * z_hi
    if s_lo < lo:
        offset += lo - s_lo
    elif s_hi > hi:
        offset -= s_hi - hi
    points = np.rint(w * factor)
    base = int(round(offset + factor * b0))
    return points, base, {"points_per_doubling": use, "points_per_logit": factor, "asked": wanted,
                          "anchor_score": offset + factor * anchor_logit, "base_rate": p, "note": note}

def same_share(old: np.ndarray, old_t: float, new: np.ndarray) -> int:
    """The integer threshold on `new` that keeps the share of leads at or above `old_t` on `old`."""
    share = float((old >= old_t).mean())
    return threshold_for_share(new, share)

def threshold_for_share(scores: np.ndarray, share: float) -> int:
    """The lowest integer t with at most `share` of the scores at or above it."""
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    if share <= 0 or len(s) == 0:
        return int(math.floor(s[0])) + 1 if len(s) else 0
    k = max(1, int(math.floor(share * len(s) + 1e-9)))
    t = int(math.ceil(s[k - 1]))
    while (s >= t).mean() > share + 1e-9:
        t += 1
    return t

def suggest_rules(source: dict, rules: Rules, feats: list[Feature], points: np.ndarray, base: int, new: list[dict],
                  new_points: list[list[float]], zeroed: list[str], live: np.ndarray, x_train: np.ndarray,
                  stamp: str = "") -> tuple[dict, list[dict]]:
    """The suggested rules.json (the user's file with new points) and the list of changes."""
    out = copy.deepcopy(source)
    out.setdefault("name", rules.name)
    out["version"] = re.sub(r" \(calibrated [^)]*\)$", "", str(out.get("version") or rules.version)) + f" (calibrated {stamp})"
    out["fit"] = copy.deepcopy(rules.fit)
    out["activities"] = copy.deepcopy(rules.activities)
    out["pages"] = copy.deepcopy(rules.pages)
    changes: list[dict] = []

    def change(what, old, new_value, note="", effect=0.0):
        changes.append({"what": what, "old": old, "new": new_value, "note": note, "effect": float(effect)})

    reach = np.abs(x_train).mean(axis=0) if len(x_train) else np.zeros(len(feats))
    for f, p, ok, col, r in zip(feats, points, live, x_train.T, reach):
        if not ok:     # no variation in the training part: no evidence, keep today's points
            p = f.current
            base -= int(round(p * col[0])) if len(col) else 0
        p = _int(p)
        kind, *where = f.ref
        if kind == "band":
            i, j = where
            band = out["fit"][i]["bands"][j]
            change(f"fit {f.name}", band["points"], p, "" if ok else "no variation among closed leads: kept", abs(p - band["points"]) * r)
            band["points"] = p
        elif kind == "else":
            change(f"fit {f.name}", out["fit"][where[0]]["else"], p, "", abs(p - out["fit"][where[0]]["else"]) * r)
            out["fit"][where[0]]["else"] = p
        elif kind == "fit":
            rule = out["fit"][where[0]]
            change(f"fit {f.name}", rule["points"], p, "" if ok else "no variation among closed leads: kept", abs(p - rule["points"]) * r)
            if "per" in rule and "max_points" in rule:
                rule["max_points"] = _scaled_cap(f.cap_units, p, rule["max_points"])
            rule["points"] = p
        elif kind in ("activity", "page"):
            spec = out["activities"][where[0]] if kind == "activity" else out["pages"][where[0]]
            change(f"{kind} {f.name.replace('activity:', '')}", spec.get("points", 0), p,
                   "" if ok else "no variation among closed leads: kept", abs(p - spec.get("points", 0)) * r)
            if "max_points" in spec and spec.get("points"):
                # keep the cap at the same number of activities, so the score is what the model saw
                spec["max_points"] = _scaled_cap(spec["max_points"] / abs(spec["points"]), p, spec["max_points"])
            spec["points"] = p
    for rid in zeroed:
        i = next(i for i, r in enumerate(out["fit"]) if r["id"] == rid)
        rule = out["fit"][i]
        if "bands" in rule:
            for b in rule["bands"]:
                b["points"] = 0
            rule.pop("else", None)
        else:
            rule["points"] = 0
        change(f"fit {rid}", "…", 0, "reads the outcome or an excluded column: set to 0")
    for rule, pts in zip(new, new_points):
        r = {k: v for k, v in rule.items() if not k.startswith("_")}
        stats = rule.get("_stats") or [(0, float("nan"))] * len(pts)
        if "all" in r:
            r["points"] = _int(pts[0])
            if not r["points"]:
                continue
            r["label"] = f"new: {rule['_pair'][0]} and {rule['_pair'][1]} together (suggested by leadq calibrate)"
            out["fit"].append(r)
            n, lift = stats[0]
            change(f"fit {r['id']} (new)", None, f"{r['points']:+d} ({n} hits, lift {lift:.2f})",
                   f"together: {rule['_pair'][0]} & {rule['_pair'][1]}", abs(r["points"]) * n / rule.get("_n", 1))
            continue
        k = len(r["bands"])
        bands = [{kk: v for kk, v in b.items() if not kk.startswith("_")} | {"points": _int(p)} for b, p in zip(r["bands"], pts[:k])]
        else_p = _int(pts[k]) if "else" in r else 0
        shown = [(b, st) for b, st in zip(bands, stats[:k])]
        if else_p == 0:
            r.pop("else", None)
            shown = [(b, st) for b, st in shown if b["points"]]      # nothing at 0 points is written
        else:
            r["else"] = else_p
        r["bands"] = [b for b, _ in shown]
        if not r["bands"]:
            continue
        recut = rule.get("_recut")
        r["label"] = (f"new: a re-cut of {r['field']}, which {', '.join(recut)} read (suggested by leadq calibrate)"
                      if recut else "new: suggested by leadq calibrate")
        out["fit"].append(r)
        parts = [f"{fitrules.band_label(b)}: {b['points']:+d} ({n} hits, lift {lift:.2f})" for b, (n, lift) in shown]
        if else_p:
            n, lift = stats[k]
            parts.append(f"else: {else_p:+d} ({n} hits, lift {lift:.2f})")
        reach_w = (sum(abs(b["points"]) * n for b, (n, _) in shown) + (abs(else_p) * stats[k][0] if else_p else 0)) / rule.get("_n", 1)
        change(f"fit {r['id']} (new)", None, "; ".join(parts), "re-cut offered beside " + ", ".join(recut) if recut else "",
               reach_w)
    score = dict(out.get("score") or {})
    change("score.base", rules.base, base, "the intercept: the score before any rule", abs(base - rules.base))
    score["base"] = base
    out["score"] = score
    return out, changes

def _int(p) -> int:
    return int(round(float(p)))

def _scaled_cap(cap_units: float, points: int, old):
    if not points or not np.isfinite(cap_units):
        return old
    return round(cap_units * abs(points), 2)

def _inside(t: float, lo: float, hi: float) -> int:
    return int(min(max(int(t), math.ceil(lo)), math.floor(hi)))


def choose_threshold(goal: Goal, s_old: np.ndarray, s_new: np.ndarray, mql_old: float, y_all: np.ndarray,
                     train: np.ndarray, frame: pd.DataFrame, lo: float = -math.inf, hi: float = math.inf) -> dict:
    """The suggested MQL threshold for the goal, with what it means; always inside [lo, hi].

    Keeping today's share is impossible when no lead (or every lead) reaches today's threshold — a
    fresh import: the stated default is then the base conversion rate as the share of MQLs.
    """
    out = _choose(goal, s_old, s_new, mql_old, y_all, train, frame)
    t = _inside(out["mql"], lo, hi)
    if t != out["mql"]:
        out["note"] = ((out.get("note") or "") + ("; " if out.get("note") else "")
                       + f"{out['mql']} lies outside the score range ({lo:g}–{hi:g}): {t} instead")
        out["mql"] = t
        out["share"] = float((s_new >= t).mean())
    return out


def _choose(goal, s_old, s_new, mql_old, y_all, train, frame) -> dict:
    if goal.kind == "keep":
        share = float((s_old >= mql_old).mean())
        if 0 < share < 1:
            t = threshold_for_share(s_new, share)
            return {"mql": t, "goal": goal.describe(), "share": float((s_new >= t).mean())}
        rate = float(np.mean(y_all[train]))
        t = threshold_for_share(s_new, rate)
        return {"mql": t, "goal": f"{rate:.0%} of leads are MQLs: the share that converts (the default goal)",
                "share": float((s_new >= t).mean()), "default_goal": True,
                "note": f"today {'no lead reaches' if share <= 0 else 'every lead reaches'} the MQL threshold ({mql_old:g}), "
                        f"so its share cannot be kept; the default goal makes the base conversion rate ({rate:.0%}) "
                        "the share of MQLs — choose another with --mql-share, --mql-per-week or --mql-precision"}
    if goal.kind == "share":
        t = threshold_for_share(s_new, goal.value)
        return {"mql": t, "goal": goal.describe(), "share": float((s_new >= t).mean())}
    if goal.kind == "per_week":
        created = frame["Created"] if "Created" in frame.columns else None
        from ..values.parse import to_date
        dates = to_date(created)[0].dropna() if created is not None else pd.Series(dtype="datetime64[ns]")
        if len(dates) < 2:
            raise WorkbookError("--mql-per-week needs the leads' Created dates to know how many leads arrive a week; "
                                "add a Created column, or use --mql-share", [])
        weeks = max((dates.max() - dates.min()).days / 7, 1)
        per_week = len(frame) / weeks
        share = min(goal.value / per_week, 1.0)
        t = threshold_for_share(s_new, share)
        return {"mql": t, "goal": goal.describe(), "share": float((s_new >= t).mean()), "leads_per_week": per_week,
                "mqls_per_week": float((s_new >= t).mean() * per_week)}
    # precision: the lowest threshold whose MQLs (with an outcome, training part) win at least that often
    st, yt = s_new[train], y_all[train]
    best = None
    for t in np.unique(np.ceil(st)):
        m = st >= t
        if m.sum() < 10:
            break
        if yt[m].mean() >= goal.value:
            best = int(t)
            break
    note = ""
    if best is None:
        cands = [(yt[st >= t].mean(), int(t)) for t in np.unique(np.ceil(st)) if (st >= t).sum() >= 10]
        prec, best = max(cands) if cands else (np.nan, int(np.ceil(st.max())))
        note = f"no threshold reaches {goal.value:.0%}; the best with at least 10 closed leads above it gives {prec:.0%}"
    m = st >= best
    return {"mql": best, "goal": goal.describe(), "share": float((s_new >= best).mean()),
            "train_precision": float(yt[m].mean()) if m.any() else np.nan, "note": note}


def hot_threshold(s_old: np.ndarray, hot_old: float, s_new: np.ndarray, mql: int, lo: float, hi: float) -> tuple[int, str]:
    """Hot keeps today's share of hot leads; when that share is 0 or not below the MQL share, half the MQLs are hot.
    Always at or above mql and inside the range."""
    share = float((s_old >= hot_old).mean())
    mql_share = float((s_new >= mql).mean())
    note = "same share of hot leads"
    if not 0 < share < 1 or share > mql_share:
        share = mql_share / 2
        note = f"today's share of hot leads cannot be kept; the hottest half of the MQLs ({share:.0%} of leads)"
    t = threshold_for_share(s_new, share)
    return min(max(t, mql), _inside(hi, lo, hi)), note


def grade_thresholds(fit_old: np.ndarray, grades: list[tuple[str, float]], fit_new: np.ndarray, lo: float, hi: float
                     ) -> tuple[dict[str, int], str]:
    """Grade minimums on the suggested fit score: today's share of each grade, or — when a grade is
    empty, holds everyone, or shares tie — equal steps (with k grades, the best 1/(k+1), then 2/(k+1)…).
    Strictly decreasing integers inside [lo, hi]."""
    if not grades:
        return {}, ""
    shares = [float((fit_old >= t).mean()) for _, t in grades]
    note = "same share of leads per grade"
    if any(not 0 < sh < 1 for sh in shares) or any(a >= b for a, b in zip(shares, shares[1:])):
        k = len(grades)
        shares = [(i + 1) / (k + 1) for i in range(k)]
        note = ("today's grades leave a grade empty or hold every lead; equal steps instead: "
                + ", ".join(f"{g} the best {sh:.0%}" for (g, _), sh in zip(grades, shares)))
    top = math.floor(hi)
    out, prev = {}, None
    for (g, _), sh in zip(grades, shares):
        t = min(threshold_for_share(fit_new, sh), top)
        t = max(t, math.ceil(lo))
        if prev is not None and t >= prev:
            t = prev - 1
        out[g] = int(t)
        prev = t
    return out, note
