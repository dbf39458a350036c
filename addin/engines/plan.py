"""The engagement computation as one SQL description, run by DuckDB or, transpiled by SQLGlot, by Spark.

It reproduces addin.core.scoring.engagement_hits exactly (the equality is tested on random rules
and data). The split of the work:

* Text semantics stay LeadQ's own: each column's *distinct* values (lead ids, e-mails, activity
  types, Details, dates written as text) are read once, mapped with the core's functions (the
  same folding of case and accents, the same glob matching, the same lenient dates) and handed
  back to the engine as small dimension tables. The events themselves never leave the engine.
  One group-by over the rows (`_groups_sql`: raw lead id and e-mail, whether the type is known, blank
  or unknown, the date's state) is kept in the engine: the lead ids, e-mails and text dates are read
  from it, and the diagnostics run on it (100M events: about 2 s less than their own passes).
* The engine joins the events to those tables and does the heavy part in SQL (`_score_sql`), one query:
  - the live hits as narrow integers: g = lead * rules + rule, k = age * 2^40 + row order (newest first,
    ties on a day to the earlier row of the source, as in the sheet), the rule's points (hundredths) and
    max_count brought by the dimension tables; future and fully decayed activities are dropped by an age
    bound computed here with the core's own decay_factor, not by a factor per row;
  - only the hits of capped types are ranked (ROW_NUMBER over g by k, the max_count most recent kept);
  - page hits: the counted type hits whose Detail code a page rule matches (its activity filter
    applied), ranked the same way for the capped page rules only;
  - a GROUP BY g per part (unranked and ranked types, unranked and ranked pages: no group is in two parts): count,
    decayed and kept points (a hit's points depend only on its rule and age: rint(points * factor)), the sum of
    the factors, and (pages only) the newest hit's Detail code;
  - when the log has a Lead ID and no Email column, the lead in g is, if that is exact, a hash of the raw id
    (`_hash_bits`) instead of its position joined from dim_lead: no 100,000-id join of every row (10M events: a
    tenth of the scoring's CPU; at 100M it runs once per read of the log); the groups are mapped to positions
    after the fetch.
  The live hits are held in memory when twice their narrow copy fits in the backend's memory limit (it
  knows a Parquet log's row count); a larger log is read again for each of their four uses, which costs
  less than spilling them to disk (100M events: 2.5–8.7 GB spilled instead of 12.7 GB).
  Measured and not taken: top-N aggregates (arg_min(x, k, n)) instead of the windows are slower in DuckDB
  2.0 and run out of memory at 1 GB; aggregating per (lead, rule, day) before ranking gains nothing when a
  lead has about one activity of a type per day, as in the benchmark's log; holding only the kept hits of
  the capped rules, or grouping types and pages apart, did not stop the final grouping from spilling in
  about half the 100M runs.
* The few numbers per lead and rule come back and are finished by `scoring.group_ledger`, the
  same code the pandas engine ends with.

The SQL is written once, in DuckDB's dialect; a backend that speaks another dialect transpiles it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.model import lead_keys
from ..core.rules.model import Rules
from ..core.rules.operators import glob_mask
from ..core.scoring import NO_LIMIT, RuleTable, cents, decay_factor, group_ledger, page_tags
from ..core.values.headers import LEAD_ID, match_headers, near_miss
from ..core.values.parse import read_dates
from ..core.values.text import did_you_mean, fold_series, key
from ..errors import Problem, ProblemLog, WorkbookError
from ..problems import (
    ACTIVITY_WITHOUT_LEAD,
    DATE_ORDER_GUESSED,
    MISSING_ACTIVITY,
    MISSING_COLUMN,
    MISSING_DATE,
    NOT_A_DATE,
    UNKNOWN_ACTIVITY,
    UNKNOWN_LEAD,
)
from .backend import Backend

ORDER = "__leadq_order"      # the source's row order (0, 1, 2 … < 2^40), added by the backend: ties on a day keep it
RECENCY = 1 << 40            # k = age in days * 2^40 + row order: one integer orders hits newest first, then as read
LIVE_ROW_BYTES = 32          # a live hit held in memory: g, k (BIGINT), unit, d (INTEGER), cap (BIGINT)
GROUPS = "log_groups"         # the kept group-by of the log's rows (Plan._groups_sql)
_EXCEL_EPOCH_DAY = -25569     # 1899-12-30 in days since 1970-01-01


def q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def distinct_sql(column: str, relation: str = "src") -> str:
    """A column's distinct values and their row counts (Backend.distinct), from the source or a kept group-by."""
    n = "COUNT(*)" if relation == "src" else "CAST(SUM(__n) AS BIGINT)"
    return f"SELECT {q(column)} AS v, {n} AS n FROM {relation} WHERE {q(column)} IS NOT NULL GROUP BY 1"


def num(x: float) -> str:
    """A float literal both engines read as DOUBLE (bare 0.1 would be a DECIMAL)."""
    return f"CAST({float(x)!r} AS DOUBLE)"


def rint(x: str) -> str:
    """numpy's rint (half to even) in portable SQL: the engines' ROUND differ on halves."""
    fl = f"FLOOR({x})"
    return (f"CAST({fl} + CASE WHEN {x} - {fl} > 0.5 THEN 1 WHEN {x} - {fl} < 0.5 THEN 0 "
            f"ELSE ABS({fl} % 2) END AS BIGINT)")


def factor_sql(age: str, decay: dict | None) -> str:
    """scoring.decay_factor as SQL over an integer age in days."""
    a = f"CAST({age} AS DOUBLE)"
    if not decay:
        return num(1.0)
    if "half_life_days" in decay:
        return f"POWER({num(0.5)}, {a} / {num(decay['half_life_days'])})"
    if "linear" in decay:
        lin = decay["linear"]
        x = f"{num(1.0)} - FLOOR({a} / {num(lin['every_days'])}) * {num(lin['percent'])} / {num(100.0)}"
        return f"GREATEST({num(0.0)}, LEAST({num(1.0)}, {x}))"
    if "window_days" in decay:
        return f"CASE WHEN {a} <= {num(decay['window_days'])} THEN {num(1.0)} ELSE {num(0.0)} END"
    return num(1.0)


@dataclass
class Engagement:
    """What an engine hands evaluate(): ledger rows, interest tags and each lead's last activity day."""

    ledger: pd.DataFrame
    tags: pd.DataFrame
    last_day: np.ndarray


class Plan:
    """The engagement computation over one source, for one set of leads and rules."""

    def __init__(self, backend: Backend, leads: pd.DataFrame, ids: pd.Series, rules: Rules, table: RuleTable,
                 as_of_day: int, log: ProblemLog, date_order: str = "auto"):
        self.b, self.leads, self.ids, self.rules, self.table = backend, leads, ids, rules, table
        self.as_of_day, self.log, self.date_order = int(as_of_day), log, date_order
        cols = backend.columns()
        self.kinds = dict(cols)
        hmap = match_headers([c for c, _ in cols if c != ORDER], "Activities")
        self.col = hmap.columns          # canonical -> real column
        for needed in ("Date", "Activity"):
            if needed not in self.col:
                hint = next((f' (did you mean "{h}"?)' for h in hmap.custom if near_miss(h, "Activities") == needed), "")
                p = Problem(MISSING_COLUMN, backend.label, f'no "{needed}" column{hint}; the activity log needs '
                                                             'Lead ID (or Email), Date, Activity and Detail columns', "error")
                raise WorkbookError(str(p), [p])
        self.where = {c: f'{backend.label} (column "{real}")' for c, real in self.col.items()}
        self.dates_guessed = 0
        self.examples: dict[str, list[tuple[object, int]]] = {}

    # ---- dimension tables: each distinct value mapped by the core's own functions
    def _dims(self) -> list[str]:
        """Register the dimension tables; return the SQL joins that bring them in."""
        joins = []
        lookup = self.rules.activity_names     # key, label and aliases: the pandas engine's own lookup
        d = self.b.distinct(self.col["Activity"])
        resolved = [lookup.get(key(u)) for u in d["v"]]
        rule = np.array([self.table.fit + self.table.types.index(t) if t else -1 for t in resolved], dtype=np.int64)
        blank = np.array([key(u) == "" for u in d["v"]], dtype=bool)
        self._note(UNKNOWN_ACTIVITY, d, (rule < 0) & ~blank)
        units, caps = self._units_caps()
        self.b.register("dim_act", pd.DataFrame({"v": d["v"], "rule": rule, "blank": blank.astype(np.int64),
                                                 "unit": np.where(rule >= 0, units[rule], 0),
                                                 "cap": np.where(rule >= 0, caps[rule], 0)}), self.col["Activity"])
        self.act_join = f"LEFT JOIN dim_act a ON s.{q(self.col['Activity'])} = a.v"
        joins.append(self.act_join)

        self.b.keep(GROUPS, self._groups_sql())
        id_index = pd.Index(self.ids.to_numpy(object))
        if LEAD_ID in self.col:
            d = self.b.distinct(self.col[LEAD_ID], GROUPS)
            keys = lead_keys(pd.Series(d["v"].to_numpy(object), dtype=object)).to_numpy(object)
            pos = id_index.get_indexer(keys)
            given = keys != ""
            self._note(UNKNOWN_LEAD, d, given & (pos < 0))
            self.b.register("dim_lead", pd.DataFrame({"v": d["v"], "pos": pos.astype(np.int64),
                                                      "given": given.astype(np.int64)}), self.col[LEAD_ID])
            self.lead_join = f"LEFT JOIN dim_lead l ON s.{q(self.col[LEAD_ID])} = l.v"
            joins.append(self.lead_join)
        if "Email" in self.col:
            d = self.b.distinct(self.col["Email"], GROUPS)
            emails = fold_series(self.leads["Email"] if "Email" in self.leads.columns
                                 else pd.Series([None] * len(self.leads), dtype=object)).to_numpy(object)
            first = pd.Series(np.arange(len(emails)), index=pd.Index(emails, dtype=object))
            first = first[~first.index.duplicated()]
            folded = fold_series(pd.Series(d["v"].to_numpy(object), dtype=object)).to_numpy(object)
            pos = first.reindex(folded).fillna(-1).to_numpy(np.int64)
            pos = np.where(folded != "", pos, -1)
            self._note(UNKNOWN_LEAD, d, (folded != "") & (pos < 0))
            self.b.register("dim_email", pd.DataFrame({"v": d["v"], "pos": pos, "given": (folded != "").astype(np.int64)}),
                            self.col["Email"])
            joins.append(f"LEFT JOIN dim_email m ON s.{q(self.col['Email'])} = m.v")

        self.detail_text = np.zeros(0, dtype=object)
        self.detail_join = ""
        self.has_detail = "Detail" in self.col and bool(self.rules.pages)
        if self.has_detail:
            d = self.b.distinct(self.col["Detail"])
            self.detail_text = fold_series(pd.Series(d["v"].to_numpy(object), dtype=object)).to_numpy(object)
            codes = np.arange(len(d), dtype=np.int64)
            folded = pd.Series(self.detail_text, dtype=object)
            first_page = self.table.fit + len(self.table.types)
            masks = [glob_mask(folded, p["match"]).to_numpy(bool) for p in self.rules.pages]
            hits = pd.concat([pd.DataFrame({"d": codes[m], "rule": first_page + k}) for k, m in enumerate(masks)],
                             ignore_index=True).astype(np.int64)
            hits["unit"], hits["cap"] = units[hits["rule"]], caps[hits["rule"]]     # the page rule's points and max_count
            self.b.register("page_hit", hits)
            # Only the Details some page rule matches get a code: the events join a table of those (often few).
            some = np.logical_or.reduce(masks)
            self.b.register("dim_det", pd.DataFrame({"v": d["v"][some], "d": codes[some]}), self.col["Detail"])
            self.detail_join = f"LEFT JOIN dim_det dd ON s.{q(self.col['Detail'])} = dd.v"

        if self.kinds[self.col["Date"]] != "date":
            d = self.b.distinct(self.col["Date"], GROUPS)
            reading = read_dates(pd.Series(d["v"].to_numpy(object), dtype=object), self.date_order, weights=d["n"].to_numpy())
            dates, bad = reading.dates, reading.bad
            self.dates_guessed = reading.guessed        # the pandas engine's date-order-guessed line, on the same rows
            day = dates.to_numpy("datetime64[D]").astype(np.int64)
            ok = dates.notna().to_numpy()
            self._note(NOT_A_DATE, d, bad.to_numpy())
            self.b.register("dim_date", pd.DataFrame({"v": d["v"], "day": np.where(ok, day, 0), "ok": ok.astype(np.int64),
                                                      "bad": bad.to_numpy().astype(np.int64)}), self.col["Date"])
            joins.append(f"LEFT JOIN dim_date x ON s.{q(self.col['Date'])} = x.v")
        return joins

    def _note(self, code: str, distinct: pd.DataFrame, mask: np.ndarray) -> None:
        """Keep the most frequent offending values of a problem, to quote them."""
        if mask.any():
            sub = distinct[mask].nlargest(3, "n")
            self.examples.setdefault(code, []).extend(zip(sub["v"].tolist(), sub["n"].tolist()))

    def _units_caps(self) -> tuple[np.ndarray, np.ndarray]:
        """Per rule code: points in hundredths, and max_count (0: none)."""
        t = self.table
        mc = np.asarray(t.max_count, dtype=np.int64)
        return cents(t.points).astype(np.int64), np.where(mc < NO_LIMIT, mc, 0).astype(np.int64)

    def _allowed(self, page: str, rule: str) -> str:
        """SQL: page rule `page` accepts hits of type rule `rule` (its "activity" filter)."""
        t = self.table
        first_page = t.fit + len(t.types)
        only = []
        for k, spec in enumerate(self.rules.pages):
            allowed = spec.get("activity")
            if allowed:
                allowed = [allowed] if isinstance(allowed, str) else allowed
                codes = [t.fit + t.types.index(a) for a in allowed if a in t.types]
                inside = f"{rule} IN ({', '.join(map(str, codes))})" if codes else "FALSE"
                only.append(f"({page} <> {first_page + k} OR {inside})")
        return " AND ".join(only) or "TRUE"

    def _oldest(self) -> int | None:
        """The greatest age in days whose decay factor (scoring.decay_factor, as the pandas engine computes it)
        is above 0; None when no age decays to 0. The factor never grows with age, so older hits count nothing."""
        def live(age: int) -> bool:
            return bool(decay_factor(np.array([age], dtype=np.int64), self.rules.decay)[0] > 0)
        lo, hi = 0, 1 << 40
        if live(hi):
            return None
        if not live(lo):
            return -1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if live(mid) else (lo, mid)
        return lo

    def _hold_live(self) -> bool:
        """Hold the live hits in memory (they are read four times) or read the source again for each use: held
        when the backend tells the source's rows and twice their narrow copy fits in its memory limit (a larger
        log would spill that copy to disk several times over; reading it again costs less). DuckDB only."""
        rows, memory = getattr(self.b, "rows", None), getattr(self.b, "memory", None)
        return rows is not None and memory is not None and 2 * LIVE_ROW_BYTES * rows <= memory

    # ---- SQL
    def _base(self, joins: list[str], relation: str = "src", detail: bool = True, tail: str = f"s.{ORDER} AS o",
              types: tuple[str, str] | None = None, lead: str | None = None) -> str:
        """Every row of `relation` as integer codes: lead position, rule, day, detail code, flags, and `tail`.
        types: the rule and blank-type expressions when `relation` carries them (the kept groups), instead of dim_act's;
        lead: the lead key's expression instead of dim_lead's and dim_email's positions (`_hash_bits`)."""
        has_id, has_email = LEAD_ID in self.col, "Email" in self.col
        if lead:
            given = "1"
        elif has_id and has_email:
            lead = "CASE WHEN l.pos >= 0 THEN l.pos WHEN l.given = 1 THEN -1 ELSE COALESCE(m.pos, -1) END"
            given = "CASE WHEN l.given = 1 OR m.given = 1 THEN 1 ELSE 0 END"
        elif has_id:
            lead, given = "COALESCE(l.pos, -1)", "COALESCE(l.given, 0)"
        elif has_email:
            lead, given = "COALESCE(m.pos, -1)", "COALESCE(m.given, 0)"
        else:
            lead, given = "-1", "0"
        if self.kinds[self.col["Date"]] == "date":
            day = f"DATE_DIFF('day', DATE '1970-01-01', CAST(s.{q(self.col['Date'])} AS DATE))"
            bad = "0"
        else:
            day, bad = "CASE WHEN x.ok = 1 THEN x.day END", "COALESCE(x.bad, 0)"
        detail = detail and self.has_detail
        det = "dd.d" if detail else "CAST(NULL AS BIGINT)"
        joins = joins + [self.detail_join] if detail else joins
        rule, blank, unit, cap = (*types, "NULL", "NULL") if types else ("COALESCE(a.rule, -1)", "COALESCE(a.blank, 1)", "a.unit",
                                                                          "a.cap")
        return (f"SELECT {lead} AS lead, {given} AS given, {rule} AS rule, {blank} AS tblank, {unit} AS unit, {cap} AS cap, "
                f"{day} AS day, {bad} AS dbad, {det} AS d, {tail} FROM {relation} s " + " ".join(joins))

    def _score_sql(self, base: str, m: int | None = None) -> str:
        """Per (lead, rule) of the activity types and page rules: n (hits), decayed (every hit's points), kept (the
        points of the max_count most recent hits), fsum (sum of the decay factors) and newest (the Detail code of
        the most recent hit, -1 for none: pages show it). g = lead * m + rule (m: the number of rules, or the power of two of
        hashed lead keys, `_hash_bits`)."""
        t = self.table
        m = m or len(t.names)
        live = ["lead >= 0", "rule >= 0", "day IS NOT NULL", f"day <= {self.as_of_day}"]
        oldest = self._oldest()
        if oldest is not None:       # future activities and fully decayed ones count nothing, and take no max_count place
            live.append(f"day >= {self.as_of_day - oldest}")
        rank = "ROW_NUMBER() OVER (PARTITION BY g ORDER BY k) <= cap"
        # ev: the live hits, narrow: g = lead * m + rule; k = age * 2^40 + row order (the decay factor is
        # computed from it); the rule's points (unit, hundredths) and max_count (cap, 0: none).
        ctes = [f"base AS NOT MATERIALIZED ({base})",
                f"ev AS {'' if self._hold_live() else 'NOT '}MATERIALIZED (SELECT CAST(lead AS BIGINT) * {m} + rule AS g, "
                f"CAST(unit AS INTEGER) AS unit, cap, CAST(d AS INTEGER) AS d, CAST({self.as_of_day} - day AS BIGINT) * {RECENCY} + o AS k "
                f"FROM base WHERE {' AND '.join(live)})",
                # the hits of capped types, ranked: ok for each (lead, type)'s max_count most recent
                f"tc AS MATERIALIZED (SELECT g, unit, d, k, {rank} AS ok FROM ev WHERE cap > 0)"]
        f = factor_sql(f"(k // {RECENCY})", self.rules.decay)

        def grouped(rows: str, ranked: bool, detail: bool) -> str:
            # Each part's groups are its own (its rules are no other part's): grouped apart, in smaller hash tables,
            # the types without the Detail code they never carry, the unranked without a kept sum of their own.
            kept = "SUM(CASE WHEN ok THEN pc ELSE 0 END)" if ranked else "SUM(pc)"
            newest = "ARG_MIN(d, k)" if detail else "CAST(NULL AS INTEGER)"
            cols = ", ".join(["g", "unit", "k"] + (["d"] if detail else []) + (["ok"] if ranked else []))
            return (f"SELECT g, COUNT(*) AS n, CAST(SUM(pc) AS BIGINT) AS decayed, CAST({kept} AS BIGINT) AS kept, "
                    f"SUM(f) AS fsum, {newest} AS newest FROM (SELECT *, {rint('unit * f')} AS pc FROM "
                    f"(SELECT {cols}, {f} AS f FROM ({rows}) h) fx) px GROUP BY g")
        # the types' own rows carry no Detail code: only the pages show their newest hit's Detail
        parts = [grouped("SELECT g, unit, k FROM ev WHERE cap = 0", False, False),
                 grouped("SELECT g, unit, k, ok FROM tc", True, False)]
        if self.has_detail:
            # Page hits: the type hits within their type's max_count whose Detail a page rule matches (read once per
            # use: ranked for the capped page rules, as they are for the others).
            counted = "SELECT g, d, k FROM ev WHERE cap = 0 AND d IS NOT NULL UNION ALL SELECT g, d, k FROM tc WHERE ok AND d IS NOT NULL"
            ctes.append(f"pg AS NOT MATERIALIZED (SELECT h.g // {m} * {m} + p.rule AS g, p.unit AS unit, p.cap AS cap, h.d AS d, "
                        f"h.k AS k FROM ({counted}) h JOIN page_hit p ON h.d = p.d WHERE {self._allowed('p.rule', f'h.g % {m}')})")
            parts += [grouped("SELECT g, unit, d, k FROM pg WHERE cap = 0", False, True),
                      grouped(f"SELECT g, unit, d, k, {rank} AS ok FROM pg WHERE cap > 0", True, True)]
        return ("WITH " + ", ".join(ctes) + f" SELECT g // {m} AS lead, g % {m} AS rule, n, decayed, kept, fsum, "
                "COALESCE(newest, -1) AS newest FROM ("
                + " UNION ALL ".join(parts) + ") a")

    def _groups_sql(self) -> str:
        """The rows counted by their raw lead id and e-mail, by what their type is to the report (known, blank
        or unknown: __known and __blank), and by their date
        (when it is text) or by whether it is missing or after the as-of day (MAX: the last one).

        A plain group-by over the files, kept by the backend: the distinct lead ids, e-mails and text dates
        (with their row counts) are read from it, and the diagnostics' joins run on its groups, not on every row.
        """
        keys = [f"s.{q(self.col[c])}" for c in (LEAD_ID, "Email") if c in self.col]
        act, date = q(self.col["Activity"]), q(self.col["Date"])
        by = keys + ["a.rule >= 0", "COALESCE(a.blank, 1)"]
        if self.kinds[self.col["Date"]] == "date":
            # dates after the as-of day are grouped apart: the last activity is the last on or before it
            as_of = pd.Timestamp(self.as_of_day, unit="D").date().isoformat()
            keys.append(f"MAX(s.{date}) AS {date}")
            by += [f"s.{date} IS NULL", f"CAST(s.{date} AS DATE) <= DATE '{as_of}'"]
        else:
            keys.append(f"s.{date}")
            by.append(f"s.{date}")
        # the type's state is kept as the group's own keys (no text aggregate over the rows: MIN(Activity) cost
        # about a quarter of this pass)
        return (f"SELECT {', '.join(keys)}, a.rule >= 0 AS __known, COALESCE(a.blank, 1) AS __blank, COUNT(*) AS __n "
                f"FROM src s LEFT JOIN dim_act a ON s.{act} = a.v GROUP BY {', '.join(by)}")

    def _diag_sql(self, joins: list[str]) -> str:
        """Row counts by lead and by what is wrong, and each lead's last activity day, from the kept groups."""
        base = self._base([j for j in joins if j != self.act_join], GROUPS, detail=False, tail="s.__n AS n",
                          types=("CASE WHEN s.__known THEN 0 ELSE -1 END", "s.__blank"))
        flags = ["lead", "given", "CASE WHEN rule >= 0 THEN 1 ELSE 0 END", "tblank", "CASE WHEN day IS NULL THEN 0 ELSE 1 END",
                 "dbad"]
        names = ["lead", "given", "tk", "tblank", "dk", "dbad"]
        return (f"WITH base AS ({base}) SELECT "
                + ", ".join(f"{f} AS {n}" for f, n in zip(flags, names))
                + f", SUM(n) AS n, MAX(CASE WHEN day <= {self.as_of_day} THEN day END) AS last FROM base GROUP BY "
                + ", ".join(flags))

    # ---- run
    def run(self) -> Engagement:
        joins = self._dims()
        diag = self.b.fetch(self._diag_sql(joins))
        last_day = self._report(diag)
        n_rules = len(self.table.names)
        bits = self._hash_bits(diag)
        if bits:
            idcol = f"s.{q(self.col[LEAD_ID])}"
            key = f"CASE WHEN {idcol} IS NOT NULL THEN CAST(hash({idcol}) >> {bits + 1} AS BIGINT) END"
            agg = self.b.fetch_numbers(self._score_sql(self._base([j for j in joins if j != self.lead_join], lead=key),
                                                       1 << bits))
            keys, pos = self.hashed
            at = pd.Index(keys).get_indexer(agg["lead"])
            lead = np.where(at >= 0, pos[at], -1)
            known = np.flatnonzero(lead >= 0)     # the groups of lead ids that name no lead are dropped here
        else:
            agg = self.b.fetch_numbers(self._score_sql(self._base(joins)))
            lead = np.asarray(agg["lead"], dtype=np.int64)
            known = None
        r = np.asarray(agg["rule"], dtype=np.int64)
        # engines return groups in any order; (lead, rule) is unique. One gather per column: the known, in order.
        order = np.argsort(lead * n_rules + r) if known is None else known[np.argsort(lead[known] * n_rules + r[known])]

        def col(name: str, dtype) -> np.ndarray:
            return np.asarray(agg[name], dtype=dtype)[order]
        lead, r, count = lead[order], r[order], col("n", np.int64)
        text = np.append(self.detail_text, "").astype(object)      # a group without a Detail (-1): ""
        ledger = group_ledger(lead, r, count, col("decayed", np.int64), col("kept", np.int64),
                              col("fsum", float) / np.maximum(count, 1), text[col("newest", np.int64)], self.table)
        assert (r < n_rules).all()
        return Engagement(ledger.reset_index(drop=True), page_tags(ledger, self.rules, self.table), last_day)

    def _hash_bits(self, diag: pd.DataFrame) -> int:
        """Bits of the rule in g when the score reads lead keys hashed from the raw Lead ID instead of joining every row
        to dim_lead (that join of 100,000 ids is about a tenth of the scoring's CPU, and at 100M events it runs once per
        read of the log); 0 to join. Exact, or not taken: the backend hashes (DuckDB), the log has a Lead ID and no
        Email column, each lead has one spelling in the log (rows of two spellings are ranked together only through
        the join), and the ids' hashes, cut to the bits left beside the rule, are distinct. Not taken either when more
        than 1/16 of the rows name no lead: the join drops them before the ranking, the hashed keys only after it."""
        if not getattr(self.b, "hashes", False) or LEAD_ID not in self.col or "Email" in self.col:
            return 0
        rows, known = diag["n"].to_numpy(np.int64), diag["lead"].to_numpy(np.int64) >= 0
        if rows[~known].sum() * 16 > rows.sum():
            return 0
        bits = max(len(self.table.names) - 1, 1).bit_length()
        ids = self.b.fetch_numbers(f"SELECT CAST(hash(v) >> {bits + 1} AS BIGINT) AS h, pos FROM dim_lead")
        keys, pos = np.asarray(ids["h"], dtype=np.int64), np.asarray(ids["pos"], dtype=np.int64)
        named = pos[pos >= 0]
        if len(np.unique(keys)) < len(keys) or len(np.unique(named)) < len(named):
            return 0
        self.hashed = keys, pos
        return bits

    def _report(self, diag: pd.DataFrame) -> np.ndarray:
        """Problems of the log, one per kind with its row count and the most frequent values; last activity day."""
        g = {c: diag[c].to_numpy(np.int64) for c in ("lead", "given", "tk", "tblank", "dk", "dbad", "n")}
        known = g["lead"] >= 0
        empty = (g["tblank"] == 1) & (g["dk"] == 0) & (g["dbad"] == 0)
        ok = known & (g["tk"] == 1)
        counts = {
            ACTIVITY_WITHOUT_LEAD: ((g["given"] == 0) & ~empty, LEAD_ID if LEAD_ID in self.col else "Email",
                                      "{n} activities have no Lead ID (or known Email); they are skipped"),
            UNKNOWN_LEAD: ((g["given"] == 1) & ~known, LEAD_ID if LEAD_ID in self.col else "Email",
                             "{n} activities name no lead of the Leads sheet{e}; they are skipped"),
            UNKNOWN_ACTIVITY: ((g["tk"] == 0) & (g["tblank"] == 0) & known, "Activity",
                                 "{n} activities have an unknown type{e}; they are skipped — add it to rules.json or fix the spelling"),
            MISSING_ACTIVITY: ((g["tblank"] == 1) & known & ~empty, "Activity", "{n} activities have no type; they are skipped"),
            NOT_A_DATE: ((g["dbad"] == 1) & ok, "Date", "{n} activities have a date LeadQ cannot read{e} "
                                                           "(use 22/11/2026 or 2026-11-22); they are skipped"),
            MISSING_DATE: ((g["dk"] == 0) & (g["dbad"] == 0) & ok, "Date", "{n} activities have no date; they are skipped"),
        }
        for code, (mask, column, message) in counts.items():
            n = int(g["n"][mask].sum())
            if not n or not self.log.room(code):
                continue
            ex = self.examples.get(code, [])
            hint = ""
            if ex:
                shown = ", ".join(f'"{v}" ×{c:,}' for v, c in sorted(ex, key=lambda e: -e[1])[:3])
                if code == UNKNOWN_ACTIVITY:
                    shown += did_you_mean(str(max(ex, key=lambda e: e[1])[0]), list(self.rules.activities))
                hint = f", e.g. {shown}"
            self.log.add(Problem(code, self.where.get(column, self.b.label), message.format(n=f"{n:,}", e=hint), "warning",
                                 column=self.col.get(column)))
            self.log.count(code, n - 1)     # one line tells them all; the totals count every row
        if self.dates_guessed:                # as core.evaluate.date_notes words it
            self.log.add(Problem(DATE_ORDER_GUESSED, self.where["Date"],
                                 f"{self.dates_guessed} date(s) such as 03/04/2026 could be day-first or month-first and "
                                 "nothing in the column tells: they are read day-first (DMY) — if they are US dates, set Date "
                                 "order to MDY on Settings", "warning"))
        last = np.full(len(self.ids), np.iinfo(np.int64).min, dtype=np.int64)
        use = ok & (g["dk"] == 1) & diag["last"].notna().to_numpy()      # only activities after as-of: none
        np.maximum.at(last, g["lead"][use], diag["last"].to_numpy()[use].astype(np.int64))
        return np.where(last == np.iinfo(np.int64).min, np.datetime64("NaT"), last.astype("datetime64[D]"))
