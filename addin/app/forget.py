"""`leadq forget`: erase one person from a workbook (GDPR art. 17), then refresh, with an audit line.

The person is found on Leads by Lead ID or email (every Leads row with that email goes). Their
rows leave Leads, Activities, Qualification, Overrides and Lead history (the rows are deleted, as Excel's
"Delete row" would: see io.erase), Score details and the Summary are rebuilt by the refresh that
follows, and a line goes to the LeadQ-owned *Privacy log* sheet: when, salted hashes of the
identifiers (never the identifiers), and how many rows left each sheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import numpy as np
import pandas as pd

from ..core.evaluate import lead_key, lead_keys
from ..core.headers import LEAD_ID, canonicalize
from ..core.history import SHEET as HISTORY
from ..core.present import HEADER_FILL, HEADER_FONT, SCORE_DETAILS
from ..core.privacy import LOG_COLUMNS, PRIVACY_LOG, pseudonym
from ..core.text import fold, fold_series
from ..errors import Problem, WorkbookError
from ..io.edit import PackageEdit
from ..io.erase import remove_rows
from ..io.importer import decode, sniff_delimiter
from ..io.package import Package, col_letter, xml_text
from ..io.reader import read_sheet, read_workbook
from ..io.sheetxml import split
from ..io.styles import StyleBook
from ..io.writer import check_not_open
from ..salt import privacy_salt

_WIDTHS = [18, 30, 40, 8, 10, 13, 13, 9, 30, 24]


@dataclass
class ForgetResult:
    """What was (or, with dry_run, would be) removed, per sheet, and what remains elsewhere."""

    request: str                       # "email:<hash>" or "lead:<hash>": never the identifier itself
    lead_hashes: list[str]
    rows: dict[str, int]               # sheet -> rows removed
    cells: dict[str, list[int]]        # sheet -> Excel rows (for --dry-run's listing)
    external: str = ""                 # what happened to an external activities file
    remains: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    refresh: object | None = None      # the RefreshResult of the refresh that followed
    salt_where: str = ""


def _rows_of(frame: pd.DataFrame | None, mask: np.ndarray) -> list[int]:
    if frame is None or not len(frame):
        return []
    rows = np.asarray(frame.attrs["leadq_origin"]["rows"])
    return rows[np.asarray(mask, dtype=bool)].astype(int).tolist()


def _matches(frame: pd.DataFrame | None, sheet: str, ids: set[str], emails: set[str]) -> np.ndarray:
    """Rows of a sheet that belong to the person: their Lead ID, or (without one) their email."""
    if frame is None or not len(frame):
        return np.zeros(0, dtype=bool)
    canon, _ = canonicalize(frame.reset_index(drop=True), sheet if sheet != HISTORY else "Activities")
    hit = np.zeros(len(frame), dtype=bool)
    no_id = np.ones(len(frame), dtype=bool)
    if LEAD_ID in canon.columns:
        keys = lead_keys(canon[LEAD_ID])
        hit |= keys.isin(ids).to_numpy()
        no_id = (keys.fillna("") == "").to_numpy()
    if "Email" in canon.columns and emails:
        # by email only when the row names no lead: a row of another lead sharing the address stays
        hit |= fold_series(canon["Email"]).isin(emails).to_numpy() & no_id
    return hit


def _history(path: Path, package: Package) -> pd.DataFrame | None:
    real = package.real_sheet_name(HISTORY)
    if real is None:
        return None
    return read_sheet(path, package, real)


def _score_details_rows(path: Path, package: Package, ids: set[str]) -> int:
    real = package.real_sheet_name(SCORE_DETAILS)
    if real is None:
        return 0
    try:
        frame = fastexcel.read_excel(str(path)).load_sheet(real, use_columns=[LEAD_ID]).to_pandas()
    except Exception:      # an empty or hand-edited sheet: it is rebuilt anyway
        return 0
    return int(lead_keys(frame[LEAD_ID]).isin(ids).sum()) if len(frame) else 0


def forget(workbook, lead=None, email=None, *, dry_run=False, activities_file=None, rules=None, as_of=None,
           output=None, now: dt.datetime | None = None, env: dict | None = None) -> ForgetResult:
    """Erase the person with this Lead ID or email from the workbook (in place, or into `output`), then refresh.
    Holds the workbook's lock (io.guard) from reading to writing: two forgets at once run one after the other."""
    if (lead is None) == (email is None):
        raise WorkbookError("name the person with either a Lead ID or an email")
    given = lead if lead is not None else email
    if not str(given).strip():
        raise WorkbookError(f"{'--lead' if lead is not None else '--email'} is empty (an unset shell variable?); "
                            "an empty value names nobody, so nothing was changed: give the person's Lead ID or email")
    workbook = Path(workbook)
    if not workbook.exists():
        raise WorkbookError(f"{workbook}: no such file")
    target = Path(output) if output else workbook
    from ..io.writer import check_extension
    check_extension(workbook, target)
    from contextlib import nullcontext

    from ..io.guard import workbook_lock
    with workbook_lock(workbook), (workbook_lock(target) if target.parent.is_dir() else nullcontext()):
        return _forget(workbook, target, lead, email, dry_run, activities_file, rules, as_of, now, env)


def _forget(workbook: Path, target: Path, lead, email, dry_run, activities_file, rules, as_of, now, env) -> ForgetResult:
    check_not_open(workbook)
    data = read_workbook(workbook)
    leads, _ = canonicalize(data.leads.reset_index(drop=True), "Leads")
    ids_all = lead_keys(leads[LEAD_ID]) if LEAD_ID in leads.columns else pd.Series([], dtype=object)
    emails_all = fold_series(leads["Email"]) if "Email" in leads.columns else pd.Series([""] * len(leads))
    if lead is not None:
        hit = (ids_all == lead_key(lead)).to_numpy()
        what = f'Lead ID "{lead}"'
    else:
        hit = (emails_all == fold(email)).to_numpy() & (fold(email) != "")
        what = "that email"
    if not hit.any():
        p = Problem("lead-not-found", f"{workbook.name}!Leads", f"no lead with {what} on the Leads sheet; nothing was changed",
                    "error", sheet="Leads")
        raise WorkbookError(str(p), [p])
    ids = set(ids_all[hit]) - {""}
    emails = (set(emails_all[hit]) | ({fold(email)} if email else set())) - {""}
    package = Package(workbook)
    try:
        history = _history(workbook, package)
        cuts = {data.layouts["Leads"].sheet: _rows_of(data.leads, hit)}
        # The Overrides sheet too: a rep's reason ("the CFO called me") is about the person.
        for name, frame in (("Activities", data.activities), ("Qualification", data.qualification),
                            ("Overrides", data.overrides)):
            if name in data.layouts:
                cuts[data.layouts[name].sheet] = _rows_of(frame, _matches(frame, name, ids, emails))
        if history is not None:
            cuts[package.real_sheet_name(HISTORY)] = _rows_of(history, _matches(history, HISTORY, ids, emails))
        details = _score_details_rows(workbook, package, ids)
        salt, salt_where = privacy_salt(workbook, env, create=not dry_run)
        request = ("lead:" + pseudonym(lead, salt)) if lead is not None else ("email:" + pseudonym(email, salt))
        result = ForgetResult(request, sorted(pseudonym(i, salt) for i in ids), {s: len(r) for s, r in cuts.items()},
                              cuts, dry_run=dry_run, salt_where=salt_where)
        result.rows[SCORE_DETAILS] = details
        edit = PackageEdit(package)
        remove_rows(edit, {s: r for s, r in cuts.items() if r})      # refuses before anything is written
        result.external, remains = _external(activities_file, ids, emails, dry_run)
        result.remains += remains
        if dry_run:
            return result
        _log(edit, result, now or dt.datetime.now(dt.UTC))
        # Beside the workbook, so the refresh resolves its rules and sources as the workbook's own would
        fd, tmp = tempfile.mkstemp(prefix=f".{workbook.stem}-erased-", suffix=workbook.suffix, dir=workbook.parent)
        os.close(fd)
        try:
            edit.save(Path(tmp))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        package.close()
    try:
        from .refresh import refresh
        result.refresh = refresh(tmp, rules=rules, as_of=as_of, output=target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return result


def _external(path, ids: set[str], emails: set[str], dry_run: bool) -> tuple[str, list[Problem]]:
    """Remove the person's rows from an external activities file LeadQ can rewrite (CSV); else say it remains."""
    if path is None:
        return "", []
    path = Path(os.path.realpath(path))         # through a symbolic link: the real file is rewritten, the link kept
    if not path.is_file() or path.suffix.lower() not in (".csv", ".txt"):
        return "not rewritable", [Problem("external-source-remains", str(path),
                                          "LeadQ cannot rewrite this activities source; erase the person's rows there "
                                          "by hand (LeadQ rewrites CSV files only)", "warning")]
    # Read as an import reads it (encoding and delimiter sniffed), written back the same way.
    text, encoding = decode(path.read_bytes())
    delimiter = sniff_delimiter(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        return "0 rows", []
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    frame.attrs["leadq_origin"] = {"sheet": path.name, "rows": np.arange(len(frame)) + 2}
    hit = _matches(frame, "Activities", ids, emails)
    if dry_run or not hit.any():
        return f"{int(hit.sum())} rows", []
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        os.chmod(tmp, path.stat().st_mode & 0o7777)          # the file keeps its mode and its line ends
        ending = "\r\n" if "\r\n" in text else ("\r" if "\r" in text and "\n" not in text else "\n")
        with os.fdopen(fd, "w", newline="", encoding=encoding) as f:
            w = csv.writer(f, delimiter=delimiter, lineterminator=ending)
            w.writerow(rows[0])
            w.writerows(r for r, h in zip(rows[1:], hit) if not h)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return f"{int(hit.sum())} rows", []


def _log(edit: PackageEdit, result: ForgetResult, when: dt.datetime) -> None:
    """Append the audit line to the Privacy log sheet (created, LeadQ-owned, on first use)."""
    styles = StyleBook(edit.read("xl/styles.xml") if edit.exists("xl/styles.xml") else None)
    values = [when.strftime("%Y-%m-%d %H:%M:%S"), result.request, " ".join(result.lead_hashes)]
    counts = {s.casefold(): n for s, n in result.rows.items()}
    values += [counts.get(s.casefold(), 0) for s in ("Leads", "Activities", "Qualification", SCORE_DETAILS, HISTORY)]
    values += [result.external or "", "HMAC-SHA256, salt: " + ("environment" if result.salt_where.startswith("$")
                                                               else ".leadq-salt beside the workbook")]
    from ..io.ownership import claim_sheet
    claim_sheet(edit, PRIVACY_LOG)        # a user's own sheet of that name is refused, never written into
    part = edit.pkg.sheet_part(PRIVACY_LOG)
    if part is None or not edit.exists(part) or not edit.read(part):
        from ..io.writer import sheet_xml
        header_style = styles.xf(bold=True, color=HEADER_FONT, fill=HEADER_FILL)
        header = "".join(f'<c r="{col_letter(i)}1" s="{header_style}" t="inlineStr"><is><t>{xml_text(c)}</t></is></c>'
                         for i, c in enumerate(LOG_COLUMNS))
        part = edit.ensure_sheet(PRIVACY_LOG)
        edit.put(part, sheet_xml(f'<row r="1">{header}</row>', len(LOG_COLUMNS) - 1, 1, _WIDTHS, freeze_row=1,
                                 tab_color="#7030A0"))
    head, rows_xml, tail = split(edit.read(part))
    last = max([int(r) for r in re.findall(rb'<row\b[^>]*?\br="(\d+)"', rows_xml)] or [0])
    r = last + 1
    cells = []
    for i, v in enumerate(values):
        ref = f"{col_letter(i)}{r}"
        if isinstance(v, (int, np.integer)):
            cells.append(f'<c r="{ref}"><v>{int(v)}</v></c>')
        else:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{xml_text(str(v))}</t></is></c>')
    rows_xml += f'<row r="{r}">{"".join(cells)}</row>'.encode()
    head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{col_letter(len(LOG_COLUMNS) - 1)}{r}"/>', head)
    edit.put(part, head.encode("utf-8") + rows_xml + tail.encode("utf-8"))
    if styles.changed:
        edit.put("xl/styles.xml", styles.to_bytes(), "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml")
