"""Score health: conversion per score band for the leads of each period, AUC, grade shares, staleness."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..page import Page
from .grid import score_bands

if TYPE_CHECKING:
    from ...model import Evaluation
    from ..summary import Summary

NAME = "health"


def data(ev: Evaluation, **options) -> dict:
    from ..monitoring import score_health
    return {"health": score_health(ev, score_bands(ev))}


def cells(p: Page, s: Summary, rules) -> None:
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
