"""Lenient, vectorised reading of the values people type: numbers, dates, yes/no answers."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .text import fold
from .vocabulary import NO_WORDS, UNKNOWN_WORDS, YES_WORDS

EXCEL_EPOCH = _EXCEL_EPOCH = pd.Timestamp("1899-12-30")   # serial 0 of Excel's 1900 date system
# How a date written with numbers only (01/02/2026) is read. "auto" reads day first for now.
DATE_ORDERS = ("auto", "DMY", "MDY", "YMD")
_NUM_JUNK = re.compile(r"[\s\u00a0\u202f€$£%]|eur|usd|gbp|chf", re.IGNORECASE)
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+$")
_NUMERIC_DATE = re.compile(r"^(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")


def blank_mask(values: pd.Series) -> pd.Series:
    """True where a cell is empty: None, NaN or only spaces."""
    isna = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("string").str.strip()
        return (isna | (text == "")).fillna(True).astype(bool)
    return isna


def _one_number(text: str) -> float:
    s = _NUM_JUNK.sub("", text)
    if not s:
        return np.nan
    if "," in s and "." in s:
        s = s.replace(",", "") if s.rfind(".") > s.rfind(",") else s.replace(".", "").replace(",", ".")
    elif _THOUSANDS_COMMA.match(s):
        s = s.replace(",", "")
    else:
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return np.nan


def to_number(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read numbers leniently ('1 200', '1,5', '12 000 €'); return (numbers, not-understood mask)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype(object)
    if pd.api.types.is_numeric_dtype(values.dtype):
        nums = values.astype(float)
        return nums, pd.Series(False, index=values.index)
    blank = blank_mask(values)
    nums = pd.to_numeric(values.where(~blank), errors="coerce").astype(float)
    todo = nums.isna() & ~blank
    if todo.any():
        codes, uniques = pd.factorize(values[todo].astype(str))
        parsed = np.array([_one_number(u) for u in uniques], dtype=float)
        nums.loc[todo] = parsed[codes]
    bad = nums.isna() & ~blank
    return nums, bad


def _one_date(text: str, order: str = "auto") -> pd.Timestamp | None:
    s = text.strip()
    m = _NUMERIC_DATE.match(s)
    if m:
        a, b, c = m.groups()
        if len(a) == 4 or (order == "YMD" and len(c) <= 2):
            y, mth, d = int(a), int(b), int(c)
        elif len(c) not in (2, 4):
            return None
        elif order == "MDY":
            mth, d, y = int(a), int(b), int(c)
        else:
            d, mth, y = int(a), int(b), int(c)
        y = y + 2000 if y < 100 else y
        try:
            return pd.Timestamp(dt.date(y, mth, d))
        except ValueError:
            return None
    try:
        return pd.Timestamp(s)
    except (ValueError, OverflowError):
        return None


def date_value(value, order: str = "auto") -> pd.Timestamp | None:
    """One date as people give it — a date, an Excel serial, ISO or 01/02/2026 read in `order` —
    at midnight; None when it is not a date. The single reading of one value, used for the as-of
    date wherever it comes from (Settings, a worksheet function, the API)."""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        ts = pd.Timestamp(value)
        return (ts.tz_localize(None) if ts.tzinfo else ts).normalize()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return _EXCEL_EPOCH + pd.Timedelta(days=int(value)) if 1 <= value <= 2958465 else None
    if isinstance(value, str) and value.strip():
        ts = _one_date(value, order)
        return None if ts is None or ts is pd.NaT else (ts.tz_localize(None) if ts.tzinfo else ts).normalize()
    return None


def to_date(values: pd.Series, order: str = "auto") -> tuple[pd.Series, pd.Series]:
    """Read dates leniently (Excel dates and serials, ISO, 22/11/2026 in `order`); return (dates, not-understood)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]").dt.normalize(), pd.Series(False, index=values.index)
    blank = blank_mask(values)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        serial = values.astype(float)
        ok = serial.between(1, 2958465)
        out.loc[ok] = _EXCEL_EPOCH + pd.to_timedelta(np.floor(serial[ok]), unit="D")
        return out, ~ok & ~blank
    todo = ~blank
    if todo.any():
        sub = values[todo]
        codes, uniques = pd.factorize(sub.astype(object))
        parsed = []
        for u in uniques:
            if isinstance(u, (pd.Timestamp, dt.datetime, dt.date)):
                parsed.append(pd.Timestamp(u))
            elif isinstance(u, (int, float)) and not isinstance(u, bool) and 1 <= u <= 2958465:
                parsed.append(_EXCEL_EPOCH + pd.Timedelta(days=int(u)))
            else:
                parsed.append(_one_date(str(u), order))
        arr = pd.to_datetime(pd.Series(parsed, dtype=object), errors="coerce")
        if getattr(arr.dt, "tz", None) is not None:
            arr = arr.dt.tz_localize(None)
        arr = arr.astype("datetime64[ns]").dt.normalize().to_numpy()
        out.loc[todo] = arr[codes]
    bad = out.isna() & ~blank
    return out, bad


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
