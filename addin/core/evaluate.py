"""evaluate(): leads + activities + qualification answers + rules -> scores, stages, ledger.

evaluate() runs named steps, each testable alone: read the leads, fit, engagement, totals,
checklist, stages, amounts, next actions, texts. Steps pass plain arrays aligned on the kept
leads (`_Leads.ids`), never per-row Python loops.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import Problem, ProblemLog, WorkbookError
from ..problems import (
    ACTIVITY_WITHOUT_LEAD,
    ANSWER_NOT_UNDERSTOOD,
    DATE_ORDER_CONFLICT,
    DATE_ORDER_GUESSED,
    DEAL_TITLE_NOT_JOB_TITLE,
    DUPLICATE_LEAD_ID,
    EMPTY_COLUMN,
    HEADER_CONFLICT,
    HEADER_NEAR_MISS,
    LEAD_ID_GUESSED,
    MAPPING_HEADER_MISSING,
    MISSING_ACTIVITY,
    MISSING_COLUMN,
    MISSING_CRITERION_COLUMN,
    MISSING_DATE,
    MISSING_LEAD_ID,
    NO_AMOUNT_COLUMN,
    NO_CONTACT_COLUMN,
    NOT_A_DATE,
    NOT_A_NUMBER,
    NOT_A_PROBABILITY,
    PROBABILITY_WITHOUT_DEAL,
    RULE_COLUMN_MISSING,
    SETTINGS_BAD_DATE,
    UNKNOWN_ACTIVITY,
    UNKNOWN_CRM_STATUS,
    UNKNOWN_DEAL_STAGE,
    UNKNOWN_DEAL_STAGES,
    UNKNOWN_LEAD,
)
from . import accounts
from .crm import apply_crm_status, has_contact
from .history import history_step, read_frame
from .model import Evaluation, Origin, lead_keys
from .overrides import SHEET as OVERRIDES
from .overrides import Overrides, apply_stage, parse_probability, read_overrides
from .overrides import ledger_rows as override_rows
from .privacy import consent_step, flag_status, retention_step, without_engagement
from .qualification import assess
from .rules import fitrules
from .rules.model import Rules, load_rules
from .scoring import LEDGER_COLUMNS, RuleTable, base_rows, cents, engagement_hits, finish_ledger, fit_hits
from .values.headers import LEAD_ID, RANK_WORDS, canonicalize, near_miss, suggest_mappings
from .values.parse import Dates, _one_date, blank_mask, date_value, read_dates, to_answer, to_number
from .values.text import arrow_text, category_codes, did_you_mean, fold_series, is_in, key, text_or_empty
from .values.vocabulary import (
    CUSTOMER,
    DISQUALIFIED,
    DUE_SOON,
    LEAD,
    LOST,
    LOST_OUTCOME,
    MISSING,
    MQL,
    NEEDS_ACTION,
    NO_DATE,
    OPEN,
    OPPORTUNITY,
    OVERDUE,
    PLANNED,
    SHOWS_CHECKLIST,
    SQL,
    STAGES,
    VISITOR,
    WON,
    default_probability,
)


def _as_of(as_of, date_order: str) -> pd.Timestamp:
    """The as-of date (default today), read like every other route reads it (core.values.parse.date_value)."""
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return pd.Timestamp.today().normalize()
    day = date_value(as_of, date_order)
    if day is None:
        p = Problem(SETTINGS_BAD_DATE, "as_of", f'as-of date "{as_of}" is not a date (use 2026-11-22 or 22/11/2026)')
        raise WorkbookError(str(p), [p])
    return day


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _missing_column(origin: Origin, hmap, sheet: str, needed: str, fix: str = "") -> WorkbookError:
    hint = next((f' (did you mean "{h}"?)' for h in hmap.custom if near_miss(h, sheet) == needed), "")
    p = Problem(MISSING_COLUMN, f"{origin.sheet}!1:1", f'no "{needed}" column{hint}{fix}', "error", sheet=origin.sheet)
    return WorkbookError(str(p), [p])


@dataclass
class _Leads:
    """The kept Leads rows, canonically named, with where each came from."""

    frame: pd.DataFrame          # kept rows, LeadQ column names
    ids: pd.Series               # Lead IDs of the kept rows
    pos: np.ndarray              # input positions of the kept rows
    origin: Origin
    real: dict                   # canonical name -> header the user sees
    empty: list = field(default_factory=list)   # optional columns empty on every row, read as absent
    views: dict = field(default_factory=dict)   # column -> its FieldValues, shared by the rules that read it
                                                # (fitrules.field_values; `frame` is not changed after fit_step)

    @property
    def n(self) -> int:
        return len(self.ids)

    def header(self, name: str) -> str:
        return self.real.get(name, name)

    def report(self, log: ProblemLog, code: str, kept_mask: np.ndarray, column: str, message_of) -> None:
        """Report problems found on kept rows; message_of receives the kept row's index."""
        full = np.zeros(len(self.origin.rows), dtype=bool)
        full[self.pos[kept_mask]] = True
        self.origin.report(log, code, full, self.header(column), lambda p: message_of(int(np.searchsorted(self.pos, p))))


def evaluate(leads: pd.DataFrame, activities: pd.DataFrame | None, rules, *,
             qualification: pd.DataFrame | None = None, as_of=None, date_order: str = "auto",
             column_mapping: dict | None = None, history: pd.DataFrame | None = None,
             refreshed_at=None, overrides: pd.DataFrame | None = None) -> Evaluation:
    """Score, qualify and stage every lead.

    leads / activities / qualification: DataFrames with the sheets' headers (any alias); activities
    may also be a log scored where it lies (addin.engines.external.activities_for: files, DuckDB, Spark),
    or the Future of a frame still being read (only the engagement step waits for it);
    rules: a Rules object, or anything load_rules() accepts; as_of: the date ages are measured
    at (default today; a date, an Excel serial or text such as 2026-11-22 or 22/11/2026);
    date_order: how dates written with numbers only are read (auto, DMY, MDY, YMD);
    column_mapping: {sheet: {LeadQ field: your header}} from Settings' Column mapping.
    history: the History sheet's rows (none: this is the first refresh); refreshed_at: when this
    refresh happens, as History records it (default: the as-of day).
    overrides: the Overrides sheet's rows (Lead ID, Kind, Value, Reason, Author, Until; see core.overrides).
    """
    mapping = column_mapping or {}
    rules = load_rules(rules)
    as_of = _as_of(as_of, date_order)
    log = ProblemLog()
    lead = read_leads(leads, log, mapping.get("Leads"))
    lead.frame = fitrules.blank(lead.frame, rules.blank_values, lead.real, skip=(LEAD_ID,))
    consent = consent_step(lead, rules, date_order, log)
    table = RuleTable.of(rules)
    acc = accounts.group(lead.frame, rules)
    for name, values in acc.lead_fields().items():      # rules may read them; a user's own column wins
        if name not in lead.frame.columns:
            lead.frame[name] = values
    ov = read_overrides(overrides, Origin(overrides, OVERRIDES) if overrides is not None else None,
                        lead.ids.to_numpy(object), rules, as_of, date_order, log)
    fields, ledger_fit = fit_step(lead, rules, log)
    ledger_eng, tags, last_day = engagement_step(activities, lead, rules, table, as_of, date_order, log,
                                                     mapping.get("Activities"))
    ledger_eng, tags = without_engagement(ledger_eng, tags, consent, rules)
    ledger, fit, engagement, score = totals_step(ledger_fit, ledger_eng, rules, table, lead.n, ov)
    grade = grade_step(fit, rules)
    verdict, has_answers = checklist_step(qualification, lead, rules, log)
    st = stage_step(lead, rules, fields, score, verdict, log)
    st.stage, st.reason = apply_stage(st.stage, st.reason, ov)
    st.disqualified = st.stage == DISQUALIFIED
    probability, manual = probability_step(lead, st, ov, log)
    amount, weighted = amount_step(lead, probability, log)
    act = next_action_step(lead, st.stage, rules, as_of, date_order, log)
    expired, last_touch = retention_step(lead, rules, st.outcome == OPEN, act["date"], last_day, as_of, date_order, log)
    act["status"] = flag_status(act["status"], consent, expired, rules)
    hist = history_step(lead.ids.to_numpy(object), st.stage, score, grade, last_day, act["status"], rules, as_of,
                        read_frame(history, log), refreshed_at)
    for p in hist.problems:
        log.add(p)
    act["status"] = hist.status      # SLA breaches (privacy flags already won: they are never Missing)
    texts = text_step(lead, rules, st, verdict, has_answers, tags, ledger, table)
    # Text cells both result frames hold, converted once from Python strings to the frames' Arrow text.
    ids, grade, act["status"] = _shared(lead.ids.to_numpy()), _shared(grade), _shared(act["status"])
    texts = {k: _shared(v) for k, v in texts.items()}
    out = pd.DataFrame({
        "Lead ID": ids, "Fit score": fit, "Engagement score": engagement, "Score": score,
        "Grade": grade, "Stage": texts["stage_label"], "Checklist": texts["checklist"],
        "Interests": texts["interests"], "Next action status": act["status"], "Why": texts["why"],
        "Stage since": hist.stage_since, "Days in stage": hist.days_in_stage,
    }, index=lead.pos)
    context = _context(lead, ids, st, texts, verdict, score, fit, engagement, grade, amount, weighted, act, last_day)
    created = (read_dates(lead.frame["Created"], date_order).dates.to_numpy() if "Created" in lead.frame.columns
               else np.full(lead.n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    context = context.assign(**{"Probability": probability, "Manual probability": manual, "Created": created,
                                "Account": np.where(acc.code >= 0, acc.names[np.maximum(acc.code, 0)]
                                                    if len(acc.names) else "", ""),
                                "Overridden": _overridden(lead.n, ov),"Consent": consent, "Retention expired": expired, "Last touch": last_touch,
                                "Stage since": hist.stage_since, "Days in stage": hist.days_in_stage,
                                "Total": fit + engagement})      # unclipped: ranks leads sitting at the cap
    details = finish_ledger(ledger, ids, table)[LEDGER_COLUMNS]
    # Sheet-level lines (a missing column, grouped counts) come before the cell-by-cell ones.
    problems = sorted(log.finish(), key=lambda p: p.row is not None or not p.where)
    return Evaluation(out, details, problems, context, rules, as_of, headers=lead.real,
                      problem_counts=log.totals(), date_order=date_order, history=hist,
                      overrides_expired=ov.expired, accounts=acc)


def header_notes(origin: Origin, hmap, sheet: str, log: ProblemLog) -> None:
    """What header matching decided that the user should know: two columns for one field, a
    guessed Lead ID, a Column mapping naming no column, near-misses worth mapping."""
    where = origin.header_ref
    for canonical, winner, loser in hmap.conflicts:
        log.add(Problem(HEADER_CONFLICT, where,
                        f'columns "{winner}" and "{loser}" both mean "{canonical}": "{winner}" is used '
                        f'({RANK_WORDS[hmap.ranks.get(canonical, 1)]}, ranked first), "{loser}" stays a column of its own '
                        "— name the one you want on Settings' Column mapping",
                        "info", sheet=origin.sheet, column=loser))
    if hmap.guessed_id:
        log.add(Problem(LEAD_ID_GUESSED, where,
                        f'no "Lead ID" column: "{hmap.guessed_id}" is used as Lead ID ({hmap.guess_reason}); '
                        f'if it is not, write your id column beside "Lead ID" in Settings\' Column mapping',
                        "info", sheet=origin.sheet, column=hmap.guessed_id))
    if getattr(hmap, "deal_title", None):
        log.add(Problem(DEAL_TITLE_NOT_JOB_TITLE, where,
                        f'"{hmap.deal_title}" beside deal columns is read as the deal\'s title, not as "Job title"; if it is '
                        f'the person\'s job title, write "{hmap.deal_title}" beside "Job title" in Settings\' Column mapping',
                        "info", sheet=origin.sheet, column=hmap.deal_title))
    for canonical, header in hmap.unmapped:
        log.add(Problem(MAPPING_HEADER_MISSING, f"Settings (Column mapping: {canonical})",
                        f'Column mapping says "{canonical}" is "{header}", but {origin.sheet} has no such column; '
                        "correct the header there", "warning", sheet="Settings"))
    for canonical, header in suggest_mappings(hmap, sheet):
        log.add(Problem(HEADER_NEAR_MISS, where,
                        f'column "{header}" looks like "{canonical}" but is not read as it; if it is, '
                        f'write "{header}" beside "{canonical}" in Settings\' Column mapping',
                        "info", sheet=origin.sheet, column=header))


# Optional Leads columns whose absence means something a blank cell does not (no Consent column:
# consent is not checked; a blank Consent cell: no consent). Empty on every row, such a column is
# read as absent — the template's columns stay empty when an export without them is imported.
ABSENT_WHEN_EMPTY = {
    "Consent": "consent is not checked (every lead counts as consenting), as with no Consent column",
    "Amount": "deals have no amount, as with no Amount column",
}


# Every other optional Leads column LeadQ reads is read as absent too when it is empty on every row,
# so an empty column never scores or stages differently from no column (a rule reading it never
# matches, as without it); one line names them all. Email and Phone have their own line
# (contact_check), Lead ID its own error.
NOT_DROPPED = {LEAD_ID, "Email", "Phone"}


def _empty_as_absent(frame: pd.DataFrame, filled: np.ndarray, origin: Origin, real: dict,
                     log: ProblemLog, blanks: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Drop LeadQ's optional Leads columns that are empty on every row with data, saying so (one
    line for each ABSENT_WHEN_EMPTY column, one line for the others); the columns dropped."""
    if not filled.any():
        return frame, []
    from .values.headers import LEADS_INPUTS, LEADS_OPTIONAL_INPUTS
    optional = [c for c in [*LEADS_INPUTS, *LEADS_OPTIONAL_INPUTS] if c not in NOT_DROPPED]
    blanks = blanks or {}
    empty = [c for c in optional if c in frame.columns
             and (blanks[c] if c in blanks else blank_mask(frame[c]).to_numpy())[filled].all()]
    for c in (c for c in empty if c in ABSENT_WHEN_EMPTY):
        log.add(Problem(EMPTY_COLUMN, origin.header_ref,
                        f'column "{real.get(c, c)}" is empty on every row, so it is read as absent: {ABSENT_WHEN_EMPTY[c]} '
                        "— fill it, or name the right column on Settings' Column mapping", "info",
                        sheet=origin.sheet, column=real.get(c, c)))
    others = [real.get(c, c) for c in empty if c not in ABSENT_WHEN_EMPTY]
    if others:
        names = ", ".join(f'"{c}"' for c in others)
        log.add(Problem(EMPTY_COLUMN, origin.header_ref,
                        f"column{'s' * (len(others) > 1)} {names} {'are' if len(others) > 1 else 'is'} empty on every row, "
                        f"so {'they are' if len(others) > 1 else 'it is'} read as absent (rules reading "
                        f"{'them' if len(others) > 1 else 'it'} never match) — fill {'them' if len(others) > 1 else 'it'} "
                        "if the data exists", "info", sheet=origin.sheet, column=others[0] if len(others) == 1 else None))
    return (frame.drop(columns=empty) if empty else frame), empty


def _empty_read_as_absent(frame: pd.DataFrame, columns: list[str], rows: np.ndarray, origin: Origin, real: dict,
                          consequence: str, log: ProblemLog) -> list[str]:
    """The optional columns of Activities or Qualification that are empty on every row with data: read as
    absent (what an empty column does is what no column does), in one line; the columns found."""
    if not rows.any():
        return []
    empty = [c for c in columns if c in frame.columns and blank_mask(frame[c])[rows].all()]
    if empty:
        names = ", ".join(f'"{real.get(c, c)}"' for c in empty)
        many = len(empty) > 1
        log.add(Problem(EMPTY_COLUMN, origin.header_ref,
                        f"column{'s' * many} {names} {'are' if many else 'is'} empty on every row, so {'they are' if many else 'it is'} "
                        f"read as absent ({consequence}) — fill {'them' if many else 'it'} if the data exists", "info",
                        sheet=origin.sheet, column=None if many else real.get(empty[0], empty[0])))
    return empty


def _id_hint(frame: pd.DataFrame, hmap, rows: np.ndarray, header: str) -> str:
    """The id-like column filled on every row without a Lead ID, to name in the line (one message for all rows)."""
    from .values.headers import is_id_like
    for h in hmap.custom:
        if h in frame.columns and is_id_like(h) and not blank_mask(frame[h])[rows].any():
            return (f'; the column that looks like the id on these rows is "{h}": if it is, write "{h}" beside '
                    f'"Lead ID" in Settings\' Column mapping (instead of "{header}")')
    return ""


def _no_lead_ids(origin: Origin, hmap, header: str, rows: int) -> WorkbookError:
    """No row has a Lead ID: nothing could be scored, so the refresh fails (exit 1), in one line
    naming the columns that could be the id and the mapping to write."""
    from .values.headers import is_id_like
    candidates = hmap.id_candidates or [str(h) for h in hmap.custom if is_id_like(h)]
    if candidates:
        fix = (f'; the column{"s" if len(candidates) > 1 else ""} {", ".join(chr(34) + c + chr(34) for c in candidates)} '
               f'could be it: write "{candidates[0]}" (or the right one) beside "Lead ID" in Settings\' Column mapping')
    else:
        fix = "; give each lead a unique id in that column"
    p = Problem(MISSING_LEAD_ID, f'{origin.sheet}!{origin.letters.get(header, "A")}:{origin.letters.get(header, "A")} '
                f'(column "{header}")', f"none of the {rows:,} rows has a Lead ID, so no lead can be scored{fix}",
                "error", sheet=origin.sheet, column=header)
    return WorkbookError(str(p), [p])


def read_leads(leads: pd.DataFrame, log: ProblemLog, mapping: dict | None = None) -> _Leads:
    """Canonical column names, Lead IDs, and the rows kept (rows without or with a repeated ID are reported)."""
    origin = Origin(leads, "Leads")
    frame, hmap = canonicalize(leads.reset_index(drop=True), "Leads", mapping)
    real = {**{c: c for c in frame.columns}, **hmap.columns}
    if LEAD_ID not in frame.columns:
        several = (f'; several columns could be it ({", ".join(hmap.id_candidates)}): write yours beside "Lead ID" in '
                   f'Settings\' Column mapping (e.g. "{hmap.id_candidates[0]}")' if len(hmap.id_candidates) > 1
                   else "; add one with a unique id per lead")
        raise _missing_column(origin, hmap, "Leads", LEAD_ID, several)
    header_notes(origin, hmap, "Leads", log)
    ids = lead_keys(frame[LEAD_ID])
    missing_id = (ids == "").to_numpy()
    blanks = {}                       # each column's blank cells, found once for both uses
    filled = ~blank_row(frame, blanks)
    if filled.any() and missing_id[filled].all():
        raise _no_lead_ids(origin, hmap, real[LEAD_ID], int(filled.sum()))
    frame, empty = _empty_as_absent(frame, filled, origin, real, log, blanks)
    dup = ids.duplicated(keep="first").to_numpy() & ~missing_id
    no_id = missing_id & filled       # the columns dropped are blank on every filled row
    hint = _id_hint(frame, hmap, no_id, real[LEAD_ID]) if no_id.any() else ""
    origin.report(log, MISSING_LEAD_ID, no_id, real[LEAD_ID],
                  lambda p: f"row has no Lead ID; it is skipped — give it a unique id{hint}")
    first_row = dict(zip(ids[~missing_id][::-1], origin.rows[~missing_id][::-1])) if dup.any() else {}
    origin.report(log, DUPLICATE_LEAD_ID, dup, real[LEAD_ID],
                  lambda p: f'Lead ID "{ids.iat[p]}" already used on row {first_row[ids.iat[p]]}; this row is skipped')
    keep = ~missing_id & ~dup
    return _Leads(frame[keep], ids[keep], np.flatnonzero(keep), origin, real, empty)


def fit_step(lead: _Leads, rules: Rules, log: ProblemLog) -> tuple[dict[str, dict[str, str]], pd.DataFrame]:
    """The columns each fit and disqualify rule reads (missing ones reported), and the fit ledger rows."""
    frame = lead.frame
    fields, missing = fitrules.columns(frame, [*rules.fit, *rules.disqualify])
    for rule, name in missing:
        if name in lead.empty or key(name) in {key(lead.header(c)) for c in lead.empty}:
            continue                 # the column is there, empty on every row: said once (empty-column)
        cols = [lead.header(c) for c in frame.columns]
        log.add(Problem(RULE_COLUMN_MISSING, f"{lead.origin.sheet}!1:1",
                        f'rule "{rule["id"]}" reads column "{name}", which the sheet does not have'
                        f'{did_you_mean(name, cols)}; the rule never matches', "warning",
                        sheet=lead.origin.sheet, column=name))
    for rule in [*rules.fit, *rules.disqualify]:
        for name in fitrules.numeric_fields(rule) if rule["id"] in fields else []:
            col = fields[rule["id"]][name]
            if pd.api.types.is_numeric_dtype(frame[col].dtype):
                continue
            bad = fitrules.field_values(frame, col, lead.views).not_a_number.to_numpy()     # read_numbers, once a column
            vals = frame[col].to_numpy(object)
            lead.report(log, NOT_A_NUMBER, bad, col,
                        lambda k, v=vals, r=rule["id"]: f'"{v[k]}" is not a number; rule "{r}" ignores it')
    return fields, fit_hits(frame, rules, fields, lead.views)


def engagement_step(activities, lead: _Leads, rules: Rules, table: RuleTable, as_of: pd.Timestamp, date_order: str,
                    log: ProblemLog, mapping: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, np.ndarray | None]:
    """Engagement ledger rows, the interest tags hit, and each lead's last activity day."""
    if isinstance(activities, Future):         # a sheet still being read while the steps above ran
        activities = activities.result()
    if callable(getattr(type(activities), "engagement", None)):   # a log outside the sheet, scored where it lies
                                                                   # (addin.engines; not a sheet's column so named)
        eng = activities.engagement(lead.frame, lead.ids, rules, table, _day(as_of), log, date_order)
        return eng.ledger, eng.tags, eng.last_day
    acts, last_day = _activities(activities, lead.frame, lead.ids, rules, log, date_order, mapping, _day(as_of))
    if acts is None:
        return fit_hits(lead.frame.iloc[:0], rules, {}), None, None
    ledger, tags = engagement_hits(*acts, rules=rules, table=table, as_of_day=_day(as_of))
    return ledger, tags, last_day


def totals_step(ledger_fit: pd.DataFrame, ledger_eng: pd.DataFrame, rules: Rules, table: RuleTable, n: int,
                ov: Overrides | None = None):
    """Fit, engagement and clipped score per lead (in points); the clip becomes a ledger row of its own.
    Manual overrides' points count in the score (before the clip), in neither fit nor engagement."""
    ledger_base = base_rows(n, table)
    ledger_ov = override_rows(ov, table.override) if ov is not None and ov.count else None
    parts = [x for x in (ledger_fit, ledger_eng, ledger_base, ledger_ov) if x is not None and len(x)] or [ledger_fit]

    def column(name: str) -> np.ndarray:
        return np.concatenate([p[name].to_numpy() for p in parts])
    lead_pos, rule, pts = column("lead"), column("rule"), column("points_c")
    is_fit = rule < table.fit
    is_ov = rule == table.override
    is_eng = ~is_fit & (rule != table.base) & ~is_ov
    fit_c = np.bincount(lead_pos[is_fit], weights=pts[is_fit], minlength=n).round().astype(np.int64)
    eng_c = np.bincount(lead_pos[is_eng], weights=pts[is_eng], minlength=n).round().astype(np.int64)
    ov_c = np.bincount(lead_pos[is_ov], weights=pts[is_ov], minlength=n).round().astype(np.int64)
    lo, hi = rules.score_range
    total_c = fit_c + eng_c + ov_c + int(cents(rules.base))
    score_c = np.clip(total_c, -np.inf if lo is None else lo * 100, np.inf if hi is None else hi * 100).astype(np.int64)
    clip = score_c - total_c
    if (clip != 0).any():
        m = np.flatnonzero(clip != 0)
        matched = np.where(clip[m] < 0, f"max {hi:g}" if hi is not None else "", f"min {lo:g}" if lo is not None else "")
        parts.append(pd.DataFrame({
            "lead": m, "rule": table.clip, "count": 1, "raw_c": 0, "cap_c": clip[m], "points_c": clip[m], "factor": 1.0,
            "matched": pd.Series(matched, dtype=object)}))
    return pd.concat(parts, ignore_index=True), fit_c / 100, eng_c / 100, score_c / 100     # one copy of the rows


def grade_step(fit: np.ndarray, rules: Rules) -> np.ndarray:
    """The grade letter of each fit score (best grade whose minimum is reached)."""
    grade = np.full(len(fit), rules.grade_else, dtype=object)
    for letter, minimum in reversed(rules.grades):
        grade[fit >= minimum] = letter
    return grade


def checklist_step(qualification, lead: _Leads, rules: Rules, log: ProblemLog) -> tuple[pd.DataFrame, np.ndarray]:
    """The checklist verdict of each lead, and whether it has any answer at all."""
    answers = _answers(qualification, lead.frame, lead.ids, rules.checklist, log)
    return assess(answers, rules.checklist), answers.notna().any(axis=1).to_numpy()


@dataclass
class _Stages:
    stage: np.ndarray             # stage keys (vocabulary.STAGES)
    reason: np.ndarray            # disqualification reason or None
    disqualified: np.ndarray
    outcome: np.ndarray           # won / lost / open / ""
    probability: np.ndarray
    deal_stage: np.ndarray        # the pipeline's name of the deal stage, or ""
    email: pd.Series


def stage_step(lead: _Leads, rules: Rules, fields: dict[str, dict[str, str]], score: np.ndarray, verdict: pd.DataFrame,
               log: ProblemLog) -> _Stages:
    """Each lead's funnel stage, first match wins: Customer, Lost, Disqualified, Opportunity, SQL, MQL, Lead, Visitor."""
    frame = lead.frame
    reason = _col(frame, "Disqualified").astype(object)
    reason = reason.where(~blank_mask(reason), None).to_numpy(object)
    for rule in rules.disqualify:
        cols = fields.get(rule["id"])
        if cols is not None:
            m = fitrules.condition_mask(frame, rule, cols[rule["field"]], lead.views)
            reason = np.where(m & pd.isna(reason), rule["reason"], reason)
    disq = ~pd.isna(reason)
    outcome, probability, deal_name = _deal_stages(_col(frame, "Deal stage"), rules, lead, log)
    email = _col(frame, "Email")
    reachable = has_contact(email, _col(frame, "Phone"), rules.lead_requires)
    is_mql = reachable & (score >= rules.mql)
    stage = np.select(
        [outcome == WON, outcome == LOST_OUTCOME, disq, outcome == OPEN, is_mql & verdict["passed"].to_numpy(),
         is_mql, reachable],
        [CUSTOMER, LOST, DISQUALIFIED, OPPORTUNITY, SQL, MQL, LEAD], default=VISITOR)
    if "CRM status" in frame.columns:
        stage, reason, unknown = apply_crm_status(stage, reason, frame["CRM status"], rules.crm_status)
        disq = stage == DISQUALIFIED
        if unknown:
            listed = ", ".join(f'"{v}" ×{n}' for v, n in sorted(unknown.items(), key=lambda x: -x[1])[:12])
            log.add(Problem(UNKNOWN_CRM_STATUS, f'{lead.origin.sheet} (column "{lead.header("CRM status")}")',
                            f"{sum(unknown.values())} lead(s) have a CRM status rules.json does not map: {listed}; "
                            'LeadQ\'s own stage is kept for them — map each value in "crm_status" of rules.json '
                            '(Customer, Lost, Disqualified, Opportunity, SQL, MQL or keep)', "warning",
                            sheet=lead.origin.sheet, column=lead.header("CRM status")))
    contact_check(lead, rules, log, stage)
    return _Stages(stage, reason, disq, outcome, probability, deal_name, email)


def contact_check(lead: _Leads, rules: Rules, log: ProblemLog, stage: np.ndarray) -> None:
    """One clear warning when nothing on the sheet can make a contact a Lead: the email / phone
    columns are missing, or empty on every row (an export pasted beside the template's columns).
    It counts the leads that do stay Visitors (`stage`, final): a deal stage, a CRM status or a
    disqualification still gives the others their stage, and the Summary's funnel shows them."""
    need = {"email or phone": ["Email", "Phone"], "email": ["Email"], "phone": ["Phone"]}[rules.lead_requires]
    present = [c for c in need if c in lead.frame.columns]
    if not lead.n or any((~blank_mask(lead.frame[c])).any() for c in present):
        return
    visitors = int((np.asarray(stage) == VISITOR).sum())
    if not visitors:
        return
    words = " or ".join(f'"{c}"' for c in need)
    what = (f"no {words} column" if not present else
            " and ".join(f'"{lead.header(c)}"' for c in present) + " empty on every row")
    who = (f"all {lead.n} leads stay Visitors (a Lead needs {rules.lead_requires})" if visitors == lead.n else
           f"{visitors:,} of {lead.n:,} leads stay Visitors, as a Lead needs {rules.lead_requires} ("
           + ("the other one takes its stage" if lead.n - visitors == 1 else f"the other {lead.n - visitors:,} take their stage")
           + " from a deal stage, CRM status or disqualification)")
    log.add(Problem(NO_CONTACT_COLUMN, lead.origin.header_ref,
                    f"{what}: {who} — "
                    "fill the column, or name yours on Settings' Column mapping", "warning", sheet=lead.origin.sheet))


def probability_step(lead: _Leads, st: _Stages, ov: Overrides, log: ProblemLog) -> tuple[np.ndarray, np.ndarray]:
    """Each lead's win probability: an Overrides row, else a Probability typed on Leads, else the
    pipeline stage's. Both apply to open deals only (an Overrides row on another lead is reported). Returns (probability, set by hand)."""
    prob = np.asarray(st.probability, dtype=float).copy()
    manual = np.zeros(lead.n, dtype=bool)
    is_open = st.outcome == OPEN
    if "Probability" in lead.frame.columns:
        raw = lead.frame["Probability"]
        typed, bad = parse_probability(raw)
        filled = ~blank_mask(raw).to_numpy()
        vals = raw.array
        lead.report(log, NOT_A_PROBABILITY, filled & bad, "Probability",
                    lambda k: f'"{vals[k]}" is not a probability (0.6, 60 % or 60); the deal stage\'s is used')
        # On a lead with no open deal it is simply not used (CRM exports carry one on every row: Odoo's).
        use = filled & ~bad & is_open
        prob[use], manual[use] = typed[use], True
    if len(ov.prob_lead):
        ok = is_open[ov.prob_lead]
        for p in ov.prob_lead[~ok][: log.room(PROBABILITY_WITHOUT_DEAL)]:
            log.add(Problem(PROBABILITY_WITHOUT_DEAL, f"{OVERRIDES} (Lead ID {lead.ids.iloc[int(p)]})",
                            f"a probability override for {lead.ids.iloc[int(p)]}, whose lead has no open deal stage; "
                            "it is not used", "warning", sheet=OVERRIDES))
        prob[ov.prob_lead[ok]], manual[ov.prob_lead[ok]] = ov.probability[ok], True
    return prob, manual


def _overridden(n: int, ov: Overrides) -> np.ndarray:
    """How many overrides are in force on each lead."""
    lead = np.concatenate([ov.points_lead, ov.stage_lead, ov.prob_lead]).astype(np.int64)
    return np.bincount(lead, minlength=n).astype(np.int64)


def amount_step(lead: _Leads, probability: np.ndarray, log: ProblemLog) -> tuple[pd.Series, np.ndarray]:
    """Deal amounts (not-a-number reported, counted as 0 in the weighting) and weighted amounts."""
    raw = _col(lead.frame, "Amount")
    if "Amount" not in lead.frame.columns and "Deal stage" in lead.frame.columns:
        n = int((~blank_mask(lead.frame["Deal stage"])).sum())
        if n:
            log.add(Problem(NO_AMOUNT_COLUMN, lead.origin.header_ref,
                            f"{n} lead(s) have a deal stage but the sheet has no \"Amount\" column: won amounts and the "
                            "weighted pipeline show 0 — add it, or name yours (e.g. close_value) on Settings' Column mapping",
                            "warning", sheet=lead.origin.sheet))
    amount, bad = to_number(raw)
    vals = raw.array          # looked up only for the reported rows
    lead.report(log, NOT_A_NUMBER, bad.to_numpy(), "Amount",
                lambda k: f'amount "{vals[k]}" is not a number; it counts as 0')
    return amount, amount.fillna(0).to_numpy() * probability


def next_action_step(lead: _Leads, stage: np.ndarray, rules: Rules, as_of: pd.Timestamp, date_order: str,
                     log: ProblemLog) -> dict:
    """Next action, its date and status (Overdue, Due soon, Missing, No date, Planned) for leads that need one."""
    action = _col(lead.frame, "Next action")
    raw = _col(lead.frame, "Next action date")
    dates = read_dates(raw, date_order)
    action_date = dates.dates
    date_notes(dates, raw, date_order, lambda code, mask, msg: lead.report(log, code, mask, "Next action date", msg),
               f'{lead.origin.sheet} (column "{lead.header("Next action date")}")', log, "")
    needs_action = is_in(stage, NEEDS_ACTION)
    days_left = ((action_date - as_of).dt.days).to_numpy(dtype=float)
    status = np.select(
        [~needs_action, blank_mask(action).to_numpy(), np.isnan(days_left), days_left < 0,
         days_left <= rules.due_soon_days],
        ["", MISSING, NO_DATE, OVERDUE, DUE_SOON], default=PLANNED)
    return {"action": action, "date": action_date, "status": status, "days_left": days_left}


def text_step(lead: _Leads, rules: Rules, st: _Stages, verdict: pd.DataFrame, has_answers: np.ndarray,
              tags, ledger: pd.DataFrame, table: RuleTable) -> dict[str, np.ndarray]:
    """The text columns: stage label, Checklist, Interests, Why."""
    labels = np.array([rules.stage_label(s) for s in STAGES], dtype=object)
    stage_label = labels[category_codes(st.stage, STAGES)]
    shows = has_answers | is_in(st.stage, SHOWS_CHECKLIST)
    disq = np.flatnonzero(st.disqualified)
    reasons = "Disqualified – " + pd.Series(st.reason[disq], dtype=object).fillna("").astype(str).to_numpy()
    arrow = arrow_text(verdict["checklist"]) if lead.n else None
    if arrow is not None:        # the checklist texts stay in Arrow (the result frames hold them so)
        import pyarrow as pa
        import pyarrow.compute as pc
        checklist = pc.if_else(shows, arrow, pa.scalar("", arrow.type))
        if len(disq):
            mask = np.zeros(lead.n, dtype=bool)
            mask[disq] = True
            checklist = pc.replace_with_mask(checklist, mask, pa.array(reasons, arrow.type))
        checklist = pd.array(checklist, dtype=_ARROW_TEXT)
    else:
        checklist = np.where(shows, verdict["checklist"].to_numpy(object), "")
        checklist[disq] = reasons
    return {"stage_label": stage_label, "checklist": checklist, "interests": _interests(tags, table, lead.n),
            "why": _why(ledger, table, lead.n)}


def _context(lead: _Leads, ids, st: _Stages, texts: dict, verdict: pd.DataFrame, score, fit, engagement, grade, amount,
             weighted, act: dict, last_day) -> pd.DataFrame:
    """Everything the Summary (and explain) needs per lead."""
    frame, n = lead.frame, lead.n
    last = (last_day.astype("datetime64[D]").astype("datetime64[ns]") if last_day is not None
            else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    first, last_name = _col(frame, "First name"), _col(frame, "Last name")
    name = (text_or_empty(first).str.strip() + " " + text_or_empty(last_name).str.strip()).str.strip()
    return pd.DataFrame({
        "Lead ID": ids, "Name": _cells(name),
        "Company": _cells(_col(frame, "Company")), "Owner": _cells(_col(frame, "Owner")),
        "Source": _cells(_col(frame, "Source")), "Email": _cells(st.email),
        "Stage": st.stage, "Stage label": texts["stage_label"], "Score": score, "Fit score": fit,
        "Engagement score": engagement, "Grade": grade,
        "Passed": verdict["passed"].to_numpy(), "Gaps": verdict["gaps"].to_numpy(object),
        "Checklist": texts["checklist"], "Reason": st.reason,
        "Deal stage": st.deal_stage, "Outcome": st.outcome, "Probability": st.probability,
        "Amount": amount.to_numpy(), "Weighted": weighted,
        "Next action": _cells(act["action"]), "Next action date": act["date"].to_numpy(),
        "Next action status": act["status"], "Days left": act["days_left"],
        "Last activity": last, "Row": lead.origin.rows[lead.pos] if len(lead.origin.rows) else lead.pos + 2,
    }, index=lead.pos)


def _cells(values: pd.Series):
    """A column's cells for a result frame, as the frame reads them from Python objects (text becomes
    Arrow text, a column of blanks stays objects), without the round trip: Arrow text is passed as it is."""
    if values.dtype == _ARROW_TEXT and values.notna().any():
        return values.array
    return values.to_numpy(object)


_ARROW_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _shared(values):
    """Cells as a result frame holds them (what it infers from them), for cells two frames share."""
    return pd.Series(values).array


def blank_row(frame: pd.DataFrame, blanks: dict | None = None) -> np.ndarray:
    """True for rows with no value at all (trailing empty table rows are not problems); `blanks`, if
    given, receives each column's blank mask."""
    if frame.empty:
        return np.zeros(len(frame), dtype=bool)
    masks = [blank_mask(frame[c]).to_numpy() for c in frame.columns]
    if blanks is not None and frame.columns.is_unique:
        blanks.update(zip(frame.columns, masks))
    return np.logical_and.reduce(masks)


def _day(ts) -> int:
    return int(pd.Timestamp(ts).normalize().value // 86_400_000_000_000)


def date_notes(dates: Dates, raw: pd.Series, order: str, report, where: str, log: ProblemLog, then: str) -> None:
    """Report what reading a date column found: values that are no date (saying when the other
    order would read them), cells whose only reading contradicts the column's inferred order, and
    a column read day-first with nothing to tell."""
    # Values are looked up one by one, for the few problems reported: a whole date column as
    # Python objects costs seconds at a million rows.
    vals = raw.array

    def not_a_date(k):
        text = str(vals[k]).strip()
        other = next((o for o in ("MDY", "DMY") if o != dates.order and _one_date(text, o) is not None), None)
        hint = (f" in the {dates.order} order set on Settings (it reads as {other}: set Date order to {other} or auto)"
                if other and order != "auto" else " (use 22/11/2026 or 2026-11-22)")
        return f'"{vals[k]}" is not a date{hint}{then}'
    report(NOT_A_DATE, dates.bad.to_numpy(), not_a_date)
    if dates.conflict is not None and dates.conflict.any():
        ev = dates.evidence or {}
        report(DATE_ORDER_CONFLICT, dates.conflict.to_numpy(),
               lambda k: f'"{vals[k]}" can only be {dates.other_order()}, but {ev.get(dates.order, 0)} date(s) of this column '
                         f"can only be {dates.order}, so its other dates are read {dates.order}; check this row and the source")
    if dates.guessed:
        log.add(Problem(DATE_ORDER_GUESSED, where,
                        f"{dates.guessed} date(s) such as 03/04/2026 could be day-first or month-first and nothing in the "
                        "column tells: they are read day-first (DMY) — if they are US dates, set Date order to MDY on Settings",
                        "warning"))


def _activities(activities, leads, ids, rules: Rules, log: ProblemLog, date_order: str = "auto", mapping: dict | None = None,
                as_of_day: int | None = None):
    """Clean the Activities table into integer codes for the kernel; report what is skipped.

    Returns ((lead, type_code, day, detail_code, detail_text), last activity day per lead) or
    (None, None). Each distinct Lead ID, type and Detail is handled once. The last activity day is
    the last on or before the as-of day: an activity dated later has not happened yet at as-of
    (Days idle and SLA breached are measured at as-of).
    """
    if activities is None or len(activities) == 0:
        return None, None
    origin = Origin(activities, "Activities")
    frame, hmap = canonicalize(activities.reset_index(drop=True), "Activities", mapping)
    real = {**{c: c for c in frame.columns}, **hmap.columns}
    for needed in ("Date", "Activity"):
        if needed not in frame.columns:
            raise _missing_column(origin, hmap, "Activities", needed)
    header_notes(origin, hmap, "Activities", log)
    lead, given = _activity_leads(frame, leads, ids)
    # Only a row without a lead can be an empty row (a trailing blank table row is no problem).
    empty = np.zeros(len(frame), dtype=bool)
    if not given.all():
        empty[~given] = blank_row(frame[~given])
    id_header = real.get(LEAD_ID, real.get("Email", LEAD_ID))
    origin.report(log, ACTIVITY_WITHOUT_LEAD, ~given & ~empty, id_header,
                  lambda p: "activity has no Lead ID (or known Email); it is skipped")
    raw_ids = frame[LEAD_ID] if LEAD_ID in frame.columns else frame.get("Email")
    origin.report(log, UNKNOWN_LEAD, given & (lead < 0), id_header,
                  lambda p: f'no lead "{raw_ids.iat[p]}" on the Leads sheet; the activity is skipped')
    known = lead >= 0
    type_code = _activity_types(frame["Activity"], rules, origin, real["Activity"], known & ~empty, log)

    reading = read_dates(frame["Date"], date_order)
    dates, bad = reading.dates, reading.bad
    ok_so_far = known & (type_code >= 0)
    date_notes(reading, frame["Date"], date_order,
               lambda code, mask, msg: origin.report(log, code, mask & ok_so_far, real["Date"], msg),
               f'{origin.sheet} (column "{real["Date"]}")', log, "; the activity is skipped")
    origin.report(log, MISSING_DATE, dates.isna().to_numpy() & ~bad.to_numpy() & ok_so_far, real["Date"],
                  lambda p: "activity has no date; it is skipped")
    use = ok_so_far & dates.notna().to_numpy()
    day = dates.to_numpy("datetime64[D]").astype(np.int64)
    if _empty_read_as_absent(frame, ["Detail"], ~empty, origin, real, "page rules, which read it, never match", log):
        frame = frame.drop(columns=["Detail"])
    if "Detail" in frame.columns:
        detail_code, uniques = pd.factorize(frame["Detail"], use_na_sentinel=True)
        detail_text = fold_series(pd.Series(uniques, dtype=object)).to_numpy(object)
    else:
        detail_code, detail_text = np.full(len(frame), -1, dtype=np.int64), np.zeros(0, dtype=object)
    lead_u, day_u = lead[use].astype(np.int64), day[use]
    last = np.full(len(ids), np.iinfo(np.int64).min, dtype=np.int64)
    past = day_u <= as_of_day if as_of_day is not None else np.ones(len(day_u), dtype=bool)
    np.maximum.at(last, lead_u[past], day_u[past])
    last_day = np.where(last == np.iinfo(np.int64).min, np.datetime64("NaT"), last.astype("datetime64[D]"))
    return (lead_u, type_code[use], day_u, detail_code[use].astype(np.int64), detail_text), last_day


def _activity_leads(frame: pd.DataFrame, leads: pd.DataFrame, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Position of each activity's lead (-1: none found), by Lead ID, else by Email; and whether one was given."""
    arrow = arrow_text(frame[LEAD_ID]) if LEAD_ID in frame.columns else None
    if arrow is not None:
        # Arrow text (what the file reader gives): each Lead ID trimmed as lead_keys trims it and looked up
        # in Arrow's C kernels, a million rows without factorising them first.
        import pyarrow.compute as pc
        keys = pc.utf8_trim_whitespace(arrow)
        lead = _positions(keys, ids.to_numpy(object))
        given = pc.fill_null(pc.not_equal(keys, ""), False).to_numpy(zero_copy_only=False)
    elif LEAD_ID in frame.columns:
        codes, uniques = pd.factorize(frame[LEAD_ID], use_na_sentinel=True)
        keys = lead_keys(pd.Series(uniques)).to_numpy(object)
        lead = np.append(_positions(keys, ids.to_numpy(object)), -1)[codes]
        given = np.append(keys != "", False)[codes]
    else:
        lead = np.full(len(frame), -1, dtype=np.int64)
        given = np.zeros(len(frame), dtype=bool)
    if "Email" in frame.columns:
        by_email = pd.Index(fold_series(_col(leads, "Email")).to_numpy(object))
        codes, uniques = pd.factorize(frame["Email"], use_na_sentinel=True)
        folded = fold_series(pd.Series(uniques, dtype=object)).to_numpy(object)
        found = by_email.get_indexer_for(folded) if by_email.is_unique else _first_indexer(by_email, folded)
        from_email = np.append(np.where(folded != "", found, -1), -1)[codes]
        lead = np.where((lead < 0) & ~given, from_email, lead)
        given |= np.append(folded != "", False)[codes]
    return lead, given


def _activity_types(values: pd.Series, rules: Rules, origin: Origin, header: str, check: np.ndarray,
                    log: ProblemLog) -> np.ndarray:
    """Index of each activity's type in rules.activities (by key, label or alias), -1 when unknown or blank."""
    lookup = rules.activity_names
    types = list(rules.activities)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    resolved_u = [lookup.get(key(u)) for u in uniques]
    type_u = np.array([types.index(t) if t else -1 for t in resolved_u] + [-1], dtype=np.int64)
    blank_u = np.array([key(u) == "" for u in uniques] + [True], dtype=bool)
    type_code, blank = type_u[codes], blank_u[codes]
    origin.report(log, UNKNOWN_ACTIVITY, (type_code < 0) & ~blank & check, header,
                  lambda p: f'unknown activity type "{values.iat[p]}"{did_you_mean(str(values.iat[p]), types)}; '
                            "it is skipped — add it to rules.json or fix the spelling")
    origin.report(log, MISSING_ACTIVITY, blank & check, header, lambda p: "activity type is empty; skipped")
    return type_code


def _first_indexer(index: pd.Index, values) -> np.ndarray:
    first = pd.Series(np.arange(len(index)), index=index)
    first = first[~first.index.duplicated()]
    return first.reindex(values).fillna(-1).to_numpy(np.int64)


def _positions(keys, ids: np.ndarray) -> np.ndarray:
    """Position of each key (texts, or Arrow text) among the (unique) Lead IDs, -1 when none, as
    pd.Index(ids).get_indexer(keys) gives it, looked up in Arrow's hash kernel."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if not isinstance(keys, (pa.Array, pa.ChunkedArray)):
        keys = pa.array(keys, pa.string())
    at = pc.index_in(keys, value_set=pa.array(np.asarray(ids, dtype=object), pa.string()))
    return at.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _answers(qualification, leads, ids, checklist, log: ProblemLog) -> pd.DataFrame:
    """One column per criterion id: 1 yes, 0 no, NaN unknown, aligned to ids."""
    ids_np = ids.to_numpy()
    out = pd.DataFrame(np.nan, index=range(len(ids)), columns=[c.id for c in checklist.criteria])
    source, sheet = qualification, "Qualification"
    if source is None or len(source) == 0:
        source, sheet = leads.assign(**{LEAD_ID: ids_np}), "Leads"   # criteria typed on Leads
    origin = Origin(source, sheet)
    frame, hmap = canonicalize(source.reset_index(drop=True), "Qualification") if sheet == "Qualification" else (source.reset_index(drop=True), None)
    if LEAD_ID not in frame.columns:
        return out
    qids = lead_keys(frame[LEAD_ID])
    by_key = {}
    for col in frame.columns:
        by_key.setdefault(key(col), col)
    if sheet == "Qualification":
        cols = [by_key[k] for c in checklist.criteria for k in c.keys() if k in by_key]
        gone = _empty_read_as_absent(frame, list(dict.fromkeys(cols)), (qids != "").to_numpy(), origin,
                                     {c: c for c in frame.columns}, "their criteria count as unknown", log)
        by_key = {k: col for k, col in by_key.items() if col not in gone}
        for c in checklist.criteria:
            if not any(k in by_key for k in c.keys()) and not any(key(g) in c.keys() for g in gone):
                log.add(Problem(MISSING_CRITERION_COLUMN, f"{origin.sheet}!1:1",
                                f'no column for criterion "{c.label}" of {checklist.name}; it counts as unknown — '
                                f'add a "{c.id}" column', "warning", sheet=origin.sheet))
        dup = (qids.duplicated(keep="last") & (qids != "")).to_numpy()
        origin.report(log, DUPLICATE_LEAD_ID, dup, hmap.columns.get(LEAD_ID, LEAD_ID) if hmap else LEAD_ID,
                      lambda p: f'Lead ID "{qids.iat[p]}" has answers on a later row too; the later row is used')
        target = _positions(qids.to_numpy(object), ids_np)
        unknown = (target < 0) & (qids != "").to_numpy()
        qv = qids.to_numpy(object)
        origin.report(log, UNKNOWN_LEAD, unknown, hmap.columns.get(LEAD_ID, LEAD_ID) if hmap else LEAD_ID,
                      lambda p: f'no lead "{qv[p]}" on the Leads sheet; its answers are ignored')
    if sheet == "Leads" and np.array_equal(qids.to_numpy(object), np.asarray(ids_np, dtype=object)):
        target, last = np.arange(len(ids)), np.ones(len(ids), dtype=bool)    # the leads' own (unique) ids, in order
    else:
        if sheet == "Leads":
            target = pd.Index(ids_np).get_indexer(qids.to_numpy())
        last = ~qids.duplicated(keep="last").to_numpy()
    take = (target >= 0) & last
    for c in checklist.criteria:
        col = next((by_key[k] for k in c.keys() if k in by_key), None)
        if col is None:
            continue
        values, bad = to_answer(frame[col])
        raw = frame[col].to_numpy(object)
        origin.report(log, ANSWER_NOT_UNDERSTOOD, bad.to_numpy() & (target >= 0), col,
                      lambda p: f'answer "{raw[p]}" is not understood; write Yes/No (Oui/Non, x, 1/0) or leave blank')
        out.loc[target[take], c.id] = values.to_numpy()[take]
    return out


def _deal_stages(values: pd.Series, rules: Rules, lead: _Leads, log: ProblemLog):
    """Outcome (won / lost / open / ""), win probability and pipeline name of each Deal stage."""
    lookup = {}
    for st in rules.pipeline:
        for name in [st["stage"], *st.get("aliases", [])]:
            lookup[key(name)] = st
    # Arrow text is numbered as it is (the same values as through Python objects, without them).
    codes, uniques = pd.factorize(values if isinstance(values.dtype, pd.StringDtype) else values.astype(object))
    found = [lookup.get(key(u)) for u in uniques]
    outcome_u = np.array([f.get("outcome", OPEN) if f else "" for f in found] + [""], dtype=object)
    prob_u = np.array([f.get("probability", default_probability(f.get("outcome"))) if f else 0.0 for f in found] + [0.0])
    name_u = np.array([f["stage"] if f else "" for f in found] + [""], dtype=object)
    bad_u = np.array([f is None and str(u).strip() != "" for f, u in zip(found, uniques)] + [False], dtype=bool)
    raw = values.array          # looked up only for the reported rows
    names = [st["stage"] for st in rules.pipeline]
    lead.report(log, UNKNOWN_DEAL_STAGE, bad_u[codes], "Deal stage",
                lambda k: f'deal stage "{raw[k]}" is not in the pipeline{did_you_mean(str(raw[k]), names)}; it is ignored')
    if bad_u.any():
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        unknown = sorted(((str(u).strip(), int(counts[i])) for i, u in enumerate(uniques) if bad_u[i]), key=lambda x: -x[1])
        listed = ", ".join(f'"{v}" ×{n}' for v, n in unknown[:12]) + (", …" if len(unknown) > 12 else "")
        log.add(Problem(UNKNOWN_DEAL_STAGES, f'{lead.origin.sheet} (column "{lead.header("Deal stage")}")',
                        f"{sum(n for _, n in unknown)} lead(s) have a deal stage the pipeline does not know: {listed}; "
                        'they count as no deal — add each to "pipeline" in rules.json (as a stage, or an alias of one)',
                        "warning", sheet=lead.origin.sheet, column=lead.header("Deal stage")))
    return outcome_u[codes], prob_u[codes], name_u[codes]


def _join_ranked(lead: np.ndarray, text, n: int, sep: str):
    """Join each lead's texts (lead positions sorted, texts in the wanted order) with sep, "" for a
    lead without any: one Arrow list per lead, joined in Arrow's C kernel (no Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lead, minlength=n), out=offsets[1:])
    return pc.binary_join(pa.LargeListArray.from_arrays(offsets, text), sep)


def _interests(tags: pd.DataFrame | None, table: RuleTable, n: int):
    """Tags of the page rules each lead matched, most frequent first."""
    import pyarrow as pa
    if tags is None or tags.empty:
        return np.full(n, "", dtype=object)
    k = len(table.tags)
    weights = tags["n"].to_numpy() if "n" in tags.columns else None   # engines send counts, not one row per hit
    counts = np.bincount(tags["lead"].to_numpy() * k + tags["tag"].to_numpy(), weights=weights, minlength=n * k).reshape(n, k)
    lead, tag = np.nonzero(counts)
    alpha = np.argsort(np.argsort(table.tags))
    # By lead, most frequent first, then by tag name: as np.lexsort((alpha[tag], -count, lead)), one
    # sort of distinct integer keys (a lead holds each tag once; counts are whole numbers).
    c = counts[lead, tag]
    c_codes, c_uniq = pd.factorize(-c, sort=True)
    order = np.argsort((lead.astype(np.int64) * len(c_uniq) + c_codes) * k + alpha[tag])
    return pd.array(_join_ranked(lead[order], pa.array(table.tags, pa.string()).take(tag[order]), n, ", "), dtype="str")


def _why(ledger: pd.DataFrame, table: RuleTable, n: int):
    """Short text: the three rule hits that weigh most, e.g. 'webinar ×2 +40; decision-maker +15; …'."""
    import pyarrow as pa
    import pyarrow.compute as pc
    pts = ledger["points_c"].to_numpy()
    nz = pts != 0
    if not nz.any():
        return np.full(n, "", dtype=object)
    lead, rule, count, pts = ledger["lead"].to_numpy()[nz], ledger["rule"].to_numpy()[nz], ledger["count"].to_numpy()[nz], pts[nz]
    name_rank = np.argsort(np.argsort(table.names.astype(str)))
    # Sorted by lead, heaviest first, then by rule name: one integer key (heaviness as its rank
    # among the distinct weights), sorted stably as np.lexsort would.
    w_codes, w_uniq = pd.factorize(-np.abs(pts))
    w_rank = np.argsort(np.argsort(w_uniq))[w_codes]
    order = np.argsort((lead.astype(np.int64) * len(w_uniq) + w_rank) * len(name_rank) + name_rank[rule], kind="stable")
    lead = lead[order]
    start = np.ones(len(lead), dtype=bool)
    start[1:] = lead[1:] != lead[:-1]
    idx = np.arange(len(lead))
    rank = idx - np.maximum.accumulate(np.where(start, idx, 0))
    top = rank < 3
    rule, count, pts = rule[order[top]], count[order[top]], pts[order[top]]    # the three shown hits only
    # Each distinct rule name, count and points formatted once, joined hit by hit in Arrow.
    short = pa.array([str(x).replace("activity:", "", 1) for x in table.names], pa.string())
    c_codes, c_uniq = pd.factorize(count)
    p_codes, p_uniq = pd.factorize(pts)
    times = pa.array([f" ×{c}" if c > 1 else "" for c in c_uniq], pa.string())
    points = pa.array([f" {'+' if p >= 0 else '−'}{abs(p) / 100:g}" for p in p_uniq], pa.string())
    # Each distinct (rule, count, points) joined once, then taken hit by hit.
    h_codes, h_uniq = pd.factorize((rule.astype(np.int64) * len(c_uniq) + c_codes) * len(p_uniq) + p_codes)
    h_rule, h_rest = np.divmod(h_uniq, len(c_uniq) * len(p_uniq))
    h_c, h_p = np.divmod(h_rest, len(p_uniq))
    text = pc.binary_join_element_wise(short.take(h_rule), times.take(h_c), points.take(h_p), "").take(h_codes)
    joined = _join_ranked(lead[top], text, n, "; ")
    more = np.bincount(lead, minlength=n) > 3
    return pd.array(pc.if_else(more, pc.binary_join_element_wise(joined, "…", "; "), joined), dtype="str")
