"""The .xlsx/.xlsm package: a zip of XML parts. Read parts, replace a few, copy the rest raw.

Every entry LeadQ does not change is copied as its original compressed bytes, so VBA projects,
drawings, extensions and anything Excel adds that we do not understand survive untouched.
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
import struct
import tempfile
import zipfile
from pathlib import Path

from lxml import etree

from ..core.text import column_letter as col_letter  # noqa: F401  (re-exported for the io modules)
from ..errors import WorkbookError

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "pr": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
}
REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
REL_TABLE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
REL_DRAWING = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing"
REL_CHART = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart"
REL_CALC_CHAIN = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"

# XML from a workbook is untrusted: no entities, no network, no huge-tree tricks.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)
MAX_PART_BYTES = 512 * 1024 * 1024


def parse_xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, _PARSER)


def to_xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def col_index(letters: str) -> int:
    """'A' -> 0, 'AA' -> 26."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def parse_ref(ref: str) -> tuple[int, int]:
    """'B3' -> (row 3, column index 1)."""
    m = _REF.match(ref.strip())
    if not m:
        raise ValueError(ref)
    return int(m.group(2)), col_index(m.group(1))


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """'B3:D10' -> (first row, first col, last row, last col); a single cell works too."""
    a, _, b = ref.partition(":")
    r1, c1 = parse_ref(a)
    r2, c2 = parse_ref(b) if b else (r1, c1)
    return r1, c1, r2, c2


class Package:
    """A workbook opened for reading, with lazily read parts."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)
            names = set(self.zip.namelist())
        except (zipfile.BadZipFile, OSError) as e:
            raise WorkbookError(f"{self.path}: not an Excel workbook (.xlsx/.xlsm) — {e}") from None
        if "xl/workbook.xml" not in names:
            raise WorkbookError(f"{self.path}: not an Excel workbook: it has no xl/workbook.xml "
                                "(a .xls, .xlsb or .ods file? save it as .xlsm or .xlsx)")
        self.names = names
        self._cache: dict[str, bytes] = {}
        wb = self.read("xl/workbook.xml")
        if STRICT_NS.encode() in wb[:2000]:
            raise WorkbookError(f"{self.path}: saved as 'Strict Open XML', which LeadQ cannot write safely; "
                                "save it as a normal Excel workbook (.xlsm)")
        self.workbook = parse_xml(wb)
        self.rels = self.read_rels("xl/workbook.xml")
        self.sheets: dict[str, str] = {}      # sheet name -> part path
        for s in self.workbook.iterfind("m:sheets/m:sheet", NS):
            rid = s.get(f"{{{NS['r']}}}id")
            if rid in self.rels and self.rels[rid][0] == REL_WORKSHEET:
                self.sheets[s.get("name")] = self.rels[rid][1]

    def close(self) -> None:
        self.zip.close()

    def read(self, name: str) -> bytes:
        if name not in self._cache:
            info = self.zip.getinfo(name)
            if info.file_size > MAX_PART_BYTES:
                raise WorkbookError(f"{self.path}: part {name} is {info.file_size:,} bytes uncompressed; "
                                    "refusing to read it (a zip bomb?)")
            self._cache[name] = self.zip.read(name)
        return self._cache[name]

    def read_rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationships of a part: id -> (type, absolute target part)."""
        rels_name = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
        if rels_name not in self.names:
            return {}
        out = {}
        for rel in parse_xml(self.read(rels_name)).iterfind("pr:Relationship", NS):
            target = rel.get("Target")
            if rel.get("TargetMode") == "External":
                continue
            absolute = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join(posixpath.dirname(part), target))
            out[rel.get("Id")] = (rel.get("Type"), absolute)
        return out

    def sheet_part(self, sheet: str) -> str | None:
        for name, part in self.sheets.items():
            if name.casefold() == sheet.casefold():
                return part
        return None

    def real_sheet_name(self, sheet: str) -> str | None:
        return next((n for n in self.sheets if n.casefold() == sheet.casefold()), None)

    def tables(self) -> dict[str, tuple[str, str, etree._Element]]:
        """Every Excel table: name -> (sheet name, table part, parsed XML)."""
        out = {}
        for sheet, part in self.sheets.items():
            for _, (typ, target) in self.read_rels(part).items():
                if typ == REL_TABLE and target in self.names:
                    root = parse_xml(self.read(target))
                    out[root.get("displayName") or root.get("name")] = (sheet, target, root)
        return out


def rels_path(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def relative_target(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part))


def _copy_raw(src: zipfile.ZipFile, dst: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Copy one entry's compressed bytes as they are (no decompression, no recompression)."""
    src.fp.seek(info.header_offset)
    header = src.fp.read(30)
    if header[:4] != b"PK\x03\x04":
        raise WorkbookError(f"damaged zip entry {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    src.fp.seek(info.header_offset + 30 + name_len + extra_len)
    raw = src.fp.read(info.compress_size)
    new = copy.copy(info)
    new.flag_bits &= ~0x08          # sizes go in the local header: no data descriptor needed
    new.extra = b""
    new.header_offset = dst.fp.tell()
    dst.fp.write(new.FileHeader())
    dst.fp.write(raw)
    dst.filelist.append(new)
    dst.NameToInfo[new.filename] = new
    dst.start_dir = dst.fp.tell()      # where ZipFile writes its next entry and the central directory
    dst._didModify = True


def save(package: Package, target: Path, replaced: dict[str, bytes], added_order: list[str] | None = None,
         removed: set[str] | frozenset = frozenset()) -> None:
    """Write a new package: replaced/added parts compressed anew, all others copied raw.

    Written to a temporary file beside the target, flushed to disk, then moved over it, so a
    crash never leaves a half-written workbook.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as out:
            order = [i.filename for i in package.zip.infolist()]
            for name in order + [n for n in (added_order or sorted(replaced)) if n not in package.names]:
                if name in removed:
                    continue
                if name in replaced:
                    data = replaced[name]
                    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    zi.compress_type = zipfile.ZIP_DEFLATED
                    zi.external_attr = 0o600 << 16
                    if callable(data):      # a large part produced chunk by chunk: never whole in memory
                        zi._compresslevel = 1
                        with out.open(zi, "w", force_zip64=True) as w:
                            for chunk in data():
                                w.write(chunk)
                    else:
                        out.writestr(zi, data, compresslevel=1 if len(data) > 8_000_000 else 6)
                else:
                    _copy_raw(package.zip, out, package.zip.getinfo(name))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(s: str) -> str:
    """Escape text for an XML text node, dropping characters XML 1.0 cannot hold."""
    s = _ILLEGAL_XML.sub("", s)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(s: str) -> str:
    """Escape text for a double-quoted XML attribute value."""
    return xml_text(str(s)).replace('"', "&quot;")
