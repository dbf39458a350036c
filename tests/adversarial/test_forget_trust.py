"""`forget` everywhere and `refresh --output` (issue 26, round 3): each case joins the corpus with its
standing checks — the exit code, one sentence, no traceback or catch-all, every file byte-identical on a
refusal; a success leaves a file that passes the Excel-load gate."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import gate, refreshed_demo
from corpus import TALLY, attempt, no_traceback, parts, refused, rezip, sheet_part

PIVOT_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/pivotCacheDefinition"
PIVOT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return refreshed_demo(tmp_path_factory.mktemp("forget-trust"), "demo.xlsm")


@pytest.fixture
def book(demo, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", "corpus-salt")
    for p in demo.parent.iterdir():
        if p.is_file() and not p.name.startswith("."):
            shutil.copyfile(p, tmp_path / p.name)
    return tmp_path / demo.name


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def _refused_untouched(case: str, o, message: str, folder: Path, before) -> None:
    refused(case, o, message)
    assert o.err.count("\n") == 1, o.err
    assert _files(folder) == before, f"{case}: a file changed"


def _settings(path: Path, **values) -> None:
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Settings"]
    rows = {c.value: c.row for c in ws["A"]}
    for label, value in values.items():
        ws.cell(rows[label.replace("_", " ")], 2).value = value
    wb.save(path)


def _with_pivot_cache(path: Path, source: str, name: str | None = None) -> None:
    """A pivot cache over the Leads data, named the way Excel names it when the pivot table was made from the
    table (`name="Leads"`) or from a defined name (a `name` of the workbook)."""
    src = path.with_name("src.xlsm")
    path.rename(src)
    p = parts(src)
    book_xml = p["xl/workbook.xml"]
    if name:
        book_xml = re.sub(rb"</definedNames>", b'<definedName name="%s">Leads!$A$3:$AF$203</definedName></definedNames>'
                          % name.encode(), book_xml, count=1)
    book_xml = re.sub(rb"(<calcPr\b[^>]*/>)", rb'\1<pivotCaches><pivotCache cacheId="7" r:id="rIdLeadsPivot"/></pivotCaches>',
                      book_xml, count=1)
    rels = p["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdLeadsPivot" Type="%s" Target="pivotCache/pivotCacheDefinition1.xml"/>'
        b"</Relationships>" % PIVOT_REL.encode())
    types = p["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/pivotCache/pivotCacheDefinition1.xml" ContentType="%s"/></Types>'
        % PIVOT_TYPE.encode())
    cache = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<pivotCacheDefinition '
             b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" refreshOnLoad="1" recordCount="0">'
             b'<cacheSource type="worksheet"><worksheetSource name="%s"/></cacheSource><cacheFields count="1">'
             b'<cacheField name="Email" numFmtId="0"><sharedItems/></cacheField></cacheFields></pivotCacheDefinition>'
             % source.encode())
    rezip(src, path, {"xl/workbook.xml": book_xml, "xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types,
                      "xl/pivotCache/pivotCacheDefinition1.xml": cache})
    src.unlink()


@pytest.mark.parametrize("how", ["table", "defined name"])
def test_a_pivot_cache_reading_leads_by_name_is_refused_with_the_fix(book, how):
    case = f"forget: pivot cache by {how}"
    if how == "table":
        _with_pivot_cache(book, "Leads")
    else:
        _with_pivot_cache(book, "LeadRange", name="LeadRange")
    before = _files(book.parent)
    o = attempt(book, "--lead", "L1005", command="forget")
    _refused_untouched(case, o, r"Leads!: a pivot table reads this sheet through (its table \"Leads\"|the name \"LeadRange\").*"
                                r"refresh the pivot table", book.parent, before)


def test_a_shared_formula_over_the_removed_row_is_refused(book):
    part = sheet_part(book, "Leads")
    xml = parts(book)[part]

    def add(m):
        r = int(m.group(1))
        if 5 <= r <= 9:
            f = b'<f t="shared" ref="AZ5:AZ9" si="3">A5&amp;"!"</f>' if r == 5 else b'<f t="shared" si="3"/>'
            return m.group(0)[:-6] + b'<c r="AZ%d">%s<v>0</v></c></row>' % (r, f)
        return m.group(0)
    src = book.with_name("src.xlsm")
    book.rename(src)
    rezip(src, book, {part: re.sub(rb'<row\b[^>]*?\br="(\d+)"[^>]*>.*?</row>', add, xml, flags=re.S)})
    src.unlink()
    before = _files(book.parent)
    o = attempt(book, "--lead", "L1004", command="forget")          # Leads row 7, inside AZ5:AZ9
    _refused_untouched("forget: shared formula over the removed row", o,
                       r"Leads!AZ5:AZ9: a shared or array formula spans", book.parent, before)


def test_an_activities_source_outside_the_folder_is_refused_by_forget_too(book, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "subscribers.csv"
    outside.write_text("Lead ID,Date,Activity\nL1005,2026-11-01,webinar\n", "utf-8")
    _settings(book, Activities_source=str(outside))
    before = _files(book.parent)
    secret = outside.read_bytes()
    o = attempt(book, "--lead", "L1005", command="forget")
    _refused_untouched("forget: activities source outside the folder", o,
                       r"Settings!B\d+ \(Activities source\).*outside the workbook's folder.*--allow-path", book.parent, before)
    assert outside.read_bytes() == secret


def test_forget_output_that_is_the_activity_source_is_refused(book):
    events = book.with_name("events.csv")
    events.write_text("Lead ID,Date,Activity\nL1005,2026-11-01,webinar\n", "utf-8")
    _settings(book, Activities_source="events.csv")
    link = book.with_name("erased.xlsm")
    link.symlink_to(events)
    before = _files(book.parent)
    o = attempt(book, "--lead", "L1005", "--output", link, command="forget")
    _refused_untouched("forget: --output is the activity source", o, r"--output .*one of this command's inputs",
                       book.parent, before)


def test_a_person_named_nowhere_is_refused(book):
    before = _files(book.parent)
    o = attempt(book, "--lead", "L4242", command="forget")
    _refused_untouched("forget: nobody of that id anywhere", o, r'no lead with Lead ID "L4242" on the Leads sheet, in Lead '
                                                               r"history", book.parent, before)


@pytest.mark.parametrize("kind", ["activities (link)", "rules (hard link)", "score details file (hard link)"])
def test_refresh_output_that_is_an_input_is_refused(book, kind):
    events = book.with_name("events.csv")
    events.write_text("Lead ID,Date,Activity\nL1005,2026-11-01,webinar\n", "utf-8")
    ledger = book.with_name("demo.score-details.parquet")
    ledger.write_bytes(b"PAR1 an earlier full ledger PAR1")
    out = book.with_name("refreshed.xlsm")
    if kind.startswith("activities"):
        out.symlink_to(events)
    elif kind.startswith("rules"):
        os.link(book.with_name("rules.json"), out)
    else:
        os.link(ledger, out)
    before = _files(book.parent)
    o = attempt(book, "--activities", events, "--output", out)
    _refused_untouched(f"refresh --output: {kind}", o, r"--output .*refreshed\.xlsm: that is one of this command's inputs",
                       book.parent, before)


# ---------------------------------------------------------------------------- successes
def _succeeded(case: str, o) -> None:
    no_traceback(case, o)
    assert o.code == 0, f"{case}: exit {o.code}\n{o.out}{o.err}"
    gate(o.path, f"adversarial:{case}")
    TALLY[case] = "succeeded"


def test_shared_formula_below_and_array_formula_elsewhere_are_moved(book):
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb.create_sheet("Checks")["A1"] = openpyxl.worksheet.formula.ArrayFormula("A1:A2", "=Leads!A100:A101")
    wb.save(book)
    o = attempt(book, "--lead", "L1005", command="forget")
    _succeeded("forget: array formula on another sheet reading Leads", o)
    assert b'<f t="array" ref="A1:A2">Leads!A99:A100</f>' in parts(book)[sheet_part(book, "Checks")]


def test_a_parquet_activity_source_is_named_in_a_warning(book):
    import pandas as pd
    pd.DataFrame({"Lead ID": ["L1005", "L1006"], "Date": ["2026-11-01", "2026-11-02"],
                  "Activity": ["webinar", "webinar"]}).to_parquet(book.with_name("events.parquet"), index=False)
    _settings(book, Activities_source="events.parquet")
    kept = book.with_name("events.parquet").read_bytes()
    o = attempt(book, "--lead", "L1005", command="forget")
    _succeeded("forget: Parquet activity source named", o)
    assert re.search(r"warning: Settings!B\d+ \(Activities source\): LeadQ cannot rewrite this activities source "
                     r"\(a Parquet file", o.err), o.err
    assert book.with_name("events.parquet").read_bytes() == kept
