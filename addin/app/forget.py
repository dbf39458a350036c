"""`leadq forget`: erase one person from everywhere LeadQ knows (GDPR art. 17), then refresh, with an audit line.

The person is named by Lead ID or email. They are found on Leads, and also when already gone from
Leads but still in Lead history, the Activities sheet or the workbook's activity source. Their rows
leave Leads, Activities, Qualification, Overrides and Lead history (deleted as Excel's "Delete row"
would: see io.erase), LeadQ's own sheets that name them (Rules preview, Calibration; Score details
and the Summary are rebuilt by the refresh that follows), the full-ledger Parquet files (the Score
details file, and a stale one beside the workbook), and the activity source: the `--activities`
file and the workbook's Settings > Activities source, when CSV (rewritten through the real path,
every other line byte-identical, mode kept; other kinds named in a warning). Free text that still
names them (cells of other sheets, notes, document properties) is listed, never edited. A line goes
to the LeadQ-owned *Privacy log* sheet: when, salted hashes of the identifiers (never the
identifiers), and how many rows left each sheet. `dry_run` reads only: no file, lock or salt is written.
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

from ..core.calibrate.view import CALIBRATION
from ..core.history import SHEET as HISTORY
from ..core.model import lead_key, lead_keys
from ..core.privacy import LOG_COLUMNS, PRIVACY_LOG, pseudonym
from ..core.report.present import HEADER_FILL, HEADER_FONT, SCORE_DETAILS
from ..core.report.preview import SHEET as PREVIEW
from ..core.values.headers import LEAD_ID, canonicalize
from ..core.values.table import origin_rows
from ..core.values.text import fold, fold_series, key, text_or_empty
from ..errors import Problem, WorkbookError
from ..io.edit import PackageEdit
from ..io.erase import remove_rows
from ..io.importer import sniff_delimiter
from ..io.mentions import find as find_mentions
from ..io.ownership import is_ours
from ..io.package import Package, col_letter, xml_text
from ..io.parts import OWNED
from ..io.reader import read_sheet, read_workbook
from ..io.sheetxml import sheet_xml, split
from ..io.styles import StyleBook
from ..io.writer import check_not_open
from ..problems import EXTERNAL_SOURCE_REMAINS, LEAD_NOT_FOUND, PERSON_MENTIONED, SCORE_DETAILS_FILE
from ..salt import privacy_salt
from ..settings import ACTIVITIES_SOURCE

_WIDTHS = [18, 30, 40, 8, 10, 13, 13, 9, 30, 24]


@dataclass
class ForgetResult:
    """What was (or, with dry_run, would be) removed, per sheet and per file, and what remains elsewhere."""

    request: str                       # "email:<hash>" or "lead:<hash>": never the identifier itself
    lead_hashes: list[str]
    rows: dict[str, int]               # sheet -> rows removed
    cells: dict[str, list[int]]        # sheet -> Excel rows (for --dry-run's listing)
    external: str = ""                 # what happened to the activity source files, for the log
    files: dict[str, int] = field(default_factory=dict)     # file outside the workbook -> rows removed
    remains: list[Problem] = field(default_factory=list)    # sources LeadQ cannot rewrite, free-text mentions
    dry_run: bool = False
    refresh: object | None = None      # the RefreshResult of the refresh that followed
    salt_where: str = ""


# LeadQ's own sheets whose rows name people, read as a grid (they are not tables): a row naming the
# person goes. Score details and the Summary are rebuilt by the refresh; Lead history is a table.
_OWNED_GRIDS = (PREVIEW, CALIBRATION)


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


def _names(leads: pd.DataFrame, hit: np.ndarray) -> set[str]:
    """The person's full name(s) as the Leads rows spell them: First name + Last name, or a Name column."""
    rows = leads[hit]
    names: set[str] = set()
    if "First name" in rows.columns and "Last name" in rows.columns:
        full = text_or_empty(rows["First name"]).str.strip() + " " + text_or_empty(rows["Last name"]).str.strip()
        names |= set(full.str.strip())
    for column in ("Name", "Full name", "Contact"):
        if column in rows.columns:
            names |= set(text_or_empty(rows[column]).str.strip())
    return {n for n in names if len(n) > 2 and " " in n}       # one word alone (a first name) names nobody


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


def _grid_rows(package: Package, sheet: str, ids: set[str], emails: set[str]) -> list[int]:
    """Rows of one of LeadQ's grid sheets (Rules preview, Calibration) with a cell that is the person's
    Lead ID or holds their email."""
    real = package.real_sheet_name(sheet)
    found = find_mentions(package, ids, emails, (), only_sheets=[real], properties=False)
    cells = (re.fullmatch(r".*![A-Z]+(\d+)", m.where) for m in found if not m.where.startswith("a note"))
    return sorted({int(c.group(1)) for c in cells if c})


def forget(workbook, lead=None, email=None, *, dry_run=False, activities_file=None, rules=None, as_of=None,
           output=None, now: dt.datetime | None = None, env: dict | None = None) -> ForgetResult:
    """Erase the person with this Lead ID or email from the workbook (in place, or into `output`), its
    activity source and its Score details files, then refresh. Holds the workbook's lock (io.guard) from
    reading to writing: two forgets at once run one after the other. A dry run takes no lock: it writes nothing."""
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
    if dry_run:
        return _forget(workbook, target, lead, email, True, activities_file, rules, as_of, now, env)
    from contextlib import nullcontext

    from ..io.guard import workbook_lock
    with workbook_lock(workbook), (workbook_lock(target) if target.parent.is_dir() else nullcontext()):
        return _forget(workbook, target, lead, email, False, activities_file, rules, as_of, now, env)


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
    # A person already gone from Leads is still found by their Lead ID (or email) in the other places.
    ids = (set(ids_all[hit]) | ({lead_key(lead)} if lead is not None else set())) - {""}
    emails = (set(emails_all[hit]) | ({fold(email)} if email else set())) - {""}
    names = _names(leads, hit)
    sources = _sources(data, workbook, activities_file, target if target != workbook else None, rules)
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
        for grid in _OWNED_GRIDS:       # LeadQ's own only: a user's sheet of that name is free text, listed below
            if package.real_sheet_name(grid) is not None and is_ours(package, grid):
                cuts[package.real_sheet_name(grid)] = _grid_rows(package, grid, ids, emails)
        details = _score_details_rows(workbook, package, ids)
        plans = [_plan_source(s, ids, emails) for s in sources.activities]
        ledgers = [(p, _ledger_rows(p, ids)) for p in sources.ledgers]
        if not any(cuts.values()) and not details and not any(n for _, n, _ in plans) and not any(n for _, n in ledgers):
            unread = [f"{path.name} ({label})" for path, label, kind in sources.activities if kind != "csv"]
            beyond = (f"; LeadQ cannot search {', '.join(unread)}, so the person may still be there: erase them in "
                      "that source" if unread else "")
            p = Problem(LEAD_NOT_FOUND, f"{workbook.name}!Leads",
                        f"no lead with {what} on the Leads sheet, in Lead history, the Activities or the activity "
                        f"source; nothing was changed{beyond}", "error", sheet="Leads")
            raise WorkbookError(str(p), [p])
        salt, salt_where = privacy_salt(workbook, env, create=not dry_run)
        request = ("lead:" + pseudonym(lead, salt)) if lead is not None else ("email:" + pseudonym(email, salt))
        result = ForgetResult(request, sorted(pseudonym(i, salt) for i in ids), {s: len(r) for s, r in cuts.items()},
                              cuts, dry_run=dry_run, salt_where=salt_where)
        result.rows[SCORE_DETAILS] = details
        for path, n, problem in plans:
            if problem is not None:
                result.remains.append(problem)
            else:
                result.files[str(path)] = n
        result.files.update({str(p): n for p, n in ledgers if n})
        result.external = ", ".join(f"{Path(p).name}: {n} rows" for p, n, problem in plans if problem is None) or \
            ("not rewritable" if plans else "")
        edit = PackageEdit(package)
        remove_rows(edit, {s: r for s, r in cuts.items() if r})      # refuses before anything is written
        if dry_run:
            result.remains += _mention_problems(find_mentions(package, ids, emails, names, [s for s, r in cuts.items() if r]
                                                     + [o.sheet for o in OWNED if is_ours(package, o.sheet)]),
                                                "would still name")
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
    # The activity source before the refresh (which reads it), put back if the refresh fails.
    undo = []
    try:
        for path, n, problem in plans:
            if problem is None and n:
                undo.append(_rewrite_csv(path, ids, emails))
        from .refresh import refresh
        result.refresh = refresh(tmp, rules=rules, as_of=as_of, output=target)
    except BaseException:
        for path, original in undo:
            _replace_bytes(path, original)
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)
    for path, n in ledgers:          # the refresh may have rewritten one (the full ledger): the others are filtered
        if n and path.is_file():
            _filter_ledger(path, ids)
    out = Package(target)
    try:
        result.remains += _mention_problems(find_mentions(out, ids, emails, names, [PRIVACY_LOG]), "still names")
    finally:
        out.close()
    return result


def _mention_problems(found, verb: str) -> list[Problem]:
    """One warning per place, naming what it holds (never the value): the user decides and edits."""
    places: dict[str, list[str]] = {}
    for m in found:
        places.setdefault(m.where, [])
        if m.what not in places[m.where]:
            places[m.where].append(m.what)
    return [Problem(PERSON_MENTIONED, where, f"{verb} the person (their {' and '.join(what)}) as free text; LeadQ "
                    "does not edit what you wrote: remove it by hand if it is about them", "warning")
            for where, what in places.items()]


# ---------------------------------------------------------------------------- files outside the workbook
@dataclass
class _Sources:
    activities: list                   # (path or None, label, kind) of each activity source
    ledgers: list[Path]                # existing full-ledger Parquet files


def _sources(data, workbook: Path, activities_file, output: Path | None, rules) -> _Sources:
    """The activity sources (`--activities`, the workbook's Settings > Activities source) and the full-ledger
    Parquet files (Settings > Score details file, and the default name beside the workbook and the output)."""
    from ..engines.source import settings_source
    from ..io import ledger_file
    out: list = []
    seen: set[str] = set()
    if activities_file is not None:
        real = os.path.realpath(activities_file)
        seen.add(real)
        out.append((Path(real), str(activities_file), "csv" if _rewritable(Path(real)) else "other"))
    configured = settings_source(data.settings, data.settings_rows, workbook)       # the trust boundary's check
    row = data.settings_rows.get(key(ACTIVITIES_SOURCE))
    where = f"Settings!B{row} ({ACTIVITIES_SOURCE})" if row else f"Settings ({ACTIVITIES_SOURCE})"
    if not configured.is_sheet:
        for p in configured.paths:
            real = os.path.realpath(p)
            if real in seen:
                continue
            seen.add(real)
            kind = configured.kind if configured.kind != "csv" else "csv" if _rewritable(Path(real)) else "other"
            out.append((Path(real), where, kind))
    ledgers = [ledger_file.details_path(workbook, data.settings, data.settings_rows),
               workbook.with_name(workbook.stem + ledger_file.SUFFIX)]
    if output is not None:
        from ..io.guard import check_output
        check_output(output, inputs=[*(p for p, _, _ in out), rules, *ledgers], suffixes=(workbook.suffix.lower(),),
                     what="the workbook without the person", flag="--output")
        ledgers += [ledger_file.details_path(output, data.settings, data.settings_rows),
                    output.with_name(output.stem + ledger_file.SUFFIX)]
    unique = list(dict.fromkeys(Path(os.path.realpath(p)) for p in ledgers))
    return _Sources(out, [p for p in unique if p.is_file()])


def _rewritable(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt")


def _plan_source(source, ids: set[str], emails: set[str]) -> tuple[Path, int, Problem | None]:
    """How many of the person's rows an activity source holds (a CSV), or the warning that it is left."""
    path, label, kind = source
    if kind != "csv":
        what = {"duckdb": "a DuckDB table", "parquet": "a Parquet file"}.get(kind, "not a plain CSV file")
        return path, 0, Problem(EXTERNAL_SOURCE_REMAINS, label,
                                f"LeadQ cannot rewrite this activities source ({what}; it rewrites CSV files): the person's rows "
                                f"stay in {path}; erase them there (by Lead ID or email) and refresh again", "warning")
    lines, hit, _ = _csv_rows(path, ids, emails)
    if lines is None:
        return path, 0, Problem(EXTERNAL_SOURCE_REMAINS, label,
                                f"{path.name} is UTF-16 text, which LeadQ does not rewrite: erase the person's rows "
                                "there by hand", "warning")
    return path, int(hit.sum()), None


_LINE_TEXT = r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$"
_LINE = re.compile(_LINE_TEXT.encode())


def _csv_rows(path: Path, ids: set[str], emails: set[str]):
    """The file's physical lines (bytes, line ends kept), which records belong to the person, and each record's
    line span. Lines are parsed as an import reads them (UTF-8, else cp1252 per line; delimiter sniffed)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, np.zeros(0, dtype=bool), []
    lines = _LINE.findall(data)
    if not lines:
        return lines, np.zeros(0, dtype=bool), []

    def text(b: bytes) -> str:
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return b.decode("cp1252", errors="replace")
    try:            # one decode for the whole file; line by line only when its lines mix encodings
        texts = re.findall(_LINE_TEXT, data.decode("utf-8"))         # \r and \n never occur inside a UTF-8 sequence
    except UnicodeDecodeError:
        texts = [text(b) for b in lines]
    texts[0] = texts[0].removeprefix("\ufeff")
    delimiter = sniff_delimiter("".join(texts[:50]))
    reader = csv.reader(iter(texts), delimiter=delimiter)
    records, spans, start = [], [], 0
    for record in reader:
        records.append(record)
        spans.append((start, reader.line_num))
        start = reader.line_num
    if len(records) < 2:
        return lines, np.zeros(0, dtype=bool), spans[1:]
    width = len(records[0])
    body = [r[:width] + [""] * (width - len(r)) for r in records[1:]]
    frame = pd.DataFrame(body, columns=records[0], dtype=object)
    frame.attrs["leadq_origin"] = {"sheet": path.name, "rows": origin_rows(len(frame), 2)}
    return lines, _matches(frame, "Activities", ids, emails), spans[1:]


def _rewrite_csv(path: Path, ids: set[str], emails: set[str]) -> tuple[Path, bytes]:
    """Drop the person's records from a CSV, through its real path: every other byte kept (the header,
    the quoting, the line ends), the file's mode kept. Returns (path, the original bytes) to undo with."""
    original = path.read_bytes()
    lines, hit, spans = _csv_rows(path, ids, emails)
    drop = np.zeros(len(lines), dtype=bool)
    for (a, b), h in zip(spans, hit):
        if h:
            drop[a:b] = True
    _replace_bytes(path, b"".join(line for line, d in zip(lines, drop) if not d))
    return path, original


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write `data` over `path` atomically: a temporary beside it (exclusive, no link followed), same mode."""
    mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.{os.getpid()}.leadq-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _ledger_rows(path: Path, ids: set[str]) -> int:
    """The person's rows in a full-ledger Parquet file (its Lead ID column only is read)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    try:
        column = pq.read_table(path, columns=[LEAD_ID]).column(LEAD_ID)
    except Exception as e:          # pyarrow's own errors: not a ledger LeadQ wrote
        p = Problem(SCORE_DETAILS_FILE, str(path), f"cannot read it as LeadQ's Score details file ({type(e).__name__}); "
                    "move it away or delete it, then forget again", "error")
        raise WorkbookError(str(p), [p]) from None
    return int(pc.sum(pc.is_in(pc.cast(column, "string"), value_set=_strings(ids))).as_py() or 0)


def _strings(values):
    import pyarrow as pa
    return pa.array(sorted(values), type=pa.string())


def _filter_ledger(path: Path, ids: set[str]) -> None:
    """Rewrite a full-ledger Parquet file without the person's rows (vectorised; atomic; mode kept)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    keep = pc.invert(pc.is_in(pc.cast(table.column(LEAD_ID), "string"), value_set=_strings(ids)))
    sink = io.BytesIO()
    pq.write_table(table.filter(keep), sink, row_group_size=1_000_000)
    _replace_bytes(path, sink.getvalue())


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
