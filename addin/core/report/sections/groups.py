"""By source and by owner: leads, stages reached and conversion per group."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...values.text import fold_series, text_or_empty
from ...values.vocabulary import CUSTOMER
from ..page import Page
from .funnel import reach_of

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "groups"


def _group(ctx: pd.DataFrame, by: str, reach: np.ndarray | None = None) -> pd.DataFrame:
    reach = reach_of(ctx["Stage"]) if reach is None else reach
    # 'Google', 'google ' and 'GOOGLE' are one source, shown in its most frequent spelling.
    text = text_or_empty(ctx[by]).str.strip()
    folded = fold_series(text).str.replace(" ", "", regex=False)
    spelling = (pd.DataFrame({"k": folded.to_numpy(), "t": text.to_numpy()}).value_counts(sort=True)
                .reset_index().drop_duplicates("k").set_index("k")["t"])
    # Counted per group with bincount: the leads' group numbers (in order of first appearance), each
    # distinct folded key spelled once.
    codes, keys = pd.factorize(folded)
    shown = pd.Series(np.asarray(keys, dtype=object)).map(spelling).replace("", "(none)").to_numpy()
    per_key, groups = pd.factorize(shown)
    group = per_key[codes]
    n = len(groups)

    def count(mask) -> np.ndarray:
        return np.bincount(group[np.asarray(mask, dtype=bool)], minlength=n).astype(np.int64)

    frame = pd.DataFrame({by: np.asarray(groups, dtype=object), "Leads": count(np.ones(len(group), bool)),
                          "MQL": count(reach >= 2), "SQL": count(reach >= 3), "Opportunities": count(reach >= 4),
                          "Customers": count((ctx["Stage"] == CUSTOMER).to_numpy())})
    out = frame.groupby(by, sort=False).sum(numeric_only=True).astype(int)
    out["Conversion"] = out["Customers"] / out["Leads"]
    return out.sort_values(["Leads", "Customers"], ascending=False).reset_index()


def data(ev: Evaluation, **options) -> dict:
    reach = reach_of(ev.context["Stage"])
    return {"by_source": _group(ev.context, "Source", reach), "by_owner": _group(ev.context, "Owner", reach)}


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
