"""Where a person is still named in a workbook as free text: cells, notes (comments) and the file's
document properties. `leadq forget` lists these places in its report; it never edits them (a note or
a title is the user's own writing, and only the user can tell whether it is about that person).

A needle is one of the person's identifiers: their Lead ID (a whole word, case-insensitive), their
e-mail and their full name (case-insensitive, anywhere in the text). Each part is first searched as
bytes (cheap, also in its XML-escaped form), and only a part that may hold a needle is read cell by cell.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass

from .package import Package, parse_xml

_CELL = re.compile(rb'<c\b([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_R = re.compile(rb'\br="([A-Z]+\d+)"')
_T = re.compile(rb'\bt="(\w+)"')
_V = re.compile(rb"<v>([^<]*)</v>")
_TEXT = re.compile(rb"<t\b[^>]*>([^<]*)</t>")
_TAG = re.compile(r"<[^>]+>")
PROPERTIES = ("docProps/core.xml", "docProps/app.xml", "docProps/custom.xml")


@dataclass(frozen=True)
class Needle:
    what: str                    # "Lead ID", "e-mail", "name": how the report names it (never the value)
    pattern: re.Pattern          # on text
    raw: re.Pattern              # on a part's bytes: the value or its XML-escaped form


def needles(ids, emails, names) -> list[Needle]:
    out = []
    for what, values, whole in (("Lead ID", ids, True), ("e-mail", emails, False), ("name", names, False)):
        values = sorted({str(v).strip() for v in values if str(v).strip()}, key=len, reverse=True)
        if not values:
            continue
        alternation = "|".join(re.escape(v) for v in values)
        text = rf"(?<![\w]){'(?:' + alternation + ')'}(?![\w])" if whole else alternation
        raw = b"|".join(_escaped(v) for v in values)
        out.append(Needle(what, re.compile(text, re.I), re.compile(raw, re.I)))
    return out


_ENTITY = {"&": b"amp", "<": b"lt", ">": b"gt", '"': b"quot", "'": b"apos"}


def _escaped(value: str) -> bytes:
    """A bytes pattern for `value` as XML may store it: each special or non-ASCII character as itself
    (UTF-8), a named entity, or a numeric character reference (&#233; / &#xE9;)."""
    out = []
    for ch in value:
        if ch.isascii() and ch not in _ENTITY:
            out.append(re.escape(ch.encode("ascii")))
            continue
        forms = [re.escape(ch.encode("utf-8")), b"&#0*%d;" % ord(ch), b"&#x0*%x;" % ord(ch)]
        if ch in _ENTITY:
            forms.append(b"&" + _ENTITY[ch] + b";")
        out.append(b"(?:" + b"|".join(forms) + b")")
    return b"".join(out)


@dataclass(frozen=True)
class Mention:
    where: str                   # "Notes!B3", "a note on Notes!C2", "docProps/core.xml (title)"
    what: str                    # which identifier: Lead ID, e-mail or name


def _hits(text: str, found: list[Needle]) -> list[str]:
    return [n.what for n in found if n.pattern.search(text)]


def _maybe(data: bytes, all_needles: list[Needle]) -> list[Needle]:
    return [n for n in all_needles if n.raw.search(data)]


def find(pkg: Package, ids, emails, names, skip_sheets=(), only_sheets=None, properties: bool = True) -> list[Mention]:
    """Every cell, note and document property of the package naming the person, in sheet order.
    `skip_sheets`: sheets not searched (their rows are being removed); `only_sheets`: search these
    sheets only; `properties`: search the document properties too."""
    all_needles = needles(ids, emails, names)
    if not all_needles:
        return []
    skip = {s.casefold() for s in skip_sheets}
    only = None if only_sheets is None else {s.casefold() for s in only_sheets}
    sst_hit: dict[int, list[str]] | None = None
    out: list[Mention] = []
    for sheet, part in pkg.sheets.items():
        if sheet.casefold() in skip or (only is not None and sheet.casefold() not in only) or part not in pkg.names:
            continue
        xml = pkg.read(part)
        if sst_hit is None:
            sst_hit = _sst_hits(pkg, all_needles)
        cells: dict[bytes, list[str]] = {}
        if sst_hit:       # the cells showing a shared string that names the person (found by the regex engine)
            alternation = b"|".join(b"%d" % i for i in sorted(sst_hit))
            for m in re.finditer(rb"<c\b([^>]*?)>\s*<v>(" + alternation + rb")</v>", xml):
                kind = _T.search(m.group(1))
                if kind and kind.group(1) == b"s":
                    cells[_R.search(m.group(1)).group(1)] = sst_hit[int(m.group(2))]
        for raw in (m.start() for n in _maybe(xml, all_needles) for m in n.raw.finditer(xml)):
            at = xml.rfind(b"<c ", 0, raw)           # the cell around a match in inline text or a formula's value
            m = _CELL.match(xml, at) if at >= 0 else None
            if not m or m.end() < raw:
                continue
            kind = _T.search(m.group(1))
            kind = kind.group(1) if kind else b"n"
            inner = m.group(2) or b""
            body = b"".join(_TEXT.findall(inner)) if kind == b"inlineStr" else (_V.search(inner) or [b"", b""])[1]
            what = _hits(html.unescape(body.decode("utf-8", "replace")), all_needles) if body and kind != b"s" else []
            if what:
                held = cells.setdefault(_R.search(m.group(1)).group(1), [])
                held += [w for w in what if w not in held]
        out += [Mention(f"{sheet}!{ref.decode()}", w) for ref, what in cells.items() for w in what]
        for _, (typ, target) in pkg.read_rels(part).items():
            if not (typ.endswith("/comments") or typ.endswith("/threadedComment")) or target not in pkg.names:
                continue
            data = pkg.read(target)
            found = _maybe(data, all_needles)
            if not found:
                continue
            for c in re.finditer(rb'<(?:\w+:)?(?:comment|threadedComment)\b[^>]*\bref="([A-Z]+\d+)"[^>]*>(.*?)'
                                 rb"</(?:\w+:)?(?:comment|threadedComment)>", data, re.S):
                text = html.unescape(_TAG.sub("", c.group(2).decode("utf-8", "replace")))
                out += [Mention(f"a note on {sheet}!{c.group(1).decode()}", w) for w in _hits(text, found)]
    for prop in PROPERTIES if properties else ():
        if prop not in pkg.names:
            continue
        data = pkg.read(prop)
        found = _maybe(data, all_needles)
        if not found:
            continue
        for el in parse_xml(data, prop).iter():
            if not isinstance(el.tag, str) or not el.text:
                continue
            parent = el.getparent()
            label = parent.get("name") if parent is not None and parent.get("name") else el.tag.rpartition("}")[2]
            out += [Mention(f"{posixpath.basename(prop)} ({label})", w) for w in _hits(el.text, found)]
    return out


def _sst_hits(pkg: Package, all_needles: list[Needle]) -> dict[int, list[str]]:
    """Shared strings naming the person: index -> which identifiers."""
    if "xl/sharedStrings.xml" not in pkg.names:
        return {}
    raw = _maybe(pkg.read("xl/sharedStrings.xml"), all_needles)
    if not raw:
        return {}
    root = pkg.xml("xl/sharedStrings.xml")
    out = {}
    for i, si in enumerate(root.iterfind("{*}si")):
        what = _hits("".join(t.text or "" for t in si.iter("{*}t")), raw)
        if what:
            out[i] = what
    return out
