"""Real-export shapes that used to go silently wrong (issue 22), each through the CLI on a real
workbook: numbers with three decimals, imported activities, typed imports, activities after the
as-of date, an amount of 'Infinity'. The export files are small ones written for these tests."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from addin.app.inputs import from_file
from addin.app.refresh import compute
from addin.cli import run
from addin.io.reader import read_workbook

EXPORTS = Path(__file__).parent / "exports"


def _cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _rules(tmp_path: Path, rules: dict) -> Path:
    return _write(tmp_path / "rules.json", json.dumps({"name": "t", "version": "1", **rules}))


def test_three_decimal_rates_beside_two_decimal_ones_are_decimals(tmp_path):
    book = tmp_path / "bank.xlsm"
    assert _cli("new", book, "--leads", EXPORTS / "bank_campaign_rates.csv")[0] == 0
    rules = _rules(tmp_path, {"fit": [{"id": "deep", "field": "Pages per visit", "op": "gte", "value": 4, "points": 30}],
                              "activities": {"webinar": {"points": 20}}, "thresholds": {"mql": 25}})
    code, out, err = _cli("refresh", book, "--rules", rules, "--as-of", "2026-11-09", "--json")
    assert code == 0, err
    result = json.loads(out)
    # 4.96 and 12.5 reach 4 pages; 2.857 and 3.125 are not 2,857 and 3,125
    assert {k: v for k, v in result["stages"].items() if v} == {"Lead": 3, "MQL": 2}
    ws = openpyxl.load_workbook(book)["Leads"]
    header = [c.value for c in ws[3]]
    col = header.index("Pages per visit")
    assert [ws.cell(r, col + 1).value for r in range(4, 9)] == [4.96, 2.857, 0.6, 3.125, 12.5]   # numbers, not text


def test_imported_activities_keep_their_dates_and_score(tmp_path):
    book = tmp_path / "s.xlsm"
    assert _cli("new", book, "--sample")[0] == 0
    first = read_workbook(book).leads["Lead ID"].iloc[0]
    acts = _write(tmp_path / "acts.csv", f"Lead ID,Date,Activity,Detail\n{first},2026-11-01 10:30,webinar,Scoring 101\n")
    code, out, err = _cli("import", book, "--activities", acts)
    assert code == 0, err
    data = read_workbook(book)
    assert data.activities["Date"].iloc[-1] == pd.Timestamp("2026-11-01 10:30")
    code, out, err = _cli("refresh", book, "--as-of", "2026-11-09", "--json")
    assert code == 0, err
    assert not [p for p in json.loads(out)["problems"] if p["code"] == "missing-date"]
    ev, _ = compute(from_file(book), None, "2026-11-09")
    ledger = ev.details[(ev.details["Lead ID"] == first) & ev.details["Rule"].astype(str).str.contains("webinar", case=False)]
    assert len(ledger), "the imported webinar scores"


def test_new_and_import_write_numbers_dates_and_text_ids(tmp_path):
    leads = _write(tmp_path / "deals.csv",
                   "Lead ID,First name,Email,Phone,Created,Amount,Deal stage,Zip code\n"
                   "007,Ana,ana@x.example,0612345678,2026-10-01,\"1,200.50\",Proposal,01000\n"
                   "12,Bo,bo@x.example,+33 6 12 34 56 78,2026-10-03,7256,Proposal,75011\n")
    book = tmp_path / "t.xlsm"
    assert _cli("new", book, "--leads", leads)[0] == 0
    assert _cli("import", book, "--leads", leads)[0] == 0
    ws = openpyxl.load_workbook(book)["Leads"]
    header = [c.value for c in ws[3]]
    cells = {h: [ws.cell(r, header.index(h) + 1).value for r in range(4, 8)] for h in
             ("Lead ID", "Phone", "Created", "Amount", "Zip code")}
    assert cells["Lead ID"] == ["007", "12", "007", "12"]
    assert cells["Phone"] == ["0612345678", "+33 6 12 34 56 78"] * 2
    assert cells["Zip code"] == ["01000", "75011"] * 2
    assert cells["Amount"] == [1200.5, 7256, 1200.5, 7256]
    assert all(isinstance(v, __import__("datetime").datetime) for v in cells["Created"])
    fmt = ws.cell(4, header.index("Created") + 1).number_format
    assert fmt == ws.cell(6, header.index("Created") + 1).number_format == "yyyy-mm-dd"


def test_activities_after_the_as_of_date_do_not_count_as_the_last_touch(tmp_path):
    leads = _write(tmp_path / "leads.csv", "Lead ID,Email\nA,a@x.example\nB,b@x.example\n")
    acts = _write(tmp_path / "acts.csv", "Lead ID,Date,Activity,Detail\nA,2026-11-01,webinar,\nA,2026-11-19,webinar,\n"
                                        "B,2026-11-20,webinar,\n")
    book = tmp_path / "a.xlsm"
    assert _cli("new", book, "--leads", leads, "--activities", acts)[0] == 0
    assert _cli("refresh", book, "--as-of", "2026-11-09")[0] == 0
    ev, _ = compute(from_file(book), None, "2026-11-09")
    last = dict(zip(ev.context["Lead ID"], ev.context["Last activity"]))
    assert last["A"] == pd.Timestamp("2026-11-01") and pd.isna(last["B"])


def test_an_amount_of_infinity_is_a_problem_not_a_chart_point(tmp_path):
    leads = _write(tmp_path / "deals.csv", "Lead ID,Email,Deal stage,Amount\nA,a@x.example,Proposal,Infinity\n"
                                          "B,b@x.example,Proposal,1000\n")
    book = tmp_path / "inf.xlsm"
    assert _cli("new", book, "--leads", leads)[0] == 0
    code, out, err = _cli("refresh", book, "--as-of", "2026-11-09", "--json")
    assert code == 0, err
    problems = json.loads(out)["problems"]
    assert any(p["code"] == "not-a-number" and "Infinity" in p["message"] for p in problems)
    with zipfile.ZipFile(book) as z:
        for name in z.namelist():
            if name.startswith("xl/charts/"):
                xml = z.read(name).decode()
                assert ">inf<" not in xml and ">nan<" not in xml, name


def test_an_export_without_consent_is_not_every_lead_without_consent(tmp_path):
    book = tmp_path / "deals.xlsm"
    assert _cli("new", book, "--leads", EXPORTS / "deals_no_consent.csv")[0] == 0
    code, out, err = _cli("refresh", book, "--as-of", "2016-12-15", "--json")
    assert code == 0, err
    empty = [p for p in json.loads(out)["problems"] if p["code"] == "empty-column" and '"Consent"' in p["message"]]
    assert len(empty) == 1 and 'column "Consent" is empty on every row' in empty[0]["message"]
    ev, _ = compute(from_file(book), None, "2016-12-15")
    assert ev.context["Consent"].all()
    assert ev.context.set_index("Lead ID").loc["9001", "Stage"] == "Customer"


def test_an_organisation_id_is_never_guessed_as_lead_id_beside_a_person_id():
    import addin
    leads = pd.DataFrame({"tenant_org_id": ["o1", "o2", "o3"], "member_no": ["m1", "m2", "m3"],
                          "Email": ["a@x.example", "b@x.example", "c@x.example"]})
    ev = addin.evaluate(leads, None, None, as_of="2016-12-15")
    assert ev.leads["Lead ID"].tolist() == ["m1", "m2", "m3"]
    note = next(p for p in ev.problems if p.code == "lead-id-guessed")
    assert '"tenant_org_id" names an organisation, not a person' in note.message


def test_an_unrecognised_unique_id_column_is_taken_and_said(tmp_path):
    book = tmp_path / "mql.xlsm"
    code, out, err = _cli("new", book, "--leads", EXPORTS / "marketing_two_ids.csv")
    assert code == 0, err
    assert 'Leads: "mql_id" taken as Lead ID (its values are unique and filled on every row' in out
    assert read_workbook(book).leads["Lead ID"].tolist() == ["MQ-101", "MQ-102", "MQ-103", "MQ-104"]
    code, out, err = _cli("refresh", book, "--as-of", "2016-12-15", "--json")
    assert code == 0 and json.loads(out)["leads"] == 4


def test_no_lead_id_on_any_row_exits_1_naming_the_candidates(tmp_path):
    leads = _write(tmp_path / "noid.csv", "mql_id,seller_id,first_contact_date\nMQ-1,S-9,2016-10-20\n"
                                          "MQ-1,S-9,2016-10-21\nMQ-3,S-7,2016-11-02\n")
    book = tmp_path / "noid.xlsm"
    assert _cli("new", book, "--leads", leads)[0] == 0
    code, out, err = _cli("refresh", book, "--as-of", "2016-12-15")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert 'none of the 3 rows has a Lead ID' in lines[0]
    assert '"mql_id", "seller_id" could be it: write "mql_id" (or the right one) beside "Lead ID" in Settings\' Column mapping' \
        in lines[0]


def test_an_empty_lead_id_column_beside_a_unique_id_column_is_guessed_with_evidence():
    import addin
    leads = pd.DataFrame({"Lead ID": [None, None, None], "mql_id": ["a", "b", "c"], "seller_id": ["s", "s", "t"],
                          "Email": ["a@x.example", "b@x.example", "c@x.example"]})
    ev = addin.evaluate(leads, None, None, as_of="2016-12-15")
    assert ev.leads["Lead ID"].tolist() == ["a", "b", "c"]
    note = next(p for p in ev.problems if p.code == "lead-id-guessed")
    assert '"mql_id" is used as Lead ID (the "Lead ID" column is empty on every row' in note.message
    assert 'unlike "seller_id"' in note.message


def test_a_person_id_wins_over_an_organisation_id(tmp_path):
    book = tmp_path / "persons.xlsm"
    code, out, err = _cli("new", book, "--leads", EXPORTS / "crm_persons_org_ids.csv")
    assert code == 0, err
    assert 'Leads: "member_id" taken as Lead ID' in out            # organization_id is the Company ID
    assert read_workbook(book).leads["Lead ID"].tolist() == ["P-10", "P-11", "P-12"]
    code, out, err = _cli("refresh", book, "--as-of", "2016-12-15", "--json")
    assert code == 0 and json.loads(out)["leads"] == 3          # two Bo Dahl of one org are two people


def test_a_deal_title_is_not_a_job_title(tmp_path):
    book = tmp_path / "deals.xlsm"
    code, out, err = _cli("new", book, "--leads", EXPORTS / "crm_deals_title.csv")
    assert code == 0, err
    assert '"title" beside deal columns is kept as the deal\'s title, not read as Job title' in out
    data = read_workbook(book)
    assert data.leads["Job title"].isna().all() and data.leads["title"].tolist()[0] == "Acme renewal 2017"
    code, out, err = _cli("refresh", book, "--as-of", "2016-12-15", "--json")
    assert code == 0 and not [p for p in json.loads(out)["problems"] if p["code"] == "header-conflict"]


def _summary_cells(book) -> list[list]:
    ws = openpyxl.load_workbook(book)["Summary"]
    return [[v for v in row if v is not None] for row in ws.iter_rows(values_only=True)]


def _section_rows(ws) -> list[int]:
    """The rows of the Summary's section titles (bold, size 13)."""
    return [c.row for c in ws["A"] if isinstance(c.value, str) and c.font.b and c.font.sz == 13]


def test_the_summary_prints_its_report_one_page_wide_landscape_a_page_break_before_a_section_with_its_title_on_each_page(tmp_path):
    """Two pages tall scaled the whole Summary's text to ~4 points (looked at in LibreOffice's PDF):
    its print area is the report (the REPORT sections: title to SLA), landscape, one page wide, each
    page starting at a section; the working lists below it say how to print them too."""
    from addin.core.report.sections import SECTIONS
    book = tmp_path / "demo.xlsm"
    assert _cli("demo", book)[0] == 0
    with zipfile.ZipFile(book) as z:
        wb = z.read("xl/workbook.xml").decode()
    ws = openpyxl.load_workbook(book)["Summary"]
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight, ws.page_setup.orientation) == (1, 0, "landscape")
    assert ws.print_title_rows == "$1:$2"
    assert "_xlnm.Print_Titles" in wb and "_xlnm.Print_Area" in wb
    end = next(c.row for c in ws["A"] if str(c.value).startswith("End of the printed report."))
    assert ws.print_area == f"'Summary'!$A$1:$M${end}"
    assert "Ignore Print Area" in ws.cell(end, 1).value
    sections = _section_rows(ws)
    printed = [ws.cell(r, 1).value for r in sections if r < end]
    assert [t.split(" —")[0] for t in printed] == ["Funnel", "Pipeline", "Trend", "Velocity", "Follow-up deadlines (SLA)"]
    assert [s.NAME for s in SECTIONS if getattr(s, "REPORT", False)] == [s.NAME for s in SECTIONS[:4]]  # a prefix
    below = [ws.cell(r, 1).value for r in sections if r > end]
    assert below[0].startswith("Since last refresh") and below[-1].startswith("Data quality")
    breaks = [b.id for b in ws.row_breaks.brk]
    assert len(breaks) == 1 and breaks[0] + 1 in sections and breaks[0] < end     # two pages, the second at a section


def test_a_report_that_would_need_a_third_page_prints_smaller_on_two():
    """A pipeline of 40 deal stages pushes the report past two pages at the one-page-wide scale: it
    then prints at the largest scale that keeps it on two pages, its second page starting at a section;
    120 stages cannot be read on two pages at 40 %: fitted two pages tall."""
    from addin.core.report.page import print_setup
    from addin.core.report.summary import summarise
    from addin.core.report.summary_layout import summary_layout
    stages = [{"stage": f"Stage {i}", "probability": 0.1} for i in range(40)] + [
        {"stage": "Won", "outcome": "won"}, {"stage": "Lost", "outcome": "lost"}]
    leads = pd.DataFrame({"Lead ID": ["a", "b"], "Email": ["a@x.example", "b@x.example"], "Deal stage": ["Stage 3", ""],
                          "Amount": [1000, None]})
    import addin
    from addin.core.rules.model import default_rules_text
    ev = addin.evaluate(leads, None, {**json.loads(default_rules_text()), "pipeline": stages}, as_of="2026-11-22")
    page = summary_layout(summarise(ev), ev.rules, "2026-11-22 08:00")
    printed = print_setup(page)
    wide = print_setup(summary_layout(summarise(addin.evaluate(leads, None, None, as_of="2026-11-22")), ev.rules, "x"))
    assert wide.fit == (1, 0) and wide.scale is None and len(wide.breaks) <= 1
    assert printed.fit is None and 40 <= printed.scale < 70 and printed.rows == page.report_rows
    assert len(printed.breaks) == 1 and printed.breaks[0] + 1 in page.sections
    # the scale is the largest that packs it: at the next percent up it needs a third page
    rows = range(1, page.report_rows + 1)
    height = sum(page.heights.get(r, 15.0) * (1.2 if r in page.sections else 1.0) for r in rows)
    assert height * printed.scale / 100 <= 2 * 509 * 0.95
    stages = [{"stage": f"Stage {i}", "probability": 0.1} for i in range(120)] + stages[-2:]
    ev = addin.evaluate(leads, None, {**json.loads(default_rules_text()), "pipeline": stages}, as_of="2026-11-22")
    huge = print_setup(summary_layout(summarise(ev), ev.rules, "x"))
    assert (huge.fit, huge.scale, huge.breaks) == ((1, 2), None, [])


def test_the_summary_counts_every_hot_lead_and_says_how_many_more(tmp_path):
    book = tmp_path / "demo.xlsm"
    assert _cli("demo", book)[0] == 0
    ev, _ = compute(from_file(book), None, None)
    rows = _summary_cells(book)
    title = next(r[0] for r in rows if r and str(r[0]).startswith("Hottest open leads ("))
    hot = int(((ev.context["Score"] >= ev.rules.hot) & ~ev.context["Stage"].isin(
        ["Customer", "Lost", "Disqualified"])).sum())
    assert hot > 10 and title == f"Hottest open leads ({hot})"
    assert [f"… and {hot - 10} more (filter Stage on the Leads sheet)"] in rows
    deal_stages = [r[0] for r in rows if r and isinstance(r[0], str) and r[0].startswith("Won")]
    assert "Won (won)" not in deal_stages


def test_two_refreshes_on_one_day_are_one_point_of_the_trend(tmp_path):
    book = tmp_path / "demo.xlsm"
    assert _cli("demo", book)[0] == 0
    assert _cli("refresh", book)[0] == 0
    assert _cli("refresh", book)[0] == 0
    rows = _summary_cells(book)
    i = next(k for k, r in enumerate(rows) if r and str(r[0]).startswith("Trend — leads per stage"))
    assert rows[i][0] == "Trend — leads per stage, last 1 refresh"
    with zipfile.ZipFile(book) as z:
        assert '<c:ptCount val="1"/>' in z.read("xl/charts/chartLeadQTrend.xml").decode()


def _summary_only(book: Path, out: Path) -> Path:
    """A copy whose only visible sheet is the Summary (LibreOffice prints no hidden sheet)."""
    import re
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode()
                text = re.sub(r'<sheet (?![^>]*name="Summary")([^>]*?)(?:\sstate="[^"]*")?/>', r'<sheet \1 state="hidden"/>', text)
                text = re.sub(r'activeTab="\d+"', "", text)
                names = re.findall(r'<sheet [^>]*name="([^"]+)"', text)
                text = re.sub(r"<workbookView ", f'<workbookView activeTab="{names.index("Summary")}" ', text, count=1)
                data = text.encode()
            dst.writestr(item, data)
    return out


@pytest.mark.libreoffice
@pytest.mark.parametrize("leads", [200, 10_000])
def test_the_summary_prints_its_report_on_two_pages_one_page_wide(tmp_path, leads):
    from tests.lo import convert, pages
    book = tmp_path / "demo.xlsm"
    if leads == 200:
        assert _cli("demo", book)[0] == 0
    else:
        import datetime as dt

        from addin.core.rules.model import load_rules
        from addin.io.sample import sample_frames
        from addin.io.template import build_workbook
        build_workbook(book, load_rules(), sample_frames(dt.date(2026, 11, 22), n=leads))
        assert _cli("refresh", book, "--as-of", "2026-11-22", "--rules", EXPORTS.parent.parent / "rules.json")[0] == 0
    ws = openpyxl.load_workbook(book)["Summary"]
    breaks, area = len(ws.row_breaks.brk), ws.print_area
    pdf = convert(_summary_only(book, tmp_path / "summary.xlsm"), "pdf", tmp_path / "pdf")
    images = pages(pdf, dpi=30)
    # the report, one page wide (no page of orphaned right-hand columns), two pages (both looked at)
    assert area.startswith("'Summary'!$A$1:$M$") and len(images) == breaks + 1 == 2
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Funnel" in text and "Follow-up deadlines (SLA)" in text and "End of the printed report" in text
    assert "Since last refresh" not in text and "Data quality" not in text


def test_outcome_won_prefers_a_won_column_and_says_so():
    import addin
    from addin.core.calibrate.fit import outcome_of
    leads = pd.DataFrame({"Lead ID": ["a", "b", "c"], "Email": ["a@x.example", "b@x.example", "c@x.example"],
                          "Won": ["1", "0", ""], "Deal stage": ["", "", ""]})
    ev = addin.evaluate(leads, None, None, as_of="2026-11-22")
    y, described, _ = outcome_of(ev, leads, "won")
    assert y[:2].tolist() == [1.0, 0.0] and np.isnan(y[2])
    assert described.startswith('column "Won" (1/Yes = converted) — a column of that name is read before the keyword won')
    y, described, _ = outcome_of(ev, leads.drop(columns="Won"), "won")
    assert described == "won vs lost deals (Deal stage)"


def test_explain_says_which_as_of_date_it_used(tmp_path):
    book = tmp_path / "demo.xlsm"
    assert _cli("demo", book)[0] == 0
    lead = read_workbook(book).leads["Lead ID"].iloc[0]
    code, out, err = _cli("explain", book, lead, "--json")
    assert code == 0, err
    ws = openpyxl.load_workbook(book, data_only=True)["Leads"]
    header = [c.value for c in ws[3]]
    sheet_score = next(r[header.index("Score")] for r in ws.iter_rows(min_row=4, values_only=True) if r[0] == lead)
    assert json.loads(out)["lead"]["Score"] == pytest.approx(sheet_score)      # the sheet's score, not today's
    code, out, err = _cli("explain", book, lead)
    first = out.splitlines()[0]
    last = read_workbook(book).history["Refreshed at"].max().date().isoformat()
    assert first.endswith(f"as of {last} (the last refresh's, from Lead history: Settings!B3 is empty)"), first
    fresh = tmp_path / "fresh.xlsm"                 # before the first refresh: today, and said so
    assert _cli("new", fresh, "--sample")[0] == 0
    code, out, err = _cli("explain", fresh, lead)
    assert "(today: Settings!B3 is empty); the sheet's scores are those of its last refresh: give --as-of" in out.splitlines()[0]
    code, out, err = _cli("explain", book, lead, "--as-of", "2026-11-22")
    assert out.splitlines()[0].endswith("as of 2026-11-22 (--as-of)")


def test_check_rules_warns_of_a_regex_page_pattern_with_the_globs_to_write(tmp_path):
    rules = _rules(tmp_path, {"activities": {"page_visit": {"points": 1}},
                              "pages": [{"id": "pricing", "match": "/pricing|/tarifs", "points": 10},
                                        {"id": "docs", "match": "*/docs*", "points": 1}]})
    code, out, err = _cli("check-rules", rules)
    assert code == 0, err
    warned = [line for line in (out + err).splitlines() if "regular expression" in line]
    assert len(warned) == 1 and "$.pages[0].match" in warned[0]
    assert 'write one page rule per pattern: "*/pricing*", "*/tarifs*"' in warned[0]


def test_a_workbook_name_that_would_hide_a_module_is_refused_with_a_name_to_use(tmp_path):
    for name in ("csv", "pandas"):
        code, out, err = _cli("new", tmp_path / f"{name}.xlsm")
        assert code == 1 and not (tmp_path / f"{name}.xlsm").exists()
        assert f'would hide the "{name}" module Python already has' in err and f"{name}_leads.xlsm" in err


def test_an_unreadable_xls_is_one_line(tmp_path):
    bad = tmp_path / "old.xls"
    bad.write_bytes(b"garbage\x00\x01")
    code, out, err = _cli("new", tmp_path / "b.xlsm", "--leads", bad)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "cannot be read as a spreadsheet" in err and "save it as .xlsx or CSV" in err and "Context" not in err


def test_open_deals_without_an_amount_are_said_beside_the_pipeline(tmp_path):
    leads = _write(tmp_path / "deals.csv", "Lead ID,Email,Deal stage,Amount\nA,a@x.example,Proposal,\n"
                                          "B,b@x.example,Proposal,1000\nC,c@x.example,Negotiation,\n")
    book = tmp_path / "deals.xlsm"
    assert _cli("new", book, "--leads", leads)[0] == 0
    assert _cli("refresh", book, "--as-of", "2026-11-09")[0] == 0
    rows = _summary_cells(book)
    i = next(k for k, r in enumerate(rows) if r == ["Pipeline"])
    assert rows[i + 1][0].endswith("2 open deals have no amount and count 0: fill Amount on the Leads sheet.")


EMPTY_KINDS = ["Job title", "Company size", "Industry", "Country", "Created", "Source", "Owner", "Deal stage",
               "Next action", "Next action date", "CRM status", "Disqualified", "Consent", "Amount"]


@pytest.fixture(scope="module")
def sample_book(tmp_path_factory):
    book = tmp_path_factory.mktemp("empty") / "s.xlsm"
    assert _cli("new", book, "--sample")[0] == 0
    return book


@pytest.mark.parametrize("column", EMPTY_KINDS)
def test_an_optional_column_empty_on_every_row_scores_as_no_column(sample_book, tmp_path, column):
    """Text, number, date, stage, status and yes/no columns: empty on every row, the scores, grades,
    stages and next-action states are those of a sheet without the column, and one line names it."""
    book = tmp_path / "e.xlsm"
    wb = openpyxl.load_workbook(sample_book, keep_vba=True)
    ws = wb["Leads"]
    col = [c.value for c in ws[3]].index(column) + 1
    for r in range(4, ws.max_row + 1):
        ws.cell(r, col).value = None
    wb.save(book)
    rules = EXPORTS.parent.parent / "rules.json"
    empty, _ = compute(from_file(book), rules, "2026-11-20")
    inp = from_file(book)
    attrs = inp.leads.attrs
    inp.leads = inp.leads.drop(columns=[column])
    inp.leads.attrs = attrs
    absent, _ = compute(inp, rules, "2026-11-20")
    pd.testing.assert_frame_equal(empty.leads, absent.leads)
    code, out, err = _cli("refresh", book, "--rules", rules, "--as-of", "2026-11-20", "--json")
    assert code == 0, err
    lines = [p["message"] for p in json.loads(out)["problems"] if p["code"] == "empty-column" and f'"{column}"' in p["message"]]
    assert len(lines) == 1 and "empty on every row, so" in lines[0]
