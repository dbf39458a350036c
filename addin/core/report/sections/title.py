"""The Summary's title: as-of line and the headline figures (Summary.kpis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..page import Page

if TYPE_CHECKING:
    from ..summary import Summary

NAME = "title"
REPORT = True            # printed: part of the report on the Summary's first two pages


def cells(p: Page, s: Summary, rules) -> None:
    refreshed_at = p.refreshed_at
    k = s.kpis
    p.put(1, 0, "LeadQ — Summary", "title")
    p.out.heights[1] = 30
    source = f" from {s.meta['rules_source']}" if s.meta.get("rules_source") else ""
    p.put(2, 0, f"As of {s.meta['as_of']} · refreshed {refreshed_at} · rules: {s.meta['rules']} "
                f"({s.meta['version']}){source} · {k['Leads']} leads · {k['Data problems']} data problems", "subtitle")
    alert = {True: "kpi_alert", False: "kpi"}
    groups = [[("Leads", k["Leads"], "kpi"), ("Reached MQL", k["MQL"], "kpi"), ("Reached SQL", k["SQL"], "kpi"),
               ("Customers", k["Customers"], "kpi"), ("Overall conversion", k["Overall conversion"], "kpi_pct"),
               ("Weighted pipeline", k["Weighted pipeline"], "kpi_money")],
              [("Open pipeline", k["Open pipeline"], "kpi_money"), ("Won", k["Won"], "kpi_money"),
               ("Lost", k["Lost"], "kpi_money"), ("Overdue actions", k["Overdue actions"], alert[bool(k["Overdue actions"])]),
               ("Data problems", k["Data problems"], alert[bool(k["Data problems"])]),
               ("Without consent · past retention", f"{k['No consent']} · {k['Retention expired']}", "kpi")]]
    row = 4
    for group in groups:
        for c, (label, value, st) in enumerate(group):
            p.put(row, c, label, "kpi_label")
            p.put(row + 1, c, value, st)
        p.out.heights[row + 1] = 24
        row += 3
    p.row = row
