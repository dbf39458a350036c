"""Since last refresh: stage counts before and now, the biggest risers and fallers, the leads that moved
back or were lost (from the Lead history, whose data the history section gathers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...history import NEWS_STAGES
from ..page import Page, stage_style

if TYPE_CHECKING:
    from ..summary import Summary

NAME = "changes"


def cells(p: Page, s: Summary, rules) -> None:
    if s.memory is None:
        return
    ch, label = s.memory.changes, rules.stage_label
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

