"""Rows typed or pasted under a table's last row (issue 22, item 4): Excel does not grow a table over
rows a program writes, rows pasted with a gap, or rows typed in LibreOffice. LeadQ reads them
(core.values.table.rows_below), scores them, says so in one line, and extends the table when it writes —
through the CLI on real workbook files and through the Refresh button on the Excel-like test engine."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from addin.cli import run
from addin.core.values.table import MAX_GAP, rows_below
from tests.conftest import ooxcheck

AS_OF = "2026-11-20"
NEW_LEAD = ["L9001", "Ana", "Below", "ana@below.example", None, "CEO", "Below SA", "Software", 200, None, "France"]


def _cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _refs(book: Path) -> dict[str, str]:
    wb = openpyxl.load_workbook(book)
    return {ws.title: ws.tables[name].ref for ws in wb.worksheets for name in ws.tables}


def _put_below(book: Path, gap: int = 1, activities: int = 1200, inside: bool = False) -> None:
    """Write a lead, `activities` activities and a qualification row under the three tables (after
    `gap` empty rows), as a program does; `inside`: and grow the tables over them (the control)."""
    wb = openpyxl.load_workbook(book, keep_vba=True)
    for name, rows in (("Leads", [NEW_LEAD]),
                       ("Activities", [["L9001", dt.datetime(2026, 11, 1 + k % 18, 10), ["webinar", "Page View", "demo_request"][k % 3],
                                        "/pricing" if k % 3 == 1 else None] for k in range(activities)]),
                       ("Qualification", [["L9001", "yes", "yes", "yes", "yes", None]])):
        ws = wb[name]
        table = ws.tables[name]
        last = openpyxl.utils.cell.range_boundaries(table.ref)[3]
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                ws.cell(last + gap + 1 + i, 1 + j, v)
        if inside:
            c1, r1, c2, _ = openpyxl.utils.cell.range_boundaries(table.ref)
            table.ref = f"{openpyxl.utils.get_column_letter(c1)}{r1}:{openpyxl.utils.get_column_letter(c2)}{last + gap + len(rows)}"
            if table.autoFilter is not None:
                table.autoFilter.ref = table.ref
    wb.save(book)


def _scores(book: Path) -> dict[str, tuple]:
    ws = openpyxl.load_workbook(book, data_only=True)["Leads"]
    header = [c.value for c in ws[3]]
    i, s, st = header.index("Lead ID"), header.index("Score"), header.index("Stage")
    return {r[i]: (r[s], r[st]) for r in ws.iter_rows(min_row=4, values_only=True) if r[i] is not None}


def test_the_rule_reads_a_block_through_small_gaps_and_stops_at_a_wider_one():
    blank = lambda s: np.array([c == "." for c in s])       # noqa: E731  "." an empty row, "x" a filled one
    assert rows_below(blank("xxx..")) == 3
    assert rows_below(blank("..x.x")) == 5                   # a gap of 2 above, 1 inside
    assert rows_below(blank("." * MAX_GAP + "x")) == MAX_GAP + 1
    assert rows_below(blank("." * (MAX_GAP + 1) + "x")) == 0           # too far below: another block
    assert rows_below(blank("xx" + "." * (MAX_GAP + 1) + "x")) == 2    # a wider gap ends the block
    assert rows_below(blank("....")) == 0


@pytest.mark.parametrize("gap", [0, 2])
def test_rows_under_the_three_tables_are_scored_said_and_taken_into_the_tables(tmp_path, gap):
    book, control = tmp_path / "s.xlsm", tmp_path / "control.xlsm"
    assert _cli("new", book, "--sample")[0] == 0
    before = _refs(book)
    shutil.copy(book, control)
    _put_below(book, gap)
    _put_below(control, gap, inside=True)           # the same rows inside the tables: what LeadQ must score
    source = tmp_path / "source.xlsm"
    shutil.copy(book, source)

    code, out, err = _cli("refresh", book, "--as-of", AS_OF, "--json")
    assert code == 0, err
    result = json.loads(out)
    lines = {p["where"]: p["message"] for p in result["problems"] if p["code"] == "rows-below-table"}
    lead_row, act_row, q_row = 203 + gap + 1, 1042 + gap + 1200, 84 + gap + 1
    assert lines == {
        f"Leads!204:{lead_row}": f"1 row below the Leads table was read as part of it; a refresh extends the table to row {lead_row} "
                                 "(Excel does not grow a table over rows a program writes or pasted with a gap)",
        f"Activities!1043:{act_row}": f"1,200 rows below the Activities table were read as part of it; a refresh extends the table to row "
                                      f"{act_row} (Excel does not grow a table over rows a program writes or pasted with a gap)",
        f"Qualification!85:{q_row}": f"1 row below the Qualification table was read as part of it; a refresh extends the table to row {q_row} "
                                     "(Excel does not grow a table over rows a program writes or pasted with a gap)",
    }
    assert result["leads"] == 201
    assert _cli("refresh", control, "--as-of", AS_OF)[0] == 0
    scores, expected = _scores(book), _scores(control)
    assert scores == expected
    assert scores["L9001"][0] > 50 and scores["L9001"][1] == "SQL"      # its webinars, demo and BANT answers count

    refs = _refs(book)
    assert refs["Activities"] == f"A1:D{act_row}" and refs["Qualification"] == f"A1:F{q_row}"
    assert refs["Leads"].startswith("A3:") and refs["Leads"].endswith(str(lead_row)) and refs["Leads"] != before["Leads"]
    ooxcheck(book, baseline=source)

    code, out, _ = _cli("refresh", book, "--as-of", AS_OF, "--json")       # now inside: read as table rows, no line
    assert code == 0 and not [p for p in json.loads(out)["problems"] if p["code"] == "rows-below-table"]
    assert _scores(book) == expected


def test_a_block_after_a_wider_gap_is_left_alone(tmp_path):
    book = tmp_path / "s.xlsm"
    assert _cli("new", book, "--sample")[0] == 0
    before = _refs(book)
    _put_below(book, gap=MAX_GAP + 1, activities=3)
    code, out, err = _cli("refresh", book, "--as-of", AS_OF, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["leads"] == 200
    assert not [p for p in result["problems"] if p["code"] == "rows-below-table"]
    refs = _refs(book)
    assert refs["Activities"] == before["Activities"] and refs["Qualification"] == before["Qualification"]


def test_the_refresh_button_reads_the_rows_below_and_resizes_the_tables(tmp_path):
    """The macro path on the Excel-like test engine: the same scores as the CLI, one line on the
    Summary's data quality, and Table.resize over the rows."""
    from conftest import ROOT, gate
    from xlengine import open_as_caller

    import addin.macros as macros
    book, cli_copy = tmp_path / "s.xlsm", tmp_path / "cli.xlsm"
    assert _cli("new", book, "--sample")[0] == 0
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    _put_below(book, gap=1, activities=30)
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb["Settings"]["B3"] = dt.datetime(2026, 11, 20)
    wb.save(book)
    shutil.copy(book, cli_copy)

    xl = open_as_caller(book)
    macros.refresh(now="2026-11-20 09:00")
    status = xl.sheets["Settings"].range("B5").value
    assert status.startswith("OK — 201 leads scored"), status
    xl.impl.save()
    assert _cli("refresh", cli_copy, "--rules", tmp_path / "rules.json")[0] == 0
    assert _scores(book) == _scores(cli_copy)
    assert _scores(book)["L9001"][1] == "SQL"
    refs = _refs(book)
    assert refs["Activities"] == "A1:D1073" and refs["Qualification"] == "A1:F86" and refs["Leads"].endswith("205")
    summary = [str(v) for row in openpyxl.load_workbook(book)["Summary"].iter_rows(values_only=True) for v in row if v]
    assert any("30 rows below the Activities table were read as part of it; a refresh extends the table to row 1073" in v for v in summary)
    gate(book, "rows below the tables (test engine)")
