"""Problems as data, and the small exception hierarchy raised at the API boundary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_QUOTED = 80         # a value quoted in a message (a pasted 40,000-character note stays readable)
MAX_MESSAGE = 1000
_QUOTED = re.compile(r'"([^"]*)"')


def shorten(text: str) -> str:
    """Cut long quoted values (and the whole text) to a length a message line can carry."""
    if len(text) <= MAX_QUOTED:
        return text
    text = _QUOTED.sub(lambda m: m.group(0) if len(m.group(1)) <= MAX_QUOTED else '"' + m.group(1)[:MAX_QUOTED] + '…"', text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with a stable code, a place the user can find and a plain message."""

    code: str
    where: str
    message: str
    severity: str = "error"
    line: int | None = None
    path: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None
    count: int | None = None        # a grouped line (problems.grouped): how many rows it stands for

    def __post_init__(self):
        object.__setattr__(self, "message", shorten(self.message))
        object.__setattr__(self, "where", shorten(self.where))
        if self.column is not None:
            object.__setattr__(self, "column", self.column[:MAX_QUOTED])

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class LeadQError(Exception):
    """Base of every error LeadQ raises on purpose; its message is meant for the user."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(shorten(message))
        self.problems: list[Problem] = list(problems or [])


class RulesError(LeadQError):
    """The rules file cannot be used: `.problems` lists every problem found."""


class WorkbookError(LeadQError):
    """The workbook cannot be read or written safely."""


@dataclass
class ProblemLog:
    """Collect data problems without letting a bad sheet produce millions of objects.

    Every problem found is counted (`totals()`); only the first `limit_per_code` of each code
    are kept as objects, to list with their cells.
    """

    limit_per_code: int = 200
    problems: list[Problem] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        n = self._counts.get(problem.code, 0) + 1
        self._counts[problem.code] = n
        if n <= self.limit_per_code:
            self.problems.append(problem)

    def room(self, code: str) -> int:
        """How many more problems of this code would still be kept."""
        return max(0, self.limit_per_code - self._counts.get(code, 0))

    def count(self, code: str, n: int) -> None:
        """Count n problems of a code that are not kept (no object per problem)."""
        if n > 0:
            self._counts[code] = self._counts.get(code, 0) + n

    def totals(self) -> dict[str, int]:
        """How many problems of each code were found (kept or not)."""
        return dict(self._counts)

    def finish(self) -> list[Problem]:
        """Return the problems, with one line per code that was cut short."""
        out = list(self.problems)
        for code, n in self._counts.items():
            if n > self.limit_per_code:
                out.append(Problem(code, "", f"... and {n - self.limit_per_code} more problems of this kind ({code})",
                                   severity="warning"))
        return out
