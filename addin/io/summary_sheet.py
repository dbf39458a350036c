"""Render the Summary sheet (cells, styles, links, two native charts) into the workbook package."""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape

import pandas as pd

from ..core.evaluate import Evaluation
from ..core.history import NEWS_STAGES
from ..core.present import HEADER_FILL, SUMMARY, contrast
from ..core.summary import Summary, summarise
from ..core.vocabulary import ACTION_COLORS, DISQUALIFIED, FUNNEL, LOST, SLA_BREACHED, VISITOR
from .edit import PackageEdit
from .package import CT_CHART, CT_DRAWING, REL_CHART, REL_DRAWING, col_letter, xml_text
from .styles import StyleBook
from .template import _currency_format

WIDTHS = [24, 20, 16, 11, 14, 16, 12, 12, 12, 12, 12, 12, 12]
DRAWING = "xl/drawings/drawingLeadQSummary.xml"
CHARTS = ["xl/charts/chartLeadQFunnel.xml", "xl/charts/chartLeadQPipeline.xml", "xl/charts/chartLeadQTrend.xml"]
ACCENT = "#2F5597"
SOFT = "#D9E1F2"


class Grid:
    """Cells by (row, column) with a style each, turned into <row> XML."""

    def __init__(self):
        self.cells: dict[tuple[int, int], tuple[object, int]] = {}
        self.heights: dict[int, float] = {}
        self.links: list[tuple[str, str, str]] = []

    def put(self, row: int, col: int, value, style: int) -> None:
        self.cells[(row, col)] = (value, style)

    def xml(self) -> str:
        rows: dict[int, list[str]] = {}
        for (r, c), (v, s) in sorted(self.cells.items()):
            ref = f"{col_letter(c)}{r}"
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cell = f'<c r="{ref}" s="{s}"/>'
            elif isinstance(v, bool):
                cell = f'<c r="{ref}" s="{s}" t="b"><v>{int(v)}</v></c>'
            elif isinstance(v, (int, float)):
                cell = f'<c r="{ref}" s="{s}"><v>{float(v)!r}</v></c>'
            elif isinstance(v, pd.Timestamp):
                serial = (v - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
                serial = int(serial) if serial == int(serial) else repr(serial)     # keeps the time of day
                cell = f'<c r="{ref}" s="{s}"><v>{serial}</v></c>'
            else:
                cell = f'<c r="{ref}" s="{s}" t="inlineStr"><is><t xml:space="preserve">{xml_text(str(v))}</t></is></c>'
            rows.setdefault(r, []).append(cell)
        out = []
        for r in sorted(set(rows) | set(self.heights)):
            h = f' ht="{self.heights[r]}" customHeight="1"' if r in self.heights else ""
            out.append(f'<row r="{r}"{h}>{"".join(rows.get(r, []))}</row>')
        return "".join(out)

    @property
    def last_row(self) -> int:
        return max([r for r, _ in self.cells] + [1])


class _Styles:
    """The Summary's styles as tokens from `make(**format)`: xf indexes for the file writer,
    format descriptions for xlwings."""

    def __init__(self, make, currency: str):
        money = _currency_format(currency)
        self.make = make
        self.title = make(bold=True, size=18, color=HEADER_FILL)
        self.subtitle = make(italic=True, color="#595959")
        self.section = make(bold=True, size=13, color=HEADER_FILL, border_bottom=HEADER_FILL)
        self.section_line = make(border_bottom=HEADER_FILL)
        self.head = make(bold=True, fill=SOFT, border_bottom=ACCENT)
        self.head_num = make(bold=True, fill=SOFT, border_bottom=ACCENT, halign="right")
        self.text = make()
        self.note = make(italic=True, color="#595959")
        self.int = make(num_fmt="#,##0")
        self.num = make(num_fmt="0.0")
        self.pct = make(num_fmt="0%")
        self.pct1 = make(num_fmt="0.0%")
        self.money = make(num_fmt=money)
        self.date = make(num_fmt="yyyy-mm-dd")
        self.bold = make(bold=True)
        self.bold_int = make(bold=True, num_fmt="#,##0", border_bottom=ACCENT)
        self.bold_money = make(bold=True, num_fmt=money)
        self.kpi_label = make(color="#595959", size=9)
        self.kpi = make(bold=True, size=16, color=HEADER_FILL, num_fmt="#,##0", halign="left")
        self.kpi_pct = make(bold=True, size=16, color=HEADER_FILL, num_fmt="0.0%", halign="left")
        self.kpi_money = make(bold=True, size=16, color=HEADER_FILL, num_fmt=money, halign="left")
        self.kpi_alert = make(bold=True, size=16, color="#C00000", num_fmt="#,##0", halign="left")
        self.link = make(color="#0563C1", underline=True)
        self.red = make(color="#C00000")
        self.red_bold = make(bold=True, color="#FFFFFF", fill="#C00000")
        self.red_date = make(color="#C00000", num_fmt="yyyy-mm-dd")
        self.amber = make(bold=True, fill="#FFEB9C", color="#7F6000")
        self.grey = make(bold=True, fill="#F8CBAD", color="#833C0B")
        self.grid_cell = make(num_fmt="#,##0", halign="center")
        fill, font = ACTION_COLORS[SLA_BREACHED]
        self.sla = make(bold=True, fill=fill, color=font)
        self.green = make(color="#00783C", num_fmt="+0.0;-0.0;0")
        self.datetime = make(num_fmt="yyyy-mm-dd hh:mm")

    def stage(self, color: str):
        return self.make(bold=True, fill=color, color=contrast(color))


def _section(g: Grid, st: _Styles, row: int, title: str, note: str = "") -> int:
    g.put(row, 0, title, st.section)
    for c in range(1, 6):
        g.put(row, c, None, st.section_line)
    if note:
        g.put(row + 1, 0, note, st.note)
        return row + 2
    return row + 1


def _header(g: Grid, st: _Styles, row: int, names: list[str], numeric: set[str] = frozenset()) -> None:
    for c, n in enumerate(names):
        g.put(row, c, n, st.head_num if n in numeric else st.head)


def _lead_link(g: Grid, st: _Styles, row: int, col: int, lead_id: str, sheet_row: int) -> None:
    g.put(row, col, lead_id, st.link)
    g.links.append((f"{col_letter(col)}{row}", f"'Leads'!A{int(sheet_row)}", xml_text(str(lead_id))))


def _v(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT else x


def layout(s: Summary, ev: Evaluation, refreshed_at: str, st: _Styles) -> tuple[Grid, list[dict]]:
    """Place every section; return the grid and the chart specs (anchors and data ranges)."""
    g = Grid()
    k = s.kpis
    g.put(1, 0, "LeadQ — Summary", st.title)
    g.heights[1] = 30
    source = f" from {s.meta['rules_source']}" if s.meta.get("rules_source") else ""
    g.put(2, 0, f"As of {s.meta['as_of']} · refreshed {refreshed_at} · rules: {s.meta['rules']} "
                f"({s.meta['version']}){source} · {k['Leads']} leads · {k['Data problems']} data problems", st.subtitle)
    tiles = [("Leads", k["Leads"], st.kpi), ("Reached MQL", k["MQL"], st.kpi), ("Reached SQL", k["SQL"], st.kpi),
             ("Customers", k["Customers"], st.kpi), ("Overall conversion", k["Overall conversion"], st.kpi_pct),
             ("Weighted pipeline", k["Weighted pipeline"], st.kpi_money)]
    tiles2 = [("Open pipeline", k["Open pipeline"], st.kpi_money), ("Won", k["Won"], st.kpi_money),
              ("Lost", k["Lost"], st.kpi_money), ("Overdue actions", k["Overdue actions"],
                                                   st.kpi_alert if k["Overdue actions"] else st.kpi),
              ("Data problems", k["Data problems"], st.kpi_alert if k["Data problems"] else st.kpi)]
    for row, group in ((4, tiles), (7, tiles2)):
        for c, (label, value, style) in enumerate(group):
            g.put(row, c, label, st.kpi_label)
            g.put(row + 1, c, value, style)
        g.heights[row + 1] = 24
    charts = []

    # Funnel
    r = _section(g, st, 10, "Funnel", "Now: leads at the stage today. Reached: at the stage or further. "
                                       "Conversion: reached ÷ reached at the previous stage.")
    _header(g, st, r, ["Stage", "Now", "Share", "Reached", "Conversion"], {"Now", "Share", "Reached", "Conversion"})
    first = r + 1
    for i, row in s.funnel.iterrows():
        rr = first + i
        g.put(rr, 0, row["Stage"], st.stage(ev.rules.stage_color(row["Key"])))
        g.put(rr, 1, int(row["Now"]), st.int)
        g.put(rr, 2, float(row["Share"]), st.pct)
        g.put(rr, 3, int(row["Reached"]), st.int)
        g.put(rr, 4, _v(float(row["Conversion"])), st.pct)
    last = first + len(s.funnel) - 1
    g.put(last + 1, 0, "Overall conversion to customer", st.bold)
    g.put(last + 1, 4, k["Overall conversion"], st.pct1)
    rr = last + 3
    for i, row in s.outcomes.iterrows():
        g.put(rr + i, 0, row["Outcome"], st.stage(ev.rules.stage_color(row["Key"])))
        g.put(rr + i, 1, int(row["Leads"]), st.int)
        if not math.isnan(row["Amount"]):
            g.put(rr + i, 2, float(row["Amount"]), st.money)
        if row["Details"]:
            g.put(rr + i, 3, f"Reasons: {row['Details']}", st.note)
    charts.append({"part": CHARTS[0], "title": "Leads by stage (reached)", "horizontal": True,
                   "cats": (0, first, last), "vals": (3, first, last), "labels": list(s.funnel["Stage"]),
                   "values": list(s.funnel["Reached"]), "colors": [ev.rules.stage_color(x) for x in s.funnel["Key"]],
                   "anchor": (6, 10, 13, 24), "fmt": "#,##0"})

    # Pipeline
    r = _section(g, st, 26, "Pipeline", "Weighted amount = amount × the stage's win probability (open deals only).")
    _header(g, st, r, ["Deal stage", "Deals", "Amount", "Probability", "Weighted"],
            {"Deals", "Amount", "Probability", "Weighted"})
    first = r + 1
    for i, row in s.pipeline.iterrows():
        rr = first + i
        g.put(rr, 0, row["Deal stage"] + ("" if row["Outcome"] == "open" else f" ({row['Outcome']})"), st.text)
        g.put(rr, 1, int(row["Count"]), st.int)
        g.put(rr, 2, float(row["Amount"]), st.money)
        g.put(rr, 3, float(row["Probability"]), st.pct)
        g.put(rr, 4, float(row["Weighted"]) if row["Outcome"] == "open" else None, st.money)
    last = first + len(s.pipeline) - 1
    g.put(last + 1, 0, "Weighted forecast (open deals)", st.bold)
    g.put(last + 1, 4, k["Weighted pipeline"], st.bold_money)
    open_rows = s.pipeline.index[s.pipeline["Outcome"] == "open"]
    charts.append({"part": CHARTS[1], "title": f"Weighted pipeline by stage ({s.meta['currency']})", "horizontal": False,
                   "cats": (0, first, first + len(open_rows) - 1), "vals": (4, first, first + len(open_rows) - 1),
                   "labels": list(s.pipeline.loc[open_rows, "Deal stage"]),
                   "values": list(s.pipeline.loc[open_rows, "Weighted"]), "colors": [ACCENT] * len(open_rows),
                   "anchor": (6, 26, 13, 41), "fmt": _currency_format(s.meta["currency"])})
    r = max(last + 3, 43)
    if s.memory is not None:
        r = history_sections(g, st, r, s, ev, charts)

    # By source, by owner
    for title, frame, col in (("By source", s.by_source, "Source"), ("By owner", s.by_owner, "Owner")):
        r = _section(g, st, r, title, "MQL, SQL and opportunities count leads that reached that stage.")
        _header(g, st, r, [col, "Leads", "MQL", "SQL", "Opportunities", "Customers", "Conversion"],
                {"Leads", "MQL", "SQL", "Opportunities", "Customers", "Conversion"})
        for i, row in frame.iterrows():
            rr = r + 1 + i
            g.put(rr, 0, row[col], st.text)
            for c, name in enumerate(["Leads", "MQL", "SQL", "Opportunities", "Customers"], start=1):
                g.put(rr, c, int(row[name]), st.int)
            g.put(rr, 6, float(row["Conversion"]), st.pct1)
        r = r + len(frame) + 3

    # Hand-off queue and hottest leads
    for title, frame, note in (
            ("Hand-off queue — MQLs waiting for sales", s.handoff,
             "Hottest first. Missing: the checklist criteria not yet answered yes."),
            ("Hottest open leads", s.hottest, f"Open leads scoring {ev.rules.hot:g} or more." + (
                f" {k['At score maximum']:,} lead{'s sit' if k['At score maximum'] != 1 else ' sits'} at the score "
                f"maximum ({ev.rules.score_range[1]:g}): leads tied there are ranked by their unclipped total."
                if k["At score maximum"] else ""))):
        r = _section(g, st, r, f"{title} ({len(frame)})", note)
        _header(g, st, r, ["Lead ID", "Name", "Owner", "Score", "Days idle", "Missing" if "MQL" in title else "Stage"],
                {"Score", "Days idle"})
        shown = frame.head(25)
        for i, row in shown.iterrows():
            rr = r + 1 + i
            _lead_link(g, st, rr, 0, row["Lead ID"], row["Row"])
            g.put(rr, 1, row["Name"] or "", st.text)
            g.put(rr, 2, _v(row["Owner"]) or "", st.text)
            g.put(rr, 3, float(row["Score"]), st.num)
            g.put(rr, 4, _v(row["Days since activity"]), st.int)
            g.put(rr, 5, row["Missing"] if "MQL" in title else row["Stage"], st.text)
        if len(frame) > len(shown):
            g.put(r + 1 + len(shown), 0, f"… and {len(frame) - len(shown)} more (filter Stage on the Leads sheet)", st.note)
        r = r + len(shown) + (3 if len(frame) > len(shown) else 2)

    # Next actions
    counts = s.actions["Status"].value_counts()
    r = _section(g, st, r, f"Next actions — {counts.get('Overdue', 0)} overdue, {counts.get('Due soon', 0)} due this "
                           f"week, {counts.get('Missing', 0) + counts.get('No date', 0)} missing",
                 "For leads from MQL to Opportunity. Overdue: due before the as-of date.")
    _header(g, st, r, ["Status", "Lead ID", "Owner", "Due", "Days late", "Next action"], {"Days late"})
    shown = s.actions.head(40)
    for i, row in shown.iterrows():
        rr = r + 1 + i
        status = row["Status"]
        g.put(rr, 0, status, {"Overdue": st.red_bold, "Due soon": st.amber, SLA_BREACHED: st.sla}.get(status, st.grey))
        _lead_link(g, st, rr, 1, row["Lead ID"], row["Row"])
        g.put(rr, 2, _v(row["Owner"]) or "", st.red if status == "Overdue" else st.text)
        g.put(rr, 3, _v(row["Due"]), st.red_date if status == "Overdue" else st.date)
        g.put(rr, 4, _v(row["Days late"]) if status == "Overdue" else None, st.red if status == "Overdue" else st.int)
        g.put(rr, 5, _v(row["Next action"]) or ("(none)" if status == "Missing" else ""),
              st.red if status == "Overdue" else st.text)
    if len(s.actions) > len(shown):
        g.put(r + 1 + len(shown), 0, f"… and {len(s.actions) - len(shown)} more", st.note)
    r = r + len(shown) + 3

    # Fit × engagement grid
    r = _section(g, st, r, "Fit × engagement", "Leads by grade (fit) and score band.")
    _header(g, st, r, list(s.grid.columns), set(s.grid.columns) - {"Grade"})
    for i, row in s.grid.iterrows():
        for c, name in enumerate(s.grid.columns):
            g.put(r + 1 + i, c, row[name] if c == 0 else int(row[name]), st.bold if c == 0 else st.grid_cell)
    r = r + len(s.grid) + 3

    # Data quality
    found = k["Data problems"]
    listed = "" if found <= len(s.quality) else "; the first of each kind are listed"
    r = _section(g, st, r, f"Data quality — {found:,} problem{'s' * (found != 1)}",
                 f"Rows skipped or values not understood; fix them in the cell named{listed}." if len(s.quality)
                 else "Every row was read and understood.")
    if len(s.quality):
        _header(g, st, r, ["Sheet", "Cell", "Column", "Problem", "Details"])
        for i, row in s.quality.head(200).iterrows():
            for c, name in enumerate(["Sheet", "Cell", "Column", "Problem", "Details"]):
                g.put(r + 1 + i, c, row[name], st.text)
        if len(s.quality) > 200:
            g.put(r + 201, 0, f"… and {len(s.quality) - 200} more", st.note)
    return g, charts


def history_sections(g: Grid, st: _Styles, r: int, s: Summary, ev: Evaluation, charts: list[dict]) -> int:
    """Since last refresh, the stage trend (table and line chart), velocity and SLA breaches by owner,
    from row r; returns the row after them. (Self-contained until the Summary layout moves to core.)"""
    m = s.memory
    ch = m.changes
    label = ev.rules.stage_label
    if ch.first:
        r = _section(g, st, r, "Since last refresh",
                     "This refresh started the Lead history: changes show from the next refresh on.")
        r += 1
    else:
        when = ch.previous_at.strftime("%Y-%m-%d %H:%M")
        news = " · ".join(f"{ch.new(x)} new {label(x)}" for x in NEWS_STAGES)
        r = _section(g, st, r, f"Since last refresh ({when})",
                     f"{news} · {len(ch.moved_back)} moved back · {len(ch.lost)} lost or disqualified")
        names = ["Stage", "Before", "Now", "New", "Moved on", "Moved back", "Lost", "Removed"]
        _header(g, st, r, names, set(names) - {"Stage"})
        for i, (key, row) in enumerate(ch.counts.iterrows()):
            g.put(r + 1 + i, 0, label(key), st.stage(ev.rules.stage_color(key)))
            for c, name in enumerate(names[1:], start=1):
                g.put(r + 1 + i, c, int(row[name]), st.int)
        r += len(ch.counts) + 2
        for title, frame in (("Biggest risers", ch.risers), ("Biggest fallers", ch.fallers)):
            g.put(r, 0, f"{title} ({len(frame)})", st.bold)
            _header(g, st, r + 1, ["Lead ID", "Name", "Owner", "Before", "Now", "Change"], {"Before", "Now", "Change"})
            for i, row in frame.iterrows():
                rr = r + 2 + i
                _lead_link(g, st, rr, 0, row["Lead ID"], row["Row"])
                g.put(rr, 1, row["Name"] or "", st.text)
                g.put(rr, 2, _v(row["Owner"]) or "", st.text)
                g.put(rr, 3, float(row["Before"]), st.num)
                g.put(rr, 4, float(row["Score"]), st.num)
                g.put(rr, 5, float(row["Change"]), st.green if row["Change"] > 0 else st.red)
            r += len(frame) + 3
        back = pd.concat([ch.moved_back.assign(Why="moved back"), ch.lost.assign(Why="lost")], ignore_index=True)
        if len(back):
            g.put(r, 0, f"Moved back or lost ({len(back)})", st.bold)
            _header(g, st, r + 1, ["Lead ID", "Name", "Owner", "Before", "Now"])
            shown = back.head(15)
            for i, row in shown.iterrows():
                rr = r + 2 + i
                _lead_link(g, st, rr, 0, row["Lead ID"], row["Row"])
                g.put(rr, 1, row["Name"] or "", st.text)
                g.put(rr, 2, _v(row["Owner"]) or "", st.text)
                g.put(rr, 3, label(row["Before"]), st.text)
                g.put(rr, 4, label(row["Stage"]), st.stage(ev.rules.stage_color(row["Stage"])))
            if len(back) > len(shown):
                g.put(r + 2 + len(shown), 0, f"… and {len(back) - len(shown)} more", st.note)
            r += len(shown) + 4

    # Trend: leads per stage after each of the last refreshes, with a line chart beside the table.
    tr = m.trend
    shown_stages = [x for x in FUNNEL if x != VISITOR] + [LOST, DISQUALIFIED]
    r = _section(g, st, r, f"Trend — leads per stage, last {len(tr)} refresh{'es' * (len(tr) != 1)}",
                 "Counted from the Lead history after each refresh.")
    _header(g, st, r, ["Refreshed at"] + [label(x) for x in shown_stages], {label(x) for x in shown_stages})
    first = r + 1
    for i, (when, row) in enumerate(tr.iterrows()):
        g.put(first + i, 0, pd.Timestamp(when), st.datetime)
        for c, x in enumerate(shown_stages, start=1):
            g.put(first + i, c, int(row[x]), st.int)
    last = first + len(tr) - 1
    top = last + 2
    charts.append({"part": CHARTS[2], "kind": "line", "title": "Leads per stage over the last refreshes",
                   "cats": (0, first, last), "labels": [pd.Timestamp(x).strftime("%m-%d %H:%M") for x in tr.index],
                   "serials": [(pd.Timestamp(x) - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1) for x in tr.index],
                   "series": [(label(x), 1 + c, ev.rules.stage_color(x), [int(v) for v in tr[x]])
                              for c, x in enumerate(shown_stages)],
                   "anchor": (0, top, 9, top + 18), "fmt": "#,##0"})
    r = top + 20

    # Velocity
    r = _section(g, st, r, "Velocity — median days from stage to stage",
                 "From the day a lead first entered one stage to the day it first entered the next, as History saw it.")
    _header(g, st, r, ["From", "To", "Leads", "Median days"], {"Leads", "Median days"})
    for i, row in m.velocity.iterrows():
        g.put(r + 1 + i, 0, label(row["From"]), st.text)
        g.put(r + 1 + i, 1, label(row["To"]), st.text)
        g.put(r + 1 + i, 2, int(row["Leads"]), st.int)
        g.put(r + 1 + i, 3, _v(float(row["Median days"])), st.num)
    r += len(m.velocity) + 3

    # Follow-up deadlines by owner
    sla = ev.rules.sla_days
    deadlines = ", ".join(f"{label(x)} {d:g} day{'s' * (d != 1)}" for x, d in sla.items()) or "none set"
    r = _section(g, st, r, f"Follow-up deadlines (SLA) — {int(m.sla['Leads'].sum()) if len(m.sla) else 0} breached",
                 f"Deadlines: {deadlines}. Breached: longer in the stage and since the last activity, with no next action.")
    if len(m.sla):
        _header(g, st, r, ["Owner", "Leads", "MQL", "SQL", "Max days"],
                {"Leads", "MQL", "SQL", "Max days"})
        for i, row in m.sla.iterrows():
            g.put(r + 1 + i, 0, row["Owner"], st.text)
            for c, name in enumerate(["Leads", "MQL", "SQL", "Max days"], start=1):
                g.put(r + 1 + i, c, int(row[name]), st.int)
        r += len(m.sla) + 3
    else:
        r += 1
    return r


def _line_chart_xml(spec: dict) -> bytes:
    """A native line chart, one series per column of a table on the Summary."""
    c0, r1, r2 = spec["cats"]
    n = len(spec["labels"])
    cat_ref = f"'{SUMMARY}'!${col_letter(c0)}${r1}:${col_letter(c0)}${r2}"
    pts = "".join(f'<c:pt idx="{i}"><c:v>{float(x)!r}</c:v></c:pt>' for i, x in enumerate(spec["serials"]))
    series = []
    for k, (name, col, color, values) in enumerate(spec["series"]):
        ref = f"'{SUMMARY}'!${col_letter(col)}${r1}:${col_letter(col)}${r2}"
        name_ref = f"'{SUMMARY}'!${col_letter(col)}${r1 - 1}"
        vals = "".join(f'<c:pt idx="{i}"><c:v>{float(v)!r}</c:v></c:pt>' for i, v in enumerate(values))
        rgb = color.lstrip("#")
        series.append(
            f'<c:ser><c:idx val="{k}"/><c:order val="{k}"/><c:tx><c:strRef><c:f>{escape(name_ref)}</c:f><c:strCache>'
            f'<c:ptCount val="1"/><c:pt idx="0"><c:v>{escape(name)}</c:v></c:pt></c:strCache></c:strRef></c:tx>'
            f'<c:spPr><a:ln w="28575" cap="rnd"><a:solidFill><a:srgbClr val="{rgb}"/></a:solidFill><a:round/></a:ln></c:spPr>'
            f'<c:marker><c:symbol val="circle"/><c:size val="5"/><c:spPr><a:solidFill><a:srgbClr val="{rgb}"/></a:solidFill>'
            f'<a:ln><a:solidFill><a:srgbClr val="{rgb}"/></a:solidFill></a:ln></c:spPr></c:marker>'
            f'<c:cat><c:numRef><c:f>{escape(cat_ref)}</c:f><c:numCache><c:formatCode>yyyy-mm-dd hh:mm</c:formatCode>'
            f'<c:ptCount val="{n}"/>{pts}</c:numCache></c:numRef></c:cat>'
            f'<c:val><c:numRef><c:f>{escape(ref)}</c:f><c:numCache><c:formatCode>General</c:formatCode>'
            f'<c:ptCount val="{n}"/>{vals}</c:numCache></c:numRef></c:val><c:smooth val="0"/></c:ser>')
    txt = '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<c:roundedCorners val="0"/><c:chart>'
        f'<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:pPr><a:defRPr sz="1200" b="1"/></a:pPr><a:r><a:rPr lang="en-US" '
        f'sz="1200" b="1"/><a:t>{escape(spec["title"])}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>'
        '<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>'
        '<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>' + "".join(series) +
        '<c:marker val="1"/><c:axId val="50030"/><c:axId val="50040"/></c:lineChart>'
        '<c:catAx><c:axId val="50030"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="b"/><c:numFmt formatCode="mm-dd hh:mm" sourceLinked="0"/><c:majorTickMark val="none"/>'
        f'<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{txt}<c:crossAx val="50040"/><c:crosses val="autoZero"/>'
        '<c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
        '<c:valAx><c:axId val="50040"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="l"/><c:majorGridlines><c:spPr><a:ln><a:solidFill><a:srgbClr val="E7E6E6"/></a:solidFill></a:ln>'
        f'</c:spPr></c:majorGridlines><c:numFmt formatCode="{escape(spec["fmt"])}" sourceLinked="0"/>'
        f'<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{txt}'
        '<c:crossAx val="50030"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
        '<c:spPr><a:noFill/></c:spPr></c:plotArea><c:legend><c:legendPos val="r"/><c:overlay val="0"/>'
        f'{txt}</c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>'
        '<c:spPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:ln><a:solidFill><a:srgbClr val="D9D9D9"/>'
        '</a:solidFill></a:ln></c:spPr></c:chartSpace>').encode()


def _chart_xml(spec: dict) -> bytes:
    if spec.get("kind") == "line":
        return _line_chart_xml(spec)
    c0, r1, r2 = spec["cats"]
    v0 = spec["vals"][0]
    n = len(spec["labels"])
    cat_ref = f"'{SUMMARY}'!${col_letter(c0)}${r1}:${col_letter(c0)}${r2}"
    val_ref = f"'{SUMMARY}'!${col_letter(v0)}${r1}:${col_letter(v0)}${r2}"
    pts = "".join(f'<c:pt idx="{i}"><c:v>{escape(str(x))}</c:v></c:pt>' for i, x in enumerate(spec["labels"]))
    vals = "".join(f'<c:pt idx="{i}"><c:v>{float(x)!r}</c:v></c:pt>' for i, x in enumerate(spec["values"]))
    dpts = "".join(f'<c:dPt><c:idx val="{i}"/><c:invertIfNegative val="0"/><c:bubble3D val="0"/><c:spPr><a:solidFill>'
                   f'<a:srgbClr val="{col.lstrip("#")}"/></a:solidFill><a:ln><a:solidFill><a:srgbClr val="7F7F7F"/>'
                   f'</a:solidFill></a:ln></c:spPr></c:dPt>' for i, col in enumerate(spec["colors"]))
    fmt = escape(spec["fmt"], {'"': "&quot;"})
    horizontal = spec["horizontal"]
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<c:roundedCorners val="0"/><c:chart>'
        f'<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:pPr><a:defRPr sz="1200" b="1"/></a:pPr><a:r><a:rPr lang="en-US" '
        f'sz="1200" b="1"/><a:t>{escape(spec["title"])}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>'
        '<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>'
        f'<c:barChart><c:barDir val="{"bar" if horizontal else "col"}"/><c:grouping val="clustered"/>'
        '<c:varyColors val="0"/><c:ser><c:idx val="0"/><c:order val="0"/><c:tx><c:v>Value</c:v></c:tx>'
        f'<c:spPr><a:solidFill><a:srgbClr val="{ACCENT.lstrip("#")}"/></a:solidFill></c:spPr>'
        f'<c:invertIfNegative val="0"/>{dpts}'
        f'<c:dLbls><c:numFmt formatCode="{fmt}" sourceLinked="0"/><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>'
        '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>'
        '<c:showLegendKey val="0"/><c:showVal val="1"/><c:showCatName val="0"/><c:showSerName val="0"/>'
        '<c:showPercent val="0"/><c:showBubbleSize val="0"/></c:dLbls>'
        f'<c:cat><c:strRef><c:f>{escape(cat_ref)}</c:f><c:strCache><c:ptCount val="{n}"/>{pts}</c:strCache></c:strRef></c:cat>'
        f'<c:val><c:numRef><c:f>{escape(val_ref)}</c:f><c:numCache><c:formatCode>General</c:formatCode>'
        f'<c:ptCount val="{n}"/>{vals}</c:numCache></c:numRef></c:val></c:ser>'
        '<c:gapWidth val="50"/><c:axId val="50010"/><c:axId val="50020"/></c:barChart>'
        f'<c:catAx><c:axId val="50010"/><c:scaling><c:orientation val="{"maxMin" if horizontal else "minMax"}"/></c:scaling>'
        f'<c:delete val="0"/><c:axPos val="{"l" if horizontal else "b"}"/><c:numFmt formatCode="General" sourceLinked="0"/>'
        '<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
        '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900"/></a:pPr><a:endParaRPr lang="en-US"/></a:p></c:txPr>'
        '<c:crossAx val="50020"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>'
        '<c:noMultiLvlLbl val="0"/></c:catAx>'
        f'<c:valAx><c:axId val="50020"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="1"/>'
        f'<c:axPos val="{"t" if horizontal else "l"}"/><c:numFmt formatCode="{fmt}" sourceLinked="0"/>'
        '<c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="50010"/>'
        '<c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
        '<c:spPr><a:noFill/></c:spPr></c:plotArea><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>'
        '<c:spPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:ln><a:solidFill><a:srgbClr val="D9D9D9"/>'
        '</a:solidFill></a:ln></c:spPr></c:chartSpace>').encode()


def _drawing_xml(charts: list[dict]) -> bytes:
    anchors = []
    for i, spec in enumerate(charts, start=1):
        c1, r1, c2, r2 = spec["anchor"]
        anchors.append(
            f'<xdr:twoCellAnchor editAs="oneCell"><xdr:from><xdr:col>{c1}</xdr:col><xdr:colOff>0</xdr:colOff>'
            f'<xdr:row>{r1 - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>{c2}</xdr:col>'
            f'<xdr:colOff>0</xdr:colOff><xdr:row>{r2 - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 1}" name="{escape(spec["title"])}"/>'
            '<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
            '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
            f'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId{i}"/>'
            '</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">' + "".join(anchors) + "</xdr:wsDr>"
            ).encode("utf-8")


def summary_writer(ev: Evaluation, refreshed_at: str):
    """A callback for write_results that rebuilds the Summary sheet."""
    s = summarise(ev)

    def write(edit: PackageEdit, styles: StyleBook) -> None:
        from .writer import sheet_xml
        st = _Styles(styles.xf, s.meta["currency"])
        grid, charts = layout(s, ev, refreshed_at, st)
        part = edit.ensure_sheet(SUMMARY)
        # Keep what the sheet had that is not ours (the Refresh button's VML, comments); charts are ours.
        kept = [(rid, typ, target) for rid, (typ, target) in edit.pkg.read_rels(part).items()
                if typ not in (REL_DRAWING,)] if part in edit.pkg.names else []
        legacy = ""
        old = edit.pkg.read(part).decode("utf-8") if part in edit.pkg.names else ""
        m = re.search(r"<legacyDrawing\b[^>]*/>", old)
        if m:
            legacy = m.group(0)
        used = {rid for rid, _, _ in kept}
        rid = next(f"rId{i}" for i in range(1, 99) if f"rId{i}" not in used)
        xml = sheet_xml(grid.xml(), 12, grid.last_row, WIDTHS, hyperlinks=grid.links, drawing_rid=rid,
                        tab_color=HEADER_FILL, show_grid=False, zoom=90)
        if legacy:
            xml = xml.replace(b"</worksheet>", legacy.encode("utf-8") + b"</worksheet>")
        edit.put(part, xml)
        edit.set_part_rels(part, kept + [(rid, REL_DRAWING, DRAWING)])
        edit.put(DRAWING, _drawing_xml(charts), CT_DRAWING)
        edit.set_part_rels(DRAWING, [(f"rId{i}", REL_CHART, spec["part"]) for i, spec in enumerate(charts, start=1)])
        for spec in charts:
            edit.put(spec["part"], _chart_xml(spec), CT_CHART)

    return write
