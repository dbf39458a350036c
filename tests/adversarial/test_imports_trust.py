"""Imports that survive real encodings and line ends, atomic and one at a time (issue 26)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AS_OF, ROOT
from corpus import record

from addin.cli import run
from addin.io.reader import read_workbook
from addin.refresh import new_workbook

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HEAD = b"Lead ID,First name,Last name,Email,Company\n"


def _call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("imports") / "blank.xlsm"
    new_workbook(path, as_of=AS_OF)
    return path


@pytest.fixture
def wb(blank, tmp_path) -> Path:
    path = tmp_path / "wb.xlsm"
    path.write_bytes(blank.read_bytes())
    (tmp_path / "rules.json").write_bytes((blank.parent / "rules.json").read_bytes())
    return path


def _leads(path):
    frame = read_workbook(path).leads
    return frame[frame["Lead ID"].notna()][["Lead ID", "First name", "Company"]].values.tolist()


def test_a_utf8_file_with_some_cp1252_lines_is_read_right_with_a_warning(wb, tmp_path):
    f = tmp_path / "mixed.csv"
    f.write_bytes(HEAD + "L1,Zoë,Lee,z@x.fr,Café SA\n".encode() + "L2,René,Roy,r@x.fr,Crème\n".encode("cp1252"))
    code, out, err = _call("import", wb, "--leads", f)
    assert code == 0, err
    assert _leads(wb) == [["L1", "Zoë", "Café SA"], ["L2", "René", "Crème"]]
    assert "1 line(s) were not UTF-8 like the rest" in err
    record("succeeded")


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"mixed"])
def test_cr_only_and_mixed_line_ends(wb, tmp_path, ending):
    lines = [HEAD.strip(), b"L1,Ann,Lee,a@x.fr,Acme", b"L2,Bob,Ray,b@x.fr,Beta"]
    data = (b"\r".join(lines[:2]) + b"\n" + lines[2] + b"\r\n") if ending == b"mixed" else ending.join(lines) + ending
    f = tmp_path / "mac.csv"
    f.write_bytes(data)
    code, out, err = _call("import", wb, "--leads", f)
    assert code == 0, err
    assert _leads(wb) == [["L1", "Ann", "Acme"], ["L2", "Bob", "Beta"]]
    code, out, err = _call("new", tmp_path / "fresh.xlsm", "--leads", f)
    assert code == 0 and _leads(tmp_path / "fresh.xlsm") == [["L1", "Ann", "Acme"], ["L2", "Bob", "Beta"]], err


def test_concatenated_exports_repeat_header_and_bom_are_read_as_parts_with_a_note(wb, tmp_path):
    f = tmp_path / "two.csv"
    f.write_bytes(b"\xef\xbb\xbf" + HEAD + b"L1,Ann,Lee,a@x.fr,Acme\n" + b"\xef\xbb\xbf" + HEAD + b"L2,Bob,Ray,b@x.fr,Beta\n")
    code, out, err = _call("import", wb, "--leads", f)
    assert code == 0, err
    assert _leads(wb) == [["L1", "Ann", "Acme"], ["L2", "Bob", "Beta"]]
    assert "the header repeats at line(s) 3" in err
    record("succeeded")


def test_an_export_wider_than_excel_is_refused_with_the_count(wb, tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"c{i}" for i in range(17_000)) + "\n" + ",".join("x" * 17_000) + "\n", encoding="utf-8")
    before = wb.read_bytes()
    code, out, err = _call("import", wb, "--leads", f)
    assert code == 1 and "has 17,000 columns; an Excel sheet holds at most 16,384" in err, err
    assert wb.read_bytes() == before
    code, out, err = _call("new", tmp_path / "w.xlsm", "--leads", f)
    assert code == 1 and "17,000 columns" in err and not (tmp_path / "w.xlsm").exists()
    record("refused")


def test_an_import_of_two_files_is_all_or_nothing(wb, tmp_path):
    good = tmp_path / "leads.csv"
    good.write_bytes(HEAD + b"L1,Ann,Lee,a@x.fr,Acme\n")
    bad = tmp_path / "acts.xlsx"
    bad.write_bytes(b"not a spreadsheet")
    before = wb.read_bytes()
    code, out, err = _call("import", wb, "--leads", good, "--activities", bad)
    assert code == 1 and wb.read_bytes() == before, err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".~")]
    record("refused")


def test_two_imports_at_once_keep_both_files_rows_in_ten_trials(blank, tmp_path):
    for trial in range(10):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        path = folder / "wb.xlsm"
        path.write_bytes(blank.read_bytes())
        files = []
        for part in "ab":
            f = folder / f"{part}.csv"
            f.write_bytes(HEAD + b"".join(f"{part}{i},N,L,{part}{i}@x.fr,C\n".encode() for i in range(50)))
            files.append(f)
        procs = [subprocess.Popen([sys.executable, "-m", "addin", "import", str(path), "--leads", str(f)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV) for f in files]
        results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
        assert all(code == 0 for *_, code in results), [e.decode() for _, e, _ in results]
        ids = sorted(row[0] for row in _leads(path))
        assert ids == sorted([f"a{i}" for i in range(50)] + [f"b{i}" for i in range(50)]), trial
        record("succeeded", f"two imports at once, trial {trial}")
