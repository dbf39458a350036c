"""The Summary layout as data: sections flow one below the other, charts beside their tables."""

import pandas as pd
from conftest import AS_OF, acts_frame

import addin
from addin.core.report.page import Page, styles
from addin.core.report.sections import CHARTS, SECTIONS
from addin.core.report.summary import summarise
from addin.core.report.summary_layout import CHART_COLUMNS, SECTION_GAP, summary_layout


def _layout(rules, n_leads=10, stages=None):
    if stages:
        rules = {**rules, "pipeline": stages}
    leads = pd.DataFrame({"Lead ID": [f"L{i}" for i in range(n_leads)], "Email": [f"l{i}@x.fr" for i in range(n_leads)],
                          "Source": "Web", "Owner": "Ann"})
    ev = addin.evaluate(leads, acts_frame([(lead, day, "webinar", "") for lead in ("L1", "L2")
                                             for day in ("2026-11-10", "2026-11-12")]), rules, as_of=AS_OF)
    return summary_layout(summarise(ev), ev.rules, "2026-11-22 08:00"), ev


def _alone(rules, **kw):
    """What each module of SECTIONS lays out on a page of its own: (its section titles, its charts' names)."""
    _, ev = _layout(rules, **kw)
    s = summarise(ev)
    out = []
    for section in SECTIONS:
        p = Page(styles(s.meta["currency"]), "2026-11-22 08:00")
        section.cells(p, s, ev.rules)
        out.append(([t for _, t in _sections(p.out)], [ch.name for ch in p.out.charts]))
    return out


def _sections(page):
    return sorted((r, v) for (r, c), (v, st) in page.cells.items() if st.name == "section")


def _text_at(page, row):
    return page.cells[(row, 0)][0]


def test_each_section_starts_two_blank_rows_below_the_previous_one(base_rules):
    page, _ = _layout(base_rules)
    starts = [r for r, _ in _sections(page)]
    # the page is the sections of SECTIONS in their order (here every one shows; the title has no section row)
    alone = _alone(base_rules)
    assert [_text_at(page, r) for r in starts] == [t for titles, _ in alone for t in titles]
    assert [bool(titles) for titles, _ in alone] == [section.NAME != "title" for section in SECTIONS]
    for prev, start in zip(starts, starts[1:]):
        used = [r for (r, _) in page.cells if prev <= r < start]
        charts = [ch.anchor[3] - 1 for ch in page.charts if prev <= ch.anchor[1] < start]   # beside or below
        assert start == max(used + charts) + SECTION_GAP
        assert not [r for (r, _) in page.cells if max(used + charts) < r < start]


def test_charts_sit_beside_their_section_and_over_no_cell(base_rules):
    page, ev = _layout(base_rules)
    titles = dict(_sections(page))
    # the charts are those SECTIONS declare (CHARTS), drawn by their section, in page order
    assert [ch.name for ch in page.charts] == [n for _, names in _alone(base_rules) for n in names] == list(CHARTS)
    charts = {ch.name: ch for ch in page.charts}
    funnel, pipeline, trend = charts["Funnel"], charts["Pipeline"], charts["Trend"]
    assert titles[funnel.anchor[1]] == "Funnel" and titles[pipeline.anchor[1]] == "Pipeline"
    for ch in (funnel, pipeline):
        c1, r1, c2, r2 = ch.anchor
        assert (c1, c2) == CHART_COLUMNS
        assert not [(r, c) for (r, c) in page.cells if r1 <= r < r2 and c >= c1]
    # the trend's line chart sits below its table, across the page, over no cell
    c1, r1, c2, r2 = trend.anchor
    above = max(r for r, t in _sections(page) if r < r1)
    assert titles[above].startswith("Trend") and (c1, c2) == (0, 9)
    assert not [(r, c) for (r, c) in page.cells if r1 <= r < r2]
    assert trend.kind == "line" and [name for name, *_ in trend.series][:3] == ["Lead", "MQL", "SQL"]
    # the chart's data range is the table it stands beside
    col, first, last = funnel.vals
    assert [page.cells[(r, col)][0] for r in range(first, last + 1)] == funnel.values
    assert [page.cells[(r, 0)][0] for r in range(first, last + 1)] == funnel.labels


def test_a_long_pipeline_pushes_the_next_sections_down(base_rules):
    short, _ = _layout(base_rules)
    stages = [{"stage": f"Stage {i}", "probability": 0.1} for i in range(30)] + [{"stage": "Won", "outcome": "won"},
                                                                                  {"stage": "Lost", "outcome": "lost"}]
    long, _ = _layout(base_rules, stages=stages)
    short_at, long_at = (next(r for r, t in _sections(p) if t == "By source") for p in (short, long))
    pipeline_end = max(r for (r, c) in long.cells if r < long_at)
    assert long_at == pipeline_end + SECTION_GAP > short_at
    pipeline_chart = [next(ch for ch in p.charts if ch.name == "Pipeline") for p in (short, long)]
    assert pipeline_chart[0].anchor[1] == pipeline_chart[1].anchor[1]      # sections above did not move


def test_styles_are_tokens_and_links_carry_raw_text(base_rules):
    page, ev = _layout(base_rules)
    title_style = page.cells[(1, 0)][1]
    assert title_style.as_dict() == {"bold": True, "size": 18, "color": "#1F3864"}
    assert all(isinstance(v, (bool, int, float, str)) for st in page.styles() for _, v in st.fmt)
    links = {link.text: link.location for link in page.links}
    rows = dict(zip(ev.context["Lead ID"], ev.context["Row"]))
    assert links and all(loc == f"'Leads'!A{rows[t]}" for t, loc in links.items())
    assert page.heights[1] == 30 and page.widths[0] == 24


def test_each_section_keeps_its_data_under_its_name_and_each_table_reads_as_an_attribute(base_rules):
    _, ev = _layout(base_rules)
    s = summarise(ev)
    assert [section.NAME for section in SECTIONS] == [section.__name__.rsplit(".", 1)[1] for section in SECTIONS]
    assert list(s.sections) == [section.NAME for section in SECTIONS if hasattr(section, "data")]
    names = [name for tables in s.sections.values() for name in tables]
    assert len(names) == len(set(names))                 # a table's name is one section's
    assert all(getattr(s, name) is table for tables in s.sections.values() for name, table in tables.items())
    assert s.funnel is s.sections["funnel"]["funnel"] and s.accounts_note == s.sections["accounts"]["accounts_note"]
    assert list(s.funnel["Key"])[:2] == ["Visitor", "Lead"] and s.memory is not None
    assert not hasattr(s, "no_such_table")               # an unknown name is an AttributeError, not a table
