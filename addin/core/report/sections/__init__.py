"""The Summary's sections, one module each: its data (`data(ev)`: a dict of named tables, kept in
Summary.sections under the module's NAME, each table also readable as an attribute, e.g. `s.funnel`)
and its cells (`cells(page, summary, rules)`: it lays itself out from the page's cursor, charts included).

SECTIONS is their order on the page: summarise() gathers the data of each, summary_layout() lays each
out in turn. A new section is one module here and one line in SECTIONS.
"""

from . import accounts, actions, funnel, grid, groups, health, history, pipeline, privacy, quality, queues, title

SECTIONS = (
    title,
    funnel,
    pipeline,
    history,
    groups,
    accounts,
    health,
    queues,
    actions,
    grid,
    privacy,
    quality,
)
