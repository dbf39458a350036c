"""The engine's shared types: where rows came from (Origin), what evaluate() returns (Evaluation), and
how a Lead ID is keyed. Their own module so that history, the engines and the report can use them
without importing evaluate (which imports history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import Problem, ProblemLog
from .values.text import column_letter, map_unique

if TYPE_CHECKING:
    from .accounts import Accounts
    from .history import HistoryStep
    from .rules.model import Rules


class Origin:
    """Where each DataFrame row and column came from, so problems name real cells.

    A reader sets `frame.attrs["leadq_origin"] = {"sheet": ..., "rows": [...], "letters": {...}}`;
    without it, the frame is taken to start at A1 with its header on row 1.
    """

    def __init__(self, frame: pd.DataFrame, sheet: str):
        o = frame.attrs.get("leadq_origin") or {}
        self.sheet = o.get("sheet", sheet)
        rows = o.get("rows")
        self.rows = np.asarray(rows if rows is not None else np.arange(len(frame)) + 2, dtype=np.int64)
        self.letters = o.get("letters") or {h: column_letter(i) for i, h in enumerate(frame.columns)}

    @property
    def header_ref(self) -> str:
        """The header row, as Leads!3:3 (the row above the first data row)."""
        r = int(self.rows[0]) - 1 if len(self.rows) else 1
        return f"{self.sheet}!{r}:{r}"

    def problem(self, code: str, pos: int, header: str | None, message: str, severity="warning") -> Problem:
        row = int(self.rows[pos]) if 0 <= pos < len(self.rows) else None
        if header is None:
            return Problem(code, f"{self.sheet}!{row}:{row}", message, severity, sheet=self.sheet, row=row)
        cell = f"{self.letters.get(header, '?')}{row}"
        return Problem(code, f'{self.sheet}!{cell} (column "{header}")', message, severity,
                       sheet=self.sheet, row=row, column=str(header), cell=cell)

    def report(self, log: ProblemLog, code: str, mask, header, message_of) -> None:
        """Report every True position of mask; only the first ones the log keeps are built."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        keep = log.room(code)
        for pos in positions[:keep]:
            log.add(self.problem(code, int(pos), header, message_of(int(pos))))
        log.count(code, len(positions) - min(keep, len(positions)))


@dataclass
class Evaluation:
    """What evaluate() returns.

    leads: `Lead ID` plus the output columns (headers.LEADS_OUTPUTS), indexed by the input row position;
    details: the why-ledger; problems: data problems (never raised);
    context: everything the Summary needs per lead (stage key, owner, amount, probability …).
    """

    leads: pd.DataFrame
    details: pd.DataFrame
    problems: list[Problem]
    context: pd.DataFrame
    rules: Rules
    as_of: pd.Timestamp
    headers: dict = field(default_factory=dict)
    problem_counts: dict[str, int] = field(default_factory=dict)   # every problem found, by code
    date_order: str = "auto"
    rules_source: str = ""       # which rules file was used and why (set by whoever resolved it)
    history: HistoryStep | None = None   # Stage since, SLA and the rows this refresh adds to History
    overrides_expired: int = 0           # Overrides rows past their Until date (ignored, listed in problems)
    accounts: Accounts | None = None   # each lead's account and the buying groups (core.accounts)

    @property
    def problem_total(self) -> int:
        """How many data problems were found (the list keeps the first ones of each kind)."""
        return sum(self.problem_counts.values())

    def add_problems(self, problems: list[Problem]) -> None:
        """Put problems found outside the engine (reading the workbook) first, and count them."""
        self.problems = list(problems) + self.problems
        for p in problems:
            self.problem_counts[p.code] = self.problem_counts.get(p.code, 0) + 1


def lead_keys(values: pd.Series) -> pd.Series:
    """A column of Lead IDs as the engine keys them: trimmed text, 101.0 read from a number cell becomes
    '101' (each distinct value read once)."""
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return pd.Series(values.str.strip().fillna("").to_numpy(object), index=values.index, dtype=object)

    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    return map_unique(values, one)


def lead_key(value) -> str:
    """One Lead ID as the engine keys it (what a user or a worksheet function passes)."""
    return lead_keys(pd.Series([value], dtype=object)).iat[0]
