"""Changes to a workbook package, collected and then saved in one atomic write."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from lxml import etree

from ..errors import WorkbookError
from .package import (
    CT_WORKSHEET,
    NS,
    REL_CALC_CHAIN,
    REL_WORKSHEET,
    Package,
    deflate_later,
    relative_target,
    rels_path,
    save,
    to_xml,
)

M, R, PR, CT = NS["m"], NS["r"], NS["pr"], NS["ct"]
_WB_ORDER = ["fileVersion", "fileSharing", "workbookPr", "workbookProtection", "bookViews", "sheets", "functionGroups",
             "externalReferences", "definedNames", "calcPr", "oleSize", "customWorkbookViews", "pivotCaches",
             "smartTagPr", "smartTagTypes", "webPublishing", "fileRecoveryPr", "webPublishObjects", "extLst"]


class PackageEdit:
    """Replaced parts, added parts and removed parts of one package."""

    def __init__(self, package: Package):
        self.pkg = package
        self.replaced: dict[str, bytes] = {}
        self.added: list[str] = []
        self.removed: set[str] = set()
        self.deflated: dict = {}          # part -> (its bytes, the future of their deflate)
        self.workbook = package.workbook
        self._rels = package.xml(rels_path("xl/workbook.xml"))
        self._types = package.xml("[Content_Types].xml")
        self._wb_changed = self._rels_changed = self._types_changed = False

    def read(self, part: str, whole: bool = False) -> bytes:
        """A part as this edit has it; whole: a big part inflated into one buffer (Package.read_whole)."""
        if part in self.replaced:
            return self.replaced[part]
        return self.pkg.read_whole(part) if whole else self.pkg.read(part)

    def exists(self, part: str) -> bool:
        return (part in self.pkg.names or part in self.replaced) and part not in self.removed

    def put(self, part: str, data, content_type: str | None = None) -> None:
        """Replace or add a part: bytes, or a package.Deflated for a part made chunk by chunk."""
        if not self.exists(part) and part not in self.added:
            self.added.append(part)
        self.removed.discard(part)
        self.replaced[part] = data
        if isinstance(data, bytes) and len(data) > 1_000_000:      # a big sheet: deflated while LeadQ goes on
            self.deflated[part] = (data, deflate_later(data))
        if content_type:
            self._override(part, content_type)

    def remove(self, part: str) -> None:
        self.removed.add(part)
        self.replaced.pop(part, None)
        for o in self._types.iterfind("ct:Override", NS):
            if o.get("PartName") == "/" + part:
                self._types.remove(o)
                self._types_changed = True

    def _override(self, part: str, content_type: str) -> None:
        for o in self._types.iterfind("ct:Override", NS):
            if o.get("PartName") == "/" + part:
                if o.get("ContentType") != content_type:
                    o.set("ContentType", content_type)
                    self._types_changed = True
                return
        etree.SubElement(self._types, f"{{{CT}}}Override", PartName="/" + part, ContentType=content_type)
        self._types_changed = True

    def ensure_default(self, extension: str, content_type: str) -> None:
        for d in self._types.iterfind("ct:Default", NS):
            if d.get("Extension", "").lower() == extension:
                return
        el = etree.Element(f"{{{CT}}}Default", Extension=extension, ContentType=content_type)
        self._types.insert(0, el)
        self._types_changed = True

    # ------------------------------------------------------------------ workbook-level edits
    def _wb_child(self, tag: str) -> etree._Element:
        el = self.workbook.find(f"m:{tag}", NS)
        if el is None:
            el = etree.Element(f"{{{M}}}{tag}")
            later = _WB_ORDER[_WB_ORDER.index(tag) + 1:]
            anchor = next((self.workbook.find(f"m:{t}", NS) for t in later if self.workbook.find(f"m:{t}", NS) is not None), None)
            if anchor is not None:
                anchor.addprevious(el)
            else:
                self.workbook.append(el)
        return el

    def defined_name(self, name: str, value: str | None, local_sheet: int | None = None, hidden: bool = True) -> None:
        """Set (or with value None, delete) a defined name."""
        names = self._wb_child("definedNames")
        for dn in list(names):
            if dn.get("name") == name and (dn.get("localSheetId") == (None if local_sheet is None else str(local_sheet))):
                if value is not None and dn.text == value:
                    return
                names.remove(dn)
        if value is not None:
            dn = etree.SubElement(names, f"{{{M}}}definedName", name=name)
            if local_sheet is not None:
                dn.set("localSheetId", str(local_sheet))
            if hidden:
                dn.set("hidden", "1")
            dn.text = value
            items = sorted(names, key=lambda d: (d.get("name").lower(), d.get("localSheetId") or ""))
            for d in list(names):
                names.remove(d)
            names.extend(items)
        if not len(names):
            self.workbook.remove(names)
        self._wb_changed = True

    def get_defined_name(self, name: str) -> str | None:
        return self.pkg.defined_name(name)        # the package's workbook element is the one edited

    def sheet_index(self, sheet: str) -> int:
        names = [s.get("name") for s in self.workbook.iterfind("m:sheets/m:sheet", NS)]
        return names.index(sheet)

    def ensure_sheet(self, name: str) -> str:
        """The part of a sheet, adding an empty sheet at the end when the workbook has none of that name."""
        existing = self.pkg.real_sheet_name(name)
        if existing is not None:
            if existing != name:
                raise WorkbookError(f'the sheet "{existing}" should be named "{name}"')
            return self.pkg.sheets[existing]
        n = 1
        while self.exists(f"xl/worksheets/sheet{n}.xml") or f"xl/worksheets/sheet{n}.xml" in self.added:
            n += 1
        part = f"xl/worksheets/sheet{n}.xml"
        ids = [int(x) for x in re.findall(r"\d+", " ".join(r.get("Id") for r in self._rels))] or [0]
        rid = f"rId{max(ids) + 1}"
        etree.SubElement(self._rels, f"{{{PR}}}Relationship", Id=rid, Type=REL_WORKSHEET,
                         Target=relative_target("xl/workbook.xml", part))
        sheets = self._wb_child("sheets")
        sheet_id = max([0] + [int(s.get("sheetId")) for s in sheets]) + 1
        etree.SubElement(sheets, f"{{{M}}}sheet", name=name, sheetId=str(sheet_id)).set(f"{{{R}}}id", rid)
        self.pkg.sheets[name] = part
        self._wb_changed = self._rels_changed = True
        self.put(part, b"", CT_WORKSHEET)
        return part

    def drop_calc_chain(self) -> None:
        """Excel rebuilds the calculation chain; a stale one makes it 'repair' the file."""
        for rel in list(self._rels):
            if rel.get("Type") == REL_CALC_CHAIN:
                part = posixpath.normpath(posixpath.join("xl", rel.get("Target")))
                self._rels.remove(rel)
                self._rels_changed = True
                self.remove(part)

    def set_part_rels(self, part: str, rels: list[tuple[str, str, str]]) -> None:
        """Replace a part's relationships with (id, type, target part) triples (none: remove)."""
        path = rels_path(part)
        if not rels:
            if self.exists(path):
                self.remove(path)
            return
        root = etree.Element(f"{{{PR}}}Relationships", nsmap={None: PR})
        for rid, typ, target in rels:
            etree.SubElement(root, f"{{{PR}}}Relationship", Id=rid, Type=typ, Target=relative_target(part, target))
        self.put(path, to_xml(root), None)
        self.ensure_default("rels", "application/vnd.openxmlformats-package.relationships+xml")

    def save(self, target: Path, expect: tuple | None = None, before_replace=None) -> list[str]:
        if self._wb_changed:
            self.replaced["xl/workbook.xml"] = to_xml(self.workbook)
        if self._rels_changed:
            self.replaced[rels_path("xl/workbook.xml")] = to_xml(self._rels)
        if self._types_changed:
            self.replaced["[Content_Types].xml"] = to_xml(self._types)
        return save(self.pkg, target, self.replaced, self.added, self.removed, expect=expect, deflated=self.deflated,
                    before_replace=before_replace)
