"""Add the few cell styles LeadQ needs to a workbook's styles.xml, reusing identical ones.

Existing style indexes never move, so every cell the user formatted keeps its look; running
twice adds nothing the second time.
"""

from __future__ import annotations

from lxml import etree

from .package import NS, parse_xml, to_xml

M = NS["m"]
_ORDER = ["numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs", "tableStyles",
          "colors", "extLst"]


def _argb(color: str) -> str:
    return "FF" + color.lstrip("#").upper()


def _el(tag: str, **attrs) -> etree._Element:
    e = etree.Element(f"{{{M}}}{tag}", nsmap={None: M})
    for k, v in attrs.items():
        e.set(k, str(v))
    return e


def _sub(parent, tag: str, **attrs) -> etree._Element:
    e = etree.SubElement(parent, f"{{{M}}}{tag}")
    for k, v in attrs.items():
        e.set(k, str(v))
    return e


def _canon(el) -> tuple:
    """A comparable form of an element: name, sorted attributes, text, children (namespaces aside)."""
    return (etree.QName(el).localname, tuple(sorted(el.attrib.items())), (el.text or "").strip(),
            tuple(_canon(c) for c in el if isinstance(c.tag, str)))


class StyleBook:
    """styles.xml with find-or-add helpers for fonts, fills, number formats, cell and diff formats."""

    def __init__(self, xml: bytes | None):
        self.root = parse_xml(xml) if xml else parse_xml(
            b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            b'<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
            b'<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            b'<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            b'<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>')
        self.changed = False
        self._known: dict[str, dict[tuple, int]] = {}     # per section: each element's _canon -> its first index
        self._xfs: dict[tuple, int] = {}                 # xf()'s arguments -> the index it returned
        base = self._section("fonts")[0] if len(self._section("fonts")) else None
        self.font_size = base.find(f"{{{M}}}sz").get("val") if base is not None and base.find(f"{{{M}}}sz") is not None else "11"
        self.font_name = base.find(f"{{{M}}}name").get("val") if base is not None and base.find(f"{{{M}}}name") is not None else "Calibri"

    def _section(self, name: str) -> etree._Element:
        sec = self.root.find(f"{{{M}}}{name}")
        if sec is None:
            sec = etree.Element(f"{{{M}}}{name}")
            later = _ORDER[_ORDER.index(name) + 1:]
            anchor = next((self.root.find(f"{{{M}}}{t}") for t in later if self.root.find(f"{{{M}}}{t}") is not None), None)
            if anchor is not None:
                anchor.addprevious(sec)
            else:
                self.root.append(sec)
        return sec

    def _find_or_add(self, section: str, element: etree._Element) -> int:
        sec = self._section(section)
        want = _canon(element)
        known = self._known.get(section)
        if known is None:            # the section as the file has it, compared once (LeadQ only appends to it)
            known = self._known[section] = {}
            for i, child in enumerate(sec):
                known.setdefault(_canon(child), i)
        if want in known:
            return known[want]
        sec.append(element)
        sec.set("count", str(len(sec)))
        self.changed = True
        known[want] = len(sec) - 1
        return len(sec) - 1

    def num_fmt(self, code: str | None) -> int:
        builtin = {None: 0, "General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10,
                   "yyyy-mm-dd": None}
        if code in builtin and builtin[code] is not None:
            return builtin[code]
        sec = self._section("numFmts")
        for nf in sec:
            if nf.get("formatCode") == code:
                return int(nf.get("numFmtId"))
        new_id = max([163] + [int(nf.get("numFmtId")) for nf in sec]) + 1
        _sub(sec, "numFmt", numFmtId=new_id, formatCode=code)
        sec.set("count", str(len(sec)))
        self.changed = True
        return new_id

    def font(self, bold=False, italic=False, color=None, size=None, underline=False) -> int:
        f = _el("font")
        if bold:
            _sub(f, "b")
        if italic:
            _sub(f, "i")
        if underline:
            _sub(f, "u")
        _sub(f, "sz", val=size or self.font_size)
        if color:
            _sub(f, "color", rgb=_argb(color))
        _sub(f, "name", val=self.font_name)
        _sub(f, "family", val=2)
        return self._find_or_add("fonts", f)

    def fill(self, color: str | None) -> int:
        if not color:
            return 0
        f = _el("fill")
        p = _sub(f, "patternFill", patternType="solid")
        _sub(p, "fgColor", rgb=_argb(color))
        _sub(p, "bgColor", indexed=64)
        return self._find_or_add("fills", f)

    def border(self, bottom: str | None = None) -> int:
        b = _el("border")
        for side in ("left", "right", "top", "bottom", "diagonal"):
            s = _sub(b, side)
            if side == "bottom" and bottom:
                s.set("style", "thin")
                _sub(s, "color", rgb=_argb(bottom))
        return self._find_or_add("borders", b)

    def xf(self, num_fmt: str | None = None, bold=False, italic=False, color=None, fill=None, size=None,
           wrap=False, halign=None, valign=None, underline=False, border_bottom=None, indent=0) -> int:
        """Index of a cell format (the `s` attribute of a cell)."""
        args = (num_fmt, bold, italic, color, fill, size, wrap, halign, valign, underline, border_bottom, indent)
        if args not in self._xfs:
            self._xfs[args] = self._xf(*args)
        return self._xfs[args]

    def _xf(self, num_fmt, bold, italic, color, fill, size, wrap, halign, valign, underline, border_bottom,
            indent) -> int:
        x = _el("xf", numFmtId=self.num_fmt(num_fmt), fontId=self.font(bold, italic, color, size, underline),
                fillId=self.fill(fill), borderId=self.border(border_bottom), xfId=0)
        for flag, on in (("applyNumberFormat", num_fmt), ("applyFont", True), ("applyFill", fill),
                         ("applyBorder", border_bottom), ("applyAlignment", wrap or halign or valign or indent)):
            if on:
                x.set(flag, "1")
        if wrap or halign or valign or indent:
            a = _sub(x, "alignment")
            if halign:
                a.set("horizontal", halign)
            if valign:
                a.set("vertical", valign)
            if wrap:
                a.set("wrapText", "1")
            if indent:
                a.set("indent", str(indent))
        return self._find_or_add("cellXfs", x)

    def dxf(self, fill: str | None = None, font: str | None = None, bold=False) -> int:
        """Index of a differential format, as conditional formatting rules use."""
        d = _el("dxf")
        if font or bold:
            f = _sub(d, "font")
            if bold:
                _sub(f, "b")
            if font:
                _sub(f, "color", rgb=_argb(font))
        if fill:
            fl = _sub(d, "fill")
            p = _sub(fl, "patternFill", patternType="solid")
            _sub(p, "fgColor", rgb=_argb(fill))
            _sub(p, "bgColor", rgb=_argb(fill))
        return self._find_or_add("dxfs", d)

    def to_bytes(self) -> bytes:
        return to_xml(self.root)
