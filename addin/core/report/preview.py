"""Rules preview: what a new rules.json would do to the same leads on the same as-of date.

Pure: two evaluations of the same data in, the comparison out — the stage transition matrix
(old × new), leads changing grade, the top movers with the rules that moved them, the score
distribution before and after, and warnings (e.g. many leads at the score maximum).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model import Evaluation
from ..values.vocabulary import MQL, REACH, STAGES

SHEET = "Rules preview"         # the sheet the preview_rules macro writes
MOVERS = 10
BANDS = 10                       # score distribution: ten equal bands over the score range
AT_MAX_WARNING = 0.10            # warn when at least this share of leads sits at the maximum


@dataclass
class Preview:
    transitions: pd.DataFrame            # rows: stage under the current rules, columns: under the new ones
    grades: pd.DataFrame                 # rows: grade now, columns: grade with the new rules (leads changing only)
    grade_changes: int
    movers: pd.DataFrame                 # Lead ID, Name, Score before/after, Change, Stage before/after, Ledger difference
    distribution: pd.DataFrame           # Band, Before, After
    warnings: list[str] = field(default_factory=list)
    stage_counts: pd.DataFrame = None    # Stage, Before, After, Change
    leads: int = 0

    def as_dict(self) -> dict:
        t = self.transitions
        return {
            "leads": self.leads,
            "stages": {s: {"before": int(r["Before"]), "after": int(r["After"]), "change": int(r["Change"])}
                       for s, r in self.stage_counts.set_index("Stage").iterrows()},
            "transitions": {a: {b: int(t.loc[a, b]) for b in t.columns if t.loc[a, b]} for a in t.index
                            if t.loc[a].sum()},
            "grade_changes": self.grade_changes,
            "grades": {a: {b: int(self.grades.loc[a, b]) for b in self.grades.columns if self.grades.loc[a, b]}
                       for a in self.grades.index if self.grades.loc[a].sum()},
            "movers": [{"lead_id": r["Lead ID"], "score_before": float(r["Before"]), "score_after": float(r["After"]),
                        "change": float(r["Change"]), "stage_before": r["Stage before"], "stage_after": r["Stage after"],
                        "ledger": r["Ledger difference"]} for _, r in self.movers.iterrows()],
            "distribution": [{"band": r["Band"], "before": int(r["Before"]), "after": int(r["After"])}
                             for _, r in self.distribution.iterrows()],
            "warnings": self.warnings,
        }


def _ledger_difference(old: Evaluation, new: Evaluation, ids: list[str]) -> dict[str, str]:
    """Per lead, the rules whose points differ: 'webinar +40 → +80; decision-maker +15 → +20'."""
    def points(ev):
        d = ev.details[ev.details["Lead ID"].isin(ids)]
        return d.assign(Rule=d["Rule"].astype(str)).groupby(["Lead ID", "Rule"])["Points"].sum()
    both = pd.concat({"old": points(old), "new": points(new)}, axis=1).fillna(0.0)
    both = both[(both["old"] - both["new"]).abs() > 1e-9]
    both = both.assign(d=(both["new"] - both["old"]).abs()).sort_values("d", ascending=False)
    out: dict[str, list[str]] = {}
    for (lead, rule), r in both.iterrows():         # the movers only: a handful of leads
        out.setdefault(lead, []).append(f"{rule.replace('activity:', '', 1)} {r['old']:+g} → {r['new']:+g}")
    return {k: "; ".join(v[:4]) + ("; …" if len(v) > 4 else "") for k, v in out.items()}


def compare(old: Evaluation, new: Evaluation, movers: int = MOVERS) -> Preview:
    """Compare two evaluations of the same leads (same data, same as-of date)."""
    a, b = old.context.reset_index(drop=True), new.context.reset_index(drop=True)
    n = len(a)
    transitions = pd.crosstab(pd.Categorical(a["Stage"], categories=STAGES),
                              pd.Categorical(b["Stage"], categories=STAGES), dropna=False)
    transitions.index.name, transitions.columns.name = "Current rules", "New rules"
    transitions = transitions.reindex(index=STAGES, columns=STAGES, fill_value=0)
    changed_grade = (a["Grade"].to_numpy(object) != b["Grade"].to_numpy(object))
    grades = pd.crosstab(a["Grade"][changed_grade], b["Grade"][changed_grade]) if changed_grade.any() else pd.DataFrame()
    before_counts = a["Stage"].value_counts()
    after_counts = b["Stage"].value_counts()
    stage_counts = pd.DataFrame({"Stage": STAGES, "Before": [int(before_counts.get(s, 0)) for s in STAGES],
                                 "After": [int(after_counts.get(s, 0)) for s in STAGES]})
    stage_counts["Change"] = stage_counts["After"] - stage_counts["Before"]

    change = b["Total"].to_numpy(float) - a["Total"].to_numpy(float)
    order = np.lexsort((a["Lead ID"].to_numpy(object).astype(str), -np.abs(change)))
    top = [i for i in order[:movers] if change[i] != 0]
    ids = a["Lead ID"].to_numpy(object)[top].tolist()
    ledger = _ledger_difference(old, new, ids)
    mv = pd.DataFrame({"Lead ID": ids, "Name": a["Name"].to_numpy(object)[top],
                       "Before": a["Score"].to_numpy(float)[top], "After": b["Score"].to_numpy(float)[top],
                       "Change": (b["Score"].to_numpy(float) - a["Score"].to_numpy(float))[top],
                       "Stage before": a["Stage"].to_numpy(object)[top], "Stage after": b["Stage"].to_numpy(object)[top],
                       "Ledger difference": [ledger.get(i, "") for i in ids], "Row": a["Row"].to_numpy()[top]})

    lo, hi = new.rules.score_range
    lo = 0.0 if lo is None else lo
    top_score = hi if hi is not None else max(float(a["Score"].max() if n else 0), float(b["Score"].max() if n else 0), 1)
    edges = np.linspace(lo, top_score, BANDS + 1)
    labels = [f"{edges[i]:g}–{edges[i + 1]:g}" if i < BANDS - 1 else f"{edges[i]:g}–{edges[i + 1]:g} (max)"
              for i in range(BANDS)]

    def bands(score):
        k = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, BANDS - 1)
        return np.bincount(k, minlength=BANDS)
    distribution = pd.DataFrame({"Band": labels, "Before": bands(a["Score"].to_numpy(float)),
                                 "After": bands(b["Score"].to_numpy(float))})

    warnings = []
    if n and hi is not None:
        share = float((b["Total"].to_numpy() >= hi).mean())
        old_hi = old.rules.score_range[1]
        was = float((a["Total"].to_numpy() >= old_hi).mean()) if old_hi is not None else 0.0
        if share >= AT_MAX_WARNING:
            warnings.append(f"{share:.0%} of leads now sit at the score maximum ({hi:g}; {was:.0%} before): the "
                            "ranking among them is lost on Score — raise score.max or lower the points")
    if n:
        mql_before = int(((a["Stage"] == MQL)).sum())
        mql_after = int(((b["Stage"] == MQL)).sum())
        if mql_before and abs(mql_after - mql_before) / mql_before >= 0.25:
            warnings.append(f"MQLs go from {mql_before} to {mql_after} ({(mql_after - mql_before) / mql_before:+.0%}): "
                            "tell sales before publishing these rules")
        reach = np.array([REACH[s] for s in STAGES])
        reach_a = reach[pd.Categorical(a["Stage"], categories=STAGES).codes]
        reach_b = reach[pd.Categorical(b["Stage"], categories=STAGES).codes]
        down = int((reach_b < reach_a).sum())
        if down:
            warnings.append(f"{down} lead{'s' * (down != 1)} would move back down the funnel")
    return Preview(transitions, grades, int(changed_grade.sum()), mv, distribution, warnings, stage_counts, n)


def render_text(p: Preview, label=lambda s: s) -> list[str]:
    """The preview as plain text lines (the CLI's output)."""
    out = [f"{p.leads} leads, same data and as-of date, current rules → new rules", "", "Stages:"]
    for _, r in p.stage_counts.iterrows():
        if r["Before"] or r["After"]:
            out.append(f"  {label(r['Stage']):<14} {r['Before']:>6} → {r['After']:<6} ({r['Change']:+d})")
    t = p.transitions
    used = [s for s in STAGES if t.loc[s].sum() or t[s].sum()]
    out += ["", "Transitions (rows: current rules, columns: new rules):",
            "  " + " " * 14 + "".join(f"{label(s)[:11]:>12}" for s in used)]
    for s in used:
        out.append(f"  {label(s)[:14]:<14}" + "".join(f"{int(t.loc[s, c]):>12}" for c in used))
    out += ["", f"Grade changes: {p.grade_changes}"]
    for g0 in p.grades.index:
        for g1 in p.grades.columns:
            if p.grades.loc[g0, g1]:
                out.append(f"  {g0} → {g1}: {int(p.grades.loc[g0, g1])}")
    out += ["", "Top movers:"]
    for _, r in p.movers.iterrows():
        out.append(f"  {r['Lead ID']:<10} {r['Before']:>6.1f} → {r['After']:<6.1f} ({r['Change']:+.1f}) "
                   f"{label(r['Stage before'])} → {label(r['Stage after'])}  {r['Ledger difference']}")
    out += ["", "Score distribution (before → after):"]
    for _, r in p.distribution.iterrows():
        out.append(f"  {r['Band']:<16} {r['Before']:>6} → {r['After']:<6}")
    if p.warnings:
        out += [""] + [f"warning: {w}" for w in p.warnings]
    return out


def sheet_rows(p: Preview, label=lambda s: s, title: str = SHEET) -> list[list]:
    """The preview as rows of cell values (the Rules preview sheet); section titles in capitals."""
    out: list[list] = [[title], [f"{p.leads} leads, same data and as-of date"], []]
    out += [["STAGES"], ["Stage", "Current rules", "New rules", "Change"]]
    out += [[label(r["Stage"]), int(r["Before"]), int(r["After"]), int(r["Change"])] for _, r in p.stage_counts.iterrows()]
    out += [[], ["TRANSITIONS (rows: current rules, columns: new rules)"], [""] + [label(s) for s in STAGES]]
    out += [[label(s)] + [int(p.transitions.loc[s, c]) for c in STAGES] for s in STAGES]
    out += [[], [f"GRADE CHANGES ({p.grade_changes})"], ["From", "To", "Leads"]]
    out += [[g0, g1, int(p.grades.loc[g0, g1])] for g0 in p.grades.index for g1 in p.grades.columns if p.grades.loc[g0, g1]]
    out += [[], ["TOP MOVERS"], ["Lead ID", "Name", "Score before", "Score after", "Change", "Stage before", "Stage after",
                                "Ledger difference"]]
    out += [[r["Lead ID"], r["Name"], float(r["Before"]), float(r["After"]), float(r["Change"]), label(r["Stage before"]),
             label(r["Stage after"]), r["Ledger difference"]] for _, r in p.movers.iterrows()]
    out += [[], ["SCORE DISTRIBUTION"], ["Band", "Current rules", "New rules"]]
    out += [[r["Band"], int(r["Before"]), int(r["After"])] for _, r in p.distribution.iterrows()]
    out += [[], ["WARNINGS"]] + ([[w] for w in p.warnings] or [["none"]])
    return out
