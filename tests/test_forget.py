"""`leadq forget` and `leadq export --pseudonymise` on real workbooks (issue 15)."""

import csv
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import AS_OF, ROOT, refreshed_demo

from addin.cli import run
from addin.core.privacy import pseudonym
from addin.forget import PRIVACY_LOG, forget

OOXCHECK = Path("/work/shared/tools/ooxcheck/ooxcheck.py")
SALT = {"LEADQ_PRIVACY_SALT": "test-salt"}
USER_SHEETS = ["Leads", "Activities", "Qualification", "Settings", "xlwings.conf"]
_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*?(?:/>|>.*?</c>)', re.S)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return refreshed_demo(tmp_path_factory.mktemp("demo"), "demo.xlsm")


def _copy(src: Path, folder: Path, name="wb.xlsm") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / name
    dst.write_bytes(src.read_bytes())
    for extra in ("rules.json", "rules.schema.json"):
        if (src.parent / extra).exists():
            (folder / extra).write_bytes((src.parent / extra).read_bytes())
    return dst


def _cells(path: Path) -> dict[str, dict[tuple[int, str], bytes]]:
    """Every cell of every sheet as its raw XML with the row number taken out, by (row, column)."""
    out = {}
    with zipfile.ZipFile(path) as z:
        wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
        names = wb.sheetnames
        wb.close()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        book = z.read("xl/workbook.xml").decode()
        for name in names:
            rid = re.search(rf'<sheet name="{re.escape(name)}" sheetId="\d+" r:id="(rId\d+)"', book).group(1)
            target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels) or re.search(rf'Target="([^"]+)"[^>]*Id="{rid}"', rels)
            xml = z.read("xl/" + target.group(1).lstrip("/").removeprefix("xl/"))
            out[name] = {(int(m.group(2)), m.group(1).decode()): re.sub(rb'\br="[A-Z]+\d+"', b"", m.group(0))
                         for m in _CELL.finditer(xml)}
    return out


def _values(path: Path, sheet: str) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
    rows = [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    wb.close()
    return rows


def test_forget_removes_exactly_the_persons_rows_and_nothing_else(demo, tmp_path):
    path = _copy(demo, tmp_path)
    before = _cells(path)
    details_before = _values(path, "Score details")
    email = next(r[3] for r in _values(path, "Leads")[3:] if r[0] == "L1005")
    plan = forget(path, lead="L1005", dry_run=True, as_of=AS_OF, env=SALT)
    assert path.read_bytes() == demo.read_bytes()                     # a dry run changes nothing
    result = forget(path, lead="L1005", as_of=AS_OF, env=SALT)
    assert result.cells == plan.cells and result.rows == plan.rows
    removed = result.cells
    assert len(removed["Leads"]) == 1 and removed["Activities"] and len(removed["Qualification"]) == 1
    after = _cells(path)

    # every other cell of every user sheet is the same bytes, one row up per removed row above it
    for sheet in USER_SHEETS:
        gone = sorted(removed.get(sheet, []))
        expected = {}
        for (r, col), xml in before[sheet].items():
            if r in gone:
                continue
            expected[(r - sum(g < r for g in gone), col)] = xml
        if sheet == "Settings":      # LeadQ's own status cells (Last refresh, Status) say what the refresh did
            labels = {i + 1: r[0] for i, r in enumerate(_values(path, "Settings"))}
            owned = [k for k in expected if k[1] == "B" and labels.get(k[0]) in ("Last refresh", "Status")]
            assert owned and any(b"199 leads" in after[sheet][k] for k in owned)
            for k in owned:
                expected.pop(k), after[sheet].pop(k)
        assert after[sheet] == expected, sheet

    # Score details: the same ledger without the person's rows
    details_after = _values(path, "Score details")
    assert details_after == [r for r in details_before if r[0] != "L1005"]
    assert len(details_before) - len(details_after) == result.rows["Score details"] > 0

    # the Summary is recomputed: 199 leads, and the person is nowhere in the file
    summary = _values(path, "Summary")
    assert summary[4][0] == 199
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            data = z.read(info)
            assert b"L1005<" not in data and b">L1005" not in data and email.encode() not in data, info.filename

    # the log holds hashes and counts, never the person's data
    log = _values(path, PRIVACY_LOG)
    assert log[0][:3] == ("Date (UTC)", "Request", "Lead ID hashes")
    assert len(log) == 2
    line = log[1]
    assert line[1] == "lead:" + pseudonym("L1005", b"test-salt") and line[2] == pseudonym("L1005", b"test-salt")
    assert len(removed["Lead history"]) == 1                      # the demo's one refresh recorded every lead once
    assert line[3:8] == (1, len(removed["Activities"]), 1, result.rows["Score details"], 1)
    text = " ".join(str(v) for v in line)
    assert "L1005" not in text and email not in text and "@" not in text

    # the person's shared strings left the file, and the file passes the Excel-load gate
    if OOXCHECK.exists():
        res = subprocess.run([sys.executable, str(OOXCHECK), "--brief", str(path)], capture_output=True, text=True)
        assert res.returncode == 0 and "valid" in res.stdout and "error" not in res.stdout.lower(), res.stdout


def test_forget_by_email_through_the_cli_logs_a_second_line(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", "cli-salt")
    path = _copy(demo, tmp_path)
    leads = _values(path, "Leads")
    first, second = leads[3], leads[4]
    out, err = io.StringIO(), io.StringIO()
    assert run(["forget", str(path), "--email", first[3].upper(), "--dry-run"], out, err) == 0, err.getvalue()
    assert "would remove 1 row from Leads" in out.getvalue() and "rows " in out.getvalue()
    assert first[3] not in out.getvalue() and first[0] not in out.getvalue()
    assert run(["forget", str(path), "--email", first[3], "--as-of", AS_OF], out, err) == 0, err.getvalue()
    assert run(["forget", str(path), "--lead", second[0], "--as-of", AS_OF], out, err) == 0, err.getvalue()
    log = _values(path, PRIVACY_LOG)
    assert [r[1] for r in log[1:]] == ["email:" + pseudonym(first[3], b"cli-salt"), "lead:" + pseudonym(second[0], b"cli-salt")]
    ids = [r[0] for r in _values(path, "Leads")[3:]]
    assert first[0] not in ids and second[0] not in ids and len(ids) == 198
    out, err = io.StringIO(), io.StringIO()
    assert run(["forget", str(path), "--lead", second[0]], out, err) == 1
    assert f'no lead with Lead ID "{second[0]}"' in err.getvalue()


def test_forget_without_a_salt_variable_creates_a_private_salt_file(demo, tmp_path, monkeypatch):
    monkeypatch.delenv("LEADQ_PRIVACY_SALT", raising=False)
    path = _copy(demo, tmp_path)
    forget(path, lead="L1002", as_of=AS_OF)
    salt = tmp_path / ".leadq-salt"
    assert salt.exists() and salt.stat().st_mode & 0o077 == 0
    assert _values(path, PRIVACY_LOG)[1][1] == "lead:" + pseudonym("L1002", salt.read_text().strip().encode())


def test_forget_removes_history_rows_by_lead_id(demo, tmp_path):
    path = _copy(demo, tmp_path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    del wb["Lead history"]                   # the demo's own, replaced by a known one
    ws = wb.create_sheet("Lead history")
    ws.append(["Refreshed at", "Lead ID", "Score", "Stage", "Grade", "Rules version"])
    for lid in ("L1001", "L1003", "L1001", "L1004"):
        ws.append(["2026-11-01 10:00", lid, 10, "Lead", "D", "v1"])
    wb.save(path)
    result = forget(path, lead="L1001", as_of=AS_OF, env=SALT)
    assert result.rows["Lead history"] == 2
    # the refresh that follows appends the leads it sees first (none of them L1001)
    ids = [r[1] for r in _values(path, "Lead history")]
    assert ids[:3] == ["Lead ID", "L1003", "L1004"] and "L1001" not in ids
    assert _values(path, PRIVACY_LOG)[1][7] == 2


def test_forget_also_rewrites_an_external_csv_of_activities(demo, tmp_path):
    path = _copy(demo, tmp_path)
    log = tmp_path / "activities.csv"
    log.write_text("Lead ID;Date;Activity\nL1001;2026-11-01;webinar\nL1002;2026-11-02;webinar\nL1001;2026-11-03;page_visit\n",
                   encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(["forget", str(path), "--lead", "L1001", "--activities", str(log), "--as-of", AS_OF], out, err) == 0
    assert log.read_text(encoding="utf-8").splitlines() == ["Lead ID;Date;Activity", "L1002;2026-11-02;webinar"]
    assert "removed 2 rows" in out.getvalue()
    other = tmp_path / "activities.parquet"
    other.write_bytes(b"PAR1")
    out, err = io.StringIO(), io.StringIO()
    assert run(["forget", str(path), "--lead", "L1002", "--activities", str(other), "--as-of", AS_OF], out, err) == 0
    assert "cannot rewrite this activities source" in err.getvalue()


# ---------------------------------------------------------------------------- shifting like Excel
def _with_user_objects(demo: Path, folder: Path, formula_into_removed=False) -> Path:
    """The demo plus what a user adds: a sheet of formulas, a name, a merge and a highlight below the rows."""
    path = _copy(demo, folder)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    acts = wb["Activities"]
    last = acts.max_row
    ws = wb.create_sheet("Notes")
    ws["A1"] = "=COUNTA(Activities!A2:A%d)" % last               # a range that shrinks
    ws["A2"] = "=Activities!A%d" % last                          # a cell below: moves up
    ws["A3"] = '="Activities!A2"'                                # text, not a reference
    ws["A4"] = "=Notes!B1+1"                                     # another sheet: untouched
    ws["B1"] = 5
    if formula_into_removed:
        ws["A5"] = "=Activities!D6"
    wb.defined_names["LastActivity"] = openpyxl.workbook.defined_name.DefinedName(
        "LastActivity", attr_text=f"Activities!$A${last}:$D${last}")
    acts.merge_cells(f"F{last - 1}:G{last}")
    acts[f"F{last - 1}"] = "merged note"
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill
    acts.conditional_formatting.add(f"E{last - 5}:E{last}", CellIsRule(operator="equal", formula=['"x"'],
                                                                       fill=PatternFill("solid", "FF0000")))
    wb.save(path)
    return path


def test_rows_below_move_up_with_every_reference_to_them(demo, tmp_path):
    path = _with_user_objects(demo, tmp_path)
    last = openpyxl.load_workbook(path, read_only=True)["Activities"].max_row
    result = forget(path, lead="L1005", as_of=AS_OF, env=SALT)
    k = len(result.cells["Activities"])
    new_last = last - k
    wb = openpyxl.load_workbook(path, keep_vba=True)
    notes = wb["Notes"]
    assert notes["A1"].value == f"=COUNTA(Activities!A2:A{new_last})"
    assert notes["A2"].value == f"=Activities!A{new_last}"
    assert notes["A3"].value == '="Activities!A2"'
    assert notes["A4"].value == "=Notes!B1+1"
    assert wb.defined_names["LastActivity"].attr_text == f"Activities!$A${new_last}:$D${new_last}"
    acts = wb["Activities"]
    assert [str(m) for m in acts.merged_cells.ranges] == [f"F{new_last - 1}:G{new_last}"]
    assert acts[f"F{new_last - 1}"].value == "merged note"
    assert [str(r.sqref) for r in acts.conditional_formatting] == [f"E{new_last - 5}:E{new_last}"]
    assert acts.tables["Activities"].ref.endswith(str(new_last))


def test_libreoffice_opens_the_result_and_recomputes_the_shifted_formulas(demo, tmp_path):
    from lo import convert
    path = _with_user_objects(demo, tmp_path)
    count_before = openpyxl.load_workbook(path, read_only=True)["Activities"].max_row - 1
    result = forget(path, lead="L1005", as_of=AS_OF, env=SALT)
    xlsx = convert(path, "xlsx", tmp_path / "lo")
    wb = openpyxl.load_workbook(xlsx, data_only=True)
    assert wb["Notes"]["A1"].value == count_before - len(result.cells["Activities"])
    assert wb["Summary"]["A5"].value == 199
    assert wb[PRIVACY_LOG]["D2"].value == 1


def test_a_formula_pointing_into_the_removed_rows_makes_forget_refuse(demo, tmp_path):
    path = _with_user_objects(demo, tmp_path, formula_into_removed=True)
    acts = _values(path, "Activities")
    victim = acts[5][0]                        # the lead of Activities row 6, which =Activities!D6 reads
    original = path.read_bytes()
    out, err = io.StringIO(), io.StringIO()
    assert run(["forget", str(path), "--lead", victim], out, err) == 1
    assert "Activities!D6" in err.getvalue() and "#REF!" in err.getvalue()
    assert path.read_bytes() == original                       # nothing written
    out, err = io.StringIO(), io.StringIO()
    assert run(["forget", str(path), "--lead", victim, "--dry-run"], out, err) == 1   # the dry run says so too


# ---------------------------------------------------------------------------- pseudonymised export
def test_export_pseudonymise_replaces_names_and_emails_with_stable_hashes(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", "export-salt")
    out_csv = tmp_path / "share.csv"
    out, err = io.StringIO(), io.StringIO()
    assert run(["export", str(demo), "--pseudonymise", str(out_csv), "--as-of", AS_OF], out, err) == 0, err.getvalue()
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8-sig")))
    leads = _values(demo, "Leads")
    header, data = leads[2], leads[3:]
    assert len(rows) == len(data) == 200
    by_id = {r["Lead"]: r for r in rows}
    first = dict(zip(header, data[0]))
    mine = by_id["L-" + pseudonym(first["Lead ID"], b"export-salt")]
    assert mine["Email"] == "E-" + pseudonym(first["Email"], b"export-salt")
    assert float(mine["Score"]) == pytest.approx(first["Score"]) and mine["Stage"] == first["Stage"]
    assert mine["Grade"] == first["Grade"]
    text = out_csv.read_text(encoding="utf-8-sig")
    for row in data:
        r = dict(zip(header, row))
        for personal in (r["Email"], r["Last name"], r["Lead ID"], r["Company"]):
            if personal:
                assert personal not in text
    out_csv2 = tmp_path / "again.csv"
    assert run(["export", str(demo), "--pseudonymise", str(out_csv2), "--as-of", AS_OF], out, err) == 0
    assert out_csv2.read_bytes() == out_csv.read_bytes()      # stable


def test_export_requires_the_pseudonymise_flag(demo):
    out, err = io.StringIO(), io.StringIO()
    assert run(["export", str(demo)], out, err) == 2
    assert "--pseudonymise" in err.getvalue()


def test_readme_has_a_privacy_section():
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Privacy", 1)[1].split("\n## ", 1)[0]
    for words in ("leadq forget", "leadq export", "Privacy log", ".leadq-salt", "does not"):
        assert words in section
