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

from . import fitrules
from .evaluate import Evaluation
from .headers import LEADS_OUTPUTS
from .parse import to_number
from .rules import Rules
from .stats import auc, wilson
from .text import fold_series, key

MIN_HITS = 30            # below this many hits a rule's conversion is too noisy to read
LEAK_CONVERSION = 0.97   # a new rule converting this well is more likely a leak than a discovery
LEAK_AUC = 0.97
MAX_CATEGORIES = 30
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

def candidate_matrix(frame: pd.DataFrame, candidates: list[dict]) -> tuple[np.ndarray, list[slice]]:
    cols, slices = [], []
    for c in candidates:
        h = fitrules.hits(frame, {k: v for k, v in c.items() if not k.startswith("_")}, {c["field"]: c["_column"]})
        start = len(cols)
        for j in range(len(c["bands"])):
            cols.append(_indicator(len(frame), h.lead[h.band == j]))
        slices.append(slice(start, len(cols)))
    return (np.column_stack(cols) if cols else np.zeros((len(frame), 0))), slices
