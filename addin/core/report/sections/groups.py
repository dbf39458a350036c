"""By source and by owner: leads, stages reached and conversion per group."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...values.text import fold_series, text_or_empty
from ...values.vocabulary import CUSTOMER
from ..page import Page
from .funnel import reach_of

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "groups"


def _group(ctx: pd.DataFrame, by: str) -> pd.DataFrame:
    reach = reach_of(ctx["Stage"])
    # 'Google', 'google ' and 'GOOGLE' are one source, shown in its most frequent spelling.
    text = text_or_empty(ctx[by]).str.strip()
    folded = fold_series(text).str.replace(" ", "", regex=False)
    spelling = (pd.DataFrame({"k": folded.to_numpy(), "t": text.to_numpy()}).value_counts(sort=True)
                .reset_index().drop_duplicates("k").set_index("k")["t"])
    key = folded.map(spelling).replace("", "(none)")
    frame = pd.DataFrame({by: key.to_numpy(), "Leads": 1, "MQL": reach >= 2, "SQL": reach >= 3, "Opportunities": reach >= 4,
                          "Customers": (ctx["Stage"] == CUSTOMER).to_numpy()})
    out = frame.groupby(by, sort=False).sum(numeric_only=True).astype(int)
    out["Conversion"] = out["Customers"] / out["Leads"]
    return out.sort_values(["Leads", "Customers"], ascending=False).reset_index()


def data(ev: Evaluation, **options) -> dict:
    return {"by_source": _group(ev.context, "Source"), "by_owner": _group(ev.context, "Owner")}


def cells(p: Page, s: Summary, rules) -> None:
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
