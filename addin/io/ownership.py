"""What in a workbook LeadQ made, and may therefore replace: recorded in hidden defined names.

LeadQ rebuilds its Summary and Score details sheets, appends to its Lead history sheet and writes
two Settings values. A sheet the
user made and happened to call "Summary", or a Settings row the user labelled "Status", is theirs:
it is never overwritten. Each thing LeadQ writes is recorded in a hidden defined name pointing at
it (Excel keeps the reference right when the sheet is renamed or rows are inserted). A workbook
from before these records is recognised by content LeadQ itself puts there.
"""

from __future__ import annotations

import html
import re

from ..core.values.text import key
from ..errors import Problem, WorkbookError
from ..problems import SETTINGS_ROW_NOT_OURS
from .edit import PackageEdit
from .package import MAX_PART_BYTES, Package
from .parts import BY_SHEET, OWNED, SETTING_NAMES

SHEET_NAMES = {p.sheet: p.defined_name for p in OWNED}       # earlier import path
_STAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?)?\s*$")


def quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _target_sheet(value: str | None) -> tuple[str | None, str | None]:
    """'My sheet'!$B$7 -> ("My sheet", "B7")."""
    if not value:
        return None, None
    m = re.match(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]+)\$?(\d+)$", value.strip())
    if not m:
        return None, None
    return (m.group(1) or "").replace("''", "'") or m.group(2), m.group(3) + m.group(4)


_VALUE = re.compile(rb"<c\b[^>]*>\s*<(?:v|is|f)\b")


def _shared_strings(pkg: Package, wanted: set[int]) -> dict[int, str]:
    """The shared strings at the given indexes, reading the table only as far as the last of them."""
    part = "xl/sharedStrings.xml"
    if not wanted or part not in pkg.names:
        return {}
    top = max(wanted)
    xml = pkg.read_start(part, lambda data: data.count(b"</si>") > top, limit=MAX_PART_BYTES)
    out = {}
    for i, m in enumerate(re.finditer(rb"<si\b[^>]*?(?:/>|>(.*?)</si>)", xml, re.S)):
        if i in wanted:
            out[i] = " ".join(html.unescape(t.decode("utf-8", "replace"))
                              for t in re.findall(rb"<t\b[^>]*>([^<]*)</t>", m.group(1) or b""))
        if i >= top:
            break
    return out


def _texts(pkg: Package, xml: bytes) -> str:
    """The text of the cells in a piece of sheet XML, inline or shared strings."""
    out = [html.unescape(t) for t in re.findall(r"<t(?:\s[^>]*)?>([^<]*)</t>", xml.decode("utf-8", "replace"))]
    shared = [int(i) for i in re.findall(rb'<c\b[^>]*\bt="s"[^>]*>\s*<v>(\d+)</v>', xml)]
    table = _shared_strings(pkg, set(shared))
    return " ".join(out + [table[i] for i in shared if i in table])


def _looks_like_ours(pkg: Package, sheet: str, part: str) -> bool:
    """A workbook made before ownership was recorded: the template's or a refresh's content.
    Only the sheet's start is read (a big Score details is never inflated whole for this)."""
    xml = pkg.read_start(part, lambda data: len(data) >= 20000 and b"</row>" in data and bool(_VALUE.search(data)),
                           limit=MAX_PART_BYTES)
    if not _VALUE.search(xml):
        return len(xml) < MAX_PART_BYTES    # no value in any cell: nothing of the user's to lose
    first = re.search(rb"<row\b[^>]*>(.*?)</row>", xml, re.S)
    part = BY_SHEET[sheet]
    if part.header:
        row = _texts(pkg, first.group(1)) if first else ""
        return all(c in row for c in part.header)
    return part.title in _texts(pkg, xml[:20000])


def setting_looks_ours(label: str, value) -> bool:
    """A Settings value LeadQ may overwrite when no record says so: blank, or what LeadQ writes there."""
    text = "" if value is None else str(value)
    return (not text.strip() or (label == "Status" and text.startswith(("OK — ", "Failed: ", "LeadQ failed")))
            or (label == "Last refresh" and bool(_STAMP.match(text))))


def sheet_values_look_ours(sheet: str, rows: list[list]) -> bool:
    """The same test as for a file, on a sheet's values (the Excel object model): empty, or LeadQ's content."""
    return BY_SHEET[sheet].looks_ours(rows)


def _is_ours(pkg: Package, sheet: str, recorded: str | None) -> bool:
    """Whether the workbook's sheet named like LeadQ's `sheet` (if any) is LeadQ's, given the record."""
    real = pkg.real_sheet_name(sheet)
    if real is None:
        return True
    recorded_sheet, _ = _target_sheet(recorded)
    if recorded_sheet is None:
        return _looks_like_ours(pkg, sheet, pkg.sheets[real])
    return recorded_sheet.casefold() == real.casefold()


def is_ours(pkg: Package, sheet: str) -> bool:
    """Whether the sheet named like LeadQ's `sheet` is LeadQ's own (its record, else its signature)."""
    return _is_ours(pkg, sheet, pkg.defined_name(BY_SHEET[sheet].defined_name))


def not_ours(real: str, sheet: str) -> WorkbookError:
    return WorkbookError(f'the sheet "{real}" was not made by LeadQ, which writes its {sheet} sheet under that '
                         f'name and would replace it: rename your sheet (e.g. "My {sheet.lower()}"), then refresh again')


def check_sheet(pkg: Package, sheet: str) -> None:
    """Raise unless `sheet` is absent or LeadQ's own (before reading it as LeadQ's, e.g. Lead history)."""
    if not _is_ours(pkg, sheet, pkg.defined_name(BY_SHEET[sheet].defined_name)):
        raise not_ours(pkg.real_sheet_name(sheet), sheet)


def claim_sheet(edit: PackageEdit, sheet: str) -> None:
    """Raise unless `sheet` is absent or LeadQ's own; then record it as LeadQ's."""
    name = BY_SHEET[sheet].defined_name
    if not _is_ours(edit.pkg, sheet, edit.get_defined_name(name)):
        raise not_ours(edit.pkg.real_sheet_name(sheet), sheet)
    edit.defined_name(name, f"{quoted(sheet)}!$A$1")


def owned_settings(edit: PackageEdit, settings_sheet: str, rows: dict[str, int], current: dict[str, object],
                   wanted: list[str]) -> tuple[dict[str, int], list[Problem]]:
    """The Settings rows (label -> Excel row) LeadQ may write its status into, and a warning per row it leaves alone."""
    out, problems = {}, []
    for label in wanted:
        r = rows.get(key(label))
        if r is None:
            continue
        name = SETTING_NAMES[label]
        recorded_sheet, cell = _target_sheet(edit.get_defined_name(name))
        if recorded_sheet is not None:
            ours = recorded_sheet.casefold() == settings_sheet.casefold() and cell == f"B{r}"
        else:
            ours = setting_looks_ours(label, current.get(key(label)))
        if ours:
            out[label] = r
            edit.defined_name(name, f"{quoted(settings_sheet)}!$B${r}")
        else:
            problems.append(Problem(SETTINGS_ROW_NOT_OURS, f"{settings_sheet}!B{r}",
                                    f'the row "{label}" was not written by LeadQ, so LeadQ leaves its value alone',
                                    severity="warning", sheet=settings_sheet, cell=f"B{r}"))
    return out, problems
