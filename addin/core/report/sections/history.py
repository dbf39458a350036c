"""What the Lead history tells: the stage trend (table and line chart), velocity, SLA breaches (since last
refresh is its own section, core.report.sections.changes, on the page below the printed report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...history import memory
from ...values.vocabulary import DISQUALIFIED, FUNNEL, LOST, VISITOR
from ..page import ChartSpec, Page
from ..present import excel_serial

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "history"
CHARTS = ("Trend",)
REPORT = True            # printed: part of the report on the Summary's first two pages (core.report.page)


def data(ev: Evaluation, **options) -> dict:
    return {"memory": memory(ev) if ev.history is not None else None}


TREND_ROWS = 15          # the trend chart's height, below its table


def _trend(p: Page, tr, shown_stages: list[str], rules) -> None:
    """Leads per stage after each of the last refreshes: a table, and a line chart below it."""
    label = rules.stage_label
    r = p.section(f"Trend — leads per stage, last {len(tr)} refresh{'es' * (len(tr) != 1)}",
                  "Counted from the Lead history after each refresh.")
    p.header(r, ["Refreshed at"] + [label(x) for x in shown_stages], {label(x) for x in shown_stages})
    first = r + 1
    for i, (when, row) in enumerate(tr.iterrows()):
        p.put(first + i, 0, pd.Timestamp(when), "datetime")
        for c, x in enumerate(shown_stages, start=1):
            p.put(first + i, c, int(row[x]), "int")
    last = first + len(tr) - 1
    p.end_section()
    top = p.row
    p.out.charts.append(ChartSpec(
        name="Trend", title="Leads per stage over the last refreshes", horizontal=False, cats=(0, first, last),
        vals=(1, first, last), labels=[pd.Timestamp(x).strftime("%m-%d %H:%M") for x in tr.index], values=[],
        colors=[], fmt="#,##0", anchor=(0, top, 9, top + TREND_ROWS), kind="line",
        series=tuple((label(x), 1 + c, rules.stage_color(x), [int(v) for v in tr[x]]) for c, x in enumerate(shown_stages)),
        serials=tuple(excel_serial(tr.index).tolist())))
    p.reserved = top + TREND_ROWS - 1          # the chart below the table, like a chart beside a section
    p.end_section()


def history_sections(p: Page, s: Summary, rules) -> None:
    """The stage trend (table and line chart), velocity and SLA breaches by owner."""
    m, label = s.memory, rules.stage_label
    tr = m.trend
    shown_stages = [x for x in FUNNEL if x != VISITOR] + [LOST, DISQUALIFIED]
    if not len(tr):          # no lead recorded yet (an empty Leads sheet): no table, and no chart of nothing
        p.section("Trend — leads per stage", "The Lead history holds no lead yet: the trend starts with the first "
                                             "refresh that scores leads.")
        p.end_section()
    else:
        _trend(p, tr, shown_stages, rules)
    r = p.section("Velocity — median days from stage to stage",
                  "From the day a lead first entered one stage to the day it first entered the next, as History saw it.")
    p.header(r, ["From", "To", "Leads", "Median days"], {"Leads", "Median days"})
    for i, row in m.velocity.iterrows():
        p.put(r + 1 + i, 0, label(row["From"]), "text")
        p.put(r + 1 + i, 1, label(row["To"]), "text")
        p.put(r + 1 + i, 2, int(row["Leads"]), "int")
        p.put(r + 1 + i, 3, float(row["Median days"]), "num")
    p.end_section()

    deadlines = ", ".join(f"{label(x)} {d:g} day{'s' * (d != 1)}" for x, d in rules.sla_days.items()) or "none set"
    total = int(m.sla["Leads"].sum()) if len(m.sla) else 0
    r = p.section(f"Follow-up deadlines (SLA) — {total} breached",
                  f"Deadlines: {deadlines}. Breached: longer in the stage and since the last activity, with no next action.")
    if len(m.sla):
        cols = ["Leads", "MQL", "SQL", "Max days"]
        p.header(r, ["Owner", *cols], set(cols))
        for i, row in m.sla.iterrows():
            p.put(r + 1 + i, 0, row["Owner"], "text")
            for c, name in enumerate(cols, start=1):
                p.put(r + 1 + i, c, int(row[name]), "int")
    p.end_section()


def cells(p: Page, s: Summary, rules) -> None:
    if s.memory is not None:
        history_sections(p, s, rules)
