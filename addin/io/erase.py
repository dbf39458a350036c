"""Remove whole rows from worksheets inside the package, as Excel's "Delete row" would.

Rows below move up; every reference to them moves with them: cell and row numbers, formulas
on any sheet, defined names, tables, merged cells, conditional formats, data validations,
hyperlinks, page breaks, chart series. Anything LeadQ cannot move safely makes it refuse
before a byte is written (`EraseRefused`): a formula, name or chart pointing only into the
removed rows (Excel would turn it into #REF!), a shared or array formula straddling them, a
drawing, comment or button anchored at or below them, a pivot table or a data table fed by the
sheet. Shared strings used only by the removed cells are blanked, so the text itself leaves
the file.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import Problem, WorkbookError
from ..problems import ERASE_REFUSED
from .edit import PackageEdit
from .package import NS, REL_TABLE, col_index, col_letter, parse_xml, rels_path, to_xml, xml_text
from .sheetxml import ROW_NUM, ROW_RE, split

REL_DRAWING_TYPES = ("/drawing", "/vmlDrawing", "/comments", "/threadedComment", "/pivotTable")
_CELL_S = re.compile(rb'<c\b[^>]*?\bt="s"[^>]*>\s*<v>(\d+)</v>')


class EraseRefused(WorkbookError):
    """Removing the rows would break something LeadQ cannot move safely; nothing was written."""


def _refuse(where: str, message: str) -> EraseRefused:
    p = Problem(ERASE_REFUSED, where, message, "error")
    return EraseRefused(str(p), [p])


class Shift:
    """Where each row of one sheet goes when the `removed` rows are deleted (Excel numbering)."""

    def __init__(self, removed):
        self.removed = np.unique(np.asarray(list(removed), dtype=np.int64))
        self.first = int(self.removed[0]) if len(self.removed) else 1 << 30
        self._set = set(self.removed.tolist())

    def row(self, r: int) -> int | None:
        """The new number of row r; None when r is removed."""
        if r < self.first:
            return r
        if r in self._set:
            return None
        return r - int(np.searchsorted(self.removed, r))

    def span(self, r1: int, r2: int) -> tuple[int, int] | None:
        """The new rows of a range r1..r2 (it shrinks by the rows removed inside); None when all of it goes."""
        if r2 < self.first:
            return r1, r2
        n1 = r1 - int(np.searchsorted(self.removed, r1))
        n2 = r2 - int(np.searchsorted(self.removed, r2, side="right"))
        return (n1, n2) if n2 >= n1 else None

    def uniform(self, r1: int, r2: int) -> bool:
        """True when no removed row lies in r1..r2 (every row there moves by the same amount)."""
        i = np.searchsorted(self.removed, r1)
        return i >= len(self.removed) or self.removed[i] > r2


# ---------------------------------------------------------------------------- references in formulas
_SHEET = r"(?:'(?:[^']|'')+'|[A-Za-z_\u00C0-\uFFFF][\w.\u00C0-\uFFFF]*)"
_CELL = r"\$?[A-Z]{1,3}\$?\d+"
_REF_RE = re.compile(
    rf"(?P<sheet>{_SHEET}!)?(?P<ref>{_CELL}(?::{_CELL})?|\$?\d+:\$?\d+)(?![\w(\[!:])")
_STRING = re.compile(r'"(?:[^"]|"")*"')
_CELL_PARTS = re.compile(r"(\$?)([A-Z]{1,3})(\$?)(\d+)|(\$?)(\d+)")


def _sheet_name(prefix: str) -> str:
    name = prefix[:-1]
    if name.startswith("'"):
        name = name[1:-1].replace("''", "'")
    return name


class Rewriter:
    """Rewrites formulas when rows of `target` are removed.

    `anchor`: for conditional formats and validations, whose relative references count from the
    top-left cell of their range: (old top row, new top row)."""

    def __init__(self, target: str, shift: Shift):
        self.target, self.shift = target.casefold(), shift
        self.name = target
        self.changed = False

    def formula(self, text: str, own_sheet: str | None, where: str, height: int = 0,
                anchor: tuple[int, int] | None = None) -> str:
        """`height`: rows a shared formula is copied down over (its references reach that much further)."""
        out, pos = [], 0
        for m in _STRING.finditer(text):
            out.append(self._segment(text[pos:m.start()], own_sheet, where, height, anchor))
            out.append(m.group(0))
            pos = m.end()
        out.append(self._segment(text[pos:], own_sheet, where, height, anchor))
        new = "".join(out)
        self.changed |= new != text
        return new

    def _segment(self, seg: str, own_sheet, where, height, anchor) -> str:
        def sub(m):
            start = m.start()
            before = seg[start - 1] if start else ""
            if before and (before.isalnum() or before in "_.$'"):
                return m.group(0)
            if before == "]":                      # [1]Sheet!A1: another workbook
                return m.group(0)
            sheet = m.group("sheet")
            if sheet and before == ":":
                raise _refuse(where, f"the formula uses a 3-D reference ({m.group(0)}); LeadQ cannot shift it — "
                                     "remove the rows by hand")
            name = _sheet_name(sheet) if sheet else own_sheet
            if name is None or name.casefold() != self.target:
                return m.group(0)
            return (sheet or "") + self._ref(m.group("ref"), where, height, anchor, own_sheet)
        return _REF_RE.sub(sub, seg)

    def _ref(self, ref: str, where: str, height: int, anchor, own_sheet=None) -> str:
        shown = ref if own_sheet is not None and own_sheet.casefold() == self.target else f"{self.name}!{ref}"
        parts = [p for p in _CELL_PARTS.finditer(ref)]
        rows = [int(p.group(4) or p.group(6)) for p in parts]
        absolute = [bool(p.group(3) if p.group(4) else p.group(5)) for p in parts]
        if anchor is not None and not all(absolute):
            old_top, new_top = anchor
            # relative to the range's top-left cell: they move with it (and stay valid as offsets)
            new_rows = [r + (new_top - old_top) if not a else None for r, a in zip(rows, absolute)]
            for i, a in enumerate(absolute):
                if a:
                    new_rows[i] = self._one(rows[i], where, shown)
        elif len(rows) == 2:
            if height and not self.shift.uniform(min(rows), max(rows) + height):
                raise _refuse(where, f"a shared formula copied over rows around the removed ones refers to {shown}; "
                                     "LeadQ cannot shift it safely")
            span = self.shift.span(rows[0], rows[1])
            if span is None:
                raise _refuse(where, f"a formula refers to {shown}, which only holds rows being removed "
                                     "(Excel would show #REF!); change the formula first")
            new_rows = list(span)
        else:
            if height and not self.shift.uniform(rows[0], rows[0] + height):
                raise _refuse(where, f"a shared formula copied over the removed rows refers to {shown}; "
                                     "LeadQ cannot shift it safely")
            new_rows = [self._one(rows[0], where, shown)]
        out, pos = [], 0
        for p, n in zip(parts, new_rows):
            digits = 4 if p.group(4) else 6
            out.append(ref[pos:p.start(digits)] + str(n))
            pos = p.end(digits)
        return "".join(out) + ref[pos:]

    def _one(self, r: int, where: str, ref: str) -> int:
        n = self.shift.row(r)
        if n is None:
            raise _refuse(where, f"a formula refers to {ref}, in a row being removed (Excel would show #REF!); "
                                 "change or clear that formula first")
        return n

    def ranges(self, sqref: str, where: str, drop_removed: bool = True) -> str:
        """A space-separated list of cell ranges, shifted; ranges wholly removed are dropped ('' if all are)."""
        out = []
        for part in sqref.split():
            r1, c1, r2, c2 = _range(part)
            span = self.shift.span(r1, r2)
            if span is None:
                if not drop_removed:
                    raise _refuse(where, f"{part} lies wholly in the removed rows")
                continue
            single = ":" not in part
            out.append(f"{col_letter(c1)}{span[0]}" if single else f"{col_letter(c1)}{span[0]}:{col_letter(c2)}{span[1]}")
        new = " ".join(out)
        self.changed |= new != sqref
        return new


def _range(ref: str) -> tuple[int, int, int, int]:
    ref = ref.replace("$", "")
    a, _, b = ref.partition(":")
    m1 = re.fullmatch(r"([A-Z]{1,3})(\d+)", a)
    m2 = re.fullmatch(r"([A-Z]{1,3})(\d+)", b) if b else m1
    if not m1 or not m2:
        raise ValueError(ref)
    return int(m1.group(2)), col_index(m1.group(1)), int(m2.group(2)), col_index(m2.group(1))


# ---------------------------------------------------------------------------- the plan and its result
@dataclass
class Removal:
    """What removing rows from the sheets did: rows per sheet, shared strings blanked, rels dropped."""

    rows: dict[str, int] = field(default_factory=dict)
    strings_blanked: int = 0
    formulas_changed: bool = False


def remove_rows(edit: PackageEdit, cuts: dict[str, list[int]]) -> Removal:
    """Remove the given Excel rows of each named sheet, shifting everything below; raise EraseRefused
    (before anything is saved) when that cannot be done safely."""
    result = Removal()
    removed_strings: list[int] = []
    for sheet, rows in cuts.items():
        if not rows:
            continue
        part = edit.pkg.sheet_part(sheet)
        if part is None:
            raise WorkbookError(f'no sheet "{sheet}"')
        shift = Shift(rows)
        rw = Rewriter(edit.pkg.real_sheet_name(sheet), shift)
        _check_objects(edit, part, sheet, shift)
        removed_strings += _cut_sheet(edit, part, sheet, rw)
        _shift_tables(edit, part, sheet, rw)
        _shift_elsewhere(edit, part, sheet, rw)
        result.rows[sheet] = len(shift.removed)
        result.formulas_changed |= rw.changed
    if removed_strings:
        result.strings_blanked = _blank_strings(edit, removed_strings)
    edit.drop_calc_chain()
    return result


def _check_objects(edit: PackageEdit, part: str, sheet: str, shift: Shift) -> None:
    """Refuse when the sheet holds objects anchored at or below the removed rows (drawings, notes, buttons)."""
    first0 = shift.first - 1                       # anchors count rows from 0
    for _, (typ, target) in edit.pkg.read_rels(part).items():
        if not typ.endswith(REL_DRAWING_TYPES) or not edit.exists(target):
            continue
        xml = edit.read(target)
        if typ.endswith("/pivotTable"):
            raise _refuse(f"{sheet}!", "the sheet holds a pivot table; LeadQ cannot move it — remove the rows by hand")
        if typ.endswith("/vmlDrawing"):
            anchors = [int(a.split(b",")[2]) for a in re.findall(rb"<x:Anchor>([^<]*)</x:Anchor>", xml)]
            anchors += [int(r) for r in re.findall(rb"<x:Row>(\d+)</x:Row>", xml)]
        elif typ.endswith("/drawing"):
            anchors = [int(r) for r in re.findall(rb"<xdr:from>.*?<xdr:row>(\d+)</xdr:row>", xml, re.S)]
            anchors += [int(r) for r in re.findall(rb"<xdr:to>.*?<xdr:row>(\d+)</xdr:row>", xml, re.S)]
        else:                                      # comments, threaded comments: by cell
            anchors = [int(r) - 1 for r in re.findall(rb'\bref="[A-Z]+(\d+)"', xml)]
        if any(a >= first0 for a in anchors):
            raise _refuse(f"{sheet}!", f"the sheet has a drawing, button or note at or below row {shift.first}; "
                                       "LeadQ cannot move it with the rows — move it above, or remove the rows by hand")
    for pc in [n for n in edit.pkg.names if n.startswith("xl/pivotCache/pivotCacheDefinition")]:
        source, through = pivot_source(edit, edit.read(pc))
        if source is not None and source.casefold() == sheet.casefold():
            raise _refuse(f"{sheet}!", f"a pivot table reads this sheet{through}; LeadQ cannot update its cache, which "
                                       "holds a copy of the rows — remove the rows by hand and refresh the pivot table")


def pivot_source(edit: PackageEdit, xml: bytes) -> tuple[str | None, str]:
    """The sheet a pivot cache reads, and how it names it: a sheet range (sheet="Leads"), or by name
    (name="tblLeads": a table, or a defined name over a range); (None, "") for other sources."""
    m = re.search(rb"<worksheetSource\b([^>]*)>", xml)
    if not m:
        return None, ""
    attrs = {k.decode(): html.unescape(v.decode("utf-8")) for k, v in re.findall(rb'\b([\w:]+)="([^"]*)"', m.group(1))}
    if attrs.get("sheet"):
        return attrs["sheet"], ""
    name = attrs.get("name")
    if not name:
        return None, ""
    for table, (table_sheet, _, root) in edit.pkg.tables().items():
        if name.casefold() in (table.casefold(), (root.get("name") or "").casefold()):
            return table_sheet, f' through its table "{name}"'
    target = edit.pkg.defined_name(name)
    ref = _REF_RE.match(target.lstrip("=")) if target else None
    if ref and ref.group("sheet"):
        return _sheet_name(ref.group("sheet")), f' through the name "{name}"'
    return None, ""


def _cut_sheet(edit: PackageEdit, part: str, sheet: str, rw: Rewriter) -> list[int]:
    """Drop the rows, renumber those below, rewrite formulas and ranges; return shared strings of dropped cells."""
    shift = rw.shift
    head, rows_xml, tail = split(edit.read(part))
    if b't="dataTable"' in rows_xml:
        raise _refuse(f"{sheet}!", "the sheet holds a what-if data table; LeadQ cannot move it")
    out: list[bytes] = []
    strings: list[int] = []
    start = 0
    for m in ROW_RE.finditer(rows_xml):
        num = ROW_NUM.search(m.group(1))
        if not num:
            raise WorkbookError(f"{sheet}: a row has no row number; open and save the workbook in Excel first")
        r = int(num.group(1))
        if r < shift.first:
            continue                               # copied as it is, below
        if start == 0:
            out.append(rows_xml[:m.start()])
            start = -1
        new = shift.row(r)
        inner = m.group(2) or b""
        if new is None:
            strings += [int(v) for v in _CELL_S.findall(inner)]
            if b"<f" in inner and b'ref="' in inner:
                _check_group_inside(inner, shift, sheet)
            continue
        out.append(_move_row(m.group(0), r, new, sheet, rw))
    if start == 0:                                 # nothing at or below the first removed row
        out.append(rows_xml)
    # formulas above the removed rows may point below them
    above = out[0] if out else b""
    if b"<f" in above:
        out[0] = _rewrite_cells(above, sheet, rw)
    rows_new = b"".join(out)
    head = _shift_dimension(head, shift)
    tail = _shift_tail(tail, sheet, rw, edit, part)
    edit.put(part, head.encode("utf-8") + rows_new + tail.encode("utf-8"))
    return strings


def _check_group_inside(inner: bytes, shift: Shift, sheet: str) -> None:
    """A shared or array formula whose master row goes must go whole."""
    for ref in re.findall(rb'<f\b[^>]*\bt="(?:shared|array)"[^>]*\bref="([^"]+)"', inner):
        r1, _, r2, _ = _range(ref.decode())
        inside = int(np.searchsorted(shift.removed, r2, side="right") - np.searchsorted(shift.removed, r1))
        if inside < r2 - r1 + 1:
            raise _refuse(f"{sheet}!{ref.decode()}", "a shared or array formula spans removed and kept rows; "
                                                     "LeadQ cannot split it — remove the rows by hand")


_CELL_AT = re.compile(rb'<c\b[^>]*?\br="([A-Z]+\d+)"')
_F_RE = re.compile(rb"<f\b([^>]*?)(?:/>|>(.*?)</f>)", re.S)


_ROW_R = re.compile(rb'(<row\b[^>]*?\br=")\d+(")')
_CELL_R = re.compile(rb'(<c\b[^>]*?\br="[A-Z]+)\d+(")')


def _move_row(row: bytes, old: int, new: int, sheet: str, rw: Rewriter) -> bytes:
    if new != old:
        num = b"%d" % new
        row = _ROW_R.sub(lambda m: m.group(1) + num + m.group(2), row, count=1)
        row = _CELL_R.sub(lambda m: m.group(1) + num + m.group(2), row)
    if b"<f" in row:
        row = _rewrite_cells(row, sheet, rw)
    return row


def _rewrite_cells(xml: bytes, sheet: str, rw: Rewriter) -> bytes:
    """Rewrite the formulas of cells on `sheet` (their own unqualified references are on it)."""
    def fix(m):
        attrs, text = m.group(1), m.group(2)
        cell = _CELL_AT.match(xml, max(xml.rfind(b"<c ", 0, m.start()), 0))
        where = f"{sheet}!{cell.group(1).decode()}" if cell else f"{sheet}!"
        height = 0
        ref = re.search(rb'\bref="([^"]+)"', attrs)
        kind = re.search(rb'\bt="(\w+)"', attrs)
        if ref:
            r1, c1, r2, c2 = _range(ref.group(1).decode())
            where = f"{sheet}!{ref.group(1).decode()}"
            if kind and kind.group(1) in (b"shared", b"array"):
                if not rw.shift.uniform(r1, r2) and rw.target == sheet.casefold():
                    raise _refuse(where, "a shared or array formula spans the removed rows; LeadQ cannot split it")
                height = r2 - r1 if kind.group(1) == b"shared" else 0
                if rw.target == sheet.casefold():
                    new = rw.ranges(ref.group(1).decode(), where, drop_removed=False)
                    attrs = attrs[:ref.start(1)] + new.encode() + attrs[ref.end(1):]
        if text is None:
            return m.group(0) if attrs == m.group(1) else b"<f%s/>" % attrs
        formula = html.unescape(text.decode("utf-8"))
        new_text = rw.formula(formula, sheet, where, height=height)
        return b"<f%s>%s</f>" % (attrs, xml_text(new_text).encode("utf-8"))
    return _F_RE.sub(fix, xml)


def _shift_dimension(head: str, shift: Shift) -> str:
    m = re.search(r'<dimension ref="([^"]+)"', head)
    if not m or ":" not in m.group(1):
        return head
    r1, c1, r2, c2 = _range(m.group(1))
    span = shift.span(r1, r2) or (r1, r1)
    return head[:m.start(1)] + f"{col_letter(c1)}{span[0]}:{col_letter(c2)}{max(span[1], span[0])}" + head[m.end(1):]


_BLOCKS = re.compile(r"<(conditionalFormatting|dataValidation|x14:conditionalFormatting|x14:dataValidation)\b.*?</\1>", re.S)
_EMPTY_ELEMENTS = re.compile(r"<(mergeCell|hyperlink|ignoredError|protectedRange)\b[^>]*/>")


def _shift_tail(tail: str, sheet: str, rw: Rewriter, edit: PackageEdit, part: str) -> str:
    """Everything after the cells: merges, conditional formats, validations, hyperlinks, breaks, extensions."""
    dropped_rids: list[str] = []

    def block(m):
        text = m.group(0)
        sq = re.search(r'\bsqref="([^"]*)"', text) or re.search(r"<xm:sqref>([^<]*)</xm:sqref>", text)
        if not sq:
            return text
        old = sq.group(1)
        old_top = min(_range(p)[0] for p in old.split())
        new = rw.ranges(old, f"{sheet}!{old}")
        if not new:
            return ""
        new_top = min(_range(p)[0] for p in new.split())
        text = text[:sq.start(1)] + new + text[sq.end(1):]

        def formula(fm):
            body = rw.formula(html.unescape(fm.group(2)), sheet, f"{sheet}!{old}", anchor=(old_top, new_top))
            return f"<{fm.group(1)}>{xml_text(body)}</{fm.group(1).split()[0]}>"
        return re.sub(r"<(formula|formula1|formula2|xm:f)>(.*?)</\1>", formula, text, flags=re.S)

    tail = _BLOCKS.sub(block, tail)

    def element(m):
        text = m.group(0)
        tag = m.group(1)
        attr = "sqref" if tag in ("ignoredError", "protectedRange") else "ref"
        am = re.search(rf'\b{attr}="([^"]*)"', text)
        if not am:
            return text
        try:
            new = rw.ranges(am.group(1), f"{sheet}!{am.group(1)}")
        except ValueError:
            return text
        if not new or (tag == "mergeCell" and ":" not in new) or (tag == "mergeCell" and _single(new)):
            rid = re.search(r'\br:id="([^"]+)"', text)
            if rid:
                dropped_rids.append(rid.group(1))
            return ""
        return text[:am.start(1)] + new + text[am.end(1):]

    tail = _EMPTY_ELEMENTS.sub(element, tail)

    def brk(m):                                    # a row page break sits after row `id`
        idm = re.search(r'\bid="(\d+)"', m.group(0))
        n = rw.shift.row(int(idm.group(1))) if idm else None
        return m.group(0) if not idm else "" if n is None else m.group(0)[:idm.start(1)] + str(n) + m.group(0)[idm.end(1):]
    tail = re.sub(r"<rowBreaks\b.*?</rowBreaks>", lambda m: re.sub(r"<brk\b[^>]*/>", brk, m.group(0)), tail, flags=re.S)
    tail = re.sub(r'(<autoFilter\b[^>]*\bref=")([^"]+)(")',
                  lambda m: m.group(1) + rw.ranges(m.group(2), f"{sheet}!{m.group(2)}", drop_removed=False) + m.group(3),
                  tail)
    for tag in ("mergeCells", "hyperlinks", "rowBreaks", "dataValidations", "x14:dataValidations",
                "ignoredErrors", "protectedRanges"):
        tail = _fix_container(tail, tag)
    if dropped_rids:
        _drop_rels(edit, part, dropped_rids)
    return tail


def _single(ref: str) -> bool:
    r1, c1, r2, c2 = _range(ref)
    return r1 == r2 and c1 == c2


def _fix_container(tail: str, tag: str) -> str:
    """Update a container's count, or drop it when its last child went."""
    m = re.search(rf"<{tag}\b([^>]*)>(.*?)</{tag}>", tail, re.S)
    if not m:
        return tail
    inner = m.group(2)
    child = {"mergeCells": "mergeCell", "hyperlinks": "hyperlink", "rowBreaks": "brk",
             "dataValidations": "dataValidation", "x14:dataValidations": "x14:dataValidation",
             "ignoredErrors": "ignoredError", "protectedRanges": "protectedRange"}[tag]
    n = len(re.findall(rf"<{child}\b", inner))
    if n == 0 and tag != "x14:dataValidations":
        return tail[:m.start()] + tail[m.end():]
    attrs = re.sub(r'\bcount="\d+"', f'count="{n}"', m.group(1))
    if tag == "rowBreaks":
        attrs = re.sub(r'\bmanualBreakCount="\d+"', f'manualBreakCount="{n}"', attrs)
    return tail[:m.start()] + f"<{tag}{attrs}>{inner}</{tag}>" + tail[m.end():]


def _drop_rels(edit: PackageEdit, part: str, rids: list[str]) -> None:
    """Remove relationships only the dropped elements used (a mailto: link holds an email address)."""
    path = rels_path(part)
    if not edit.exists(path):
        return
    root = parse_xml(edit.read(path))
    for rel in list(root):
        if rel.get("Id") in rids:
            root.remove(rel)
    edit.put(path, to_xml(root))


def _shift_tables(edit: PackageEdit, part: str, sheet: str, rw: Rewriter) -> None:
    for _, (typ, target) in edit.pkg.read_rels(part).items():
        if typ != REL_TABLE or not edit.exists(target):
            continue
        root = parse_xml(edit.read(target))
        r1, c1, r2, c2 = _range(root.get("ref"))
        header = int(root.get("headerRowCount", "1") or 1)
        if header and rw.shift.row(r1) is None:
            raise _refuse(f"{sheet}!{root.get('ref')}", f'the header row of table "{root.get("name")}" would be removed')
        span = rw.shift.span(r1, r2)
        n1, n2 = span if span else (r1, r1)
        n1 = rw.shift.row(r1) if rw.shift.row(r1) is not None else n1
        n2 = max(n2, n1 + header)              # a table keeps one (empty) data row
        root.set("ref", f"{col_letter(c1)}{n1}:{col_letter(c2)}{n2}")
        totals = int(root.get("totalsRowCount", "0") or 0)
        af = root.find("{*}autoFilter")
        if af is not None:
            af.set("ref", f"{col_letter(c1)}{n1}:{col_letter(c2)}{n2 - totals}")
        for tc in root.iterfind("{*}tableColumns/{*}tableColumn"):
            for el in tc:
                if el.tag.endswith("calculatedColumnFormula") and el.text:
                    el.text = rw.formula(el.text, sheet, f"{sheet}!{root.get('ref')}")
        edit.put(target, to_xml(root))


def _shift_elsewhere(edit: PackageEdit, part: str, sheet: str, rw: Rewriter) -> None:
    """References to the sheet from other sheets, defined names and charts."""
    needle = sheet.encode("utf-8")
    for other, other_part in edit.pkg.sheets.items():
        if other_part == part or not edit.exists(other_part):
            continue
        xml = edit.read(other_part)
        if needle not in xml and xml_text(sheet).encode("utf-8") not in xml:
            continue
        head, rows_xml, tail = split(xml)
        rows_new = _rewrite_cells(rows_xml, other, rw) if b"<f" in rows_xml else rows_xml

        def formula(fm, other=other):
            body = rw.formula(html.unescape(fm.group(2)), other, f"{other}!")
            return f"<{fm.group(1)}>{xml_text(body)}</{fm.group(1).split()[0]}>"
        tail_new = re.sub(r"<(formula|formula1|formula2|xm:f)>(.*?)</\1>", formula, tail, flags=re.S)
        if rows_new != rows_xml or tail_new != tail:
            edit.put(other_part, head.encode("utf-8") + rows_new + tail_new.encode("utf-8"))
    names = edit.workbook.find("m:definedNames", NS)
    if names is not None:
        for dn in names:
            if dn.text and "!" in dn.text:
                new = rw.formula(dn.text, None, f'defined name "{dn.get("name")}"')
                if new != dn.text:
                    dn.text = new
                    edit._wb_changed = True
    for chart in sorted(n for n in edit.pkg.names if n.startswith("xl/charts/chart") and n.endswith(".xml")):
        if not edit.exists(chart):
            continue
        xml = edit.read(chart)
        if needle not in xml and xml_text(sheet).encode("utf-8") not in xml:
            continue
        text = xml.decode("utf-8")
        new = re.sub(r"(<c:f>)(.*?)(</c:f>)",
                     lambda m: m.group(1) + xml_text(rw.formula(html.unescape(m.group(2)), None, f"chart {chart}")) + m.group(3),
                     text, flags=re.S)
        if new != text:
            edit.put(chart, new.encode("utf-8"))


def _blank_strings(edit: PackageEdit, removed: list[int]) -> int:
    """Blank the shared strings only removed cells used, so the person's text leaves the file."""
    sst_part = "xl/sharedStrings.xml"
    if not edit.exists(sst_part):
        return 0
    used: set[int] = set()
    for part in edit.pkg.sheets.values():
        if edit.exists(part):
            used.update(int(v) for v in _CELL_S.findall(edit.read(part)))
    gone = sorted(set(removed) - used)
    if not gone:
        return 0
    xml = edit.read(sst_part)
    items = list(re.finditer(rb"<si>.*?</si>|<si/>", xml, re.S))
    out, pos = [], 0
    for i in gone:
        if i >= len(items):
            continue
        m = items[i]
        out += [xml[pos:m.start()], b"<si><t></t></si>"]
        pos = m.end()
    out.append(xml[pos:])
    new = b"".join(out)
    new = re.sub(rb'(<sst\b[^>]*\bcount=")(\d+)(")',
                 lambda m: m.group(1) + str(max(int(m.group(2)) - len(removed), 0)).encode() + m.group(3), new, count=1)
    edit.put(sst_part, new)
    return len(gone)

