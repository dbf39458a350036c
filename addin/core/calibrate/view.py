"""How a Calibration reads: text lines for the CLI, JSON for machines, rows for the Calibration sheet.

Decided once, so `leadq calibrate` and the Excel macro say the same thing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .fit import Calibration

CALIBRATION = "Calibration"


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def _num(v, fmt="{:.3f}") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def _pts(v) -> str:
    if v is None:
        return "(none)"
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def headline(cal: Calibration) -> list[str]:
    c, m = cal.counts, cal.metrics
    lines = [f"outcome: {cal.outcome} — {c['closed']} leads with an outcome ({c['won']} won, {c['lost']} lost); "
             f"{c['left_out']} still open, left out"
             + (f"; {c['not_understood']} outcomes not understood, left out" if c["not_understood"] else ""),
             f"held out: {m['test']} of them ({m['test_won']} won), {m.get('split', 'stratified and seeded')}; the points "
             f"were fitted on the other {m['train']}"]
    return lines + [f"warning: {w}" for w in cal.warnings]


def report_rows(cal: Calibration) -> list[list]:
    """The per-rule table (header first): hits, conversions, lift, Wilson interval, warning."""
    r = cal.report
    rows = [["Rule", "Kind", "Points now", "Hits", "Won", "Conversion when hit", "Conversion when not", "Lift",
             "95% low", "95% high", "Warning"]]
    for t in r.itertuples(index=False):       # one row per rule: a few dozen at most
        rows.append([t.Rule, t.Kind, t.Points, int(t.Hits), int(t._4), _f(t._5), _f(t._6), _f(t.Lift),
                     _f(t._8), _f(t._9), t.Warning])
    return rows


def _f(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def sorted_changes(cal: Calibration) -> tuple[list[dict], list[str]]:
    """(the changes that change something, biggest effect first — thresholds lead; names of rules kept as they are)."""
    moved = [ch for ch in cal.changes if ch["old"] != ch["new"] or (ch.get("note") and "kept" not in ch["note"])]
    kept = [ch["what"] for ch in cal.changes if ch not in moved]
    moved.sort(key=lambda ch: -float("inf") if ch.get("effect") is None else -float(ch["effect"]))
    return moved, kept


def confusion_lines(cal: Calibration) -> list[str]:
    m = cal.metrics
    out = [f"{'at the MQL threshold':<22} {'MQL & won':>10} {'MQL & lost':>11} {'not & won':>10} {'not & lost':>11} "
           f"{'precision':>9} {'recall':>7} {'F1':>5}"]
    for name, cm in (("current", m.get("confusion_current")), ("suggested", m.get("confusion_suggested"))):
        if cm:
            out.append(f"{name + ' (' + format(cm['threshold'], 'g') + ')':<22} {cm['tp']:>10} {cm['fp']:>11} {cm['fn']:>10} "
                       f"{cm['tn']:>11} {_pct(cm['precision']):>9} {_pct(cm['recall']):>7} {_num(cm['f1'], '{:.2f}'):>5}")
    return out


def calibration_lines(cal: Calibration) -> list[str]:
    """The text report of `leadq calibrate`, top-down: the verdict, the changes, then the evidence."""
    m, th = cal.metrics, cal.threshold
    out = headline(cal)
    out += ["", f"Measured on the held-out part ({m['test']} leads, {m['test_won']} won)",
            f"{'':<16} {'ROC AUC':>8} {'Brier':>7}",
            f"{'current rules':<16} {_num(m['auc_current']):>8} {_num(m['brier_current']):>7}",
            f"{'suggested rules':<16} {_num(m['auc_suggested']):>8} {_num(m['brier_suggested']):>7}",
            f"(the fitted model before rounding to points: AUC {_num(m['auc_model'])}; Brier of always guessing the "
            f"base rate: {_num(m['brier_base_rate'])}; on the training part: AUC {_num(m['auc_current_train'])} now, "
            f"{_num(m['auc_suggested_train'])} suggested)"]
    out += confusion_lines(cal)
    out += ["", f"Scale: every {m['points_per_doubling']:g} points double a lead's odds of converting; a score of "
                f"{m['anchor_score']:.0f} is the odds of the average lead ({_pct(m['base_rate'])} convert)"]
    moved, kept = sorted_changes(cal)
    out += ["", "Suggested changes (biggest effect first)"]
    for ch in moved:
        note = f"  — {ch['note']}" if ch.get("note") else ""
        out.append(f"  {ch['what']:<40} {_pts(ch['old']):>6} → {_pts(ch['new'])}{note}")
    if kept:
        out.append(f"  {len(kept)} unchanged: " + ", ".join(w.replace("fit ", "") for w in kept[:12])
                   + (f" … (+{len(kept) - 12})" if len(kept) > 12 else ""))
    out.append(f"  with the MQL threshold at {th['mql']}: {_pct(th['share'])} of all leads score at or above it; on the held-out part "
               f"{th['holdout_mqls']} MQLs, {_pct(th['holdout_precision'])} of them won, "
               f"{_pct(th['holdout_recall'])} of the won deals among them")
    if th.get("mqls_per_week") is not None:
        out.append(f"  ({th['leads_per_week']:.1f} leads arrive a week, so about {th['mqls_per_week']:.1f} MQLs a week)")
    if th.get("note"):
        out.append(f"  note: {th['note']}")
    if cal.leaks:
        out += ["", "Suspected leaks (too good to be true: a whole column is left out unless --keep COLUMN; "
                    "if it is filled in after contact, add it to --exclude)"]
        out += [f"  {lk['field']}{' = ' + repr(lk['value']) if lk.get('value') else ''}: {lk['why']}" for lk in cal.leaks]
    rows = report_rows(cal)[1:]
    silent = [row[0] for row in rows if not row[3]]
    out += ["", "Rules against outcomes (every lead with an outcome)",
            f"{'rule':<30} {'kind':<8} {'pts':>5} {'hits':>5} {'won':>4} {'conv hit':>8} {'not hit':>8} {'lift':>5}  "
            f"{'95% Wilson':<11} warning"]
    for row in rows:
        rule, kind, pts, hits, won, ch, cn, lift, lo, hi, warn = row
        if not hits:
            continue
        wil = f"{_pct(lo)}–{_pct(hi)}" if lo is not None else "–"
        out.append(f"{str(rule)[:30]:<30} {kind:<8} {pts:>5g} {hits:>5} {won:>4} {_pct(ch):>8} {_pct(cn):>8} "
                   f"{_num(lift, '{:.2f}'):>5}  {wil:<11} {warn}")
    if silent:
        out.append(f"{len(silent)} rules with no hits among the leads with an outcome: " + ", ".join(map(str, silent[:15]))
                   + (f" … (+{len(silent) - 15})" if len(silent) > 15 else ""))
    out += ["", "Calibration of the suggested score (held-out)",
            f"{'score band':<12} {'leads':>6} {'won':>5} {'observed':>9} {'predicted':>10}   {'current: leads':>14} {'observed':>9}"]
    for t in cal.calibration.itertuples(index=False):
        out.append(f"{t.Band:<12} {t.Leads:>6} {t.Won:>5} {_pct(t.Observed):>9} {_pct(t.Predicted):>10}   "
                   f"{t._1:>14} {_pct(t._2):>9}")
    g = cal.gain
    picks = [i for i, x in enumerate(g["Leads contacted"]) if round(x, 2) in (0.1, 0.2, 0.3, 0.5)]
    out += ["", "Gain (held-out): share of the won deals among the top leads",
            "  " + "; ".join(f"top {g['Leads contacted'][i]:.0%}: {g['Suggested'][i]:.0%} (now {g['Current'][i]:.0%})" for i in picks)]
    from ...problems import grouped
    for p in grouped(cal.problems)[:10]:
        out.append(f"data: {p}")
    return out


def calibration_json(cal: Calibration) -> dict:
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return None if math.isnan(v) else float(v)
        return v

    def records(df: pd.DataFrame):
        return clean(df.to_dict(orient="records"))
    return clean({"outcome": cal.outcome, "counts": cal.counts, "metrics": cal.metrics, "threshold": cal.threshold,
                  "report": records(cal.report), "changes": cal.changes, "calibration": records(cal.calibration),
                  "gain": records(cal.gain), "new_rules": cal.new_rules, "leaks": cal.leaks, "warnings": cal.warnings,
                  "contradictions": cal.contradictions,
                  "holdout_ids": cal.holdout_ids, "suggested": cal.suggested,
                  "problems": [p.as_dict() for p in cal.problems]})


def sheet_blocks(cal: Calibration) -> tuple[list[list], dict]:
    """The Calibration sheet as rows of values (from A1), and where its gain chart reads and sits.

    The chart spec: {"data": (first row, last row) of the gain block (columns A–D, header included),
    "anchor": (row, column) of its top-left corner}.
    """
    m = cal.metrics
    rows: list[list] = [["LeadQ — Calibration: points learnt from outcomes"]]
    rows += [[line] for line in headline(cal)]
    rows += [[], ["Measured on the held-out part", "ROC AUC", "Brier"],
             ["Current rules", _f(m["auc_current"]), _f(m["brier_current"])],
             ["Suggested rules", _f(m["auc_suggested"]), _f(m["brier_suggested"])],
             ["Model before rounding", _f(m["auc_model"]), None], []]
    rows += [[line] for line in confusion_lines(cal)]
    rows += [[], ["Suggested changes", "Now", "Suggested", "Why"]]
    moved, kept = sorted_changes(cal)
    rows += [[ch["what"], _cell(ch["old"]), _cell(ch["new"]), ch.get("note", "")] for ch in moved]
    if kept:
        rows.append([f"{len(kept)} unchanged", None, None, ", ".join(kept)])
    rows += [[], ["Calibration (held-out)", "Leads", "Won", "Observed", "Predicted", "Leads (current)", "Observed (current)"]]
    rows += [[t.Band, t.Leads, t.Won, _f(t.Observed), _f(t.Predicted), t._1, _f(t._2)]
             for t in cal.calibration.itertuples(index=False)]
    rows += [[]] + report_rows(cal)
    if cal.leaks:
        rows += [[], ["Likely leaks (left out)", "Value", "Why"]]
        rows += [[lk["field"], lk.get("value", ""), lk["why"]] for lk in cal.leaks]
    rows += [[]]
    first = len(rows) + 1
    rows.append(["Gain (held-out): leads contacted", "Suggested", "Current", "Random"])
    rows += [[float(a), float(b), float(c), float(d)] for a, b, c, d in
             cal.gain[["Leads contacted", "Suggested", "Current", "Random"]].itertuples(index=False)]
    return rows, {"data": (first, len(rows)), "anchor": (first, 6)}


def _cell(v):
    return v if isinstance(v, (int, float, str)) or v is None else str(v)
