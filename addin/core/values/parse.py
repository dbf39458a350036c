"""Lenient, vectorised reading of the values people type: numbers, ranges, dates, yes/no answers.

Each distinct value is read once (columns repeat a lot), and the reading of a column is decided
by the column: a date order or a decimal separator is inferred from the values that can only be
read one way, never guessed value by value (which would silently swap 11/1/2016).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .text import arrow_text, fold
from .vocabulary import NO_WORDS, UNKNOWN_WORDS, YES_WORDS

EXCEL_EPOCH = _EXCEL_EPOCH = pd.Timestamp("1899-12-30")   # serial 0 of Excel's 1900 date system
# How a date written with numbers only (01/02/2026) is read: "auto" infers it per column from
# the values that can only be read one way (a part above 12) and reads a column with no such
# value day-first (saying so); DMY / MDY / YMD impose an order.
DATE_ORDERS = ("auto", "DMY", "MDY", "YMD")
AUTO_FALLBACK = "DMY"
# Dates pandas can hold (nanoseconds since 1970 in 64 bits): 9999-12-31 or year -5 are reported, not crashed on.
FIRST_DATE = pd.Timestamp("1678-01-01")
LAST_DATE = pd.Timestamp("2262-04-10")
_LAST_SERIAL = (LAST_DATE - _EXCEL_EPOCH).days
MAX_NUMBER = 1e15       # beyond any real amount or size; sums of such values still fit a float exactly enough


def in_date_range(value) -> bool:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, OverflowError, TypeError):
        return False
    return ts is not pd.NaT and (1678, 1, 1) <= (ts.year, ts.month, ts.day) <= (2262, 4, 10)

# ---------------------------------------------------------------------------- numbers
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_CURRENCY = re.compile(r"[€$£¥]|\b(?:eur|euros?|usd|gbp|chf|cad|ht|ttc)\b", re.IGNORECASE)
# magnitude suffixes people write after amounts and head counts: 12k, 1,2 M€, 3 Md€, 2bn
_SUFFIX = re.compile(r"^(.*?\d)\s*(k|m|mn|mio|million|millions|md|mds|mrd|bn|b|milliard|milliards)\.?$", re.IGNORECASE)
_MULTIPLIER = {"k": 1e3, "m": 1e6, "mn": 1e6, "mio": 1e6, "million": 1e6, "millions": 1e6, "md": 1e9, "mds": 1e9,
               "mrd": 1e9, "bn": 1e9, "b": 1e9, "milliard": 1e9, "milliards": 1e9}
_PLAIN = re.compile(r"^[+-]?\d+$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}([.,])\d{3}(?:\1\d{3})*$")        # 1.200 / 1,200 / 1.200.000: ambiguous alone
_DOT_DECIMAL = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?\.\d+$")   # 12.5, 1,200.50
_COMMA_DECIMAL = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)?,\d+$")  # 12,5, 1.200,50
_RANGE = re.compile(r"^(.+?)\s*(?:-|–|—|to|à|a|bis)\s*(.+)$", re.IGNORECASE)
_OPEN_RANGE = re.compile(r"^(.+?)\s*\+$|^(?:>|more than|over|plus de)\s*(.+)$|^(.+?)\s*(?:and more|or more|et plus)$",
                         re.IGNORECASE)
_BELOW = re.compile(r"^(?:<|less than|under|moins de)\s*(.+)$", re.IGNORECASE)


def blank_mask(values: pd.Series) -> pd.Series:
    """True where a cell is empty: None, NaN or only spaces."""
    arr = arrow_text(values)
    if arr is not None:             # Arrow text: "" or only the spaces .str.strip() trims, in Arrow, no Python objects
        import pyarrow.compute as pc  # (utf8_is_space: the spaces utf8_trim_whitespace trims, without a trimmed copy)
        blank = pc.fill_null(pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr)), True)
        return pd.Series(blank.to_numpy(zero_copy_only=False), index=values.index, dtype=bool, name=values.name)
    isna = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("string").str.strip()
        return (isna | (text == "")).fillna(True).astype(bool)
    return isna


def _clean_number_text(text: str) -> tuple[str, float]:
    """The digits and separators of a typed number, and its multiplier (k, M, %…: 1)."""
    s = _CURRENCY.sub("", str(text)).strip()
    s = s.rstrip("%").strip()
    mult = 1.0
    m = _SUFFIX.match(s)
    if m:
        s, mult = m.group(1), _MULTIPLIER[m.group(2).lower()]
    return _SPACES.sub("", s), mult


def _decimal_evidence(s: str) -> str | None:
    """Which decimal separator a cleaned number can only be written with: '.', ',' or None."""
    if _GROUPED.match(s) or _PLAIN.match(s):
        return None
    if _DOT_DECIMAL.match(s):
        return "."
    if _COMMA_DECIMAL.match(s):
        return ","
    return None


def _as_float(s: str, decimal: str | None) -> float:
    """A cleaned number: read by its own separators when they tell, else by the column's
    decimal separator (None: no evidence, so 1.200 and 1,200 are thousands)."""
    if not s:
        return np.nan
    own = _decimal_evidence(s)
    g = _GROUPED.match(s)
    if own == ",":
        s = s.replace(".", "").replace(",", ".")
    elif own == ".":
        s = s.replace(",", "")
    elif g and (decimal is None or g.group(1) != decimal or s.count(g.group(1)) > 1):
        s = s.replace(g.group(1), "")
    elif g:
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return np.nan


def _column_decimal(cleaned: list[str]) -> str | None:
    """The decimal separator a column's values agree on (the majority of the telling ones)."""
    votes = [e for e in map(_decimal_evidence, cleaned) if e]
    if not votes:
        return None
    return "," if votes.count(",") > votes.count(".") else "."


def _bound(text: str, decimal: str | None) -> float:
    s, mult = _clean_number_text(text)
    return _as_float(s, decimal) * mult


def _one_range(text: str, decimal: str | None) -> tuple[float, float]:
    """(low, high) of a typed number or range: '51-200', '1 000 - 4 999', '10,001+', '< 10'."""
    s = str(text).strip()
    one = _bound(s, decimal)
    if not np.isnan(one):
        return one, one
    m = _OPEN_RANGE.match(s)
    if m:
        lo = _bound(next(g for g in m.groups() if g), decimal)
        return lo, (np.inf if not np.isnan(lo) else np.nan)
    m = _BELOW.match(s)
    if m:
        hi = _bound(m.group(1), decimal)
        return (-np.inf if not np.isnan(hi) else np.nan), hi
    m = _RANGE.match(s.lstrip("+"))
    if m and not s.startswith("-"):
        lo, hi = _bound(m.group(1), decimal), _bound(m.group(2), decimal)
        if not np.isnan(lo) and not np.isnan(hi) and lo <= hi:
            return lo, hi
    return np.nan, np.nan


@dataclass
class Numbers:
    """A column read as numbers: single values have low == high; ranges ('51-200') keep both ends."""

    low: pd.Series
    high: pd.Series
    bad: pd.Series            # typed but not understood

    @property
    def value(self) -> pd.Series:
        """The number of each cell; a range is not one number (NaN)."""
        return self.low.where(self.low == self.high)

    @property
    def is_range(self) -> pd.Series:
        return (self.low != self.high) & self.low.notna()


def read_numbers(values: pd.Series) -> Numbers:
    """Read numbers and ranges leniently, deciding the decimal separator once for the column."""
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype(object)
    if pd.api.types.is_numeric_dtype(values.dtype):
        nums = values.astype(float)
        absurd = ~(nums.abs() <= MAX_NUMBER) & nums.notna()      # inf, 1e999, 1.7e308: listed, never summed
        nums = nums.where(~absurd)
        return Numbers(nums, nums, absurd)
    blank = blank_mask(values)
    nums = pd.to_numeric(values.where(~blank), errors="coerce").astype(float)
    is_text = values.map(lambda v: isinstance(v, str)).astype(bool)      # blanks are not str: False
    grouped = values.where(is_text).astype("string").str.strip().str.match(_GROUPED.pattern)
    nums[grouped.fillna(False).to_numpy(bool)] = np.nan          # '1.200' is not 1.2 until the column says so
    low, high = nums.copy(), nums.copy()
    todo = nums.isna() & ~blank
    if todo.any():
        # the separator is decided by every typed value of the column: 4.96 beside 4.857 says
        # the dot is decimal, so 4.857 is not 4857 (the values to_numeric read count too)
        typed = pd.unique(values[is_text & ~blank].astype(str))
        decimal = _column_decimal([_clean_number_text(u)[0] for u in typed])
        codes, uniques = pd.factorize(values[todo].astype(str))
        pairs = np.array([_one_range(u, decimal) for u in uniques], dtype=float).reshape(-1, 2)
        low.loc[todo] = pairs[codes, 0]
        high.loc[todo] = pairs[codes, 1]
    absurd = ~(low.abs() <= MAX_NUMBER) & low.notna() & ~np.isinf(low) | (~(high.abs() <= MAX_NUMBER) & high.notna() & ~np.isinf(high))
    absurd |= np.isinf(low) & np.isinf(high)      # 'Infinity' is no amount; only a range's open end is infinite
    low, high = low.where(~absurd), high.where(~absurd)
    return Numbers(low, high, low.isna() & ~blank)


def to_number(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read single numbers leniently ('1 200', '1,5', '12 000 €', '12k', '1,2 M€'); return
    (numbers, not-understood mask). A range is not a number here (see read_numbers)."""
    n = read_numbers(values)
    return n.value, n.bad | n.is_range


# ---------------------------------------------------------------------------- dates
_NUMERIC_DATE = re.compile(r"^(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})"
                           r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([ap]\.?m\.?)?)?\s*(?:z|utc|[+-]\d{2}:?\d{2})?$",
                           re.IGNORECASE)
_MONTHS = {"jan": 1, "janv": 1, "january": 1, "janvier": 1, "feb": 2, "fev": 2, "fevr": 2, "february": 2, "fevrier": 2,
           "mar": 3, "mars": 3, "march": 3, "apr": 4, "avr": 4, "april": 4, "avril": 4, "may": 5, "mai": 5,
           "jun": 6, "juin": 6, "june": 6, "jul": 7, "juil": 7, "july": 7, "juillet": 7, "aug": 8, "aou": 8, "aout": 8,
           "august": 8, "sep": 9, "sept": 9, "september": 9, "septembre": 9, "oct": 10, "october": 10, "octobre": 10,
           "nov": 11, "november": 11, "novembre": 11, "dec": 12, "december": 12, "decembre": 12}
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|lun|mar|mer|jeu|ven|sam|dim)[a-z]*\.?,?\s+)?"
_TIME = r"(?:[ ,T]+(?:at\s+|a\s+)?\d{1,2}(?::|h)\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?)?\s*(?:z|utc|gmt|[+-]\d{2}:?\d{2})?"
_DAY_MONTH = re.compile(rf"^{_WEEKDAY}(\d{{1,2}})(?:er)?[\s.-]+([a-z]+)\.?[\s.,-]+(\d{{4}}){_TIME}$")   # 20 oct. 2016
_MONTH_DAY = re.compile(rf"^{_WEEKDAY}([a-z]+)\.?[\s.-]+(\d{{1,2}})(?:st|nd|rd|th)?,?[\s.-]+(\d{{4}}){_TIME}$")  # Oct 20, 2016
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")                                                   # 20161020
_SERIAL_TEXT = re.compile(r"^\d{5}(?:\.\d+)?$")                                                     # 42663 as text


def _ymd(y: int, m: int, d: int) -> pd.Timestamp | None:
    y = y + 2000 if y < 100 else y
    try:
        ts = pd.Timestamp(dt.date(y, m, d))
    except ValueError:
        return None
    return ts if in_date_range(ts) else None


def _numeric_parts(s: str):
    """(first, second, third) parts of 20/10/2016-like text, or None."""
    m = _NUMERIC_DATE.match(s)
    return (m.group(1), m.group(3), m.group(4)) if m else None


def _order_evidence(parts) -> str | None:
    """The order a day/month/year text can only be read in: 'DMY', 'MDY' or None (ambiguous or not one)."""
    a, b, c = parts
    if len(a) == 4 or len(c) not in (2, 4):
        return None
    a, b = int(a), int(b)
    if a > 12 and 1 <= b <= 12:
        return "DMY"
    if b > 12 and 1 <= a <= 12:
        return "MDY"
    return None


def _ambiguous(parts) -> bool:
    a, b, c = parts
    return len(a) != 4 and len(c) in (2, 4) and a != b and 1 <= int(a) <= 12 and 1 <= int(b) <= 12


def _one_date(text: str, order: str = "auto") -> pd.Timestamp | None:
    """One date typed as text, numbers-only dates read in `order` (auto: day first)."""
    s = text.strip()
    parts = _numeric_parts(s)
    if parts:
        a, b, c = parts
        if len(a) == 4:
            return _ymd(int(a), int(b), int(c))
        if order == "YMD" and len(c) <= 2:
            return _ymd(int(a), int(b), int(c))
        if len(c) not in (2, 4):
            return None
        if order == "MDY":
            return _ymd(int(c), int(a), int(b))
        return _ymd(int(c), int(b), int(a))
    low = fold(s)
    for rx, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
        m = rx.match(low)
        if m:
            d, mon = (m.group(1), m.group(2)) if day_first else (m.group(2), m.group(1))
            month = _MONTHS.get(mon) or _MONTHS.get(mon[:4]) or _MONTHS.get(mon[:3])
            return _ymd(int(m.group(3)), month, int(d)) if month else None
    m = _COMPACT.match(s)
    if m:
        return _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if _SERIAL_TEXT.match(s):
        return _EXCEL_EPOCH + pd.Timedelta(days=int(float(s)))
    if not re.search(r"\d{4}", s):
        return None                    # pandas reads '1' or 'Q3' as dates; a date names its year
    try:
        ts = pd.Timestamp(s)
    except (ValueError, OverflowError):
        return None
    return ts if ts is not pd.NaT and in_date_range(ts) else None


def date_value(value, order: str = "auto") -> pd.Timestamp | None:
    """One date as people give it — a date, an Excel serial, ISO or 01/02/2026 read in `order` —
    at midnight; None when it is not a date. The single reading of one value, used for the as-of
    date wherever it comes from (Settings, a worksheet function, the API)."""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        if not in_date_range(value):
            return None
        ts = pd.Timestamp(value)
        return (ts.tz_localize(None) if ts.tzinfo else ts).normalize()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return _EXCEL_EPOCH + pd.Timedelta(days=int(value)) if 1 <= value <= _LAST_SERIAL else None
    if isinstance(value, str) and value.strip():
        ts = _one_date(value, order)
        return None if ts is None or ts is pd.NaT else (ts.tz_localize(None) if ts.tzinfo else ts).normalize()
    return None


@dataclass
class Dates:
    """A column read as dates, and how: the order used for numbers-only dates and why."""

    dates: pd.Series
    bad: pd.Series                 # typed but not a date (in the order used)
    order: str                     # DMY / MDY / YMD actually used for numbers-only dates
    inferred: bool = False         # the order came from the column's own values
    conflict: pd.Series | None = None   # cells whose only possible reading contradicts the column's order
    guessed: int = 0               # ambiguous dates read in the fallback order with nothing in the column to tell
    evidence: dict | None = None   # {"DMY": n, "MDY": n} telling values seen

    def other_order(self) -> str:
        return "MDY" if self.order == "DMY" else "DMY"


def read_dates(values: pd.Series, order: str = "auto", weights=None) -> Dates:
    """Read a column of dates: date cells, Excel serials, ISO (with time), 'Oct 20, 2016',
    '20 oct. 2016', and numbers-only dates in the column's order.

    With order "auto" the order is inferred from the column's telling values (20/10/2016 can only
    be DMY); a column with both kinds reads the majority order and lists the others in `conflict`
    (read as they can only be read, never swapped); a column with nothing to tell is read
    day-first and `guessed` says how many dates that concerned.

    `weights`: how many rows each value stands for (an engine reads a log's distinct values once),
    so the order is inferred, and `guessed` counted, as on the rows themselves.
    """
    index = values.index
    no = pd.Series(False, index=index)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        try:
            return Dates(out.astype("datetime64[ns]").dt.normalize(), no, order if order != "auto" else AUTO_FALLBACK)
        except (pd.errors.OutOfBoundsDatetime, OverflowError):    # a 9999-12-31 among them: value by value
            values = out.astype(object)
    blank = blank_mask(values)
    out = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        serial = values.astype(float)
        ok = serial.between(1, _LAST_SERIAL)
        out.loc[ok] = _EXCEL_EPOCH + pd.to_timedelta(np.floor(serial[ok]), unit="D")
        return Dates(out, ~ok & ~blank, order if order != "auto" else AUTO_FALLBACK)
    todo = ~blank
    used, inferred, guessed, evidence = (order if order != "auto" else AUTO_FALLBACK), False, 0, None
    conflict = no.copy()
    if todo.any():
        sub = values[todo]
        codes, uniques = pd.factorize(sub.astype(object))
        texts = [u.strip() if isinstance(u, str) else None for u in uniques]
        parts = [_numeric_parts(t) if t else None for t in texts]
        tell = np.array([_order_evidence(p) if p else None for p in parts], dtype=object)
        if order == "auto":
            w = None if weights is None else np.asarray(weights, dtype=np.float64)[todo.to_numpy()]
            counts = np.bincount(codes, weights=w, minlength=len(uniques)).astype(np.int64)
            evidence = {o: int(counts[tell == o].sum()) for o in ("DMY", "MDY")}
            if evidence["DMY"] or evidence["MDY"]:
                used, inferred = ("MDY" if evidence["MDY"] > evidence["DMY"] else "DMY"), True
                conflict_u = np.append(tell == ("DMY" if used == "MDY" else "MDY"), False)
                conflict.loc[todo] = conflict_u[codes]
            else:
                amb = np.array([bool(p) and _ambiguous(p) for p in parts], dtype=bool)
                guessed = int(counts[amb].sum())
        parsed = []
        for u, t, ev in zip(uniques, texts, tell):
            if isinstance(u, (pd.Timestamp, dt.datetime, dt.date)):
                parsed.append(pd.Timestamp(u) if in_date_range(u) else None)
            elif isinstance(u, (int, float, np.integer, np.floating)) and not isinstance(u, bool) and 1 <= u <= _LAST_SERIAL:
                parsed.append(_EXCEL_EPOCH + pd.Timedelta(days=int(u)))
            elif t is None:
                parsed.append(None)
            else:
                # a conflicting value is read the only way it can be read, and reported
                parsed.append(_one_date(t, ev if (order == "auto" and ev) else used))
        parsed = [None if t is None or t is pd.NaT else (t.tz_localize(None) if t.tzinfo else t) for t in parsed]
        arr = pd.to_datetime(pd.Series(parsed, dtype=object), errors="coerce")
        arr = arr.astype("datetime64[ns]").dt.normalize().to_numpy()
        out.loc[todo] = arr[codes]
    return Dates(out, out.isna() & ~blank, used, inferred, conflict, guessed, evidence)


def to_date(values: pd.Series, order: str = "auto") -> tuple[pd.Series, pd.Series]:
    """Read dates leniently (see read_dates); return (dates, not-understood)."""
    d = read_dates(values, order)
    return d.dates, d.bad


def to_answer(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read checklist answers; return (1 yes / 0 no / NaN unknown, not-understood mask)."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    table = []
    bad_u = []
    for u in uniques:
        if isinstance(u, bool):
            word = "true" if u else "false"
        elif isinstance(u, float) and u.is_integer():
            word = str(int(u))
        else:
            word = fold(u)
        if word in YES_WORDS:
            table.append(1.0), bad_u.append(False)
        elif word in NO_WORDS:
            table.append(0.0), bad_u.append(False)
        else:
            table.append(np.nan), bad_u.append(word not in UNKNOWN_WORDS)
    table_arr = np.array(table + [np.nan], dtype=float)
    bad_arr = np.array(bad_u + [False], dtype=bool)
    return (pd.Series(table_arr[codes], index=values.index),
            pd.Series(bad_arr[codes], index=values.index))
