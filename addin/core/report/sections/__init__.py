"""The Summary's sections, one module each: its data (`data(ev)`: a dict of named tables, kept in
Summary.sections under the module's NAME, each table also readable as an attribute, e.g. `s.funnel`)
and its cells (`cells(page, summary, rules)`: it lays itself out from the page's cursor, charts included,
each chart named in the module's CHARTS).

SECTIONS is their order on the page: summarise() gathers the data of each, summary_layout() lays each
out in turn. A new section is one module here and one line in SECTIONS. The sections whose module says
`REPORT = True` come first: they are the printed report (the Summary's print area, two landscape pages
at most); the working lists below them stay on screen (core.report.page).
"""

from importlib import import_module

# One line per section, in page order: the module of that name in this package.
SECTIONS = tuple(import_module(f".{name}", __name__) for name in (
    "title",
    "funnel",
    "pipeline",
    "history",
    "changes",
    "groups",
    "accounts",
    "health",
    "queues",
    "actions",
    "grid",
    "privacy",
    "quality",
))

# Every chart the Summary may draw (ChartSpec.name, its package part io.parts.chart_part), in page order.
CHARTS = tuple(name for section in SECTIONS for name in getattr(section, "CHARTS", ()))
