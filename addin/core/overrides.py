"""Manual overrides: what a rep knows that no rule sees, with a reason, an author and an end date.

The *Overrides* sheet (a LeadQ-recognised input: Lead ID, Kind, Value, Reason, Author, Until)
holds one override a row. Three kinds:

- ``points``: points added to (or taken from) the score, as a ledger row of its own
  (``override: +15 — "CFO called" — Léa, until 2027-01-31``), so the ledger still sums to the score;
- ``stage``: the lead's stage, whatever the rules say (a 0-point ledger row says so);
- ``probability``: the win probability of the lead's open deal (0.6, 60 % or 60), beating the
  pipeline stage's and a Probability typed on Leads.

An override with no reason is refused (the Reason cell is named); one whose Until date is before
the as-of date is ignored and listed; a blank Until means no end. Pure: frames in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import Problem, ProblemLog
from ..problems import (
    OVERRIDE_BAD_DATE,
    OVERRIDE_BAD_KIND,
    OVERRIDE_BAD_VALUE,
    OVERRIDE_EXPIRED,
    OVERRIDE_NO_REASON,
    OVERRIDE_SHEET_NOT_READ,
    OVERRIDE_SUPERSEDED,
    OVERRIDE_UNKNOWN_LEAD,
)
from .model import lead_keys
from .values.headers import LEAD_ID, canonicalize
from .values.parse import blank_mask, read_dates, to_number
from .values.text import did_you_mean, key
from .values.vocabulary import DISQUALIFIED, STAGES

SHEET = "Overrides"
COLUMNS = [LEAD_ID, "Kind", "Value", "Reason", "Author", "Until"]
POINTS, STAGE, PROBABILITY = "points", "stage", "probability"
KINDS = [POINTS, STAGE, PROBABILITY]
_KIND_WORDS = {"points": POINTS, "point": POINTS, "pts": POINTS, "score": POINTS, "stage": STAGE, "etape": STAGE,
               "probability": PROBABILITY, "probabilite": PROBABILITY, "prob": PROBABILITY}


@dataclass
class Overrides:
    """The overrides in force, by lead position (each array aligned with its `*_lead`)."""

    points_lead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    points_c: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))    # hundredths of a point
    points_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    stage_lead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stage: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))         # stage keys
    stage_reason: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    stage_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    prob_lead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    probability: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=float))
    prob_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    expired: int = 0

    @property
    def count(self) -> int:
        return len(self.points_lead) + len(self.stage_lead) + len(self.prob_lead)


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(~blank_mask(series), "").astype(str).str.strip()


def _stage_lookup(rules) -> dict[str, str]:
    """Folded stage key or label -> stage key."""
    out = {key(s): s for s in STAGES}
    out.update({key(rules.stage_label(s)): s for s in STAGES})
    return out


def parse_probability(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """0.6, '60 %', '60' -> 0.6; returns (values, bad mask). Above 1 is read as a percentage."""
    text = values.astype(object).map(lambda v: v.replace("%", "") if isinstance(v, str) else v)
    num, bad = to_number(pd.Series(text.to_numpy(object), index=values.index))
    pct = values.astype(object).map(lambda v: isinstance(v, str) and "%" in v).to_numpy(bool)
    x = num.to_numpy(float)
    x = np.where(pct | (x > 1), x / 100, x)
    bad = bad.to_numpy(bool) | np.isnan(x) | (x < 0) | (x > 1)
    return x, bad


def _fmt_points(c: np.ndarray) -> np.ndarray:
    return np.array([f"{v / 100:+g}" for v in c], dtype=object)


def read_overrides(frame: pd.DataFrame | None, origin, lead_ids: np.ndarray, rules, as_of: pd.Timestamp,
                   date_order: str, log: ProblemLog) -> Overrides:
    """The overrides of the Overrides sheet that apply at `as_of`, by position in `lead_ids` (the
    kept leads' keys). origin: where the frame's rows came from (evaluate.Origin), for problems."""
    if frame is None or frame.shape[1] == 0:
        return Overrides()
    data, hmap = canonicalize(frame, SHEET)
    missing = [c for c in (LEAD_ID, "Kind", "Value", "Reason") if c not in data.columns]
    if missing:
        cols = ", ".join(f'"{c}"' for c in missing)
        log.add(Problem(OVERRIDE_SHEET_NOT_READ, origin.header_ref,
                        f"the {SHEET} sheet has no {cols} column: it is not read as LeadQ overrides — head it "
                        f"{', '.join(COLUMNS)} (or rename the sheet if it is yours)", "warning", sheet=origin.sheet))
        return Overrides()
    letters = {c: origin.letters.get(hmap.columns.get(c, c), "?") for c in data.columns}
    real = {c: hmap.columns.get(c, c) for c in data.columns}

    def report(code, mask, column, message_of, severity="warning"):
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        keep = log.room(code)
        for p in positions[:keep]:
            p = int(p)
            row = int(origin.rows[p]) if p < len(origin.rows) else p + 2
            cell = f"{letters.get(column, '?')}{row}"
            log.add(Problem(code, f'{origin.sheet}!{cell} (column "{real.get(column, column)}")', message_of(p), severity,
                            sheet=origin.sheet, row=row, column=str(real.get(column, column)), cell=cell))
        log.count(code, len(positions) - min(keep, len(positions)))

    empty = pd.Series([""] * len(data), index=data.index, dtype=object)
    ids = lead_keys(data[LEAD_ID])
    kind_raw = _text(data["Kind"])
    value = data["Value"]
    reason = _text(data["Reason"])
    author = _text(data["Author"]) if "Author" in data.columns else empty
    blank_row = (ids == "").to_numpy() & (kind_raw == "").to_numpy() & blank_mask(value).to_numpy() & (reason == "").to_numpy()
    live = ~blank_row

    kind = kind_raw.map(lambda s: _KIND_WORDS.get(key(s), "")).to_numpy(object)
    kvals = kind_raw.to_numpy(object)
    bad_kind = live & (kind == "")
    report(OVERRIDE_BAD_KIND, bad_kind, "Kind",
           lambda p: f'kind "{kvals[p]}" is not one of points, stage, probability; the override is ignored')
    no_id = live & ~bad_kind & (ids == "").to_numpy()
    report(OVERRIDE_UNKNOWN_LEAD, no_id, LEAD_ID, lambda p: "no Lead ID; the override is ignored")
    pos_of = pd.Index(pd.Series(lead_ids, dtype=object))
    lead_pos = pos_of.get_indexer(ids.to_numpy(object))
    idvals = ids.to_numpy(object)
    unknown = live & ~bad_kind & ~no_id & (lead_pos < 0)
    known = list(lead_ids[:50000])
    report(OVERRIDE_UNKNOWN_LEAD, unknown, LEAD_ID,
           lambda p: f'no lead "{idvals[p]}" on Leads{did_you_mean(str(idvals[p]), known)}; the override is ignored')
    ok = live & ~bad_kind & ~no_id & ~unknown

    no_reason = ok & (reason == "").to_numpy()
    report(OVERRIDE_NO_REASON, no_reason, "Reason",
           lambda p: "an override needs a reason (what the rep knows, e.g. \"CFO called\"); it is refused until one "
                     "is typed here", "error")
    ok &= ~no_reason

    if "Until" in data.columns:
        until_raw = data["Until"]
        dates = read_dates(until_raw, date_order)
        until = dates.dates
        uvals = until_raw.array
        bad_date = ok & dates.bad.to_numpy(bool)
        report(OVERRIDE_BAD_DATE, bad_date, "Until",
               lambda p: f'"{uvals[p]}" is not a date; the override is ignored — type its end date, or leave it blank '
                         'for none')
        ok &= ~bad_date
    else:
        until = pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns]")
    until_day = until.dt.strftime("%Y-%m-%d").fillna("").to_numpy(object)
    expired = ok & (until < as_of).fillna(False).to_numpy(bool)

    # Each kind's value.
    pts, bad_pts = to_number(value)
    is_pts = kind == POINTS
    prob, bad_prob = parse_probability(value)
    is_prob = kind == PROBABILITY
    lookup = _stage_lookup(rules)
    stage = _text(value).map(lambda s: lookup.get(key(s), "")).to_numpy(object)
    is_stage = kind == STAGE
    vals = value.array
    bad_value = ok & ((is_pts & (bad_pts.to_numpy(bool) | pts.isna().to_numpy())) | (is_prob & bad_prob)
                      | (is_stage & (stage == "")))
    labels = [rules.stage_label(s) for s in STAGES]
    report(OVERRIDE_BAD_VALUE, bad_value, "Value", lambda p: (
        f'"{vals[p]}" is not a number of points' if kind[p] == POINTS else
        f'"{vals[p]}" is not a probability (0.6, 60 % or 60)' if kind[p] == PROBABILITY else
        f'"{vals[p]}" is not a stage ({", ".join(labels)}){did_you_mean(str(vals[p]), labels)}') +
        "; the override is ignored")
    ok &= ~bad_value

    # What each override says, as its ledger row shows it: +15 — "CFO called" — Léa, until 2027-01-31
    who = np.where(author.to_numpy(object) != "", " — " + author.to_numpy(object), "")
    end = np.where(until_day != "", np.where(who != "", ", until ", " — until ") + until_day, "")
    tail = ' — "' + reason.to_numpy(object) + '"' + who + end
    rvals = reason.to_numpy(object)
    report(OVERRIDE_EXPIRED, expired & ~bad_value, "Until",
           lambda p: f"override of {idvals[p]} ({kind[p]}{tail[p]}) ended on {until_day[p]}, before the as-of date; "
                     "it is ignored — move its date or delete the row", "info")
    ok &= ~expired
    n_expired = int((expired & ~bad_value).sum())
    del rvals

    out = Overrides(expired=n_expired)
    m = ok & is_pts
    c = np.round(pts.to_numpy(float)[m] * 100).astype(np.int64)
    out.points_lead, out.points_c = lead_pos[m].astype(np.int64), c
    out.points_text = (_fmt_points(c) + tail[m]).astype(object) if m.any() else np.zeros(0, dtype=object)
    # A stage or a probability: the lowest row of the sheet wins; the ones above it are reported.
    for which in (STAGE, PROBABILITY):
        m = ok & (kind == which)
        rows = np.flatnonzero(m)
        dup = pd.Series(lead_pos[rows]).duplicated(keep="last").to_numpy()
        shadow = np.zeros(len(m), dtype=bool)
        shadow[rows[dup]] = True
        report(OVERRIDE_SUPERSEDED, shadow, LEAD_ID,
               lambda p: f"a later {kind[p]} override of {idvals[p]} on this sheet wins; this one is ignored", "info")
        rows = rows[~dup]
        if which == STAGE:
            out.stage_lead, out.stage = lead_pos[rows].astype(np.int64), stage[rows]
            out.stage_reason = reason.to_numpy(object)[rows]
            out.stage_text = np.array([f"stage → {rules.stage_label(s)}" for s in stage[rows]], dtype=object) + tail[rows]
        else:
            out.prob_lead, out.probability = lead_pos[rows].astype(np.int64), prob[rows]
            out.prob_text = np.array([f"probability {p:.0%}" for p in prob[rows]], dtype=object) + tail[rows]
    return out


def apply_stage(stage: np.ndarray, reason: np.ndarray, ov: Overrides) -> tuple[np.ndarray, np.ndarray]:
    """The stages after the stage overrides (a Disqualified one takes the override's reason)."""
    if not len(ov.stage_lead):
        return stage, reason
    stage, reason = stage.copy(), reason.copy()
    stage[ov.stage_lead] = ov.stage
    dq = ov.stage == DISQUALIFIED
    reason[ov.stage_lead[dq]] = ov.stage_reason[dq]
    return stage, reason


def ledger_rows(ov: Overrides, code: int) -> pd.DataFrame:
    """One ledger row per override in force: points rows carry their points, stage and probability rows 0."""
    lead = np.concatenate([ov.points_lead, ov.stage_lead, ov.prob_lead]).astype(np.int64)
    pts = np.concatenate([ov.points_c, np.zeros(len(ov.stage_lead) + len(ov.prob_lead), dtype=np.int64)])
    text = np.concatenate([ov.points_text, ov.stage_text, ov.prob_text]).astype(object)
    return pd.DataFrame({"lead": lead, "rule": code, "count": 1, "raw_c": pts, "cap_c": 0, "points_c": pts,
                         "factor": 1.0, "matched": pd.Series(text, dtype=object)})
