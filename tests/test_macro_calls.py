"""The Refresh button's calls into Excel do not grow with the number of leads (each costs milliseconds)."""

import shutil
import sys

import pytest
from conftest import ROOT
from xlengine import CALLS, open_as_caller

import addin.macros as macros
from addin.io.template import build_workbook

sys.path.insert(0, str(ROOT / "benchmarks"))
from synth import make  # noqa: E402


def macro_calls(tmp_path, n_leads: int):
    path = tmp_path / f"calls{n_leads}.xlsm"
    leads, acts = make(n_leads, 8 * n_leads)
    build_workbook(path, sample={"Leads": leads, "Activities": acts, "Qualification": None})
    shutil.copy(ROOT / "rules.json", tmp_path / "rules.json")
    book = open_as_caller(path)
    CALLS.clear()
    macros.refresh(now="2026-11-22 09:00")
    assert book.app.status_bar.startswith(f"LeadQ: OK — {n_leads} leads scored"), book.app.status_bar
    return dict(CALLS)


@pytest.mark.parametrize("big", [2_000])
def test_macro_refresh_makes_the_same_calls_for_300_and_2000_leads(tmp_path, big):
    small, large = macro_calls(tmp_path, 300), macro_calls(tmp_path, big)
    assert small == large, {k: (small.get(k), large.get(k)) for k in set(small) | set(large)
                            if small.get(k) != large.get(k)}
    # xlwings' own bookkeeping (which book, sheet and app an object belongs to, its options) is
    # left out: the operations are ranges taken, values read or written, formats, links, names.
    bookkeeping = ("App.pid", "App.engine", "Book.app", "Book.name", "Sheet.book", "Sheet.name", "Range.sheet",
                   "Range.options=", "Range.max_cells_per_write", "Range.max_cells_per_read")
    ops = sum(v for k, v in large.items() if k not in bookkeeping)
    writes = sum(v for k, v in large.items() if k == "Range.raw_value=")
    print(f"\nmacro refresh: {ops} operations on Excel ranges ({writes} value writes), {sum(large.values())} engine "
          f"calls in all, for 300 or {big} leads")
    # ops: the synthetic leads have no consent column, which is read as absent (issue 22), so the
    # Summary's hand-off queue is filled (it was empty when every lead counted as "No consent")
    assert writes < 200 and ops < 4_000        # one write per lead would pass neither
