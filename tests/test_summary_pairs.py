"""Every pair of Summary figures that must agree, computed on the demo and on a synthetic workbook
(issue 22): stage counts sum to the leads; Reached is the count at that stage or further; the
KPI tiles equal the tables; groups and the grid add up; the hand-off and hot queues hold what they
say; the data-quality lines add up to the total; a "stay Visitors" warning counts the Visitors."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from addin.app.inputs import from_file
from addin.app.refresh import compute
from addin.cli import run
from addin.core.report.summary import summarise
from addin.core.values.vocabulary import CLOSED_STAGES, CUSTOMER, DISQUALIFIED, FUNNEL, LOST, MQL, REACH, VISITOR

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-20"


def _cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _tiles(book: Path) -> dict[str, object]:
    """The KPI tiles of the written Summary: each label with the value under it."""
    ws = openpyxl.load_workbook(book, data_only=True)["Summary"]
    out = {}
    for row in ws.iter_rows(min_row=4, max_row=12):
        for c in row:
            if c.style and isinstance(c.value, str) and c.font.b is not True and ws.cell(c.row + 1, c.column).value is not None:
                out.setdefault(c.value, ws.cell(c.row + 1, c.column).value)
    return out


def _leads_stages(book: Path, labels: dict[str, str]) -> list[str]:
    """The Stage column LeadQ wrote on Leads, as stage keys: an independent count of the funnel."""
    ws = openpyxl.load_workbook(book, data_only=True)["Leads"]
    header = [c.value for c in ws[3]]
    col = header.index("Stage")
    back = {v: k for k, v in labels.items()}
    return [back.get(r[col], r[col]) for r in ws.iter_rows(min_row=4, values_only=True) if r[col] is not None]


def check_pairs(book: Path) -> None:
    ev, _ = compute(from_file(book), None, AS_OF)
    s = summarise(ev)
    k = s.kpis
    labels = {st: ev.rules.stage_label(st) for st in [*FUNNEL, LOST, DISQUALIFIED]}
    stages = np.array(_leads_stages(book, labels))
    total = len(stages)
    # stage counts: the sheet, the funnel's Now and the outcomes add up to the leads
    assert k["Leads"] == total == len(ev.leads)
    f = s.funnel.set_index("Key")
    now = {st: int((stages == st).sum()) for st in labels}
    assert {st: int(f.loc[st, "Now"]) for st in FUNNEL} == {st: now[st] for st in FUNNEL}
    o = s.outcomes.set_index("Key")
    assert int(o.loc[LOST, "Leads"]) == now[LOST] and int(o.loc[DISQUALIFIED, "Leads"]) == now[DISQUALIFIED]
    assert sum(f["Now"]) + now[LOST] + now[DISQUALIFIED] == total
    # Reached: at the stage or further (Lost reached a deal), never more than the stage above
    reach = np.array([REACH[x] for x in stages])
    for i, st in enumerate(FUNNEL):
        assert int(f.loc[st, "Reached"]) == (total if st == VISITOR else int((reach >= i).sum())), st
    reached = list(f["Reached"])
    assert reached == sorted(reached, reverse=True)
    for i in range(1, len(FUNNEL)):
        conv = f["Conversion"].iloc[i]
        assert (np.isnan(conv) and not reached[i - 1]) or conv == pytest.approx(reached[i] / reached[i - 1])
    # KPI tiles equal the tables and the sheet
    tiles = _tiles(book)
    assert tiles["Leads"] == total
    assert tiles["Reached MQL"] == k["MQL"] == int(f.loc[MQL, "Reached"])
    assert tiles["Reached SQL"] == k["SQL"] == int(f.loc["SQL", "Reached"])
    assert tiles["Customers"] == k["Customers"] == now[CUSTOMER]
    assert tiles["Overall conversion"] == pytest.approx(now[CUSTOMER] / total)
    assert tiles["Data problems"] == k["Data problems"] == ev.problem_total
    p = s.pipeline
    assert tiles["Open pipeline"] == pytest.approx(p.loc[p["Outcome"] == "open", "Amount"].sum())
    assert tiles["Won"] == pytest.approx(p.loc[p["Outcome"] == "won", "Amount"].sum())
    assert tiles["Weighted pipeline"] == pytest.approx(p["Weighted"].sum())
    assert int(p.loc[p["Outcome"] == "won", "Count"].sum()) <= now[CUSTOMER]
    # groups and the grid add up to the funnel
    for g in (s.by_source, s.by_owner):
        assert int(g["Leads"].sum()) == total and int(g["MQL"].sum()) == k["MQL"] and int(g["SQL"].sum()) == k["SQL"]
        assert int(g["Customers"].sum()) == now[CUSTOMER]
    assert int(s.grid["Total"].sum()) == total
    # queues: the hand-off queue holds MQLs only; the hot list says how many hot open leads there are
    assert len(s.handoff) <= now[MQL] and set(s.handoff["Stage"]) <= {labels[MQL]}
    hot = (ev.context["Score"] >= ev.rules.hot) & ~ev.context["Stage"].isin(CLOSED_STAGES)
    assert k["Hot open leads"] == int(hot.sum()) and len(s.hottest) == min(10, int(hot.sum()))
    # the data-quality lines add up to the total found
    assert int(s.quality["Rows"].sum()) == ev.problem_total
    # a warning that leads stay Visitors counts the Visitors of the funnel
    for prob in ev.problems:
        if "stay Visitors" in prob.message:
            said = re.search(r"(?:all ([\d,]+)|([\d,]+) of [\d,]+) leads stay Visitors", prob.message)
            assert int((said.group(1) or said.group(2)).replace(",", "")) == now[VISITOR], prob.message


def test_the_demo_summary_agrees_with_itself(tmp_path):
    book = tmp_path / "demo.xlsm"
    assert _cli("demo", book)[0] == 0
    assert _cli("refresh", book, "--as-of", AS_OF)[0] == 0
    check_pairs(book)


def test_a_deals_export_without_contact_columns_agrees_with_itself(tmp_path):
    """Deal stages and CRM statuses but no email or phone: the leads with a deal are not Visitors,
    and the warning no longer says all of them stay Visitors (it did beside Reached Lead = 4)."""
    csv = tmp_path / "deals.csv"
    csv.write_text("Record ID,Company,Owner,Source,Deal Stage,Amount,Create Date,Job title\n"
                   "9001,Acme,Bo,Web,Closed Won,8456,2026-10-20,CEO\n"
                   "9002,Globex,Bo,Web,Proposal,1200,2026-11-02,Manager\n"
                   "9003,Initech,Al,Fair,,,2026-11-03,Student\n"
                   "9004,Umbrella,Al,Fair,Closed Lost,300,2026-09-03,\n"
                   "9005,Hooli,Al,,,,2026-11-05,CEO\n"
                   "9006,Vandelay,,Web,Proposal,,2026-11-06,\n", encoding="utf-8")
    book = tmp_path / "deals.xlsm"
    assert _cli("new", book, "--leads", csv)[0] == 0
    code, out, err = _cli("refresh", book, "--as-of", AS_OF, "--rules", ROOT / "rules.json")
    assert code == 0, err
    assert "1 of 6 leads stay Visitors" in out and "all 6 leads stay Visitors" not in out
    check_pairs(book)
