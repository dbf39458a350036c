"""The model's features, from what LeadQ already computes, and new rules worth suggesting.

Each fit rule's hit (each band of a bands rule, the units of a per rule) and the decayed, capped
count of each activity type and page rule, read back from the why-ledger; plus candidate rules on
columns no rule reads, screened on the training part.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model import Evaluation
from ..rules import fitrules
from ..rules.model import Rules
from ..values.headers import LEADS_OUTPUTS
from ..values.parse import to_number
from ..values.text import fold_series, key
from .stats import auc, wilson

MIN_HITS = 30            # below this many hits a rule's conversion is too noisy to read
LEAK_HIGH = 0.97         # a value converting this well (or LEAK_LOW this badly) is more likely a leak than a discovery
LEAK_LOW = 0.03
LEAK_CONVERSION = LEAK_HIGH
LEAK_FIELD_AUC = 0.9     # a column that alone ranks the outcome this well is suspect
MAX_BINS = 8             # supervised bins of a number
MIN_BIN_SHARE = 0.03     # each bin holds at least this share of the leads
FEW_VALUES = 8           # numbers with at most this many distinct values get one band per value
# Columns that are not a property of the lead before contact, or that identify it.
NOT_FEATURES = {"Lead ID", "First name", "Last name", "Email", "Phone", "Company", "Owner", "Created", "Deal stage",
                "Amount", "Next action", "Next action date", "Disqualified", *LEADS_OUTPUTS}


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

def candidate_columns(frame: pd.DataFrame, banned: set[str]) -> list[str]:
    """Leads columns a suggestion may read: not banned, not an identity or LeakQ output column."""
    return [c for c in frame.columns if c not in banned and c not in NOT_FEATURES and not str(c).startswith("Column ")]


def _read(values: pd.Series) -> tuple[str, pd.Series]:
    """("number", numbers) when nine in ten filled cells are numbers, else ("category", folded text)."""
    nums, _ = to_number(values)
    filled = nums.notna()
    if filled.any() and filled.sum() >= 0.9 * (~_blank(values)).sum():
        return "number", nums
    return "category", fold_series(values.astype(object))


def field_auc(kind: str, data: pd.Series, y: np.ndarray, seed: int = 0) -> float:
    """How well the column alone ranks the outcome (0.5 = not at all, 1 = perfectly, either direction).

    Categories (and numbers, in 20 quantile bins plus blank, so U-shapes count) are target-encoded
    with scikit-learn's cross-fitted TargetEncoder — a value's conversion is never measured on the
    lead itself, so a column of unique ids scores about 0.5, not 1.
    """
    from sklearn.preprocessing import TargetEncoder
    if len(y) < 20 or y.min() == y.max():
        return float("nan")
    best = 0.5
    if kind == "number":
        filled = data.notna().to_numpy()
        if filled.sum() >= 10 and data[filled].nunique() > 1:
            a = auc(y[filled], data[filled].to_numpy(float))
            best = max(best, a, 1 - a)
        ranks = data.rank(pct=True).to_numpy()
        codes = np.where(np.isnan(ranks), -1, np.minimum((np.nan_to_num(ranks) * 20).astype(int), 19)).astype(str)
    else:
        codes = data.to_numpy(str)
    if len(set(codes)) < 2:
        return float(best)
    from sklearn.model_selection import StratifiedKFold
    enc = TargetEncoder(target_type="binary", cv=StratifiedKFold(5, shuffle=True, random_state=seed))
    te = enc.fit_transform(codes.reshape(-1, 1), y.astype(int))[:, 0]
    a = auc(y, te)
    return float(max(best, a, 1 - a))


def _value_groups(kind: str, data: pd.Series) -> pd.Series | None:
    """The values a leak check reads one by one: categories, or numbers with few distinct values."""
    if kind == "category":
        return data.where(data != "")
    return data if data.nunique() <= FEW_VALUES else None


def column_leaks(frame: pd.DataFrame, headers: dict, y: np.ndarray, train: np.ndarray, banned: set[str],
                 keep: set[str] = frozenset(), seed: int = 0) -> tuple[list[dict], set[str]]:
    """Suspected leaks, column by column, on the training part: (one entry per column, the columns left out).

    A column is suspect when one of its values with at least MIN_HITS closed leads converts at
    least LEAK_HIGH (while the base rate is at most 85 %) or at most LEAK_LOW (while it is at least
    15 %), or when the column alone ranks the outcome with AUC at least LEAK_FIELD_AUC. The whole
    column is left out unless it is in `keep` (then it is still named, as kept).
    """
    yt = y[train]
    base = yt.mean()
    out, left = [], set()
    for col in candidate_columns(frame, banned):
        shown = headers.get(col, col)
        values = frame[col].iloc[train]
        kind, data = _read(values)
        extremes = []
        groups = _value_groups(kind, data)
        if groups is not None:
            g = pd.DataFrame({"v": groups.to_numpy(object), "y": yt, "i": np.arange(len(yt))}).dropna()
            if len(g):
                st = g.groupby("v", sort=False).agg(n=("y", "size"), m=("y", "mean"), i=("i", "first"))
                st = st[st["n"] >= MIN_HITS]
                hit = st[((st["m"] >= LEAK_HIGH) & (base <= 0.85)) | ((st["m"] <= LEAK_LOW) & (base >= 0.15))]
                raw = values.to_numpy(object)
                extremes = [f'"{raw[i]}" {m:.0%} of {int(n)}' for n, m, i in hit[["n", "m", "i"]].itertuples(index=False)]
        a = field_auc(kind, data, yt, seed)
        if not extremes and not (a >= LEAK_FIELD_AUC):
            continue
        why = []
        if extremes:
            why.append("converts " + ", ".join(extremes[:4]) + (f" (+{len(extremes) - 4} more)" if len(extremes) > 4 else ""))
        why.append(f"the column alone ranks the outcome with AUC {a:.3f}")
        kept = col in keep
        out.append({"field": shown, "auc": a, "kept": kept, "values": len(extremes),
                    "why": "; ".join(why) + (": kept (--keep)" if kept else ": is it filled in after contact?")})
        if not kept:
            left.add(col)
    return out, left


def new_rule_candidates(frame: pd.DataFrame, headers: dict, y: np.ndarray, train: np.ndarray, used: dict[str, list[str]],
                        banned: set[str]) -> list[dict]:
    """Rules worth suggesting, screened on the training part; `used` maps a column to the rules reading it.

    Categories: every value with at least MIN_HITS closed leads whose Wilson interval excludes the
    overall conversion becomes a band (any number of distinct values), the rest one `else`.
    Numbers with at most FEW_VALUES distinct values: ordered bands, one per value (merged to at
    least MIN_BIN_SHARE each). Other numbers: supervised bins from a scikit-learn decision tree (at
    most MAX_BINS bins of at least MIN_BIN_SHARE of the leads), monotone unless the outcome
    clearly is not; kept when the bins' chi-square test says they matter (p < 0.01), whatever the
    shape. A column a rule already reads gives a re-cut, offered beside that rule.
    """
    out = []
    yt = y[train]
    base = yt.mean()
    for col in candidate_columns(frame, banned):
        shown = headers.get(col, col)
        values = frame[col].iloc[train]
        kind, data = _read(values)
        if kind == "number":
            bands = _number_bands(data, yt)
        else:
            bands = _category_bands(values, data, yt, base)
        if not bands:
            continue
        rule = {"id": _new_id(shown), "field": shown, "bands": [b for b in bands if b != "else"], "_column": col}
        if "else" in bands:
            rule["else"] = 0
        if col in used:
            rule["id"] = "recut-" + rule["id"][4:]
            rule["_recut"] = used[col]
        out.append(rule)
    return out


def _category_bands(values: pd.Series, text: pd.Series, yt: np.ndarray, base: float) -> list:
    filled = (text != "").to_numpy()
    if not filled.any():
        return []
    g = pd.DataFrame({"v": text.to_numpy(object)[filled], "y": yt[filled], "i": np.flatnonzero(filled)})
    st = g.groupby("v", sort=False).agg(n=("y", "size"), won=("y", "sum"), first=("i", "first"))
    if len(st) < 2:
        return []
    big = st[st["n"] >= MIN_HITS]
    lo, hi = wilson(big["won"].to_numpy(), big["n"].to_numpy())
    strong = big[(lo > base) | (hi < base)].sort_values("n", ascending=False)
    if strong.empty:
        return []
    raw = values.to_numpy(object)
    bands = [{"in": [str(raw[i])], "points": 0} for i in strong["first"]]
    if len(strong) < len(st):
        bands.append("else")
    return bands


def _number_bands(nums: pd.Series, yt: np.ndarray) -> list[dict]:
    from scipy.stats import chi2_contingency
    filled = nums.notna().to_numpy()
    x, y = nums.to_numpy(float)[filled], yt[filled]
    if len(x) < 2 * MIN_HITS or y.min() == y.max():
        return []
    distinct = np.unique(x)
    if len(distinct) < 2:
        return []
    min_leaf = max(int(math.ceil(MIN_BIN_SHARE * len(x))), MIN_HITS)
    if len(distinct) <= FEW_VALUES:
        edges = _merge_small(x, list(distinct[1:]), min_leaf)
    else:
        edges = _tree_edges(x, y, min_leaf)
    edges = sorted({_round2(e) for e in edges})
    edges = [e for e in edges if (x < e).sum() >= min_leaf and (x >= e).sum() >= min_leaf]
    if not edges:
        return []
    idx = np.searchsorted(np.asarray(edges, float), x, side="right")
    table = np.array([[((idx == b) & (y == 1)).sum(), ((idx == b) & (y == 0)).sum()] for b in range(len(edges) + 1)])
    table = table[table.sum(axis=1) > 0]
    if len(table) < 2 or (table.sum(axis=0) == 0).any() or chi2_contingency(table)[1] >= 0.01:
        return []
    bands = [{"lt": edges[0], "points": 0}]
    bands += [{"gte": a, "lt": b, "points": 0} for a, b in zip(edges, edges[1:])]
    bands.append({"gte": edges[-1], "points": 0})
    return bands


def _merge_small(x: np.ndarray, edges: list[float], min_leaf: int) -> list[float]:
    """Drop cut points until every band holds at least min_leaf values."""
    edges = list(edges)
    while edges:
        idx = np.searchsorted(np.asarray(edges, float), x, side="right")
        sizes = np.bincount(idx, minlength=len(edges) + 1)
        b = int(np.argmin(sizes))
        if sizes[b] >= min_leaf:
            break
        edges.pop(min(b, len(edges) - 1) if b < len(edges) else len(edges) - 1)
    return edges


def _tree_edges(x: np.ndarray, y: np.ndarray, min_leaf: int) -> list[float]:
    """Cut points of a shallow scikit-learn tree: monotone (either way) unless a free tree fits clearly better."""
    from sklearn.metrics import log_loss
    from sklearn.tree import DecisionTreeClassifier
    fits = []
    for cst in (1, -1, 0):
        t = DecisionTreeClassifier(max_leaf_nodes=MAX_BINS, min_samples_leaf=min_leaf, random_state=0,
                                   monotonic_cst=[cst] if cst else None).fit(x.reshape(-1, 1), y)
        p = np.clip(t.predict_proba(x.reshape(-1, 1))[:, -1], 1e-6, 1 - 1e-6)
        cuts = sorted(t.tree_.threshold[t.tree_.feature >= 0].tolist())
        fits.append((log_loss(y, p, labels=[0, 1]), cuts))
    null = log_loss(y, np.full(len(y), y.mean()), labels=[0, 1])
    mono = min(fits[:2], key=lambda f: f[0])
    free = fits[2]
    # the free tree wins only when it explains at least half as much again as the monotone one
    return free[1] if (null - free[0]) > 1.5 * max(null - mono[0], 1e-12) else mono[1]


def interaction_rules(x: np.ndarray, conds: list[list[dict] | None], fields: list[str | None], names: list[str],
                      y: np.ndarray, p: np.ndarray, top: int = 3, min_z: float = 3.0) -> list[dict]:
    """Up to `top` `all` rules from the strongest pairs of indicator features (on the training part).

    The score test of each pair's product against the fitted probabilities p: how far the cell's
    won count is from what the main effects predict, in standard errors. Pairs read two different
    fields and hold at least MIN_HITS leads.
    """
    ok = np.array([c is not None for c in conds])
    if ok.sum() < 2:
        return []
    idx = np.flatnonzero(ok)
    h = (x[:, idx] > 0).astype(float)
    n = h.T @ h
    g = h.T @ (h * (y - p)[:, None])
    v = h.T @ (h * (p * (1 - p))[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where((n >= MIN_HITS) & (v > 0), g / np.sqrt(v), 0.0)
    f = np.array([fields[i] for i in idx], dtype=object)
    z[f[:, None] == f[None, :]] = 0.0
    z = np.triu(z, 1)
    out, taken = [], set()
    for flat in np.argsort(-np.abs(z), axis=None):
        a, b = np.unravel_index(flat, z.shape)
        if abs(z[a, b]) < min_z or len(out) >= top:
            break
        i, j = idx[a], idx[b]
        if (i, j) in taken:
            continue
        taken.add((i, j))
        cell = h[:, a] * h[:, b]
        rid = _new_id(fields[i]) + "-and-" + _new_id(fields[j])[4:]
        while any(r["id"] == rid for r in out):
            rid += "-2"
        out.append({"id": rid, "all": [*conds[i], *conds[j]], "points": 0, "_pair": (names[i], names[j]),
                    "_hits": int(cell.sum()), "_lift": float(y[cell > 0].mean() / y.mean()) if y.mean() else np.nan,
                    "_z": float(z[a, b])})
    return out


def band_conditions(field: str, band: dict) -> list[dict]:
    """A band as `all` conditions on its field."""
    if "in" in band:
        return [{"field": field, "op": "in", "value": list(band["in"])}]
    out = []
    if "gte" in band:
        out.append({"field": field, "op": "gte", "value": band["gte"]})
    if "lt" in band:
        out.append({"field": field, "op": "lt", "value": band["lt"]})
    return out


def _blank(values: pd.Series) -> pd.Series:
    from ..values.parse import blank_mask
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

def candidate_matrix(frame: pd.DataFrame, candidates: list[dict]) -> tuple[np.ndarray, list[slice]]:
    """One indicator column per band (and `else`) of each candidate, or one per `all` rule."""
    cols, slices = [], []
    for c in candidates:
        rule = {k: v for k, v in c.items() if not k.startswith("_")}
        if "all" in c:
            found, _ = fitrules.columns(frame, [rule])
            h = fitrules.hits(frame, rule, found[rule["id"]])
            slices.append(slice(len(cols), len(cols) + 1))
            cols.append(_indicator(len(frame), h.lead))
            continue
        h = fitrules.hits(frame, rule, {c["field"]: c["_column"]})
        start = len(cols)
        for j in range(len(c["bands"])):
            cols.append(_indicator(len(frame), h.lead[h.band == j]))
        if "else" in c:
            cols.append(_indicator(len(frame), h.lead[h.band == -1]))
        slices.append(slice(start, len(cols)))
    return (np.column_stack(cols) if cols else np.zeros((len(frame), 0))), slices


def score_z(x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per column: the score test of adding it to a model with fitted probabilities p, in standard errors."""
    g = x.T @ (y - p)
    v = (x * x).T @ (p * (1 - p))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, g / np.sqrt(v), 0.0)


def keep_recut_bands(recuts: list[dict], xr: np.ndarray, y: np.ndarray, p: np.ndarray, min_z: float = 3.0) -> list[dict]:
    """The bands of each re-cut that the current rules and the new candidates do not already explain."""
    z = score_z(xr, y, p)
    out, at = [], 0
    for c in recuts:
        n = len(c["bands"])
        keep = [b for b, zz in zip(c["bands"], z[at:at + n]) if abs(zz) >= min_z]
        at += n + (1 if "else" in c else 0)
        if keep:
            out.append({k: v for k, v in c.items() if k != "else"} | {"bands": keep})
    return out
