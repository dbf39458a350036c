"""LeadQ's memory: what each refresh records on the Lead history sheet, and what it tells.

The History sheet is a change log: the first refresh records every lead; each later one records
only the leads whose stage or grade changed or whose score moved by at least
`history.min_change` points since their last row, plus a "Removed" row for a lead that left the
Leads sheet. So the state of every lead after any refresh is its last row up to that refresh,
from which come: the date each lead entered its stage (Stage since), follow-up deadlines (SLA),
what changed since the last refresh, stage counts over the last refreshes and the velocity.

Pure: frames in, frames out; the readers and writers live in addin/io and addin/macros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import Problem, ProblemLog
from ..problems import HISTORY_BACK_DATED, HISTORY_DATE_IMPOSSIBLE, HISTORY_ROW_NOT_UNDERSTOOD
from .model import lead_keys
from .values.parse import EXCEL_EPOCH
from .values.text import category_codes, is_in, text_or_empty
from .values.vocabulary import CUSTOMER, DISQUALIFIED, FUNNEL, LEAD, LOST, MISSING, MQL, OPPORTUNITY, REACH, REMOVED, SLA_BREACHED, SQL, STAGES

# Excel reserves the sheet name "History" (its change-tracking log) and refuses a workbook using it.
SHEET = "Lead history"
COLUMNS = ["Refreshed at", "Lead ID", "Score", "Stage", "Grade", "Rules version"]
FORMATS = {"Refreshed at": "yyyy-mm-dd hh:mm", "Score": "0.0"}      # number formats (both writers)
WIDTHS = [17, 14, 8, 13, 7, 28]
TREND_REFRESHES = 12
VELOCITY_STEPS = [(LEAD, MQL), (MQL, SQL), (SQL, CUSTOMER)]
NEWS_STAGES = [MQL, SQL, OPPORTUNITY, CUSTOMER]      # "new MQLs / SQLs / Opportunities / Customers"


def empty() -> pd.DataFrame:
    return pd.DataFrame({"Refreshed at": pd.Series(dtype="datetime64[ns]"), "Lead ID": pd.Series(dtype=object),
                         "Score": pd.Series(dtype=float), "Stage": pd.Series(dtype=object),
                         "Grade": pd.Series(dtype=object), "Rules version": pd.Series(dtype=object)})


def read_frame(frame: pd.DataFrame | None, log: ProblemLog | None = None, first_row: int = 2) -> pd.DataFrame:
    """History rows as read from the sheet (any reader), cleaned: typed columns, in sheet order.

    Rows without a date or a Lead ID (an edited sheet) are left out and reported once; so are rows
    with an impossible date (9999-12-31: past what LeadQ computes with), with their own problem line,
    never a failed refresh. (Rows dated after the refresh are history_step's: "history-back-dated".)
    """
    if frame is None or len(frame) == 0:
        return empty()
    by_key = {str(c).strip().casefold(): c for c in frame.columns}
    col = {c: by_key.get(c.casefold()) for c in COLUMNS}

    def get(name):
        real = col[name]
        return frame[real].reset_index(drop=True) if real is not None else pd.Series([None] * len(frame), dtype=object)

    raw_when = get("Refreshed at")
    when = _timestamps(raw_when)
    ids = lead_keys(get("Lead ID"))
    dated = raw_when.notna().to_numpy() & (raw_when.astype(str).str.strip() != "").to_numpy()
    impossible = dated & when.isna().to_numpy()
    if log is not None:
        for mask, what in ((impossible, "a date LeadQ cannot compute with (before 1900 or after 2262, e.g. 9999-12-31)"),):
            if mask.any():
                row = first_row + int(np.flatnonzero(mask)[0])
                log.add(Problem(HISTORY_DATE_IMPOSSIBLE, f"'{SHEET}'!A{row}",
                                f"{int(mask.sum())} {SHEET} row{'s' * (int(mask.sum()) != 1)} with {what} (first on this "
                                f"row) {'are' if int(mask.sum()) != 1 else 'is'} ignored; correct or delete them", "warning", sheet=SHEET, row=row))
    score = pd.to_numeric(get("Score"), errors="coerce")
    text = {n: get(n).astype(object).where(get(n).notna(), "").astype(str).str.strip() for n in ("Stage", "Grade", "Rules version")}
    ok = (when.notna() & (ids != "") & text["Stage"].isin(STAGES + [REMOVED])).to_numpy()
    odd = ~ok & ~impossible                    # reported above
    if log is not None and odd.any():
        bad = int(odd.sum())
        row = first_row + int(np.flatnonzero(odd)[0])
        log.add(Problem(HISTORY_ROW_NOT_UNDERSTOOD, f"'{SHEET}'!{row}:{row}",
                        f"{bad} {SHEET} row{'s' * (bad != 1)} without a date, a Lead ID or a known stage "
                        f"(first on this row) are ignored; {SHEET} is LeadQ's sheet — leave it as written",
                        "warning", sheet=SHEET, row=row))
    out = pd.DataFrame({"Refreshed at": pd.to_datetime(when[ok].to_numpy()), "Lead ID": ids[ok].to_numpy(object),
                        "Score": score[ok].to_numpy(float), "Stage": text["Stage"][ok].to_numpy(object),
                        "Grade": text["Grade"][ok].to_numpy(object),
                        "Rules version": text["Rules version"][ok].to_numpy(object)})
    return out


def refreshed_at(as_of, clock) -> pd.Timestamp:
    """When the Lead history says a refresh happened: the as-of day at the time of day the refresh
    ran (`clock`: a datetime, or the "YYYY-MM-DD HH:MM" stamp written to Settings' Last refresh), so
    ages measured at the as-of date agree with History; a later refresh of the same day at the same
    minute is placed a second after (history_step)."""
    try:
        t = pd.Timestamp(clock)
    except (TypeError, ValueError):       # a stamp that is no time: the time now
        t = pd.NaT
    t = pd.Timestamp.now() if t is pd.NaT else t
    return pd.Timestamp(pd.Timestamp(as_of).date()) + (t - t.normalize()).floor("s")


def last_refresh_day(history: pd.DataFrame | None):
    """The as-of day of the last refresh the Lead history records (its latest "Refreshed at"), or None."""
    if history is None or not len(history) or COLUMNS[0] not in history.columns:
        return None
    last = _timestamps(history[COLUMNS[0]]).max()
    return None if pd.isna(last) else pd.Timestamp(last).date()


def _timestamps(values: pd.Series) -> pd.Series:
    """Date-times as the sheet holds them (Excel serials with their time of day, datetimes, ISO text)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _in_range(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        serial = values.astype(float).where(values.astype(float).between(1, _LAST_SERIAL))
        return EXCEL_EPOCH + pd.to_timedelta((serial * 86_400).round(), unit="s")
    num = pd.to_numeric(values, errors="coerce")
    text = values.where(num.isna()).astype(object)
    try:
        out = _in_range(pd.to_datetime(text, errors="coerce", format="mixed"))
    except (OverflowError, pd.errors.OutOfBoundsDatetime):      # a value of year 9999 (Excel's last day)
        out = _in_range(_per_value(text))
    serial = num.where(num.between(1, _LAST_SERIAL))
    return out.fillna(EXCEL_EPOCH + pd.to_timedelta((serial * 86_400).round(), unit="s")).astype("datetime64[ns]")


_LAST_SERIAL = 131_000            # Excel's serial of 2258-08-31: later ones are past what pandas holds (2262)


def _in_range(values: pd.Series) -> pd.Series:
    """Date-times of any unit as nanoseconds; those past pandas' range (1677-2262) become NaT."""
    lo, hi = np.datetime64(pd.Timestamp.min.ceil("D")), np.datetime64(pd.Timestamp.max.floor("D"))
    v = values.astype("datetime64[us]") if str(values.dtype) != "datetime64[ns]" else values
    return v.where((v >= lo) & (v <= hi)).astype("datetime64[ns]")


def _per_value(text: pd.Series) -> pd.Series:
    """The rare column holding a date past 2262: each value read alone (Python's datetime holds year 9999)."""
    def one(v):
        try:
            return np.datetime64(pd.Timestamp(v).to_pydatetime() if not hasattr(v, "year") else v, "us")
        except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
            return np.datetime64("NaT", "us")
    return pd.Series([one(v) if v is not None else np.datetime64("NaT", "us") for v in text], index=text.index,
                     dtype="datetime64[us]")


def _last_rows(history: pd.DataFrame) -> pd.DataFrame:
    """Each lead's last row (sheet order breaks ties of the same time), indexed by Lead ID."""
    ordered = history.assign(_n=np.arange(len(history))).sort_values(["Refreshed at", "_n"], kind="stable")
    return ordered.drop_duplicates("Lead ID", keep="last").set_index("Lead ID")


@dataclass
class HistoryStep:
    """What the history adds to one evaluation."""

    stage_since: np.ndarray          # datetime64[ns] per lead
    days_in_stage: np.ndarray        # whole days per lead
    status: np.ndarray               # the Next action status, SLA breaches included
    sla_days: np.ndarray             # the stage's deadline per lead (NaN: none)
    appended: pd.DataFrame           # rows this refresh adds to History
    past: pd.DataFrame               # History before this refresh
    previous: pd.DataFrame           # per current lead: Stage, Score, Grade at the last refresh (NaN: new lead)
    removed: pd.DataFrame            # leads gone from the sheet since the last refresh (their last row)
    refreshed_at: pd.Timestamp
    started: bool                    # True when History was empty: everything recorded afresh
    problems: list[Problem] = field(default_factory=list)
    write: bool = True               # False for a refresh dated before the history's last: nothing is added


def history_step(ids: np.ndarray, stage: np.ndarray, score: np.ndarray, grade: np.ndarray, last_day,
                 status: np.ndarray, rules, as_of: pd.Timestamp, past: pd.DataFrame | None,
                 refreshed_at: pd.Timestamp | None = None) -> HistoryStep:
    """Stage since, days in stage, SLA breaches and the rows to append, for the current leads.

    `last_day`: each lead's last activity day (datetime64, NaT for none); `status`: the Next action
    status from next_action_step; `refreshed_at`: when this refresh happens (default: the as-of day).
    """
    past = empty() if past is None else same_ids(past, ids)
    when = pd.Timestamp(refreshed_at) if refreshed_at is not None else pd.Timestamp(as_of).normalize()
    today = pd.Timestamp(as_of).normalize()
    problems, write = [], True
    latest = past["Refreshed at"].max() if len(past) else None
    if latest is not None and today < latest.normalize():
        # Dated before the history's last refresh: read the history as it stood that day and add
        # nothing, so its rows stay in time order.
        problems.append(Problem(
            HISTORY_BACK_DATED, f"'{SHEET}'",
            f"the as-of date {today.date()} is before the last refresh {SHEET} records ({latest:%Y-%m-%d}): Stage "
            f"since and the changes are read from {SHEET} as it stood on {today.date()}, and no row is added to it",
            "warning", sheet=SHEET))
        past, write = past[past["Refreshed at"] < today + pd.Timedelta(days=1)], False
    elif latest is not None and when <= latest:
        when = latest + pd.Timedelta(seconds=1)      # the same day at an earlier hour: still after the last rows
    n = len(ids)
    ids = np.asarray(ids, dtype=object)
    stage = np.asarray(stage, dtype=object)
    grade = np.asarray(grade, dtype=object)
    score = np.asarray(score, dtype=float)
    version = _version(rules)

    last = _last_rows(past) if len(past) else _last_rows(empty())
    present = last[last["Stage"] != REMOVED]
    prev = present.reindex(ids)
    known = prev["Stage"].notna().to_numpy()
    changed = (~known | (prev["Stage"].to_numpy(object) != stage) | (prev["Grade"].to_numpy(object) != grade)
               | ~(np.abs(score - prev["Score"].to_numpy(float)) < rules.history_min_change))
    # A lead whose last row has no score (it came back after being removed) is recorded again too.
    gone = present.index.difference(pd.Index(ids)) if len(present) else present.index   # none before the first
    removed = present.loc[gone].reset_index()
    appended = pd.concat([
        pd.DataFrame({"Refreshed at": when, "Lead ID": ids[changed], "Score": score[changed], "Stage": stage[changed],
                      "Grade": grade[changed], "Rules version": version}),
        pd.DataFrame({"Refreshed at": when, "Lead ID": removed["Lead ID"].to_numpy(object), "Score": np.nan,
                      "Stage": REMOVED, "Grade": "", "Rules version": version}),
    ], ignore_index=True) if len(removed) else pd.DataFrame(
        {"Refreshed at": when, "Lead ID": ids[changed], "Score": score[changed], "Stage": stage[changed],
         "Grade": grade[changed], "Rules version": version})
    appended["Refreshed at"] = pd.to_datetime(appended["Refreshed at"])

    since = _stage_since(past, ids, stage, when)
    since_day = since.astype("datetime64[D]").astype("datetime64[ns]")
    days = ((today.to_datetime64() - since_day) // np.timedelta64(1, "D")).astype(np.int64)
    sla = rules.sla_days
    deadline = np.array([sla.get(s, np.nan) for s in STAGES])[category_codes(stage, STAGES)] \
        if n else np.zeros(0)
    last_act = (np.asarray(last_day).astype("datetime64[D]").astype("datetime64[ns]") if last_day is not None
                else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    idle = (today.to_datetime64() - np.where(np.isnat(last_act), np.datetime64("1900-01-01"), last_act)) \
        // np.timedelta64(1, "D")           # no activity: waiting since forever
    no_action = is_in(status, ["", MISSING])
    breached = no_action & (days > deadline) & (idle > deadline)       # NaN deadline: never
    new_status = np.where(breached, SLA_BREACHED, status).astype(object)
    return HistoryStep(since_day, days, new_status, deadline, appended if write else appended.iloc[:0], past,
                       prev[["Stage", "Score", "Grade"]].reset_index(drop=True), removed, when, len(past) == 0,
                       problems, write)


def _canonical(ids: pd.Series) -> pd.Series:
    """A Lead ID as compared with History: digits only lose their leading zeros ("001001" -> "1001")."""
    stripped = ids.str.lstrip("0")
    return stripped.where(ids.str.fullmatch(r"\d+").fillna(False) & (stripped != ""), ids)


def same_ids(past: pd.DataFrame, ids) -> pd.DataFrame:
    """History rows under today's spelling of each Lead ID: an ID that differs only by leading zeros
    is the same lead (001001 typed as text, 1001 from a number cell, or a row written before Excel
    kept the zeros), so its Stage since and changes carry on. The one place Lead IDs are matched so."""
    if not len(past) or not len(ids):
        return past
    now = pd.Series(np.asarray(ids, dtype=object)).astype(str)
    key_now = _canonical(now)
    unique = ~key_now.duplicated(keep=False)
    spelling = pd.Series(now[unique].to_numpy(object), index=key_now[unique].to_numpy(object))
    old = past["Lead ID"].astype(str).reset_index(drop=True)
    renamed = _canonical(old).map(spelling)
    renamed = renamed.where(renamed.notna(), old)
    if (renamed == old).all():
        return past
    return past.assign(**{"Lead ID": renamed.to_numpy(object)})


def _version(rules) -> str:
    return " ".join(x for x in (rules.name, rules.version) if x)


def _stage_since(past: pd.DataFrame, ids: np.ndarray, stage: np.ndarray, when: pd.Timestamp) -> np.ndarray:
    """When each lead entered its current stage: the first row of its last unbroken run of rows at
    that stage; `when` for a lead new to the stage (or to History)."""
    out = np.full(len(ids), when.to_datetime64(), dtype="datetime64[ns]")
    if not len(past) or not len(ids):
        return out
    pos = pd.Index(ids).get_indexer(past["Lead ID"].to_numpy(object))
    h = past[pos >= 0].assign(_lead=pos[pos >= 0], _n=np.flatnonzero(pos >= 0))
    h = h.sort_values(["_lead", "Refreshed at", "_n"], kind="stable")
    lead = h["_lead"].to_numpy()
    same = h["Stage"].to_numpy(object) == stage[lead]
    t = h["Refreshed at"].to_numpy("datetime64[ns]")
    # Rows after the lead's last row at another stage: its current run.
    other_t = np.where(same, np.datetime64("NaT"), t)
    last_other = pd.Series(other_t).groupby(lead).transform("max").to_numpy("datetime64[ns]")
    in_run = same & (np.isnat(last_other) | (t > last_other))
    # Only a run that reaches the lead's last row counts (else the lead has since left the stage).
    is_last = np.r_[lead[1:] != lead[:-1], True]
    run_ok = pd.Series(same & is_last).groupby(lead).transform("max").to_numpy(bool)
    first = pd.Series(np.where(in_run & run_ok, t, np.datetime64("NaT"))).groupby(lead).min()
    found = first.dropna()
    out[found.index.to_numpy()] = found.to_numpy("datetime64[ns]")
    return out


# ---------------------------------------------------------------------------- what the history tells
@dataclass
class Changes:
    """What changed since the last refresh."""

    first: bool                          # no earlier refresh: nothing to compare with
    previous_at: pd.Timestamp | None
    counts: pd.DataFrame                 # per stage: Before, Now, New, Moved on, Moved back, Lost, Removed
    moved_back: pd.DataFrame             # leads now at an earlier stage
    lost: pd.DataFrame                   # leads now lost or disqualified
    risers: pd.DataFrame
    fallers: pd.DataFrame

    def new(self, stage: str) -> int:
        return int(self.counts.loc[stage, "New"]) if stage in self.counts.index else 0

    def lines(self, label=lambda s: s) -> list[str]:
        """`MQL 70 → 73: +5 new, −2 moved on` for each stage whose leads changed."""
        out = []
        for s, r in self.counts.iterrows():
            parts = [f"+{r['New']} new"] if r["New"] else []
            parts += [f"−{r[k]} {k.lower()}" for k in ("Moved on", "Moved back", "Lost", "Removed") if r[k]]
            if parts:
                out.append(f"{label(s)} {r['Before']} → {r['Now']}: {', '.join(parts)}")
        return out

    def as_dict(self) -> dict:
        return {"first_refresh": self.first,
                "previous_refresh": None if self.previous_at is None else self.previous_at.isoformat(),
                "stages": {s: {k.lower().replace(" ", "_"): int(v) for k, v in r.items()}
                           for s, r in self.counts.iterrows()},
                "moved_back": int(len(self.moved_back)), "lost": int(len(self.lost))}


def changes(step: HistoryStep, context: pd.DataFrame, movers: int = 5) -> Changes:
    """Stage by stage, what moved since the last refresh; the biggest score risers and fallers.

    `context`: the evaluation's per-lead frame (Lead ID, Stage, Score, Name, Owner, Row), aligned
    with the history step's leads. Computed once per step and frame: the Summary and the CLI's
    message ask for the same changes of one refresh.
    """
    memo = step.__dict__.get("_changes")
    if memo is not None and memo[0] is context and memo[1] == movers:
        return memo[2]
    out = _changes(step, context, movers)
    step.__dict__["_changes"] = (context, movers, out)
    return out


def _changes(step: HistoryStep, context: pd.DataFrame, movers: int) -> Changes:
    now = context["Stage"].to_numpy(object)
    prev = step.previous["Stage"].to_numpy(object)
    had = pd.notna(prev)
    reach = np.array([REACH[s] for s in STAGES])
    now_code = pd.Categorical(now, categories=STAGES).codes
    prev_code = pd.Categorical(prev, categories=STAGES).codes          # -1: new to History
    now_r = reach[now_code]
    prev_r = np.where(prev_code >= 0, reach[prev_code], -1)
    lost_now = np.isin(now, [LOST, DISQUALIFIED])
    moved = had & (prev != now)
    on = moved & ~lost_now & (now_r > prev_r)
    back = moved & ~lost_now & ~on
    rows = []
    removed_prev = step.removed["Stage"].to_numpy(object) if len(step.removed) else np.zeros(0, dtype=object)
    removed_code = pd.Index(STAGES).get_indexer(removed_prev)

    def per_stage(codes: np.ndarray, mask=None) -> np.ndarray:
        """How many of the leads (of `mask`) have each stage, by its code (-1: none of STAGES)."""
        codes = codes if mask is None else codes[mask]
        return np.bincount(codes[codes >= 0], minlength=len(STAGES))

    before, now_n, removed_n = per_stage(prev_code, had), per_stage(now_code), per_stage(removed_code)
    new_n = per_stage(now_code, ~had | moved)
    on_n, back_n, lost_n = per_stage(prev_code, moved & on), per_stage(prev_code, moved & back), per_stage(prev_code, moved & lost_now)
    for i, s in enumerate(STAGES):
        rows.append({"Stage": s, "Before": int(before[i] + removed_n[i]), "Now": int(now_n[i]), "New": int(new_n[i]),
                     "Moved on": int(on_n[i]), "Moved back": int(back_n[i]), "Lost": int(lost_n[i]),
                     "Removed": int(removed_n[i])})
    counts = pd.DataFrame(rows).set_index("Stage")
    if step.started:
        counts[["Before", "New", "Moved on", "Moved back", "Lost", "Removed"]] = 0
    cols = ["Lead ID", "Name", "Owner", "Stage", "Score", "Row"]
    ctx = context[cols].reset_index(drop=True)
    before_label = pd.Series(prev, dtype=object)
    moved_back = ctx.loc[back, cols].assign(Before=before_label[back].to_numpy(object)).reset_index(drop=True)
    lost = ctx.loc[moved & lost_now, cols].assign(Before=before_label[moved & lost_now].to_numpy(object)).reset_index(drop=True)
    delta = ctx["Score"].to_numpy(float) - step.previous["Score"].to_numpy(float)
    mv = ctx[cols].assign(Before=step.previous["Score"].to_numpy(float), Change=delta)[had & ~np.isnan(delta)]
    risers = _top(mv[mv["Change"] > 0], movers, ascending=False)
    fallers = _top(mv[mv["Change"] < 0], movers, ascending=True)
    prev_at = step.past["Refreshed at"].max() if len(step.past) else None
    return Changes(step.started, prev_at, counts, moved_back, lost, risers.reset_index(drop=True),
                   fallers.reset_index(drop=True))


def _top(frame: pd.DataFrame, n: int, ascending: bool) -> pd.DataFrame:
    """The first n rows by Change (then Lead ID): only the rows whose change reaches the n-th one's are sorted."""
    change = frame["Change"].to_numpy(float)
    if len(change) > n > 0:
        edge = np.partition(change, n - 1)[n - 1] if ascending else -np.partition(-change, n - 1)[n - 1]
        frame = frame[change <= edge] if ascending else frame[change >= edge]
    return frame.sort_values(["Change", "Lead ID"], ascending=[ascending, True], kind="stable").head(n)


def trend(step: HistoryStep, refreshes: int = TREND_REFRESHES) -> pd.DataFrame:
    """Leads per stage after the last refresh of each of the last `refreshes` days with one (rows:
    refresh times, oldest first).

    Each History row moves its lead from its previous row's stage to its own, so the counts after
    each refresh are running sums of those moves — one pass over the log, however long.
    """
    full = pd.concat([step.past, step.appended], ignore_index=True) if len(step.past) else step.appended
    if not len(full):
        return pd.DataFrame(columns=FUNNEL + [LOST, DISQUALIFIED])
    table = _trend_counts(full)
    if table is None:
        table = _trend_table(full)
    # one point per day, its last refresh: two refreshes on one day would draw a vertical line
    table = table[~table.index.normalize().duplicated(keep="last")]
    return table.tail(refreshes)


def _trend_counts(full: pd.DataFrame) -> pd.DataFrame | None:
    """_trend_table in integer codes: rows ordered by lead number (not Lead ID text: the order of the
    leads does not change the counts), then time, then sheet order; the moves counted per refresh time
    and stage with bincount. None where a Lead ID or time is missing (_trend_table then)."""
    lead, _ = pd.factorize(full["Lead ID"], use_na_sentinel=True)
    t = full["Refreshed at"].to_numpy("datetime64[ns]")
    if (lead < 0).any() or np.isnat(t).any():
        return None
    order = np.lexsort((np.arange(len(full)), t, lead))
    lead, t = lead[order], t[order]
    stage = pd.Index(STAGES).get_indexer(full["Stage"].to_numpy(object)[order]).astype(np.int64)   # Removed: -1
    first_of_lead = np.r_[True, lead[1:] != lead[:-1]]
    # +1 at each row's stage; -1 at the stage of the lead's row before (a stage outside STAGES: Removed, none)
    before = np.r_[-1, stage[:-1]]
    before[first_of_lead] = -1
    plus, minus = stage >= 0, before >= 0
    times, at = np.unique(np.concatenate([t[plus], t[minus]]), return_inverse=True)
    if not len(times):
        return None
    k = len(STAGES)
    cell = at * k + np.concatenate([stage[plus], before[minus]])
    sign = np.concatenate([np.ones(int(plus.sum()), np.int64), -np.ones(int(minus.sum()), np.int64)])
    counts = np.bincount(cell, weights=sign, minlength=len(times) * k).round().astype(np.int64)
    table = pd.DataFrame(counts.reshape(len(times), k).cumsum(axis=0), columns=pd.Index(STAGES, name="stage"),
                         index=pd.DatetimeIndex(times, name="Refreshed at"))
    return table.astype(int)


def _trend_table(full: pd.DataFrame) -> pd.DataFrame:
    h = full.assign(_n=np.arange(len(full))).sort_values(["Lead ID", "Refreshed at", "_n"], kind="stable")
    lead = h["Lead ID"].to_numpy(object)
    stage = h["Stage"].to_numpy(object)
    t = h["Refreshed at"].to_numpy("datetime64[ns]")
    first_of_lead = np.r_[True, lead[1:] != lead[:-1]]
    before = np.where(first_of_lead, None, np.r_[None, stage[:-1]])
    plus = pd.DataFrame({"t": t, "stage": stage, "n": 1})
    minus = pd.DataFrame({"t": t, "stage": before, "n": -1})[pd.notna(before)]
    moves = pd.concat([plus, minus], ignore_index=True)
    moves = moves[moves["stage"] != REMOVED]
    table = moves.pivot_table(index="t", columns="stage", values="n", aggfunc="sum", fill_value=0).sort_index().cumsum()
    table = table.reindex(columns=STAGES, fill_value=0).astype(int)
    table.index.name = "Refreshed at"
    return table


def velocity(step: HistoryStep) -> pd.DataFrame:
    """Median days between first entering one stage and first entering the next (Lead → MQL → SQL →
    Customer), over the leads History saw make that move."""
    full = pd.concat([step.past, step.appended], ignore_index=True) if len(step.past) else step.appended
    days = _first_days(full)
    if days is None:
        return _velocity_grouped(full)
    rows = []
    for a, b in VELOCITY_STEPS:
        d = days[b] - days[a]
        d = d[~np.isnan(d) & (d >= 0)]
        rows.append({"From": a, "To": b, "Leads": int(len(d)), "Median days": float(np.median(d)) if len(d) else np.nan})
    return pd.DataFrame(rows)


def _velocity_grouped(full: pd.DataFrame) -> pd.DataFrame:
    first = (full[full["Stage"].isin([LEAD, MQL, SQL, CUSTOMER])].groupby(["Lead ID", "Stage"])["Refreshed at"].min()
             .unstack()) if len(full) else pd.DataFrame()
    rows = []
    for a, b in VELOCITY_STEPS:
        if a in first.columns and b in first.columns:
            d = (first[b].dt.normalize() - first[a].dt.normalize()).dt.days
            d = d[d.notna() & (d >= 0)]
        else:
            d = pd.Series(dtype=float)
        rows.append({"From": a, "To": b, "Leads": int(len(d)), "Median days": float(d.median()) if len(d) else np.nan})
    return pd.DataFrame(rows)


def _first_days(full: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """Per velocity stage, the day (in days since the epoch, NaN: never) each lead first had it, by lead
    number; None where a Lead ID or a time is missing (velocity then groups the frame)."""
    stages = [LEAD, MQL, SQL, CUSTOMER]
    lead, ids = pd.factorize(full["Lead ID"], use_na_sentinel=True)
    t = full["Refreshed at"].to_numpy("datetime64[ns]")
    if (lead < 0).any() or np.isnat(t).any():
        return None
    stage = pd.Index(stages).get_indexer(full["Stage"].to_numpy(object))
    keep = stage >= 0
    day = t.astype("datetime64[D]").astype(np.int64)        # the day of the first time is the first day
    out = {}
    for i, s in enumerate(stages):
        first = np.full(len(ids), np.iinfo(np.int64).max, np.int64)
        mine = keep & (stage == i)
        np.minimum.at(first, lead[mine], day[mine])
        out[s] = np.where(first == np.iinfo(np.int64).max, np.nan, first.astype(float))
    return out


def sla_by_owner(context: pd.DataFrame) -> pd.DataFrame:
    """Leads past their follow-up deadline, by owner (most first), with the longest wait."""
    m = (context["Next action status"] == SLA_BREACHED).to_numpy()
    sub = context[m]
    owner = text_or_empty(sub["Owner"]).str.strip().replace("", "(none)")
    if not len(sub):
        return pd.DataFrame(columns=["Owner", "Leads", "MQL", "SQL", "Max days"])
    frame = pd.DataFrame({"Owner": owner.to_numpy(object), "Leads": 1, "MQL": (sub["Stage"] == MQL).to_numpy(int),
                          "SQL": (sub["Stage"] == SQL).to_numpy(int), "Days": sub["Days in stage"].to_numpy()})
    out = frame.groupby("Owner", sort=False).agg(Leads=("Leads", "sum"), MQL=("MQL", "sum"), SQL=("SQL", "sum"),
                                                  Longest=("Days", "max")).reset_index()
    out = out.rename(columns={"Longest": "Max days"})
    return out.sort_values(["Leads", "Owner"], ascending=[False, True], kind="stable").reset_index(drop=True)


@dataclass
class Memory:
    """The Summary's history sections."""

    changes: Changes
    trend: pd.DataFrame
    velocity: pd.DataFrame
    sla: pd.DataFrame


def memory(ev) -> Memory:
    """Since last refresh, the trend, the velocity and the SLA breaches of an evaluation with history."""
    return Memory(changes(ev.history, ev.context), trend(ev.history), velocity(ev.history), sla_by_owner(ev.context))


def compact(full: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """History cut to at most `limit` rows: the oldest refreshes are folded into one baseline row
    per lead (dated when the lead entered the stage it then had, with its latest score), so Stage
    since survives. Returns (rows kept, rows folded away)."""
    h = full.assign(_n=np.arange(len(full))).sort_values(["Lead ID", "Refreshed at", "_n"], kind="stable")
    lead = h["Lead ID"].to_numpy(object)
    stage = h["Stage"].to_numpy(object)
    new_run = np.r_[True, (lead[1:] != lead[:-1]) | (stage[1:] != stage[:-1])]
    h = h.assign(_run=np.cumsum(new_run))
    times = np.sort(h["Refreshed at"].unique())
    gone = set(h.drop_duplicates("Lead ID", keep="last").query("Stage == @REMOVED")["Lead ID"])
    for cut in times[1:]:
        before, after = h[h["Refreshed at"] < cut], h[h["Refreshed at"] >= cut]
        last = before.drop_duplicates("Lead ID", keep="last")
        last = last[(last["Stage"] != REMOVED) & ~last["Lead ID"].isin(gone)]     # no baseline for leads since removed
        entry = before.drop_duplicates("_run", keep="first").set_index("_run")["Refreshed at"]
        base = last.assign(**{"Refreshed at": entry.reindex(last["_run"]).to_numpy()})
        if len(base) + len(after) <= limit:
            kept = pd.concat([base, after]).sort_values(["Refreshed at", "_n"], kind="stable")
            return kept[COLUMNS].reset_index(drop=True), len(full) - len(kept)
    last = h.drop_duplicates("Lead ID", keep="last")
    kept = last[last["Stage"] != REMOVED].sort_values(["Refreshed at", "_n"], kind="stable").head(limit)
    return kept[COLUMNS].reset_index(drop=True), len(full) - len(kept)
