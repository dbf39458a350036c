"""The Summary sheet as data: which value goes in which cell with which style, computed once.

Pure: sections flow down the page (each starts where the previous one ended, a chart beside a
table reserving its height), so no row number or chart anchor is written anywhere. Styles are
tokens (the keywords of a cell format), hyperlinks carry raw text; the file writer and the
xlwings macro only render this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..history import NEWS_STAGES
from ..values.text import column_letter, fold
from ..values.vocabulary import ACTION_COLORS, DISQUALIFIED, DUE_SOON, FUNNEL, LOST, MISSING, NO_DATE, OVERDUE, SLA_BREACHED, VISITOR
from .present import HEADER_FILL, contrast, currency_format, excel_serial
from .summary import Summary

ACCENT = "#2F5597"
SOFT = "#D9E1F2"
GREY_TEXT = "#595959"
RED = ACTION_COLORS[OVERDUE][0]           # late actions in red text
WIDTHS = [24, 20, 16, 11, 14, 16, 12, 12, 12, 12, 12, 12, 12]
SECTION_GAP = 3              # a section starts two blank rows below the previous one's last row
CHART_COLUMNS = (6, 13)      # charts sit right of the tables, from column G to column M
QUEUE_ROWS, ACTION_ROWS, QUALITY_ROWS = 25, 40, 200


@dataclass(frozen=True)
class Style:
    """A cell format token: a name and the keywords of the file writer's StyleBook.xf."""

    name: str
    fmt: tuple[tuple[str, object], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return dict(self.fmt)


def style(name: str, **fmt) -> Style:
    return Style(name, tuple(sorted(fmt.items())))


def styles(currency: str) -> dict[str, Style]:
    """Every named style of the Summary; money formats follow the rules' currency."""
    money = currency_format(currency)
    kpi = {"bold": True, "size": 16, "color": HEADER_FILL, "halign": "left"}
    table = {
        "title": dict(bold=True, size=18, color=HEADER_FILL),
        "subtitle": dict(italic=True, color=GREY_TEXT),
        "section": dict(bold=True, size=13, color=HEADER_FILL, border_bottom=HEADER_FILL),
        "section_line": dict(border_bottom=HEADER_FILL),
        "head": dict(bold=True, fill=SOFT, border_bottom=ACCENT),
        "head_num": dict(bold=True, fill=SOFT, border_bottom=ACCENT, halign="right"),
        "text": {}, "note": dict(italic=True, color=GREY_TEXT),
        "int": dict(num_fmt="#,##0"), "num": dict(num_fmt="0.0"), "pct": dict(num_fmt="0%"),
        "pct1": dict(num_fmt="0.0%"), "money": dict(num_fmt=money), "date": dict(num_fmt="yyyy-mm-dd"),
        "bold": dict(bold=True), "bold_money": dict(bold=True, num_fmt=money),
        "kpi_label": dict(color=GREY_TEXT, size=9),
        "kpi": dict(kpi, num_fmt="#,##0"), "kpi_pct": dict(kpi, num_fmt="0.0%"), "kpi_money": dict(kpi, num_fmt=money),
        "kpi_alert": dict(kpi, color=RED, num_fmt="#,##0"),
        "link": dict(color="#0563C1", underline=True), "red": dict(color=RED),
        "red_date": dict(color=RED, num_fmt="yyyy-mm-dd"),
        "grid_cell": dict(num_fmt="#,##0", halign="center"),
        "rise": dict(color="#00783C", num_fmt="+0.0;-0.0;0"), "fall": dict(color=RED, num_fmt="+0.0;-0.0;0"),
        "datetime": dict(num_fmt="yyyy-mm-dd hh:mm"),
    }
    table.update({status: dict(bold=True, fill=fill, color=font) for status, (fill, font) in ACTION_COLORS.items()})
    return {name: style(name, **fmt) for name, fmt in table.items()}


def stage_style(color: str) -> Style:
    return style(f"stage {color}", bold=True, fill=color, color=contrast(color))


@dataclass(frozen=True)
class Link:
    """A cell linking to a place in the workbook; `text` is the raw text shown."""

    row: int
    col: int
    location: str
    text: str

    @property
    def ref(self) -> str:
        return f"{column_letter(self.col)}{self.row}"


@dataclass(frozen=True)
class ChartSpec:
    """A bar chart over a block of the Summary's own cells (rows 1-based, columns 0-based)."""

    name: str
    title: str
    horizontal: bool
    cats: tuple[int, int, int]           # (column, first row, last row)
    vals: tuple[int, int, int]
    labels: list[str]
    values: list[float]
    colors: list[str]
    fmt: str
    anchor: tuple[int, int, int, int]    # (first column, first row, column after, row after)
    kind: str = "bar"                    # "line": one series per entry of `series`
    series: tuple = ()                   # line charts: (name, column, colour, values) per series
    serials: tuple = ()                  # line charts: the categories as Excel date serials


@dataclass
class SummaryLayout:
    """The Summary page: cells (row 1-based, column 0-based) → (value, style), and the rest."""

    cells: dict[tuple[int, int], tuple[object, Style]] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    widths: list[float] = field(default_factory=lambda: list(WIDTHS))
    links: list[Link] = field(default_factory=list)
    charts: list[ChartSpec] = field(default_factory=list)
    sections: list[int] = field(default_factory=list)       # the row of each section's title

    @property
    def last_row(self) -> int:
        return max([r for r, _ in self.cells] + [1])

    @property
    def last_col(self) -> int:
        return max([c for _, c in self.cells] + [len(self.widths) - 1])

    def styles(self) -> list[Style]:
        """Every style used, in reading order (so a style book gets them in a stable order)."""
        return list(dict.fromkeys(st for _, (_, st) in sorted(self.cells.items())))


class _Page:
    """A layout being filled top to bottom: `row` is where the next section starts."""

    def __init__(self, st: dict[str, Style]):
        self.out = SummaryLayout()
        self.st = st
        self.row = 1
        self.reserved = 0                # last row a chart beside the current section covers

    def put(self, row: int, col: int, value, style_name: str | Style) -> None:
        st = style_name if isinstance(style_name, Style) else self.st[style_name]
        self.out.cells[(row, col)] = (_v(value), st)

    def section(self, title: str, note: str = "") -> int:
        """Title (and note) at the current row; returns the row after them."""
        r = self.row
        self.out.sections.append(r)
        self.put(r, 0, title, "section")
        for c in range(1, 6):
            self.put(r, c, None, "section_line")
        if note:
            self.put(r + 1, 0, note, "note")
        return r + (2 if note else 1)

    def header(self, row: int, names: list[str], numeric=frozenset()) -> None:
        for c, n in enumerate(names):
            self.put(row, c, n, "head_num" if n in numeric else "head")

    def link(self, row: int, col: int, lead_id, sheet_row) -> None:
        self.put(row, col, lead_id, "link")
        self.out.links.append(Link(row, col, f"'Leads'!A{int(sheet_row)}", str(lead_id)))

    def lead(self, row: int, lead) -> None:
        """A lead's ID (linked to its row on Leads), name and owner in the first three columns."""
        self.link(row, 0, lead["Lead ID"], lead["Row"])
        self.put(row, 1, lead["Name"] or "", "text")
        self.put(row, 2, _v(lead["Owner"]) or "", "text")

    def chart(self, rows: int, **spec) -> None:
        """A chart beside the section starting at the current row, `rows` rows tall."""
        c1, c2 = CHART_COLUMNS
        self.out.charts.append(ChartSpec(anchor=(c1, self.row, c2, self.row + rows), **spec))
        self.reserved = self.row + rows - 1

    def end_section(self) -> None:
        """The next section starts below whatever this one used, chart included."""
        self.row = max(self.out.last_row, self.reserved) + SECTION_GAP
        self.reserved = 0


def _v(x):
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return None
    return x


def _title(p: _Page, s: Summary, refreshed_at: str) -> None:
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


def _funnel(p: _Page, s: Summary, rules) -> None:
    r = p.section("Funnel", "Now: leads at the stage today. Reached: at the stage or further. "
                            "Conversion: reached ÷ reached at the previous stage.")
    p.header(r, ["Stage", "Now", "Share", "Reached", "Conversion"], {"Now", "Share", "Reached", "Conversion"})
    first = r + 1
    for i, row in s.funnel.iterrows():
        rr = first + i
        p.put(rr, 0, row["Stage"], stage_style(rules.stage_color(row["Key"])))
        p.put(rr, 1, int(row["Now"]), "int")
        p.put(rr, 2, float(row["Share"]), "pct")
        p.put(rr, 3, int(row["Reached"]), "int")
        p.put(rr, 4, float(row["Conversion"]), "pct")
    last = first + len(s.funnel) - 1
    p.put(last + 1, 0, "Overall conversion to customer", "bold")
    p.put(last + 1, 4, s.kpis["Overall conversion"], "pct1")
    for i, row in s.outcomes.iterrows():
        rr = last + 3 + i
        p.put(rr, 0, row["Outcome"], stage_style(rules.stage_color(row["Key"])))
        p.put(rr, 1, int(row["Leads"]), "int")
        if not math.isnan(row["Amount"]):
            p.put(rr, 2, float(row["Amount"]), "money")
        if row["Details"]:
            p.put(rr, 3, f"Reasons: {row['Details']}", "note")
    p.chart(14, name="Funnel", title="Leads by stage (reached)", horizontal=True, cats=(0, first, last),
            vals=(3, first, last), labels=list(s.funnel["Stage"]), values=list(s.funnel["Reached"]),
            colors=[rules.stage_color(x) for x in s.funnel["Key"]], fmt="#,##0")
    p.end_section()


def _pipeline(p: _Page, s: Summary) -> None:
    missing = s.kpis.get("Open deals without amount", 0)
    r = p.section("Pipeline", "Weighted amount = amount × the stage's win probability (open deals only)." + (
        f" {missing:,} open deal{'s have' if missing != 1 else ' has'} no amount and count 0: fill Amount on the "
        "Leads sheet." if missing else ""))
    p.header(r, ["Deal stage", "Deals", "Amount", "Probability", "Weighted"], {"Deals", "Amount", "Probability", "Weighted"})
    first = r + 1
    for i, row in s.pipeline.iterrows():
        rr, is_open = first + i, row["Outcome"] == "open"
        said = is_open or fold(row["Outcome"]) in fold(row["Deal stage"])       # "Won", not "Won (won)"
        p.put(rr, 0, row["Deal stage"] + ("" if said else f" ({row['Outcome']})"), "text")
        p.put(rr, 1, int(row["Count"]), "int")
        p.put(rr, 2, float(row["Amount"]), "money")
        p.put(rr, 3, float(row["Probability"]), "pct")
        p.put(rr, 4, float(row["Weighted"]) if is_open else None, "money")
    last = first + len(s.pipeline) - 1
    manual = s.kpis.get("Manual probabilities", 0)
    p.put(last + 1, 0, "Weighted forecast (open deals)" + (
        f" — holds {manual} probabilit{'y' if manual == 1 else 'ies'} set by hand (Leads' Probability or Overrides)"
        if manual else ""), "bold")
    p.put(last + 1, 4, s.kpis["Weighted pipeline"], "bold_money")
    open_rows = s.pipeline.index[s.pipeline["Outcome"] == "open"]
    end = first + len(open_rows) - 1
    p.chart(15, name="Pipeline", title=f"Weighted pipeline by stage ({s.meta['currency']})", horizontal=False,
            cats=(0, first, end), vals=(4, first, end), labels=list(s.pipeline.loc[open_rows, "Deal stage"]),
            values=list(s.pipeline.loc[open_rows, "Weighted"]), colors=[ACCENT] * len(open_rows),
            fmt=currency_format(s.meta["currency"]))
    p.end_section()


def _groups(p: _Page, s: Summary) -> None:
    counts = ["Leads", "MQL", "SQL", "Opportunities", "Customers"]
    for title, frame, col in (("By source", s.by_source, "Source"), ("By owner", s.by_owner, "Owner")):
        r = p.section(title, "MQL, SQL and opportunities count leads that reached that stage.")
        p.header(r, [col, *counts, "Conversion"], {*counts, "Conversion"})
        for i, row in frame.iterrows():
            p.put(r + 1 + i, 0, row[col], "text")
            for c, name in enumerate(counts, start=1):
                p.put(r + 1 + i, c, int(row[name]), "int")
            p.put(r + 1 + i, 6, float(row["Conversion"]), "pct1")
        p.end_section()


def _accounts(p: _Page, s: Summary, rules) -> None:
    """Accounts: leads grouped by company, the best first, with their buying group's coverage."""
    if s.accounts is None or not len(s.accounts):
        return
    from ..accounts import config
    cfg = config(rules)
    how = {"max": "best contact's score", "sum": "sum of its contacts' scores",
           "top3_mean": "mean of its 3 best contacts' scores"}[cfg["score"]]
    top = int(cfg["top"])
    r = p.section(f"Accounts ({len(s.accounts):,})",
                  f"{s.accounts_note}. Account score: {how}. Buying group: required roles (from job titles) "
                  "held by at least one contact." + (f" The {top} best accounts are shown." if len(s.accounts) > top else ""))
    p.header(r, ["Account", "Contacts", "Best score", "Account score", "Most advanced", "Open pipeline", "Buying group"],
             {"Contacts", "Best score", "Account score", "Open pipeline"})
    for i, row in s.accounts.head(top).iterrows():
        rr = r + 1 + i
        p.put(rr, 0, row["Account"], "text")
        p.put(rr, 1, int(row["Contacts"]), "int")
        p.put(rr, 2, float(row["Best score"]), "num")
        p.put(rr, 3, float(row["Account score"]), "num")
        p.put(rr, 4, row["Most advanced stage"], "text")
        p.put(rr, 5, float(row["Open pipeline"]), "money")
        p.put(rr, 6, row["Buying group"], "text")
    p.end_section()


def _health(p: _Page, s: Summary) -> None:
    """Score health: conversion per score band for the leads of each period, AUC, grade shares, staleness."""
    h = s.health
    if h is None or h.table.empty:
        return
    r = p.section("Score health", h.note + ". " + (h.warning or "The rules still rank the leads that closed."))
    heads = ["Period", "Entered", "Closed", *h.bands, "AUC"]
    p.header(r, heads, set(heads) - {"Period"})
    for i, row in h.table.iterrows():
        rr = r + 1 + i
        p.put(rr, 0, row["Period"], "text")
        p.put(rr, 1, int(row["Entered"]), "int")
        p.put(rr, 2, int(row["Closed"]), "int")
        for c, band in enumerate(h.bands, start=3):
            p.put(rr, c, None if pd.isna(row[band]) else float(row[band]), "pct1")
        p.put(rr, 3 + len(h.bands), None if pd.isna(row["AUC"]) else round(float(row["AUC"]), 3), "num")
    rr = r + 2 + len(h.table)
    p.put(rr, 0, "Share of leads per grade", "bold")
    for c, g in enumerate(h.grades[:6], start=1):
        p.put(rr, c, g, "bold")
    for i, row in h.table.iterrows():
        p.put(rr + 1 + i, 0, row["Period"], "text")
        for c, g in enumerate(h.grades[:6], start=1):
            p.put(rr + 1 + i, c, None if pd.isna(row["Grade " + g]) else float(row["Grade " + g]), "pct1")
    p.end_section()


def _queues(p: _Page, s: Summary, rules) -> None:
    for title, frame, note, last in (
            ("Hand-off queue — MQLs waiting for sales", s.handoff,
             "Hottest first. Missing: the checklist criteria not yet answered yes.", "Missing"),
            ("Hottest open leads", s.hottest, f"Open leads scoring {rules.hot:g} or more." + (
                f" {s.kpis['At score maximum']:,} lead{'s sit' if s.kpis['At score maximum'] != 1 else ' sits'} at the "
                f"score maximum ({rules.score_range[1]:g}): leads tied there are ranked by their unclipped total."
                if s.kpis.get("At score maximum") else ""), "Stage")):
        total = s.kpis.get("Hot open leads", len(frame)) if frame is s.hottest else len(frame)
        r = p.section(f"{title} ({total:,})", note)
        p.header(r, ["Lead ID", "Name", "Owner", "Score", "Days idle", last], {"Score", "Days idle"})
        shown = frame.head(QUEUE_ROWS)
        for i, row in shown.iterrows():
            rr = r + 1 + i
            p.lead(rr, row)
            p.put(rr, 3, float(row["Score"]), "num")
            p.put(rr, 4, row["Days since activity"], "int")
            p.put(rr, 5, row[last], "text")
        if total > len(shown):
            p.put(r + 1 + len(shown), 0, f"… and {total - len(shown):,} more (filter Stage on the Leads sheet)", "note")
        p.end_section()


def _actions(p: _Page, s: Summary) -> None:
    counts = s.actions["Status"].value_counts()
    sla = f"{counts[SLA_BREACHED]} past the follow-up deadline (SLA), " if counts.get(SLA_BREACHED) else ""
    r = p.section(f"Next actions — {sla}{counts.get(OVERDUE, 0)} overdue, {counts.get(DUE_SOON, 0)} due this week, "
                  f"{counts.get(MISSING, 0) + counts.get(NO_DATE, 0)} missing",
                  "For leads from MQL to Opportunity. Overdue: due before the as-of date.")
    p.header(r, ["Status", "Lead ID", "Owner", "Due", "Days late", "Next action"], {"Days late"})
    shown = s.actions.head(ACTION_ROWS)
    for i, row in shown.iterrows():
        rr, status = r + 1 + i, row["Status"]
        late = status == OVERDUE
        p.put(rr, 0, status, status)                       # each flagged status has its own colours
        p.link(rr, 1, row["Lead ID"], row["Row"])
        p.put(rr, 2, _v(row["Owner"]) or "", "red" if late else "text")
        p.put(rr, 3, row["Due"], "red_date" if late else "date")
        p.put(rr, 4, row["Days late"] if late else None, "red" if late else "int")
        p.put(rr, 5, _v(row["Next action"]) or ("(none)" if status == MISSING else ""), "red" if late else "text")
    if len(s.actions) > len(shown):
        p.put(r + 1 + len(shown), 0, f"… and {len(s.actions) - len(shown)} more", "note")
    p.end_section()


def _grid(p: _Page, s: Summary) -> None:
    r = p.section("Fit × engagement", "Leads by grade (fit) and score band.")
    p.header(r, list(s.grid.columns), set(s.grid.columns) - {"Grade"})
    for i, row in s.grid.iterrows():
        for c, name in enumerate(s.grid.columns):
            p.put(r + 1 + i, c, row[name] if c == 0 else int(row[name]), "bold" if c == 0 else "grid_cell")
    p.end_section()


def _privacy(p: _Page, s: Summary, rules) -> None:
    """Consent and retention counts, and the leads kept past the retention period (issue 15)."""
    k, months = s.kpis, rules.privacy.get("retention_months")
    limit = f"no activity, open deal or update for over {months} months" if months else "no retention period set"
    r = p.section(f"Privacy — {k['No consent']} without consent, {k['Retention expired']} past retention",
                  f"Without consent: never handed to sales. Past retention ({limit}): erase with "
                  "`leadq forget`, or renew consent.")
    if len(s.privacy):
        p.header(r, ["Lead ID", "Name", "Owner", "Last touch", "Months idle", "Stage"], {"Months idle"})
        shown = s.privacy.head(ACTION_ROWS)
        for i, row in shown.iterrows():
            rr = r + 1 + i
            p.lead(rr, row)
            p.put(rr, 3, row["Last touch"], "date")
            p.put(rr, 4, int(row["Months idle"]), "int")
            p.put(rr, 5, row["Stage"], "text")
        if len(s.privacy) > len(shown):
            p.put(r + 1 + len(shown), 0, f"… and {len(s.privacy) - len(shown)} more (filter Next action status on "
                                         "the Leads sheet)", "note")
    p.end_section()


def _quality(p: _Page, s: Summary) -> None:
    n, found = len(s.quality), s.kpis["Data problems"]
    r = p.section(f"Data quality — {found:,} problem{'s' * (found != 1)}",
                  f"Rows skipped or values not understood, on {n:,} line{'s' * (n != 1)}: rows of one kind, sheet and "
                  "column are one line with their count and first cells; fix them in the cells named." if n
                  else "Every row was read and understood.")
    if n:
        columns = ["Sheet", "Cell", "Column", "Rows", "Problem", "Details"]
        p.header(r, columns)
        for i, row in s.quality.head(QUALITY_ROWS).iterrows():
            for c, name in enumerate(columns):
                p.put(r + 1 + i, c, int(row[name]) if name == "Rows" else row[name], "int" if name == "Rows" else "text")
        if n > QUALITY_ROWS:
            p.put(r + 1 + QUALITY_ROWS, 0, f"… and {n - QUALITY_ROWS} more", "note")
    p.end_section()


TREND_ROWS = 18          # the trend chart's height, below its table


def _trend(p: _Page, tr, shown_stages: list[str], rules) -> None:
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


def history_sections(p: _Page, s: Summary, rules) -> None:
    """Since last refresh, the stage trend (table and line chart), velocity and SLA breaches by owner."""
    m, label = s.memory, rules.stage_label
    ch = m.changes
    if ch.first:
        p.section("Since last refresh", "This refresh started the Lead history: changes show from the next refresh on.")
        p.end_section()
    else:
        news = " · ".join(f"{ch.new(x)} new {label(x)}" for x in NEWS_STAGES)
        r = p.section(f"Since last refresh ({ch.previous_at.strftime('%Y-%m-%d %H:%M')})",
                      f"{news} · {len(ch.moved_back)} moved back · {len(ch.lost)} lost or disqualified")
        names = ["Stage", "Before", "Now", "New", "Moved on", "Moved back", "Lost", "Removed"]
        p.header(r, names, set(names) - {"Stage"})
        for i, (key_, row) in enumerate(ch.counts.iterrows()):
            p.put(r + 1 + i, 0, label(key_), stage_style(rules.stage_color(key_)))
            for c, name in enumerate(names[1:], start=1):
                p.put(r + 1 + i, c, int(row[name]), "int")
        r += len(ch.counts) + 2
        for title, frame in (("Biggest risers", ch.risers), ("Biggest fallers", ch.fallers)):
            p.put(r, 0, f"{title} ({len(frame)})", "bold")
            p.header(r + 1, ["Lead ID", "Name", "Owner", "Before", "Now", "Change"], {"Before", "Now", "Change"})
            for i, row in frame.iterrows():
                rr = r + 2 + i
                p.lead(rr, row)
                p.put(rr, 3, float(row["Before"]), "num")
                p.put(rr, 4, float(row["Score"]), "num")
                p.put(rr, 5, float(row["Change"]), "rise" if row["Change"] > 0 else "fall")
            r += len(frame) + 3
        back = pd.concat([ch.moved_back, ch.lost], ignore_index=True)
        if len(back):
            p.put(r, 0, f"Moved back or lost ({len(back)})", "bold")
            p.header(r + 1, ["Lead ID", "Name", "Owner", "Before", "Now"])
            shown = back.head(15)
            for i, row in shown.iterrows():
                rr = r + 2 + i
                p.lead(rr, row)
                p.put(rr, 3, label(row["Before"]), "text")
                p.put(rr, 4, label(row["Stage"]), stage_style(rules.stage_color(row["Stage"])))
            if len(back) > len(shown):
                p.put(r + 2 + len(shown), 0, f"… and {len(back) - len(shown)} more", "note")
        p.end_section()

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


# Printing. Fitting the demo's Summary on two pages scales its 11-point text to about 4 points
# (LibreOffice's PDF of the demo, looked at): unreadable on paper. So the Summary prints landscape,
# one page wide (about 70 % of its size: text near 8 points) and as many pages tall as it needs, each
# page starting at a section (a manual break before a section that would not fit), with the title
# rows repeated. The page is the smaller of Letter and A4 landscape inside the margins.
PRINT_WIDTH_PT, PRINT_HEIGHT_PT = 720.0, 509.0
DEFAULT_ROW_PT = 15.0
TITLE_ROWS = 2            # the title and its subtitle, repeated at the top of each printed page


def print_breaks(page: SummaryLayout) -> list[int]:
    """The rows after which a printed page ends (Excel's manual row breaks): before each section
    that would not fit on the page under the repeated title rows; a section taller than a page
    breaks where the printer breaks it."""
    columns = max(page.last_col + 1, max([c.anchor[2] for c in page.charts] + [0]))
    width = sum((w * 7 + 5) * 0.75 for w in page.widths[:columns])           # points at 100 %
    scale = min(1.0, PRINT_WIDTH_PT / width) if width else 1.0
    room = PRINT_HEIGHT_PT / scale * 0.95                                   # sheet points per page (5 % to spare)
    height = lambda r: page.heights.get(r, DEFAULT_ROW_PT) * (1.2 if r in page.sections else 1.0)   # noqa: E731
    bottom = max(page.last_row, max([c.anchor[3] for c in page.charts] + [0]))
    starts = page.sections + [bottom + 1]
    title = sum(height(r) for r in range(1, TITLE_ROWS + 1))
    used = sum(height(r) for r in range(1, starts[0]))
    breaks = []
    for s, e in zip(starts, starts[1:]):
        h = sum(height(r) for r in range(s, e))
        if used + h > room and used > title:
            breaks.append(s - 1)
            used = title
        used += h
    return breaks


def summary_layout(s: Summary, rules, refreshed_at: str) -> SummaryLayout:
    """Every section of the Summary, one below the other, with its styles, links and charts."""
    p = _Page(styles(s.meta["currency"]))
    _title(p, s, refreshed_at)
    _funnel(p, s, rules)
    _pipeline(p, s)
    if s.memory is not None:
        history_sections(p, s, rules)
    _groups(p, s)
    _accounts(p, s, rules)
    _health(p, s)
    _queues(p, s, rules)
    _actions(p, s)
    _grid(p, s)
    _privacy(p, s, rules)
    _quality(p, s)
    return p.out
