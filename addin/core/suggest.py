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

from ..errors import WorkbookError
from . import fitrules
from .features import Feature
from .rules import Rules


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

def to_points(w: np.ndarray, b0: float, x_train: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, int, float]:
    """Integer points on the score range [lo, hi]: the training logits' 0.5–99.5 % spread maps onto it.

    Returns (points per feature, base points, points per logit).
    """
    logit = b0 + x_train @ w
    lo_z, hi_z = np.quantile(logit, [0.005, 0.995])
    scale = (hi - lo) / (hi_z - lo_z) if hi_z > lo_z else 10.0
    points = np.rint(w * scale)
    base = int(round(lo - scale * (lo_z - b0)))
    return points, base, scale

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

    def change(what, old, new_value, note=""):
        if old != new_value or note:
            changes.append({"what": what, "old": old, "new": new_value, "note": note})

    for f, p, ok, col in zip(feats, points, live, x_train.T):
        if not ok:     # no variation in the training part: no evidence, keep today's points
            p = f.current
            base -= int(round(p * col[0])) if len(col) else 0
        p = _int(p)
        kind, *where = f.ref
        if kind == "band":
            i, j = where
            band = out["fit"][i]["bands"][j]
            change(f"fit {f.name}", band["points"], p, "" if ok else "no variation among closed leads: kept")
            band["points"] = p
        elif kind == "else":
            change(f"fit {f.name}", out["fit"][where[0]]["else"], p)
            out["fit"][where[0]]["else"] = p
        elif kind == "fit":
            rule = out["fit"][where[0]]
            change(f"fit {f.name}", rule["points"], p, "" if ok else "no variation among closed leads: kept")
            if "per" in rule and "max_points" in rule:
                rule["max_points"] = _scaled_cap(f.cap_units, p, rule["max_points"])
            rule["points"] = p
        elif kind in ("activity", "page"):
            spec = out["activities"][where[0]] if kind == "activity" else out["pages"][where[0]]
            change(f"{kind} {f.name.replace('activity:', '')}", spec.get("points", 0), p,
                   "" if ok else "no variation among closed leads: kept")
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
        r["bands"] = [{k: v for k, v in b.items() if not k.startswith("_")} | {"points": _int(p)} for b, p in zip(r["bands"], pts)]
        if not any(b["points"] for b in r["bands"]):
            continue
        r["label"] = "new: suggested by leadq calibrate"
        out["fit"].append(r)
        change(f"fit {r['id']} (new)", None, ", ".join(f"{fitrules.band_label(b)}: {b['points']:+d}" for b in r["bands"]))
    score = dict(out.get("score") or {})
    change("score.base", rules.base, base)
    score["base"] = base
    out["score"] = score
    return out, changes

def _int(p) -> int:
    return int(round(float(p)))

def _scaled_cap(cap_units: float, points: int, old):
    if not points or not np.isfinite(cap_units):
        return old
    return round(cap_units * abs(points), 2)

def choose_threshold(goal: Goal, s_old: np.ndarray, s_new: np.ndarray, mql_old: float, y_all: np.ndarray,
                     train: np.ndarray, frame: pd.DataFrame) -> dict:
    """The suggested MQL threshold for the goal, with what it means."""
    if goal.kind == "keep":
        share = float((s_old >= mql_old).mean())
        t = threshold_for_share(s_new, share)
        return {"mql": t, "goal": goal.describe(), "share": float((s_new >= t).mean())}
    if goal.kind == "share":
        t = threshold_for_share(s_new, goal.value)
        return {"mql": t, "goal": goal.describe(), "share": float((s_new >= t).mean())}
    if goal.kind == "per_week":
        created = frame["Created"] if "Created" in frame.columns else None
        from .parse import to_date
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
