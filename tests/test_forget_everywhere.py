"""`leadq forget` erases one person everywhere LeadQ knows (issue 26): LeadQ's own sheets (Rules preview,
Calibration, Lead history, Score details), the full-ledger Parquet files, the workbook's configured
activity source; free text is listed, not edited; --dry-run touches nothing anywhere."""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import AS_OF, ROOT

from addin.cli import run
from addin.refresh import new_workbook, refresh

SALT = "everywhere-salt"
STAMP = "2026-11-22 09:00"


def _call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _double_points(node):
    if isinstance(node, dict):
        return {k: (v * 2 if k == "points" and isinstance(v, (int, float)) else _double_points(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_double_points(v) for v in node]
    return node


def _leads(path: Path) -> pd.DataFrame:
    wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
    rows = list(wb["Leads"].iter_rows(min_row=3, values_only=True))
    wb.close()
    return pd.DataFrame(rows[1:], columns=rows[0])


@pytest.fixture(scope="module")
def rich(tmp_path_factory) -> Path:
    """The demo as a team uses it: its activity log in a CSV (Settings > Activities source; CRLF line ends,
    a quoted field, mode 0640), refreshed, with a Rules preview and a Calibration sheet written by the
    buttons, and a full-ledger Parquet file left beside it by an earlier, bigger refresh."""
    from xlengine import open_as_caller

    import addin.macros as macros
    folder = tmp_path_factory.mktemp("rich")
    path = folder / "team.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    shutil.copy(ROOT / "rules.json", folder / "rules.json")
    (folder / "rules.new.json").write_text(json.dumps(_double_points(json.loads((ROOT / "rules.json").read_text("utf-8")))),
                                           "utf-8")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    acts = list(wb["Activities"].iter_rows(min_row=1, values_only=True))
    settings = wb["Settings"]
    row = {c.value: c.row for c in settings["A"]}
    settings.cell(row["As-of date"], 2).value = pd.Timestamp(AS_OF).to_pydatetime()
    settings.cell(row["Activities source"], 2).value = "events.csv"
    wb.save(path)
    header = [str(h) for h in acts[0] if h is not None]
    lines = [";".join(header)]
    for r in acts[1:]:
        if r[0] is None:
            continue
        cells = ["" if v is None else (v.date().isoformat() if hasattr(v, "date") else str(v)) for v in r[:len(header)]]
        cells = [f'"{c}"' if ";" in c or '"' in c else c for c in cells]
        lines.append(";".join(cells))
    lines.insert(3, 'L1003;2026-11-02;webinar;"Webinar ""Q4""; replay"')     # a quoted field with the delimiter
    events = folder / "events.csv"
    events.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    os.chmod(events, 0o640)
    refresh(path, as_of=AS_OF)
    book = open_as_caller(path)
    macros.preview_rules(STAMP)
    macros.calibrate(STAMP)
    status = book.sheets["Settings"].range("B5").value
    assert status.startswith("Calibrated"), status
    book.save()
    details = pd.read_excel(path, sheet_name="Score details")
    details.astype({"Rule": str, "Kind": str, "Matched": str}).to_parquet(folder / "team.score-details.parquet", index=False)
    return path


def _person(path: Path) -> tuple[str, str, str]:
    """A top mover of the Rules preview whose full name no other lead has: (Lead ID, full name, email)."""
    wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
    preview = [r for r in wb["Rules preview"].iter_rows(values_only=True)]
    wb.close()
    leads = _leads(path)
    full = leads["First name"].astype(str) + " " + leads["Last name"].astype(str)
    events = (path.parent / "events.csv").read_bytes().decode("utf-8")
    for r in preview:
        if r and isinstance(r[0], str) and re.fullmatch(r"L\d+", r[0]):
            i = leads.index[leads["Lead ID"] == r[0]][0]
            if (full == full[i]).sum() == 1 and f"\r\n{r[0]};" in events:
                return r[0], full[i], leads.at[i, "Email"]
    raise AssertionError("no top mover with a unique name and activities")


def _copy(rich: Path, folder: Path) -> Path:
    for p in rich.parent.iterdir():
        if p.is_file() and not p.name.startswith(".~"):
            shutil.copy2(p, folder / p.name)
    return folder / rich.name


def _forms(*values: str) -> list[bytes]:
    out = set()
    for v in values:
        refs = "".join(c if c.isascii() else f"&#{ord(c)};" for c in v)
        for form in (v, html.escape(v, quote=True), html.escape(v, quote=False), v.replace("&", "&#38;"), refs,
                     html.escape(refs.replace("&#", "\0")).replace("\0", "&#")):
            out |= {form.encode("utf-8"), form.lower().encode("utf-8")}
    return sorted(out)


def _grep(path: Path, forms: list[bytes]) -> list[str]:
    """Every place (zip part, or file) holding one of the forms, case-insensitively."""
    found = []
    blobs = {}
    if path.suffix == ".parquet":          # its pages are compressed: search the values it holds, as text
        blobs = {path.name: pd.read_parquet(path).to_csv(sep="<", lineterminator="<").encode("utf-8").replace(b"<", b"<>;")}
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            blobs = {f"{path.name}:{i.filename}": z.read(i) for i in z.infolist()}
    else:
        blobs = {path.name: path.read_bytes()}
    for name, data in blobs.items():
        low = data.lower()
        found += [f"{name} holds {f!r}" for f in forms if f.lower() in low]
    return found


def test_after_forget_no_part_parquet_file_or_csv_names_the_person(rich, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", SALT)
    path = _copy(rich, tmp_path)
    lead, name, email = _person(path)
    forms = _forms(lead + "<", ">" + lead, lead + ";", lead + '"', name, email)
    before = [p for p in (path, tmp_path / "team.score-details.parquet", tmp_path / "events.csv")]
    assert all(_grep(p, forms) for p in before), "the person is not in every place to start with"
    events_before = (tmp_path / "events.csv").read_bytes()

    code, out, err = _call("forget", path, "--lead", lead)
    assert code == 0, err
    assert "Traceback" not in out + err and "please report" not in out + err
    assert re.search(r"[1-9]\d* rows? from Rules preview", out) and "0 rows from Rules preview" not in out
    assert f"{tmp_path / 'events.csv'}: removed" in out and f"{tmp_path / 'team.score-details.parquet'}: removed" in out

    for p in (path, tmp_path / "team.score-details.parquet", tmp_path / "events.csv"):
        assert _grep(p, forms) == [], p
    # the CSV: every other line byte-identical (its CRLF ends, its quoting), its mode kept
    kept = [line for line in events_before.split(b"\r\n") if not line.startswith(lead.encode() + b";")]
    assert (tmp_path / "events.csv").read_bytes() == b"\r\n".join(kept)
    assert (tmp_path / "events.csv").stat().st_mode & 0o777 == 0o640
    # the Parquet ledger: every other lead's rows are still there
    ledger = pd.read_parquet(tmp_path / "team.score-details.parquet")
    stale = pd.read_parquet(rich.parent / "team.score-details.parquet")
    assert len(ledger) == (stale["Lead ID"] != lead).sum() and lead not in set(ledger["Lead ID"])
    # the other top movers stay on the Rules preview
    wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
    movers = [r[0] for r in wb["Rules preview"].iter_rows(values_only=True) if r and isinstance(r[0], str)
              and re.fullmatch(r"L\d+", r[0])]
    wb.close()
    assert len(movers) >= 5 and lead not in movers


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in sorted(folder.iterdir())}


def test_dry_run_changes_no_byte_and_no_mtime_of_any_file(rich, tmp_path, monkeypatch):
    monkeypatch.delenv("LEADQ_PRIVACY_SALT", raising=False)           # not even the salt file is created
    path = _copy(rich, tmp_path)
    lead, _, _ = _person(path)
    before, folder_mtime = _snapshot(tmp_path), tmp_path.stat().st_mtime_ns
    code, out, err = _call("forget", path, "--lead", lead, "--dry-run")
    assert code == 0, err
    assert "would remove" in out and "nothing was changed (--dry-run)" in out
    assert f"{tmp_path / 'events.csv'}: would remove" in out
    assert _snapshot(tmp_path) == before and tmp_path.stat().st_mtime_ns == folder_mtime


def test_a_person_gone_from_leads_but_in_history_and_activities_is_erasable(rich, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", SALT)
    path = _copy(rich, tmp_path)
    lead, _, _ = _person(path)
    code, out, err = _call("forget", path, "--lead", lead)          # history and the log still hold the others
    assert code == 0, err
    # The person comes back into history and the activity log only (an import of old data, say)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["Lead history"].append(["2026-11-01 10:00", "L0999", 10, "Lead", "D", "v1"])
    wb.save(path)
    events = tmp_path / "events.csv"
    events.write_bytes(events.read_bytes() + b"L0999;2026-11-03;webinar;Old webinar\r\n")
    code, out, err = _call("forget", path, "--lead", "L0999")
    assert code == 0, err
    assert "1 row from Lead history" in out and "0 rows from Leads" in out and f"{events}: removed 1 row" in out
    assert b"L0999" not in events.read_bytes() and _grep(path, [b"L0999"]) == []
    code, out, err = _call("forget", path, "--lead", "L0999")       # gone everywhere now: nothing to erase
    assert code == 1 and "no lead with Lead ID \"L0999\" on the Leads sheet, in Lead history" in err


def test_free_text_mentions_are_listed_and_left_as_written(rich, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", SALT)
    path = _copy(rich, tmp_path)
    lead, name, email = _person(path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    notes = wb.create_sheet("Call notes")
    notes["A1"] = f"Called {name} on Monday"
    notes["B2"] = "see below"
    notes["B2"].comment = openpyxl.comments.Comment(f"follow up with {lead} next week", "Zoé")
    notes["C3"] = f"mail: {email.upper()}"
    notes["D4"] = f"{lead}0 is someone else"                         # a longer ID: not them
    wb.properties.title = f"Pipeline incl. {name}"
    wb.save(path)
    code, out, err = _call("forget", path, "--lead", lead)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("Call notes!A1" in w and "their name" in w for w in warnings), err
    assert any("a note on Call notes!B2" in w and "their Lead ID" in w for w in warnings), err
    assert any("Call notes!C3" in w and "their e-mail" in w for w in warnings), err
    assert any("core.xml (title)" in w and "their name" in w for w in warnings), err
    assert not any("Call notes!D4" in w for w in warnings)
    assert lead not in err and email not in err and name not in err      # the report names places, not values
    wb = openpyxl.load_workbook(path, keep_vba=True)
    assert wb["Call notes"]["A1"].value == f"Called {name} on Monday"   # listed, not edited
    assert wb.properties.title == f"Pipeline incl. {name}"


def test_rules_come_from_the_source_workbook_not_from_beside_the_output(rich, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", SALT)
    src = tmp_path / "src"
    src.mkdir()
    path = _copy(rich, src)
    lead, _, _ = _person(path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rules.json").write_text("{ not the rules", "utf-8")     # a rules.json beside the output
    before = path.read_bytes()
    code, out, err = _call("forget", path, "--lead", lead, "--output", elsewhere / "team.xlsm")
    assert code == 0, err
    assert path.read_bytes() == before                                   # the source is left as it was
    wb = openpyxl.load_workbook(elsewhere / "team.xlsm", read_only=True, keep_vba=True)
    status = next(r[1] for r in wb["Settings"].iter_rows(values_only=True) if r[0] == "Status")
    wb.close()
    assert "rules.json (Settings!B2)" in status and "199 leads" in status


# ---------------------------------------------------------------------------- formulas around the removed rows
def _with_formulas(rich: Path, folder: Path) -> Path:
    """A shared formula on Leads wholly below the person's row; an array formula on another sheet reading a
    Leads range below them (each ended in the catch-all "'re.Match' object has no attribute 'decode'")."""
    import sys
    sys.path.insert(0, str(ROOT / "tests" / "adversarial"))
    from corpus import parts, rezip, sheet_part
    path = _copy(rich, folder)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb.create_sheet("Checks")
    ws["A1"] = openpyxl.worksheet.formula.ArrayFormula("A1:A3", "=Leads!A100:A102")
    wb.save(path)
    part = sheet_part(path, "Leads")
    xml = parts(path)[part]

    def add(m):
        r = int(m.group(1))
        if r == 150:
            cell = b'<c r="AZ150"><f t="shared" ref="AZ150:AZ153" si="90">A150&amp;"!"</f><v>0</v></c>'
        elif 150 < r <= 153:
            cell = b'<c r="AZ%d"><f t="shared" si="90"/><v>0</v></c>' % r
        else:
            return m.group(0)
        return m.group(0)[:-6] + cell + b"</row>"
    xml = re.sub(rb'<row\b[^>]*?\br="(\d+)"[^>]*>.*?</row>', add, xml, flags=re.S)
    src = folder / "src.xlsm"
    path.rename(src)
    rezip(src, path, {part: xml})
    src.unlink()
    return path


def test_shared_formula_below_and_array_formula_elsewhere_move_up_with_the_rows(rich, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", SALT)
    path = _with_formulas(rich, tmp_path)
    leads = _leads(path)
    lead = leads.at[10, "Lead ID"]                          # row 14: above both
    code, out, err = _call("forget", path, "--lead", lead)
    assert code == 0, err
    with zipfile.ZipFile(path) as z:
        names = {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")}
    joined = b"".join(names.values())
    assert b'<f t="shared" ref="AZ149:AZ152" si="90">A149&amp;"!"</f>' in joined
    assert b'<f t="array" ref="A1:A3">Leads!A99:A101</f>' in joined


def test_a_shared_formula_copied_over_the_removed_row_is_refused_with_a_sentence(rich, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", SALT)
    path = _with_formulas(rich, tmp_path)
    lead = _leads(path).at[147, "Lead ID"]                  # row 151: inside the shared formula's rows
    before = path.read_bytes()
    code, out, err = _call("forget", path, "--lead", lead)
    assert code == 1 and "Leads!AZ150:AZ153" in err and "shared or array formula" in err, err
    assert err.count("\n") == 1 and "please report" not in err
    assert path.read_bytes() == before


def test_a_person_only_in_a_source_leadq_cannot_search_is_refused_naming_that_source(tmp_path):
    """Not on Leads, not in Lead history, not on Activities: with the activities in a Parquet source
    (which LeadQ reads but cannot rewrite or search for erasure), the refusal says the person may still
    be there, and where."""
    from conftest import refreshed_demo
    path = refreshed_demo(tmp_path, "src.xlsm")
    pd.DataFrame({"Lead ID": ["X999"], "Date": ["2026-11-20"], "Activity": ["webinar"], "Detail": [""]}).to_parquet(
        tmp_path / "events.parquet", index=False)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    row = next(c.row for c in wb["Settings"]["A"] if c.value == "Activities source")
    wb["Settings"].cell(row, 2).value = "events.parquet"
    wb.save(path)
    before = path.read_bytes()
    code, out, err = _call("forget", str(path), "--lead", "X999")
    assert code == 1, out + err
    assert (f"cannot search events.parquet (Settings!B{row} (Activities source)), so the person may still be there: "
            "erase them in that source") in err, err
    assert path.read_bytes() == before
