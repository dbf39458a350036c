"""Fit and engagement scores, with the why-ledger: one row per lead per rule hit.

The kernel works on integer codes (lead position, rule code, day number, detail code) so a
million activities score in a fraction of a second; text is built only for the output.
Points are carried as integer hundredths so the ledger sums exactly to each score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..problems import SCORE_RANGE
from .rules import fitrules
from .rules.fitrules import cents
from .rules.model import Rules
from .rules.operators import glob_mask

LEDGER_COLUMNS = ["Lead ID", "Rule", "Kind", "Matched", "Count", "Raw points", "Decay factor", "Cap", "Points"]
_INT_COLS = ["lead", "rule", "count", "raw_c", "cap_c", "points_c"]
NO_LIMIT = np.iinfo(np.int64).max


@dataclass(frozen=True)
class RuleTable:
    """Every rule that can appear in the ledger, by integer code."""

    names: np.ndarray
    kinds: np.ndarray
    labels: np.ndarray
    points: np.ndarray       # points of one hit
    max_count: np.ndarray
    max_points: np.ndarray
    fit: int                 # codes [0, fit) are fit rules
    types: list[str]         # activity types, codes [fit, fit + len(types))
    clip: int                # code of the score-range clip row
    tags: list[str]          # interest tags, by code

    @classmethod
    def of(cls, rules: Rules) -> RuleTable:
        names, kinds, labels, pts, mc, mp = [], [], [], [], [], []
        for r in rules.fit:
            names.append(r["id"]), kinds.append("fit"), labels.append(r["id"]), pts.append(r.get("points", 0))
            mc.append(1), mp.append(np.inf)
        for t, spec in rules.activities.items():
            names.append(f"activity:{t}"), kinds.append("activity"), labels.append(spec.get("label", t))
            pts.append(spec["points"]), mc.append(spec.get("max_count", NO_LIMIT)), mp.append(spec.get("max_points", np.inf))
        for page in rules.pages:
            names.append(page["id"]), kinds.append("page"), labels.append(page["match"])
            pts.append(page.get("points", 0)), mc.append(page.get("max_count", NO_LIMIT)), mp.append(page.get("max_points", np.inf))
        names.append("override"), kinds.append("override"), labels.append("Overrides sheet"), pts.append(0)
        mc.append(NO_LIMIT), mp.append(np.inf)
        names.append("score-base"), kinds.append("base"), labels.append("score.base"), pts.append(rules.base)
        mc.append(1), mp.append(np.inf)
        names.append(SCORE_RANGE), kinds.append("clip"), labels.append(""), pts.append(0), mc.append(1), mp.append(np.inf)
        return cls(np.array(names, dtype=object), np.array(kinds, dtype=object), np.array(labels, dtype=object),
                   np.asarray(pts, dtype=float), np.asarray(mc, dtype=np.int64), np.asarray(mp, dtype=float),
                   len(rules.fit), list(rules.activities), len(names) - 1,
                   sorted({t for p in rules.pages for t in p.get("tags", [])}))

    @property
    def base(self) -> int:
        """Code of the score-base row (just before the clip row)."""
        return self.clip - 1

    @property
    def override(self) -> int:
        """Code of the manual overrides' rows (just before the score-base row)."""
        return self.clip - 2


def decay_factor(age_days: np.ndarray, decay: dict | None) -> np.ndarray:
    """Multiplier of an activity's points by its age in days at the as-of date."""
    age = np.asarray(age_days, dtype=float)
    if not decay:
        return np.ones_like(age)
    if "half_life_days" in decay:
        return np.power(0.5, age / float(decay["half_life_days"]))
    if "linear" in decay:
        lin = decay["linear"]
        steps = np.floor(age / float(lin["every_days"]))
        return np.clip(1.0 - steps * float(lin["percent"]) / 100.0, 0.0, 1.0)
    if "window_days" in decay:
        return (age <= float(decay["window_days"])).astype(float)
    return np.ones_like(age)


def empty_ledger() -> pd.DataFrame:
    frame = pd.DataFrame({c: np.zeros(0, dtype=np.int64) for c in _INT_COLS})
    frame["factor"] = np.zeros(0)
    frame["matched"] = pd.Series(np.zeros(0, dtype=object), dtype=object)
    return frame


def fit_hits(leads: pd.DataFrame, rules: Rules, fields: dict[str, dict[str, str]], views: dict | None = None) -> pd.DataFrame:
    """Ledger rows of the fit rules (each fires at most once per lead); `lead` is the row position.

    `fields` maps each rule id to {field it reads: DataFrame column}; rules without one are skipped;
    `views`: each column's values as the rules read them, shared (fitrules.field_values).
    """
    parts = []
    for code, rule in enumerate(rules.fit):
        cols = fields.get(rule["id"])
        if cols is None:
            continue
        h = fitrules.hits(leads, rule, cols, views)
        if not len(h.lead):
            continue
        parts.append(pd.DataFrame({"lead": h.lead, "rule": code, "count": h.count, "raw_c": h.raw_c,
                                   "cap_c": h.points_c - h.raw_c, "points_c": h.points_c, "factor": 1.0,
                                   "matched": pd.Series(h.matched, dtype=object)}))
    return pd.concat(parts, ignore_index=True) if parts else empty_ledger()


def base_rows(n: int, table: RuleTable) -> pd.DataFrame:
    """One score-base ledger row per lead (none when the base is 0)."""
    p = int(cents(table.points[table.base]))
    if p == 0 or n == 0:
        return empty_ledger()
    return pd.DataFrame({"lead": np.arange(n), "rule": table.base, "count": 1, "raw_c": p, "cap_c": 0, "points_c": p,
                         "factor": 1.0, "matched": pd.Series(np.full(n, "every lead", dtype=object), dtype=object)})


def engagement_hits(lead: np.ndarray, type_code: np.ndarray, day: np.ndarray, detail_code: np.ndarray,
                    detail_text: np.ndarray, rules: Rules, table: RuleTable, as_of_day: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ledger rows of activity types and page rules, and the tags each lead matched.

    One entry per activity: lead (position of the lead), type_code (index in rules.activities),
    day (days since 1970-01-01), detail_code (index into detail_text, the folded distinct Details,
    -1 for none). Only activities on or before the as-of day are scored.
    """
    empty_tags = pd.DataFrame({"lead": np.zeros(0, dtype=np.int64), "tag": np.zeros(0, dtype=np.int64)})
    age = as_of_day - day
    factor = decay_factor(age, rules.decay)
    keep = (age >= 0) & (factor > 0)     # future activities and fully decayed ones count nothing
    if not keep.all():
        lead, type_code, day, detail_code, factor = lead[keep], type_code[keep], day[keep], detail_code[keep], factor[keep]
    if len(lead) == 0:
        return empty_ledger(), empty_tags
    rule = type_code + table.fit
    # Activities past their type's max_count earn no page points either.
    counted_type = _within_max_count(lead, rule, day, table.max_count)

    hit_lead, hit_rule, hit_day, hit_factor, hit_detail = [lead], [rule], [day], [factor], [detail_code]
    tag_lead, tag_code = [], []
    folded = pd.Series(detail_text, dtype=object)
    first_page = table.fit + len(table.types)
    for k, page in enumerate(rules.pages):
        per_detail = np.append(glob_mask(folded, page["match"]).to_numpy(bool), False)  # code -1 -> no match
        mask = per_detail[detail_code] & counted_type
        allowed = page.get("activity")
        if allowed:
            allowed = [allowed] if isinstance(allowed, str) else allowed
            mask &= np.isin(type_code, [table.types.index(a) for a in allowed if a in table.types])
        if mask.any():
            hit_lead.append(lead[mask])
            hit_rule.append(np.full(int(mask.sum()), first_page + k, dtype=np.int64))
            hit_day.append(day[mask]), hit_factor.append(factor[mask]), hit_detail.append(detail_code[mask])
            for tag in page.get("tags", []):
                tag_lead.append(lead[mask]), tag_code.append(np.full(len(hit_lead[-1]), table.tags.index(tag), dtype=np.int64))

    lead_c, rule_c = np.concatenate(hit_lead), np.concatenate(hit_rule)
    days, fac, det = np.concatenate(hit_day), np.concatenate(hit_factor), np.concatenate(hit_detail)
    unit_c = cents(table.points)[rule_c]
    pts_c = np.rint(unit_c * fac).astype(np.int64)
    # The activity rows' max_count ranks are counted_type's; only the page hits are ranked here.
    n_act = len(lead)
    within = np.concatenate([counted_type, _within_max_count(lead_c[n_act:], rule_c[n_act:], days[n_act:], table.max_count)])
    kept_c = np.where(within, pts_c, 0)

    n_rules = len(table.names)
    group = lead_c * n_rules + rule_c
    uniq, inverse = _pair_codes(group)
    count = np.bincount(inverse, minlength=len(uniq))
    decayed = np.bincount(inverse, weights=pts_c, minlength=len(uniq)).round().astype(np.int64)
    kept = np.bincount(inverse, weights=kept_c, minlength=len(uniq)).round().astype(np.int64)
    mean_fac = np.bincount(inverse, weights=fac, minlength=len(uniq)) / count
    newest = _newest(inverse, len(uniq), days, det)
    text = np.append(detail_text, "").astype(object)
    ledger = group_ledger(uniq // n_rules, uniq % n_rules, count, decayed, kept, mean_fac, text[newest], table)
    tags = (pd.DataFrame({"lead": np.concatenate(tag_lead), "tag": np.concatenate(tag_code)}) if tag_lead
            else empty_tags)
    return ledger, tags


def _pair_codes(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (lead, rule) keys in key order and each hit's position among them, as
    np.unique(group, return_inverse=True) gives them. A counting pass over the keys' range is a few
    times faster than sorting or hashing a million keys; it is used while that range (leads × rules)
    is at most 8 keys per hit, so its memory stays bounded by the hits' own."""
    span = int(group.max()) + 1
    if span > 8 * len(group):
        return np.unique(group, return_inverse=True)
    seen = np.zeros(span, dtype=bool)
    seen[group] = True
    return np.flatnonzero(seen), (np.cumsum(seen) - 1)[group]


def group_ledger(lead: np.ndarray, r: np.ndarray, count: np.ndarray, decayed: np.ndarray, kept: np.ndarray,
                 mean_fac: np.ndarray, newest_text: np.ndarray, table: RuleTable) -> pd.DataFrame:
    """Ledger rows from per-(lead, rule) sums, whichever engine summed them (pandas, DuckDB, Spark).

    decayed: sum of every hit's decayed points (hundredths); kept: the same over the hits within
    max_count; mean_fac: mean decay factor; newest_text: folded Detail of the most recent hit.
    """
    count = np.asarray(count, dtype=np.int64)
    cap = cents(np.minimum(table.max_points, 1e15))[r]
    final = np.clip(kept, -cap, cap)
    raw = count * unit_c_of(table, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = np.where(raw != 0, decayed / np.where(raw == 0, 1, raw), mean_fac)
    matched = np.where((table.kinds == "page")[r], newest_text, table.labels[r])
    return pd.DataFrame({"lead": lead, "rule": r, "count": count, "raw_c": raw,
                         "cap_c": final - decayed, "points_c": final, "factor": np.round(shown, 4),
                         "matched": pd.Series(matched, dtype=object)}, copy=False)    # rows copied once, by totals_step's concat


def page_tags(ledger: pd.DataFrame, rules: Rules, table: RuleTable) -> pd.DataFrame:
    """(lead, tag, n): how many hits of each lead's page rules carry each interest tag."""
    first_page = table.fit + len(table.types)
    parts = []
    for k, page in enumerate(rules.pages):
        rows = ledger[ledger["rule"].to_numpy() == first_page + k]
        for tag in page.get("tags", []):
            parts.append(pd.DataFrame({"lead": rows["lead"].to_numpy(), "tag": table.tags.index(tag),
                                       "n": rows["count"].to_numpy()}))
    if not parts:
        return pd.DataFrame({"lead": np.zeros(0, dtype=np.int64), "tag": np.zeros(0, dtype=np.int64), "n": np.zeros(0, dtype=np.int64)})
    return pd.concat(parts, ignore_index=True)


def unit_c_of(table: RuleTable, codes: np.ndarray) -> np.ndarray:
    return cents(table.points)[codes]


def _within_max_count(lead: np.ndarray, rule: np.ndarray, day: np.ndarray, max_count: np.ndarray) -> np.ndarray:
    """True for the hits that count: each (lead, rule)'s max_count most recent (all when no limit).

    Only hits of rules that have a limit are sorted; ties on the same day keep input order.
    """
    limit = max_count[rule]
    counted = np.ones(len(lead), dtype=bool)
    sub = np.flatnonzero(limit < NO_LIMIT)
    if len(sub) == 0:
        return counted
    group = lead[sub].astype(np.int64) * (int(rule.max()) + 1) + rule[sub]
    # Hits of a (lead, rule) with no more hits than its limit all count: only the others are sorted
    # (the same ranks, as a stable sort keeps the order of the hits it leaves out).
    span = int(group.max()) + 1
    if span <= 8 * len(group):        # hits per key counted over the keys' range (bounded as in _pair_codes)
        per_key = np.bincount(group, minlength=span)[group]
    else:
        _, inverse, counts = np.unique(group, return_inverse=True, return_counts=True)
        per_key = counts[inverse]
    over = per_key > limit[sub]
    if not over.any():
        return counted
    sub, group = sub[over], group[over]
    composite = (group << 32) | (np.int64(2**31) - day[sub].astype(np.int64))
    order = np.argsort(composite, kind="stable")
    g = group[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    idx = np.arange(len(order))
    rank = idx - np.maximum.accumulate(np.where(new_group, idx, 0))
    counted[sub[order]] = rank < limit[sub[order]]
    return counted


def _newest(group: np.ndarray, n_groups: int, day: np.ndarray, value: np.ndarray) -> np.ndarray:
    """value of each group's most recent hit (the first one in input order on a tie)."""
    n = len(group)
    span = int(np.abs(day).max(initial=0)) + 1 if n else 1
    if n and span < (1 << 62) // (2 * n):
        # One key per hit, largest for the newest day and, on a tie, the earliest hit: one maximum per group.
        key = day.astype(np.int64) * n + (n - 1 - np.arange(n, dtype=np.int64))
        best = np.full(n_groups, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(best, group, key)
        return value[(n - 1) - best % n]
    latest = np.full(n_groups, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, group, day)
    first = np.full(n_groups, len(group), dtype=np.int64)
    at_latest = np.flatnonzero(day == latest[group])
    np.minimum.at(first, group[at_latest], at_latest)
    return value[first]


def finish_ledger(ledger: pd.DataFrame, ids, table: RuleTable) -> pd.DataFrame:
    """Public ledger, in lead order then fit, activity, page, override, base, clip. ids: each lead's id (an array;
    the Lead ID column keeps its type: Arrow text stays Arrow, and Parquet writes it without Python strings)."""
    r = ledger["rule"].to_numpy()
    order = np.argsort(ledger["lead"].to_numpy().astype(np.int64) * len(table.names) + r, kind="stable")   # as np.lexsort((rule, lead))
    r = r[order]

    def col(name: str) -> np.ndarray:
        return ledger[name].to_numpy()[order]
    kinds = ["fit", "activity", "page", "override", "base", "clip"]
    kind_code = np.array([kinds.index(k) for k in table.kinds], dtype=np.int8)
    return pd.DataFrame({
        "Lead ID": pd.Series(ids[col("lead")]),
        "Rule": pd.Categorical.from_codes(r, categories=pd.Index(table.names, dtype=object)),
        "Kind": pd.Categorical.from_codes(kind_code[r], categories=kinds),
        "Matched": pd.Series(ledger["matched"].to_numpy(object)[order], dtype=object),
        "Count": col("count"),
        "Raw points": col("raw_c") / 100,
        "Decay factor": col("factor"),
        "Cap": col("cap_c") / 100,
        "Points": col("points_c") / 100,
    }, copy=False)       # fresh arrays: no copy into one block per dtype
