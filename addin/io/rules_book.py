"""Copy a rules.json into a workbook's LeadQ Rules sheet (`leadq rules-in`) and out again (`leadq rules-out`).

The sheet holds the JSON one line per row under LeadQ's title in A1 (addin.rules_sheet); it is added
by zip surgery like LeadQ's other sheets, so nothing else in the workbook (VBA, your sheets) changes.
A sheet named Rules that LeadQ did not make is refused, never replaced. Settings are not touched:
the command says what to write in Settings' Rules file.
"""

from __future__ import annotations

from pathlib import Path

from .. import rules_sheet
from ..app.refresh import open_workbook
from ..errors import WorkbookError
from ..settings import load_rules, rules_file_text
from .edit import PackageEdit
from .package import Package, xml_text
from .writer import check_not_open

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet_xml(text: str) -> bytes:
    """A worksheet part holding `text` as a Rules sheet (inline strings, spaces kept)."""
    rows = []
    for r, (line,) in enumerate(rules_sheet.rows_of(text), start=1):
        cell = (f'<c r="A{r}" t="inlineStr"><is><t xml:space="preserve">{xml_text(line)}</t></is></c>' if line else "")
        rows.append(f'<row r="{r}">{cell}</row>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
            f'<cols><col min="1" max="1" width="110" customWidth="1"/></cols>'
            f'<sheetData>{"".join(rows)}</sheetData></worksheet>').encode()


def read_sheet(path: Path):
    """The workbook's Rules sheet (addin.rules_sheet.RulesSheet) or None; a sheet named Rules that is
    not LeadQ's raises."""
    import fastexcel

    from .reader import read_rules_sheet
    pkg = Package(path)
    try:
        real = pkg.real_sheet_name(rules_sheet.SHEET)
        if real is None:
            return None
        found = read_rules_sheet(fastexcel.read_excel(str(path)), pkg, {})
        if found is None:
            raise WorkbookError(f'{path.name}: the sheet "{real}" was not made by LeadQ (its A1 does not start with '
                                f'"{rules_sheet.MARK}"); rename it, then copy the rules in again')
        return found
    finally:
        pkg.close()


def rules_in(workbook, rules) -> int:
    """Write a rules.json (checked first: a broken file is refused with its problems) into the
    workbook's Rules sheet; returns the number of lines."""
    path = open_workbook(workbook)
    text = rules_file_text(rules)
    load_rules(Path(rules))                  # RulesError with every located problem: nothing is written
    read_sheet(path)                         # refuses a user's sheet named Rules
    check_not_open(path)
    pkg = Package(path)
    try:
        edit = PackageEdit(pkg)
        part = edit.ensure_sheet(pkg.real_sheet_name(rules_sheet.SHEET) or rules_sheet.SHEET)
        edit.put(part, sheet_xml(text))
        edit.set_part_rels(part, [])
        edit.drop_calc_chain()
        edit.save(path)
    finally:
        pkg.close()
    return len(rules_sheet.rows_of(text)) - 1


def rules_out(workbook, out) -> Path:
    """Write the workbook's Rules sheet to a rules.json file (never over an existing file)."""
    path = open_workbook(workbook)
    found = read_sheet(path)
    if found is None:
        raise WorkbookError(f'{path.name} has no Rules sheet; copy a rules.json in with `leadq rules-in {path.name} rules.json`')
    rules_sheet.load_sheet(found)            # a broken sheet is reported by cell, nothing written
    out = Path(out)
    if out.exists():
        raise WorkbookError(f"{out} already exists; LeadQ does not replace a rules file: choose another name")
    out.write_text(rules_sheet.text_of(found) + "\n", encoding="utf-8")
    return out
