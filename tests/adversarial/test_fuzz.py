"""Property-based fuzzing through `refresh`: whatever the Leads, Activities and Qualification sheets
hold (types, lengths, unicode, blanks, duplicates, huge and tiny numbers, odd dates), the refresh
ends without an exception, every user cell and every part LeadQ does not own is unchanged, and the
result passes the Excel-load gate; or, when every Lead ID is blank, it is refused in one line (exit 1)
with the file untouched. Example counts stay modest so CI stays fast."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import xlsxwriter
from conftest import ROOT
from corpus import LEAD_HEADERS, attempt, refused, succeeded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WORDS = st.sampled_from(["CEO", "Directeur", "Student", "Software", "France", "Won", "Lost", "Open", "webinar", "page_visit",
                         "Yes", "No", "peut-être", "x", "", " ", "=1+1", "@SUM(A1)", "-5", "9999-12-31", "31/02/2026",
                         "https://x/pricing", "1e999", "Infinity", "NaN", "L1", "L1 ", "l1"])
# Excel holds numbers up to ±9.99e307 (a larger one in the input would fail the gate before LeadQ ran)
NUMBERS = st.one_of(st.integers(-10**15, 10**15), st.floats(min_value=-9.99e307, max_value=9.99e307),
                    st.sampled_from([0, -0.0, 1e-300, 9.99e307, -9.99e307, 2**53 + 1]))
DATES = st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31))
VALUE = st.one_of(st.none(), TEXT, WORDS, NUMBERS, DATES, st.booleans(), st.text(max_size=3000, alphabet="ab€ 😀\n"))


def _write(ws, r, c, v, date_format):
    if isinstance(v, dt.datetime):
        ws.write_datetime(r, c, v, date_format)
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v)
    elif isinstance(v, (int, float)):
        ws.write_number(r, c, v)
    elif isinstance(v, str):
        ws.write_string(r, c, v)


def build(path: Path, leads, acts, qual) -> Path:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, headers, rows in (("Leads", LEAD_HEADERS, leads), ("Activities", ["Lead ID", "Date", "Activity", "Detail"], acts),
                                ("Qualification", ["Lead ID", "Budget", "Authority", "Need", "Timing"], qual)):
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, headers)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row[:len(headers)]):
                _write(ws, r, c, v, date_format)
    wb.close()
    return path


def rows(width: int, max_rows: int):
    return st.lists(st.lists(VALUE, min_size=width, max_size=width), max_size=max_rows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(leads=rows(len(LEAD_HEADERS), 12).filter(lambda r: any(x[0] is not None for x in r)),
       acts=rows(4, 15), qual=rows(5, 6))
def test_refresh_of_random_sheets_changes_only_leadq_parts(leads, acts, qual):
    folder = Path(tempfile.mkdtemp(prefix="leadq-fuzz-"))
    try:
        shutil.copy(ROOT / "rules.json", folder / "rules.json")
        path = build(folder / "fuzz.xlsx", leads, acts, qual)
        case, o = f"fuzz {len(leads)}x{len(acts)}x{len(qual)} #{abs(hash(repr(leads))) % 10**6}", attempt(path)
        if o.code == 1 and "no lead can be scored" in o.err + o.out:
            refused(case, o, "none of the .* rows has a Lead ID")   # only blank ids (e.g. ' '): exit 1, file untouched
        else:
            succeeded(case, o)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
