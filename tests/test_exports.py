"""Real exports, read truthfully: each file of tests/exports/ (faithful to one tool's export) is
imported with `leadq new --leads`, refreshed, and checked: stage counts, dates as a person reads
them, and exactly the problems that are really there. Spreadsheet exports are built here."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.table import Table

from addin.app.inputs import WorkbookInput
from addin.app.refresh import compute
from addin.cli import run
from addin.core.report.summary import summarise
from addin.core.values.parse import read_dates
from addin.io.importer import decode, read_export, sniff_delimiter
from addin.io.reader import read_workbook

EXPORTS = Path(__file__).parent / "exports"
AS_OF = "2016-12-15"


def _cli(*argv):
    import io
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _import_and_refresh(tmp_path, leads, activities=None, sheet=None):
    book = tmp_path / f"{Path(leads).stem}.xlsm"          # `leadq new` never replaces a workbook
    argv = ["new", book, "--leads", leads] + (["--activities", activities] if activities else []) + \
        (["--sheet", sheet] if sheet else [])
    code, out, err = _cli(*argv)
    assert code == 0, err
    code, out, err = _cli("refresh", book, "--as-of", AS_OF, "--json")
    assert code == 0, err
    result = json.loads(out)
    data = read_workbook(book)
    ev, run_ = compute(WorkbookInput(data.leads, data.activities, data.qualification, data.settings, data.settings_rows,
                                     data.history, data.problems, Path(book), data), None, AS_OF)
    return result, data, ev, run_


def _stages(result):
    return {k: v for k, v in result["stages"].items() if v}


def _codes(result):
    return sorted({p["code"] for p in result["problems"]})


def _created(data, run_):
    return [d.date().isoformat() if not pd.isna(d) else None for d in read_dates(data.leads["Created"], run_.date_order).dates]


# Each CSV of the corpus: expected stage counts, Created dates as a person reads them, problem codes.
# None of them has a consent column: the template's Consent column stays empty and is read as absent.
CORPUS = {
    "salesforce_leads_report.csv": (None, {"Lead": 2, "MQL": 1, "Opportunity": 1, "Disqualified": 1},
                                    ["2016-11-01", "2016-11-25", "2016-10-03", "2016-12-13", "2017-02-14"], ["empty-column"]),
    "hubspot_contacts.csv": ("hubspot_activities.csv", {"Visitor": 1, "MQL": 1, "SQL": 1, "Customer": 1, "Disqualified": 1},
                             ["2016-10-20", "2016-11-02", "2016-11-15", "2016-12-01", "2016-12-09"], ["empty-column", "header-conflict"]),
    "pipedrive_deals.csv": (None, {"Lead": 2, "Customer": 1, "Lost": 1},
                            ["2016-10-20", "2016-10-21", "2016-11-02", "2016-11-05"], ["empty-column", "unknown-deal-stage", "unknown-deal-stages"]),
    "odoo_crm_lead.csv": (None, {"Lead": 1, "SQL": 1, "Opportunity": 1, "Customer": 1},
                          ["2016-10-20", "2016-11-03", "2016-11-14", "2016-12-01"], ["empty-column"]),
    "mautic_contacts.csv": ("mautic_activities.csv", {"Visitor": 1, "Lead": 2},
                            ["2016-10-20", "2016-11-05", "2016-11-07"], ["empty-column", "header-conflict"]),
    "suitecrm_leads.csv": (None, {"Visitor": 1, "Lead": 2, "Opportunity": 1, "Disqualified": 1},
                           ["2016-10-20", "2016-11-02", "2016-11-14", "2016-12-01", "2016-12-09"], ["empty-column", "header-conflict"]),
    "axonaut_fr.csv": (None, {"MQL": 1, "Opportunity": 1, "Customer": 1, "Disqualified": 1},
                       ["2016-10-20", "2016-11-03", "2016-11-25", "2016-12-01"], ["empty-column"]),
    "us_mdy_leads.csv": (None, {"Visitor": 1, "Lead": 1, "Opportunity": 1},
                         ["2016-11-01", "2016-11-25", "2016-12-02"], ["empty-column"]),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_export_imports_and_refreshes_truthfully(tmp_path, name):
    activities, stages, created, codes = CORPUS[name]
    result, data, ev, run_ = _import_and_refresh(tmp_path, EXPORTS / name, EXPORTS / activities if activities else None)
    assert _stages(result) == stages
    assert _created(data, run_) == created
    assert _codes(result) == codes


def test_the_problems_reported_are_the_real_ones(tmp_path):
    result, *_ = _import_and_refresh(tmp_path, EXPORTS / "pipedrive_deals.csv")
    grouped = next(p for p in result["problems"] if p["code"] == "unknown-deal-stages")
    assert '"Proposal Made" ×2' in grouped["message"] and '"Contact Made" ×1' in grouped["message"]
    assert 'add each to "pipeline" in rules.json' in grouped["message"]
    result, *_ = _import_and_refresh(tmp_path, EXPORTS / "suitecrm_leads.csv")
    notes = {p["message"].split(":")[0] for p in result["problems"]}
    others = {n for n in notes if n.startswith("columns ") and "are empty on every row" in n}    # template columns the export lacks
    assert len(others) == 1 and '"Industry"' in next(iter(others)) and '"Consent"' not in next(iter(others))
    assert notes - others == {'column "Consent" is empty on every row, so it is read as absent',     # no consent in the export
                     'columns "Lead ID" and "Contact ID" both mean "Lead ID"',
                     'columns "Phone" and "Office Phone" both mean "Phone"',
                     'columns "Owner" and "Assigned User" both mean "Owner"'}


def test_crm_status_wins_where_it_knows_more(tmp_path):
    result, data, ev, _ = _import_and_refresh(tmp_path, EXPORTS / "salesforce_leads_report.csv")
    stage = dict(zip(ev.context["Lead ID"], ev.context["Stage"]))
    assert stage["00Q5e00001AbCdG"] == "Opportunity"          # Closed - Converted: never back in the MQL queue
    assert stage["00Q5e00001AbCdH"] == "Disqualified"         # Closed - Not Converted
    reason = dict(zip(ev.context["Lead ID"], ev.context["Reason"]))
    assert reason["00Q5e00001AbCdH"] == "Not converted (CRM)"
    assert stage["00Q5e00001AbCdI"] == "Lead"                 # a phone and no email is a Lead


def test_activity_names_of_real_tools_are_matched(tmp_path):
    result, data, ev, _ = _import_and_refresh(tmp_path, EXPORTS / "hubspot_contacts.csv", EXPORTS / "hubspot_activities.csv")
    assert "unknown-activity" not in _codes(result)
    ledger = ev.details[ev.details["Lead ID"] == "52"]
    assert {"activity:newsletter_open", "activity:email_click", "activity:form_submit", "activity:webinar"} <= set(ledger["Rule"])
    last = dict(zip(ev.context["Lead ID"], ev.context["Last activity"]))
    assert last["54"] == pd.Timestamp("2016-11-28")


def test_us_and_french_dates_and_numbers_read_as_a_person_reads_them(tmp_path):
    result, data, ev, _ = _import_and_refresh(tmp_path, EXPORTS / "us_mdy_leads.csv")
    ctx = ev.context.set_index("Lead ID")
    assert ctx.loc["US-1", "Next action date"] == pd.Timestamp("2016-12-05")
    assert ctx.loc["US-2", "Next action date"] == pd.Timestamp("2016-12-13")
    assert ctx.loc["US-1", "Amount"] == 1200.5
    by_source = summarise(ev).by_source
    assert by_source["Leads"].tolist() == [3] and by_source["Source"].iloc[0] in ("google", "Google", "GOOGLE")
    result, data, ev, _ = _import_and_refresh(tmp_path, EXPORTS / "axonaut_fr.csv")
    ctx = ev.context.set_index("Lead ID")
    assert ctx.loc["PR-001", "Amount"] == 1200.5 and ctx.loc["PR-004", "Amount"] == 12000
    assert ctx.loc["PR-001", "Company"] == "Boulangerie Dupont" and data.leads["First name"].iloc[0] == "Élodie"
    by_source = summarise(ev).by_source.set_index("Source")["Leads"].to_dict()
    assert by_source == {"Site web": 2, "Salon": 2} or by_source == {"Site Web": 2, "Salon": 2}


def test_csv_sniffing_encodings_delimiters_and_quoted_newlines(tmp_path):
    text, encoding = decode((EXPORTS / "axonaut_fr.csv").read_bytes())
    assert encoding == "cp1252" and "Société" in text and sniff_delimiter(text) == ";"
    assert decode((EXPORTS / "hubspot_contacts.csv").read_bytes())[1] == "utf-8-sig"
    tab = tmp_path / "tab.csv"
    tab.write_text('Lead ID\tEmail\tNotes\n1\ta@b.fr\t"two\nlines"\n2\tc@d.fr\tok\n', encoding="utf-8")
    frame = read_export(tab)
    assert list(frame.columns) == ["Lead ID", "Email", "Notes"] and frame["Notes"].tolist() == ["two\nlines", "ok"]


def _spreadsheet(path: Path, header: list, rows: list, table: bool, title: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Export"
    if title:
        ws.append([title])
    ws.append(header)
    for r in rows:
        ws.append(r)
    if table:
        top = 2 if title else 1
        ref = f"A{top}:{openpyxl.utils.get_column_letter(len(header))}{top + len(rows)}"
        ws.add_table(Table(displayName="Export1", ref=ref))
    wb.save(path)
    return path


def test_zoho_dynamics_and_salesforce_api_spreadsheets(tmp_path):
    zoho = _spreadsheet(tmp_path / "zoho.xlsx", [
        "Record Id", "Lead Owner", "Company", "First Name", "Last Name", "Title", "Email", "Phone", "Lead Source",
        "Lead Status", "Industry", "No. of Employees", "Annual Revenue", "Created Time"], [
        ["zcrm_4000001", "Ann Owner", "Zylker", "Ada", "Lovelace", "CEO", "ada@zylker.example", "", "Web Download",
         "Pre-Qualified", "Software", 250, 5_000_000, "Oct 20, 2016 02:33 PM"],
        ["zcrm_4000002", "Ann Owner", "Junk Co", "Bob", "Spam", "", "bob@junk.example", "", "Cold Call", "Junk Lead",
         "", "", "", "Nov 3, 2016 09:00 AM"]], table=False, title="Leads export")
    result, data, ev, run_ = _import_and_refresh(tmp_path, zoho)
    assert _stages(result) == {"MQL": 1, "Disqualified": 1} and _codes(result) == ["empty-column"]   # no consent column
    assert _created(data, run_) == ["2016-10-20", "2016-11-03"]

    dyn = _spreadsheet(tmp_path / "dynamics.xlsx", [
        "(Do Not Modify) Lead", "(Do Not Modify) Row Checksum", "(Do Not Modify) Modified On", "Name", "Topic",
        "Status Reason", "Created On", "Company Name", "Business Phone", "Email", "Lead Source", "Owner"], [
        ["3f2a-01", "abc", dt.datetime(2016, 11, 1, 9), "Nancy Anderson", "Interested in product", "New",
         dt.datetime(2016, 10, 20, 14, 33), "Contoso", "555-0100 123", "", "Web", "Dan Jump"],
        ["3f2a-02", "abd", dt.datetime(2016, 11, 2, 9), "Yvonne McKay", "New store opened", "Qualified",
         dt.datetime(2016, 11, 3, 8, 0), "Fabrikam", "", "yvonne@fabrikam.example", "Trade Show", "Dan Jump"],
        ["3f2a-03", "abe", dt.datetime(2016, 11, 3, 9), "Susanna Stubberod", "Lost interest", "Cannot Contact",
         dt.datetime(2016, 11, 25, 10, 0), "Litware", "", "susanna@litware.example", "Web", "Dan Jump"]], table=True)
    result, data, ev, run_ = _import_and_refresh(tmp_path, dyn)
    assert _stages(result) == {"Lead": 1, "SQL": 1, "Disqualified": 1} and _codes(result) == ["empty-column"]   # no consent column
    assert _created(data, run_) == ["2016-10-20", "2016-11-03", "2016-11-25"]

    api = _spreadsheet(tmp_path / "sf_api.xlsx", [
        "Id", "IsDeleted", "LastName", "FirstName", "Company", "Email", "Phone", "LeadSource", "Status", "NumberOfEmployees",
        "OwnerId", "IsConverted", "CreatedDate"], [
        ["00Q1", False, "Lee", "Kim", "Acme", "kim@acme.example", "", "Web", "Working - Contacted", "51-200", "005A",
         False, "2016-10-20T14:33:00.000+0000"],
        ["00Q2", False, "Ray", "Joe", "Beta", "joe@beta.example", "", "Web", "Closed - Converted", "11-50", "005A",
         True, "2016-11-03T08:00:00.000+0000"]], table=False)
    result, data, ev, run_ = _import_and_refresh(tmp_path, api)
    assert _stages(result) == {"Lead": 1, "Opportunity": 1} and _codes(result) == ["empty-column"]   # no consent column
    assert _created(data, run_) == ["2016-10-20", "2016-11-03"]


def test_import_appends_and_replaces_keeping_user_columns(tmp_path):
    book = tmp_path / "b.xlsm"
    assert _cli("new", book, "--leads", EXPORTS / "odoo_crm_lead.csv")[0] == 0
    code, out, err = _cli("import", book, "--leads", EXPORTS / "us_mdy_leads.csv")
    assert code == 0, err
    assert "appended to Leads: 3 row(s)" in out
    data = read_workbook(book)
    assert data.leads["Lead ID"].tolist()[4:] == ["US-1", "US-2", "US-3"] and len(data.leads) == 7
    assert data.leads["Probability"].tolist()[:4] == [10.0, 20.0, 60.0, 100.0]   # Odoo's own column
    code, out, err = _cli("import", book, "--leads", EXPORTS / "us_mdy_leads.csv", "--replace")
    assert code == 0, err
    data = read_workbook(book)
    assert data.leads["Lead ID"].tolist() == ["US-1", "US-2", "US-3"]
    assert "Probability" in data.leads.columns                      # the column stays, its old rows went
    assert _cli("refresh", book, "--as-of", AS_OF)[0] == 0


@pytest.mark.parametrize("suffix", [".csv", ".xls", ".ods"])
def test_refresh_on_an_export_says_what_to_do(tmp_path, suffix):
    path = tmp_path / f"leads{suffix}"
    path.write_bytes(b"Lead ID,Email\n1,a@b.fr\n")
    code, out, err = _cli("refresh", path)
    assert code == 1
    assert f"`leadq new leads.xlsm --leads leads{suffix}`, then run `leadq refresh leads.xlsm`" in err


def test_grouped_lines_on_the_cli_and_the_summary(tmp_path):
    export = tmp_path / "deals.csv"
    export.write_text("Deal ID,Company,Stage name,Owner\n1,Acme,Prospecting,Ann\n2,Beta,Prospecting,Ann\n3,Gamma,Won,Bob\n",
                      encoding="utf-8")
    book = tmp_path / "deals.xlsm"
    assert _cli("new", book, "--leads", export)[0] == 0
    code, out, err = _cli("refresh", book, "--as-of", AS_OF)
    assert code == 0, err
    assert '"Email" and "Phone" empty on every row: all 3 leads stay Visitors' in out
    ws = openpyxl.load_workbook(book, read_only=True)["Summary"]
    text = "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    assert text.count("all 3 leads stay Visitors") == 1


def test_the_activities_drop_down_follows_the_rules_on_every_refresh(tmp_path):
    book = tmp_path / "dd.xlsm"
    assert _cli("new", book, "--leads", EXPORTS / "us_mdy_leads.csv")[0] == 0
    rules = json.loads((tmp_path / "rules.json").read_text("utf-8"))
    rules["activities"]["trade_show"] = {"points": 12, "label": "Trade show"}
    for gone in ("bounce", "unsubscribe"):
        del rules["activities"][gone]
    (tmp_path / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    assert _cli("refresh", book, "--as-of", AS_OF)[0] == 0
    wb = openpyxl.load_workbook(book)
    ws = wb["Settings"]
    assert [ws.cell(r, 7).value for r in range(2, 13)] == list(rules["activities"]) + [None]
    assert wb.defined_names["LeadQ_ActivityTypes"].attr_text == "Settings!$G$2:$G$11"


def test_import_never_overwrites_cells_below_the_table(tmp_path):
    book = tmp_path / "b.xlsm"
    assert _cli("new", book, "--leads", EXPORTS / "us_mdy_leads.csv")[0] == 0
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb["Leads"]["B9"] = "my note"
    wb.save(book)
    before = book.read_bytes()
    code, out, err = _cli("import", book, "--leads", EXPORTS / "salesforce_leads_report.csv")
    assert code == 1 and "Leads!B9 holds data below the Leads table" in err
    assert book.read_bytes() == before


@pytest.mark.libreoffice
def test_libreoffice_opens_an_imported_appended_and_refreshed_workbook(tmp_path):
    from lo import convert, soffice
    soffice()
    book = tmp_path / "fr.xlsm"
    assert _cli("new", book, "--leads", EXPORTS / "axonaut_fr.csv")[0] == 0
    assert _cli("import", book, "--leads", EXPORTS / "us_mdy_leads.csv")[0] == 0
    assert _cli("refresh", book, "--as-of", AS_OF)[0] == 0
    text = convert(book, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "lo").read_text("utf-8")
    lines = [line for line in text.splitlines() if line.startswith(("PR-", "US-"))]
    assert [line.split(",")[0] for line in lines] == ["PR-001", "PR-002", "PR-003", "PR-004", "US-1", "US-2", "US-3"]
    assert "Élodie" in lines[0] and "Customer" in lines[0] and "Opportunity" in lines[4]
