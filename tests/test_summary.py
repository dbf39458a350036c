"""The Summary: tables against hand-computed numbers, then the sheet in a real file and LibreOffice."""

import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import AS_OF, acts_frame
from lo import convert, count_color, pages

import addin
from addin.core.report.sections import CHARTS
from addin.core.report.summary import summarise
from addin.io.parts import chart_part
from addin.io.template import write_shim
from addin.refresh import new_workbook, refresh

YES = {"Budget": "Oui", "Authority": "Oui", "Need": "Oui", "Timeframe": "Oui"}


@pytest.fixture
def crafted(base_rules):
    L = [  # id, email, title, source, owner, deal, amount, action, date
        ("V1", "", "", "Web", "Ann", "", None, "", None),
        ("L1", "l1@x.fr", "", "Web", "Ann", "", None, "", None),
        ("M1", "m1@x.fr", "", "Ads", "Bob", "", None, "", None),
        ("M2", "m2@x.fr", "", "Ads", "Ann", "", None, "Call", "2026-11-20"),
        ("S1", "s1@x.fr", "", "Event", "Bob", "", None, "Demo", "2026-11-25"),
        ("O1", "o1@x.fr", "", "Event", "Ann", "Proposal", 10000, "Send", None),
        ("C1", "c1@x.fr", "", "Web", "Bob", "Won", 20000, "", None),
        ("X1", "x1@x.fr", "", "Ads", "Bob", "Lost", 5000, "", None),
        ("X2", "x2@x.fr", "", "Event", "Ann", "Lost", 7000, "", None),
        ("D1", "d1@x.fr", "Étudiant", "Web", "Ann", "", None, "", None),
    ]
    leads = pd.DataFrame(L, columns=["Lead ID", "Email", "Job title", "Source", "Owner", "Deal stage", "Amount",
                                     "Next action", "Next action date"])
    acts = acts_frame([("M1", "2026-11-10", "webinar", ""), ("M1", "2026-11-11", "simulator", ""),
                       ("M2", "2026-11-01", "webinar", ""), ("M2", "2026-11-02", "webinar", ""),
                       ("S1", "2026-11-12", "webinar", ""), ("S1", "2026-11-13", "simulator", ""),
                       ("Z9", "2026-11-13", "webinar", "")])
    q = pd.DataFrame([{"Lead ID": "S1", **YES}])
    return addin.evaluate(leads, acts, base_rules, qualification=q, as_of=AS_OF)


def test_funnel_counts_shares_and_conversions(crafted):
    f = summarise(crafted).funnel.set_index("Key")
    assert f["Now"].to_dict() == {"Visitor": 1, "Lead": 1, "MQL": 2, "SQL": 1, "Opportunity": 1, "Customer": 1}
    assert f["Reached"].to_dict() == {"Visitor": 10, "Lead": 8, "MQL": 7, "SQL": 5, "Opportunity": 4, "Customer": 1}
    assert f["Conversion"].drop("Visitor").tolist() == pytest.approx([8 / 10, 7 / 8, 5 / 7, 4 / 5, 1 / 4])
    assert f.loc["MQL", "Share"] == pytest.approx(0.2)


def test_outcomes_are_shown_apart_from_the_funnel(crafted):
    s = summarise(crafted)
    o = s.outcomes.set_index("Key")
    assert o.loc["Lost", "Leads"] == 2 and o.loc["Lost", "Amount"] == 12000
    assert o.loc["Disqualified", "Leads"] == 1 and o.loc["Disqualified", "Details"] == "Not a buyer (1)"
    assert s.kpis["Overall conversion"] == pytest.approx(0.1)


def test_pipeline_weighting_and_totals(crafted):
    s = summarise(crafted)
    p = s.pipeline.set_index("Deal stage")
    assert (p.loc["Proposal", "Count"], p.loc["Proposal", "Amount"], p.loc["Proposal", "Weighted"]) == (1, 10000, 2500)
    assert p.loc["Won", "Amount"] == 20000 and p.loc["Lost", "Count"] == 2 and p.loc["Lost", "Amount"] == 12000
    assert s.kpis["Weighted pipeline"] == 2500 and s.kpis["Won"] == 20000 and s.kpis["Lost"] == 12000


def test_by_owner_and_by_source(crafted):
    s = summarise(crafted)
    owner = s.by_owner.set_index("Owner")[["Leads", "MQL", "SQL", "Opportunities", "Customers"]]
    assert owner.loc["Ann"].tolist() == [6, 3, 2, 2, 0]
    assert owner.loc["Bob"].tolist() == [4, 4, 3, 2, 1]
    assert s.by_owner.set_index("Owner").loc["Bob", "Conversion"] == pytest.approx(0.25)
    source = s.by_source.set_index("Source")[["Leads", "MQL", "SQL", "Opportunities", "Customers"]]
    assert source.loc["Web"].tolist() == [4, 1, 1, 1, 1]
    assert source.loc["Ads"].tolist() == [3, 3, 1, 1, 0]
    assert source.loc["Event"].tolist() == [3, 3, 3, 2, 0]


def test_hand_off_queue_is_mqls_hottest_first_with_gaps_and_idle_days(crafted):
    h = summarise(crafted).handoff
    assert h["Lead ID"].tolist() == ["M2", "M1"]
    assert h["Score"].tolist() == [40, 35]
    assert h["Missing"].iloc[0] == "Budget, Authority, Need, Timeframe"
    assert h["Days since activity"].tolist() == [20, 11]


def test_next_actions_overdue_due_soon_missing(crafted):
    a = summarise(crafted).actions
    assert list(zip(a["Status"], a["Lead ID"])) == [("Overdue", "M2"), ("Due soon", "S1"), ("Missing", "M1"),
                                                     ("No date", "O1")]
    assert a["Days late"].iloc[0] == 2


def test_fit_engagement_grid(crafted):
    g = summarise(crafted).grid.set_index("Grade")
    assert g.loc["D"].tolist() == [7, 3, 0, 10]
    assert g.drop("D")["Total"].sum() == 0


def test_data_quality_lists_skipped_rows(crafted):
    q = summarise(crafted).quality
    # the Activities' Detail column is empty on every row: named once, as an absent column (main 5ee49f1)
    assert q[["Sheet", "Cell", "Column", "Problem"]].values.tolist() == [["Activities", "1:1", "Detail", "empty-column"],
                                                                         ["Activities", "A8", "Lead ID", "unknown-lead"]]


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    d = tmp_path_factory.mktemp("summary")
    path = d / "book.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    result = refresh(path, as_of=AS_OF, now="2026-11-22 08:00")
    return path, result.evaluation


def test_summary_values_are_plain_numbers_equal_to_the_engine(refreshed):
    path, ev = refreshed
    s = summarise(ev)
    ws = openpyxl.load_workbook(path, data_only=True)["Summary"]
    values = {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}
    assert values["A1"] == "LeadQ — Summary" and "As of 2026-11-22" in values["A2"]
    assert [values[f"{c}5"] for c in "ABCD"] == [s.kpis["Leads"], s.kpis["MQL"], s.kpis["SQL"], s.kpis["Customers"]]
    assert values["E5"] == pytest.approx(s.kpis["Overall conversion"]) and values["F5"] == pytest.approx(s.kpis["Weighted pipeline"])
    funnel_rows = [r for r in ws.iter_rows(min_row=12, max_row=20, values_only=True) if r[0] in set(s.funnel["Stage"])]
    assert [r[3] for r in funnel_rows] == s.funnel["Reached"].tolist()
    assert not any(isinstance(v, str) and v.startswith("#") for v in values.values())   # no #VALUE!


def test_summary_has_its_sections_native_charts_and_keeps_its_refresh_button(refreshed):
    path, _ = refreshed
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        charts = [n for n in names if n.startswith("xl/charts/")]
        assert sorted(charts) == sorted(chart_part(name) for name in CHARTS)   # funnel, pipeline, trend of leads per stage
        assert "<c:lineChart>" in z.read("xl/charts/chartLeadQTrend.xml").decode()
        rels = z.read("xl/worksheets/_rels/sheet4.xml.rels").decode()
        assert "drawingLeadQSummary.xml" in rels and "vmlDrawing" in rels
        sheet = z.read("xl/worksheets/sheet4.xml").decode()
        assert "<legacyDrawing" in sheet and "<drawing" in sheet
        vml = [z.read(n).decode() for n in names if n.endswith(".vml")]
        assert sum('ObjectType="Button"' in v for v in vml) == 3      # Refresh on Leads and Summary, Run on Settings: none lost by the refresh
        funnel = z.read("xl/charts/chartLeadQFunnel.xml").decode()
        assert re.search(r"<c:f>'Summary'!\$D\$\d+:\$D\$\d+</c:f>", funnel) and "<c:numCache>" in funnel


def test_lead_links_point_at_their_rows(refreshed):
    path, ev = refreshed
    ws = openpyxl.load_workbook(path)["Summary"]
    links = {c.value: c.hyperlink.location for row in ws.iter_rows() for c in row if c.hyperlink}
    assert links
    rows = dict(zip(ev.context["Lead ID"], ev.context["Row"]))
    for lead, location in links.items():
        assert location == f"'Leads'!A{rows[lead]}"


def test_refreshing_twice_keeps_exactly_one_summary(refreshed, tmp_path):
    path, _ = refreshed
    copy = tmp_path / "again.xlsm"
    copy.write_bytes(path.read_bytes())
    (tmp_path / "rules.json").write_bytes((path.parent / "rules.json").read_bytes())
    write_shim(copy)          # the Refresh button's module: without it a warning would add to the problems shown
    refresh(copy, as_of=AS_OF, now="2026-11-22 08:00")
    wb = openpyxl.load_workbook(copy)
    assert wb.sheetnames.count("Summary") == 1
    assert len([n for n in zipfile.ZipFile(copy).namelist() if n.startswith("xl/charts/")]) == len(CHARTS)
    # The first refresh started the Lead history; from the second on, the Summary compares with it
    # (nothing changed here), and a third refresh of the same data writes the same Summary again.
    texts = [{c for r in openpyxl.load_workbook(p)["Summary"].iter_rows(values_only=True) for c in r if isinstance(c, str)}
             for p in (path, copy)]
    started = "This refresh started the Lead history: changes show from the next refresh on."
    assert started in texts[0] and started not in texts[1]
    assert any(t.startswith("Since last refresh (2026-11-22 ") for t in texts[1])
    second = zipfile.ZipFile(copy).read("xl/worksheets/sheet4.xml")
    refresh(copy, as_of=AS_OF, now="2026-11-22 08:00")
    assert zipfile.ZipFile(copy).read("xl/worksheets/sheet4.xml") == second


@pytest.mark.libreoffice
def test_libreoffice_renders_the_summary_with_its_charts(refreshed, tmp_path):
    path, ev = refreshed
    imgs = pages(convert(path, "pdf", tmp_path / "lo"))
    summary_pages = [i for i, img in enumerate(imgs) if count_color([img], "#2F5597") > 300]
    assert summary_pages, "the pipeline chart's bars were not rendered"
    assert count_color(imgs, ev.rules.stage_color("SQL")) > 100


@pytest.mark.libreoffice
def test_libreoffice_reads_the_same_summary_numbers(refreshed, tmp_path):
    path, ev = refreshed
    xlsx = convert(path, "xlsx", tmp_path / "lo")
    ws = openpyxl.load_workbook(xlsx, data_only=True)["Summary"]
    s = summarise(ev)
    assert [ws[f"{c}5"].value for c in "ABCD"] == [s.kpis["Leads"], s.kpis["MQL"], s.kpis["SQL"], s.kpis["Customers"]]
    assert np.isclose(ws["F5"].value, s.kpis["Weighted pipeline"])
