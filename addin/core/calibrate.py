"""Learn the points from outcomes: lift per rule, suggested integer points and MQL threshold,
measured on held-out leads.

The features are the ones LeadQ already computes: each fit rule's hit (each band of a bands
rule, the units of a per rule) and the decayed, capped count of each activity type and page
rule. A regularised logistic regression on the training part gives one weight per feature; the
weights become integer points on the rules' own scale, so the suggested file stays a rules.json
anyone can read, and its score is what the why-ledger explains. Everything is measured on a
stratified, seeded held-out part the fit never saw, by scoring it with the suggested rules
through the same engine a refresh uses. Pure numpy/pandas/scikit-learn: no files.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import LeadQError, Problem, WorkbookError
from . import fitrules
from .evaluate import Evaluation, Origin, evaluate
from .headers import LEAD_ID, LEADS_OUTPUTS, canonicalize
from .parse import to_answer, to_number
from .rules import Rules, check_rules, load_rules
from .text import did_you_mean, fold_series, key

MIN_HITS = 30            # below this many hits a rule's conversion is too noisy to read
MIN_OUTCOMES = 10        # ... or below this many won (or lost) among its hits
SMALL_SAMPLE = 200       # fewer outcomes than this: say the sample is small
LEAK_CONVERSION = 0.97   # a new rule converting this well is more likely a leak than a discovery
LEAK_AUC = 0.97
MAX_CATEGORIES = 30
# Columns that are not a property of the lead before contact, or that identify it.
NOT_FEATURES = {"Lead ID", "First name", "Last name", "Email", "Phone", "Company", "Owner", "Created", "Deal stage",
                "Amount", "Next action", "Next action date", "Disqualified", *LEADS_OUTPUTS}


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


# ---------------------------------------------------------------------------- statistics
def wilson(k, n, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval of a proportion k / n (NaN where n is 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (ties count half), NaN when one class is missing."""
    from sklearn.metrics import roc_auc_score
    y = np.asarray(y)
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


# ---------------------------------------------------------------------------- outcome
def outcome_of(ev: Evaluation, frame: pd.DataFrame, spec: str) -> tuple[np.ndarray, str, list[Problem]]:
    """1 won / 0 lost / NaN open per lead, a description, and the cells not understood.

    spec: "won" (deal stages: won vs lost outcomes of the pipeline) or a Leads column holding
    1/0, Yes/No (blank: still open).
    """
    if key(spec) == "won":
        o = ev.context["Outcome"].to_numpy(object)
        return np.where(o == "won", 1.0, np.where(o == "lost", 0.0, np.nan)), "won vs lost deals (Deal stage)", []
    col = _find_column(frame, ev.headers, spec)
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
    return values.to_numpy(float), f'column "{ev.headers.get(col, col)}" (1/Yes = converted)', problems


def _find_column(frame: pd.DataFrame, headers: dict, name: str) -> str | None:
    from .headers import canonical_field
    k = key(name)
    for c in frame.columns:
        if c == canonical_field(name) or key(c) == k or key(headers.get(c, c)) == k:
            return c
    return None


# ---------------------------------------------------------------------------- features
@dataclass
class Feature:
    """One column of the model and where its points go in the rules file."""

    name: str            # shown in the report: rule id, `id[band]`, `activity:webinar`
    kind: str            # fit, band, else, per, activity, page, new
    ref: tuple           # where the points live: ("fit", i), ("band", i, j), ("else", i), ("activity", t), ("page", i)
    current: float       # today's points of one unit
    cap_units: float = math.inf


def features(ev: Evaluation, frame: pd.DataFrame, rules: Rules, banned: set[str]) -> tuple[np.ndarray, list[Feature], list[str]]:
    """The model's matrix (leads × features) from what LeadQ computed, the features, and rules left out."""
    n = len(frame)
    cols: list[np.ndarray] = []
    feats: list[Feature] = []
    left_out: list[str] = []
    found, _ = fitrules.columns(frame, rules.fit)
    for i, rule in enumerate(rules.fit):
        rid = rule["id"]
        if rid not in found:
            continue
        if {found[rid][f] for f in fitrules.fields(rule)} & banned:
            left_out.append(rid)
            continue
        h = fitrules.hits(frame, rule, found[rid])
        k = fitrules.kind(rule)
        if k == "bands":
            for j, band in enumerate(rule["bands"]):
                cols.append(_indicator(n, h.lead[h.band == j]))
                feats.append(Feature(f"{rid}[{fitrules.band_label(band)}]", "band", ("band", i, j), band["points"]))
            if "else" in rule:
                cols.append(_indicator(n, h.lead[h.band == -1]))
                feats.append(Feature(f"{rid}[else]", "else", ("else", i), rule["else"]))
        elif k == "per":
            cap = rule["max_points"] / abs(rule["points"]) if "max_points" in rule and rule["points"] else math.inf
            x = np.zeros(n)
            x[h.lead] = np.minimum(h.count, cap)
            cols.append(x)
            feats.append(Feature(rid, "per", ("fit", i), rule["points"], cap))
        else:
            cols.append(_indicator(n, h.lead))
            feats.append(Feature(rid, "fit", ("fit", i), rule["points"]))
    # Activity types and page rules: the decayed, capped count, read back from the ledger.
    d = ev.details[ev.details["Kind"].astype(str).isin(["activity", "page"])]
    pos = pd.Index(ev.leads["Lead ID"].to_numpy(object)).get_indexer(d["Lead ID"].to_numpy(object))
    rule_names = d["Rule"].astype(str).to_numpy()
    for t, spec in rules.activities.items():
        feats.append(Feature(f"activity:{t}", "activity", ("activity", t), spec["points"]))
        cols.append(_units(n, pos, rule_names == f"activity:{t}", d, spec["points"]))
    for i, page in enumerate(rules.pages):
        feats.append(Feature(page["id"], "page", ("page", i), page.get("points", 0)))
        cols.append(_units(n, pos, rule_names == page["id"], d, page.get("points", 0)))
    x = np.column_stack(cols) if cols else np.zeros((n, 0))
    return x, feats, left_out


def _indicator(n: int, where: np.ndarray) -> np.ndarray:
    x = np.zeros(n)
    x[where] = 1.0
    return x


def _units(n: int, pos: np.ndarray, mask: np.ndarray, d: pd.DataFrame, unit: float) -> np.ndarray:
    """Per lead: points ÷ points of one activity (a decayed, capped count); count × decay when a type is worth 0."""
    x = np.zeros(n)
    if unit:
        vals = d["Points"].to_numpy(float)[mask] / unit
    else:
        vals = (d["Count"].to_numpy(float) * d["Decay factor"].to_numpy(float))[mask]
    np.add.at(x, pos[mask], vals)
    return x


def new_rule_candidates(frame: pd.DataFrame, headers: dict, y: np.ndarray, train: np.ndarray, used: set[str],
                        banned: set[str]) -> tuple[list[dict], list[dict]]:
    """Rules worth suggesting from columns no rule reads: (candidates, likely leaks).

    A category becomes a band when, among the training part, it has at least MIN_HITS closed leads
    and its Wilson interval excludes the overall conversion; a numeric column becomes quartile
    bands when it ranks outcomes (AUC at least 0.55 or at most 0.45).
    """
    out, leaks = [], []
    yt = y[train]
    base = yt.mean()
    for col in frame.columns:
        if col in used or col in banned or col in NOT_FEATURES or str(col).startswith("Column "):
            continue
        shown = headers.get(col, col)
        values = frame[col].iloc[train]
        nums, bad = to_number(values)
        filled = nums.notna()
        if filled.sum() >= 0.9 * (~_blank(values)).sum() and nums.nunique() >= 10:
            a = auc(yt[filled.to_numpy()], nums[filled].to_numpy())
            if np.isnan(a) or abs(a - 0.5) < 0.05:
                continue
            if max(a, 1 - a) >= LEAK_AUC:
                leaks.append({"field": shown, "why": f"its values alone rank the outcomes with AUC {max(a, 1 - a):.3f}"})
                continue
            twin = _twin(nums, frame.iloc[train], used)
            if twin is not None:     # e.g. revenue computed from headcount: the rules already read it
                continue
            edges = sorted({_round2(q) for q in np.nanquantile(nums[filled], [0.25, 0.5, 0.75])})
            bands = [{"lt": edges[0], "points": 0}]
            bands += [{"gte": lo, "lt": hi, "points": 0} for lo, hi in zip(edges, edges[1:])]
            bands.append({"gte": edges[-1], "points": 0})
            out.append({"id": _new_id(shown), "field": shown, "bands": bands, "_column": col, "_auc": a})
            continue
        text = fold_series(values.astype(object))
        counts = text[text != ""].value_counts()
        if not 2 <= len(counts) <= MAX_CATEGORIES:
            continue
        bands = []
        for cat, hits in counts.items():
            if hits < MIN_HITS:
                continue
            m = (text == cat).to_numpy()
            won = yt[m].sum()
            lo, hi = wilson(won, hits)
            conv = won / hits
            if conv >= LEAK_CONVERSION:
                label = values[m].iloc[0]
                leaks.append({"field": shown, "value": str(label),
                              "why": f"{conv:.0%} of its {hits} closed leads converted (lift {conv / base:.1f})"})
                continue
            if lo > base or hi < base:
                bands.append({"in": [str(values[m].iloc[0])], "points": 0, "_lift": conv / base if base else np.nan})
        if bands:
            out.append({"id": _new_id(shown), "field": shown, "bands": bands, "_column": col})
    return out, leaks


def _twin(nums: pd.Series, frame: pd.DataFrame, used: set[str]) -> str | None:
    """A column the rules already read that carries the same ranking (Spearman ≥ 0.95), if any."""
    for col in used:
        other = to_number(frame[col])[0]
        both = nums.notna() & other.notna()
        if both.sum() >= 10 and other[both].nunique() > 1 and nums[both].nunique() > 1:
            if abs(nums[both].rank().corr(other[both].rank())) >= 0.95:
                return col
    return None


def _blank(values: pd.Series) -> pd.Series:
    from .parse import blank_mask
    return blank_mask(values)


def _round2(v: float) -> float:
    """Two significant digits: band edges people can read (1,234 -> 1,200)."""
    if v == 0 or not np.isfinite(v):
        return 0.0
    digits = 1 - int(math.floor(math.log10(abs(v))))
    r = round(v, digits)
    return int(r) if float(r).is_integer() else r


def _new_id(field_name: str) -> str:
    return "new-" + (re.sub(r"[^a-z0-9]+", "-", key(field_name).lower()).strip("-") or "column")


# ---------------------------------------------------------------------------- the fit
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


# ---------------------------------------------------------------------------- the suggested file
def _same_share(old: np.ndarray, old_t: float, new: np.ndarray) -> int:
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


def rules_text(data: dict) -> str:
    """rules.json text with one rule, activity type or pipeline stage per line: diffs read rule by rule."""
    lines = ["{"]
    items = list(data.items())
    for n, (k, v) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        head = f"  {json.dumps(k)}: "
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            body = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in v)
            lines.append(f"{head}[\n{body}\n  ]{comma}")
        elif isinstance(v, dict) and v and all(isinstance(e, dict) for e in v.values()) and k != "score":
            body = ",\n".join(f"    {json.dumps(kk)}: {json.dumps(e, ensure_ascii=False)}" for kk, e in v.items())
            lines.append(f"{head}{{\n{body}\n  }}{comma}")
        else:
            lines.append(f"{head}{json.dumps(v, ensure_ascii=False)}{comma}")
    return "\n".join(lines) + "\n}\n"


# ---------------------------------------------------------------------------- measurement
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


# ---------------------------------------------------------------------------- the whole job
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
    for name in [*exclude, *([] if key(outcome) == "won" else [outcome])]:
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
    xn, new_slices = _candidate_matrix(frame, candidates)
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
    hot = max(_same_share(s_old, rules.hot, s_new), threshold["mql"])
    if "hot" in th or hot != rules.hot:
        change_list.append({"what": "thresholds.hot", "old": rules.hot, "new": hot, "note": "same share of hot leads"})
        th["hot"] = hot
    suggested["thresholds"] = th
    fit_old, fit_new = ev.leads["Fit score"].to_numpy(float), ev_new.leads["Fit score"].to_numpy(float)
    grades = {g: _same_share(fit_old, t, fit_new) for g, t in rules.grades}
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


def _candidate_matrix(frame: pd.DataFrame, candidates: list[dict]) -> tuple[np.ndarray, list[slice]]:
    cols, slices = [], []
    for c in candidates:
        h = fitrules.hits(frame, {k: v for k, v in c.items() if not k.startswith("_")}, {c["field"]: c["_column"]})
        start = len(cols)
        for j in range(len(c["bands"])):
            cols.append(_indicator(len(frame), h.lead[h.band == j]))
        slices.append(slice(start, len(cols)))
    return (np.column_stack(cols) if cols else np.zeros((len(frame), 0))), slices


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
