"""patch_rows (the vectorised cell surgery behind every sheet LeadQ edits) against a plain model of a sheet."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.errors import WorkbookError
from addin.io import sheetxml
from addin.io.package import col_index, col_letter
from addin.io.sheetxml import columns_before, columns_from, patch_rows, scan_rows

CELL = re.compile(r'<c r="([A-Z]+)(\d+)"[^>]*?(?:/>|>(.*?)</c>)', re.S)


def user_cell(col: int, row: int, kind: int) -> str:
    ref = f"{col_letter(col)}{row}"
    return [f'<c r="{ref}" s="3"/>', f'<c r="{ref}"><v>{row}.{col}</v></c>',
            f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">a/b &lt;c r="Z1"&gt;\n{col}</t></is></c>',
            f'<c r="{ref}"><f>SUM(A1:A2)</f><v>3</v></c>'][kind]


def parse(xml: str) -> dict[int, tuple[str, list[tuple[int, str]]]]:
    """{row: (attributes, [(column, inner)…] in document order)}."""
    rows = {}
    for m in re.finditer(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", xml, re.S):
        r = int(re.search(r'\br="(\d+)"', m.group(1)).group(1))
        rows[r] = (m.group(1), [(col_index(c.group(1)), c.group(0)) for c in CELL.finditer(m.group(2) or "")])
    return rows


sheets = st.dictionaries(st.integers(1, 40), st.dictionaries(st.integers(0, 30), st.integers(0, 3), max_size=8),
                         max_size=15)


@settings(max_examples=150, deadline=None)
@given(sheet=sheets, owned=st.sets(st.integers(0, 30), min_size=1, max_size=6), written=st.sets(st.integers(1, 45),
       max_size=20), blank=st.sets(st.integers(1, 45)), self_closing=st.booleans())
def test_patch_rows_matches_a_model_of_the_sheet(sheet, owned, written, blank, self_closing):
    rows_xml = ""
    for r in sorted(sheet):
        cells = "".join(user_cell(c, r, k) for c, k in sorted(sheet[r].items()))
        rows_xml += (f'<row r="{r}" spans="1:9"/>' if self_closing and not cells else
                     f'<row r="{r}" spans="1:9" ht="20">{cells}</row>') + "\n"
    numbers = np.array(sorted(written), dtype=np.int64)
    cols = sorted(owned)
    new = {c: pa.array(["" if r in blank else f'<c r="{col_letter(c)}{r}" t="n"><v>{r * 100 + c}</v></c>' for r in numbers])
           for c in cols}
    out, formulas = patch_rows(rows_xml.encode(), numbers, new, cols)
    out = bytes(out)                             # bytes-like: an Arrow buffer
    got = parse(out.decode())
    # Rows LeadQ does not write keep their bytes.
    for r in sorted(sheet):
        if r not in written:
            assert re.search(rf'<row r="{r}" [^>]*?(?:/>|>.*?</row>)', out.decode(), re.S).group(0) in rows_xml
    for r in sorted(set(sheet) | set(written)):
        expect = {c: user_cell(c, r, k) for c, k in sheet.get(r, {}).items()}
        if r in written:
            expect = {c: v for c, v in expect.items() if c not in owned}
            if r not in blank:
                expect.update({c: f'<c r="{col_letter(c)}{r}" t="n"><v>{r * 100 + c}</v></c>' for c in cols})
        if not expect and r not in sheet:
            assert r not in got                        # no row made for nothing
            continue
        attrs, cells = got[r]
        assert [c for c, _ in cells] == sorted(expect)  # left to right
        assert dict(cells) == expect
        if r in written:
            assert "spans" not in attrs
    assert list(got) == sorted(got)
    assert formulas == any(k == 3 and c in owned for r in written for c, k in sheet.get(r, {}).items())
    # The refresh's way: a view of the sheet's bytes, scanned beforehand, the result made piece by piece.
    view = memoryview(rows_xml.encode())
    pieces, formulas_too = patch_rows(view, numbers, new, cols, chunked=True, scan=scan_rows(view, cols))
    assert b"".join(bytes(p) for p in pieces()) == out and formulas_too == formulas


def test_patch_rows_pieces_join_to_the_whole(monkeypatch):
    rows_xml = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="C{r}"><v>9</v></c></row>' for r in range(1, 40)).encode()
    numbers = np.arange(1, 45, dtype=np.int64)
    new = {1: pa.array([f'<c r="B{r}"><v>{r}</v></c>' for r in numbers])}
    whole, _ = patch_rows(rows_xml, numbers, new, [1])
    monkeypatch.setattr(sheetxml, "PIECE", 7)
    monkeypatch.setattr(sheetxml, "VIEW_BLOCK", 5)
    pieces, _ = patch_rows(rows_xml, numbers, new, [1], chunked=True)
    parts = [bytes(p) for p in pieces()]
    assert len(parts) > 10 and b"".join(parts) == bytes(whole)
    assert bytes(patch_rows(rows_xml, numbers, new, [1])[0]) == bytes(whole)       # small view blocks: the same


def test_read_whole_is_read_and_refuses_a_damaged_part(tmp_path):
    import shutil
    import zipfile
    from pathlib import Path

    from addin.io.package import Package
    src = Path(__file__).resolve().parent.parent / "workbook_template.xlsm"
    good = tmp_path / "good.xlsm"
    shutil.copyfile(src, good)
    pkg = Package(good)
    try:
        assert bytes(pkg.read_whole("xl/worksheets/sheet1.xml")) == pkg.read("xl/worksheets/sheet1.xml")
    finally:
        pkg.close()
    # The same file with the part's recorded CRC-32 changed in the central directory.
    data = bytearray(good.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    at = 0
    while True:
        at = data.find(b"PK\x01\x02", at)
        if data[at + 46:at + 46 + len(name)] == name:
            break
        at += 4
    data[at + 16] ^= 0xFF
    bad = tmp_path / "bad.xlsm"
    bad.write_bytes(bytes(data))
    assert zipfile.ZipFile(bad).getinfo(name.decode()).CRC != zipfile.ZipFile(good).getinfo(name.decode()).CRC
    pkg = Package(bad)
    try:
        with pytest.raises(WorkbookError, match="damaged"):
            pkg.read_whole(name.decode())
    finally:
        pkg.close()


def test_columns_before_is_exactly_the_columns_to_the_left():
    for col in (0, 1, 25, 26, 27, 701, 702, 703, 16383):
        rx = re.compile(f"^{columns_before(col)}$") if columns_before(col) else None
        left = [col_letter(i) for i in range(col + 30) if rx and rx.match(col_letter(i))]
        assert left == [col_letter(i) for i in range(col)]
        rx = re.compile(f"^{columns_from(col)}$")
        assert [col_letter(i) for i in range(max(col - 30, 0), min(col + 30, 16384)) if rx.match(col_letter(i))] == \
            [col_letter(i) for i in range(col, min(col + 30, 16384))]


def test_patch_rows_refuses_invalid_utf8_and_rows_without_numbers():
    with pytest.raises(WorkbookError, match="UTF-8"):
        patch_rows(b'<row r="1"><c r="A1"><v>\xff</v></c></row>', np.array([1]), {0: pa.array([""])}, [0])
    with pytest.raises(WorkbookError, match="no row number"):
        patch_rows(b"<row><c><v>1</v></c></row>", np.array([1]), {0: pa.array([""])}, [0])
