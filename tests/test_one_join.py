"""The writers' one-join paths (sheet rows, Leads cell blocks, categorical text, the ledger's Arrow text,
the history trend in codes, the groups' counts) give exactly what the column-by-column paths gave."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from addin.core import history as H
from addin.core.report.sections.funnel import reach_of
from addin.core.values.vocabulary import REACH, REMOVED, STAGES
from addin.io import ledger_file
from addin.io.sheetxml import cell_block, concat, esc, number_cells, patch_rows, row_xml, sheet_rows, text_cells
from addin.io.styles import StyleBook

TEXTS = ["a & b", "", None, "x<y>", "plain", "tab\x01bad", "é"]


def _columns(n: int, chunked: bool = False):
    rng = np.random.default_rng(7)
    text = pd.Series(rng.choice(np.array(TEXTS, dtype=object), n), dtype=object)
    cat = pd.Series(pd.Categorical(rng.choice(np.array(["k&1", "k2", "", None], dtype=object), n)))
    arrow = pd.Series(pd.array(rng.choice(np.array(TEXTS, dtype=object), n), dtype="str"))
    if chunked:
        half = n // 2
        arrow = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(arrow[:half].tolist(), pa.large_string(), from_pandas=True),
                                                                       pa.array(arrow[half:].tolist(), pa.large_string(), from_pandas=True)])))
    nums = rng.choice(np.array([1.5, np.nan, np.inf, 0.0, -2.25, 1e20]), n)
    full = np.arange(n, dtype=float) / 7
    return [("A", False, text, 3), ("B", False, cat, 4), ("C", True, nums, 5), ("D", True, full, 6),
            ("E", False, arrow, 7)]


def _old_cells(rows, columns):
    return [number_cells(letter, rows, values, style) if numeric else text_cells(letter, rows, values, style)
            for letter, numeric, values, style in columns]


@pytest.mark.parametrize("n", [0, 1, 50, 3000])
@pytest.mark.parametrize("chunked", [False, True])
def test_sheet_rows_is_the_column_by_column_xml(n, chunked):
    rows = np.arange(n, dtype=np.int64) + 2
    columns = _columns(n, chunked) if n else [("A", False, pd.Series([], dtype=object), 3)]
    old = concat(row_xml(rows, _old_cells(rows, columns))) if n else b""
    assert sheet_rows(rows, columns) == old


def test_only_blank_columns_and_one_column():
    rows = np.arange(5, dtype=np.int64) + 10
    blank = [("A", False, pd.Series([None, ""] * 2 + [None], dtype=object), 1), ("B", True, np.full(5, np.nan), 2)]
    assert sheet_rows(rows, blank) == concat(row_xml(rows, _old_cells(rows, blank)))
    one = [("C", True, np.arange(5.0), 2)]
    assert sheet_rows(rows, one) == concat(row_xml(rows, _old_cells(rows, one)))


@pytest.mark.parametrize("chunked", [False, True])
def test_cell_block_is_what_patch_rows_joined(chunked):
    n = 400
    rows = np.arange(n, dtype=np.int64) + 3
    columns = _columns(n, chunked)
    first = '<c r="A2" s="1" t="inlineStr"><is><t>head</t></is></c>'
    cells = {i: pa.chunked_array([pa.array([first if i == 0 else ""]), *([c] if isinstance(c, pa.Array) else c.chunks)],
                                 pa.string())
             for i, c in enumerate(_old_cells(rows, columns))}
    sheet = b"".join(b'<row r="%d"><c r="Z%d"><v>1</v></c></row>' % (r, r) for r in range(1, n + 3, 2))
    numbers = np.concatenate([[2], rows])
    want, _ = patch_rows(sheet, numbers, cells, list(cells))
    block = cell_block(rows, columns, first=first)
    assert block.type == pa.large_string() and len(block) == n + 1
    got, _ = patch_rows(sheet, numbers, dict.fromkeys(cells), list(cells), blocks=[block])
    assert bytes(got) == bytes(want)
    with pytest.raises(ValueError):
        patch_rows(sheet, numbers, dict.fromkeys(cells), list(cells), blocks=[block[1:]])


def test_categorical_text_is_escaped_per_category_like_per_row():
    values = pd.Series(pd.Categorical(["a&b", None, "", "a&b", "<x>", "ok\x02"], categories=["unused&", "a&b", "", "<x>", "ok\x02"]))
    assert esc(values).to_pylist() == esc(values.astype(object)).to_pylist() == ["a&amp;b", None, None, "a&amp;b", "&lt;x&gt;", "ok"]
    numbers = pd.Series(pd.Categorical([4518, 12, None]))
    assert esc(numbers).to_pylist() == ["4518", "12", None]


def test_ledger_text_cast_in_arrow_is_astype_str():
    cat = pd.Series(pd.Categorical(["fit", None, "page", "fit"], categories=["fit", "page", "clip"]), name="Kind")
    got, want = ledger_file._as_str(cat), cat.astype(str)
    pd.testing.assert_series_equal(got, want)
    ints = pd.Series(pd.Categorical([1, 2, None]))
    pd.testing.assert_series_equal(ledger_file._as_str(ints), ints.astype(str))
    full = pd.Series(pd.Categorical(["fit", "page", "fit", "clip"], categories=["fit", "page", "clip", "unused"]),
                     index=[3, 1, 2, 0], name="Rule")      # no missing value: the Arrow path
    pd.testing.assert_series_equal(ledger_file._as_str(full), full.astype(str))


def test_ledger_file_is_the_pandas_file(tmp_path):
    details = pd.DataFrame({"Lead ID": ["L1", "L1", "L2"], "Rule": pd.Categorical(["r&1", "r2", None]),
                            "Kind": pd.Categorical(["fit", "activity", "fit"]), "Matched": ["x", None, "y"],
                            "Count": [1, 2, 3], "Raw points": [1.0, 2.0, 3.0], "Decay factor": [1.0, 0.5, 1.0],
                            "Cap": [0.0, 0.0, 1.0], "Points": [1.0, 1.0, 2.0]})
    path = tmp_path / "new.parquet"
    ledger_file.write_details_file(os.open(path, os.O_WRONLY | os.O_CREAT), path, details)
    old = tmp_path / "old.parquet"
    details.astype({"Rule": str, "Kind": str}).to_parquet(old, index=False, row_group_size=1_000_000)
    assert path.read_bytes() == old.read_bytes()


def test_kind_totals_texts_are_categories_with_the_same_values():
    details = pd.DataFrame({"Lead ID": ["L1", "L1", "L2"], "Rule": ["a", "b", "c"],
                            "Kind": pd.Categorical(["fit", "page", "base"]), "Matched": ["", "", ""],
                            "Count": [1, 2, 3], "Raw points": [1.0, 2.0, 3.0], "Decay factor": [1.0, 0.5, 1.0],
                            "Cap": [0.0, 0.0, 1.0], "Points": [1.0, 1.0, 2.0]})
    totals = ledger_file.kind_totals(details, "f.parquet")
    assert totals["Rule"].astype(str).tolist() == ["all fit rules", "all page rules", "all base rules"]
    assert totals["Kind"].astype(str).tolist() == ["fit", "page", "base"]
    assert set(totals["Matched"].astype(str)) == {"every rule in f.parquet"}


def test_style_book_finds_existing_and_remembers_added_formats():
    book = StyleBook(None)
    a = book.xf(num_fmt="0.00", bold=True, fill="#112233")
    fresh = StyleBook(book.to_bytes())          # found in the file, not added again
    assert fresh.xf(num_fmt="0.00", bold=True, fill="#112233") == a and not fresh.changed
    assert book.xf(num_fmt="0.00", bold=True, fill="#112233") == a
    b = book.xf(halign="center")
    assert b == a + 1 and book.xf(halign="center") == b
    assert book.dxf(fill="#FF0000") == book.dxf(fill="#FF0000") == 0


def _history(seed: int, leads: int = 40, refreshes: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(refreshes):
        when = pd.Timestamp("2026-01-01") + pd.Timedelta(days=k // 2, hours=k)     # two refreshes a day
        for lead in rng.choice(leads, leads // 2, replace=False):
            rows.append((when, f"L{lead}", float(k), rng.choice(STAGES + [REMOVED]), "A", "v1"))
    return pd.DataFrame(rows, columns=H.COLUMNS)


@pytest.mark.parametrize("seed", range(5))
def test_trend_in_codes_is_the_pivot_table(seed):
    full = _history(seed)
    pd.testing.assert_frame_equal(H._trend_counts(full), H._trend_table(full))


def test_trend_without_lead_ids_falls_back():
    full = _history(0).assign(**{"Lead ID": None})
    assert H._trend_counts(full) is None


def test_top_movers_keeps_ties_in_lead_order():
    frame = pd.DataFrame({"Lead ID": ["b", "a", "c", "d", "e"], "Change": [3.0, 3.0, 5.0, 1.0, 3.0]})
    want = frame.sort_values(["Change", "Lead ID"], ascending=[False, True], kind="stable").head(2)
    pd.testing.assert_frame_equal(H._top(frame, 2, ascending=False), want)
    want = frame.sort_values(["Change", "Lead ID"], ascending=[True, True], kind="stable").head(3)
    pd.testing.assert_frame_equal(H._top(frame, 3, ascending=True), want)


def test_reach_is_looked_up_per_stage():
    stages = pd.Series(STAGES * 3, dtype="str")
    assert reach_of(stages).dtype == np.int64 and reach_of(stages).tolist() == [REACH[s] for s in STAGES] * 3
    odd = pd.Series(["MQL", None, "nope"], dtype=object)
    got = reach_of(odd)
    assert got.dtype == float and got[0] == REACH["MQL"] and np.isnan(got[1:]).all()


@pytest.mark.parametrize("seed", range(5))
def test_velocity_in_codes_is_the_grouped_one(seed):
    full = _history(seed, leads=60, refreshes=12)
    step = H.HistoryStep(*[None] * 4, appended=full, past=H.empty(), previous=None, removed=None,
                         refreshed_at=None, started=False)
    got, want = H.velocity(step), H._velocity_grouped(full)
    pd.testing.assert_frame_equal(got, want)
    assert got["Leads"].sum() > 0
    assert H.velocity(H.HistoryStep(*[None] * 4, appended=H.empty(), past=H.empty(), previous=None, removed=None,
                                    refreshed_at=None, started=True)).equals(H._velocity_grouped(H.empty()))


def test_changes_are_computed_once_per_step_and_frame():
    ids = np.array(["A", "B"], dtype=object)
    step = H.HistoryStep(None, None, None, None, appended=H.empty(), past=H.empty(),
                         previous=pd.DataFrame({"Stage": [np.nan, "MQL"], "Score": [np.nan, 3.0], "Grade": [None, "B"]}),
                         removed=H.empty(), refreshed_at=pd.Timestamp("2026-01-02"), started=False)
    ctx = pd.DataFrame({"Lead ID": ids, "Name": ["a", "b"], "Owner": ["o", "o"], "Stage": ["MQL", "Lead"],
                        "Score": [5.0, 1.0], "Row": [2, 3]})
    first = H.changes(step, ctx)
    assert H.changes(step, ctx) is first
    other = ctx.assign(Score=[5.0, 9.0])
    again = H.changes(step, other)
    assert again is not first and again.risers["Lead ID"].tolist() == ["B"] and first.fallers["Lead ID"].tolist() == ["B"]
    assert H.changes(step, ctx, movers=1) is not first
