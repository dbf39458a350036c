"""The .xlsx/.xlsm package: a zip of XML parts. Read parts, replace a few, copy the rest raw.

Every entry LeadQ does not change is copied as its original compressed bytes, so VBA projects,
drawings, extensions and anything Excel adds that we do not understand survive untouched.
"""

from __future__ import annotations

import copy
import errno
import os
import posixpath
import re
import struct
import sys
import tempfile
import threading
import zipfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from lxml import etree

from ..core.values.text import column_letter as col_letter  # noqa: F401  (re-exported for the io modules)
from ..errors import WorkbookError

# ISA-L (python-isal): zlib's formats and API; on sheet XML about 4x zlib's level-1 deflate speed (output no larger),
# twice its inflate speed, 3x its CRC-32 (README: Dependencies). xlwings Lite (Pyodide) has no ISA-L build: zlib there.
try:
    from isal import isal_zlib as zfast
except ImportError:
    zfast = zlib

ZLIB_ERRORS = (zlib.error, zfast.error)


def _compressor(level: int, zdict: bytes = b""):
    """A raw-deflate compressor at zlib's `level` (1: fast, for big sheets; 6: small parts); ISA-L's levels are 0-3."""
    if zfast is not zlib:
        level = 1 if level <= 1 else 2
    return zfast.compressobj(level, zfast.DEFLATED, -15, zdict=zdict) if zdict else zfast.compressobj(level, zfast.DEFLATED, -15)

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


_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.I)


def parse_xml(data: bytes, where: str = "an XML part") -> etree._Element:
    """Parse untrusted XML; a DOCTYPE (entity tricks: billion laughs, XXE) or broken XML is a WorkbookError."""
    if _DOCTYPE.search(data[:4096]):
        raise WorkbookError(f"{where} declares a DOCTYPE or XML entities, which Office files never contain "
                            "(a crafted file?); LeadQ refuses it — re-save the workbook in Excel")
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        raise WorkbookError(f"{where} is not well-formed XML ({str(e)[:200]}); open the file in Excel, "
                            "let it repair the workbook and save it") from None


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


NOT_A_WORKBOOK = "save it in Excel as an .xlsm (or .xlsx) workbook and run LeadQ on that"


def sniff(path: Path) -> str | None:
    """Why a file that is not an Office Open XML zip cannot be read, in the user's terms; None if it is a zip."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return None
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":       # OLE2 compound file
        with open(path, "rb") as f:
            blob = f.read(4_000_000)
        if "EncryptedPackage".encode("utf-16-le") in blob:
            return "is password-protected (encrypted); remove the password in Excel (File → Info → Protect Workbook) first"
        return f"is an old-format Excel file (.xls, Excel 97–2003); {NOT_A_WORKBOOK}"
    if not head:
        return "is empty (0 bytes)"
    text = head.lstrip(b"\xef\xbb\xbf")
    if text[:1] in (b"<",):
        return f"is an XML or HTML file, not an Excel workbook; {NOT_A_WORKBOOK}"
    if b"\x00" not in text:
        return f"is a text file (CSV?), not an Excel workbook; open it in Excel and {NOT_A_WORKBOOK}"
    return f"is not an Excel workbook (not a zip package); {NOT_A_WORKBOOK}"


def _damaged(path: Path, name: str, e: Exception) -> WorkbookError:
    return WorkbookError(f"{path.name}: the part {name} of the workbook is damaged ({e}); "
                         "open the file in Excel, let it repair the workbook, save it, then run LeadQ again")


class Package:
    """A workbook opened for reading, with lazily read parts."""

    def __init__(self, path: Path):
        self.path = Path(path)
        why = sniff(self.path)
        if why:
            raise WorkbookError(f"{self.path.name} {why}")
        try:
            self.zip = zipfile.ZipFile(self.path)
            names = set(self.zip.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise WorkbookError(f"{self.path.name}: the file is damaged or truncated (not a readable zip: {e}); "
                                "open it in Excel to repair it, or use a backup") from None
        if "xl/workbook.xml" not in names:
            if "mimetype" in names and b"opendocument" in self._raw("mimetype"):
                raise WorkbookError(f"{self.path.name} is an OpenDocument spreadsheet (.ods); {NOT_A_WORKBOOK}")
            if "xl/workbook.bin" in names:
                raise WorkbookError(f"{self.path.name} is a binary Excel workbook (.xlsb); {NOT_A_WORKBOOK}")
            raise WorkbookError(f"{self.path.name}: not an Excel workbook: it has no xl/workbook.xml; {NOT_A_WORKBOOK}")
        self.names = names
        self._cache: dict[str, bytes] = {}
        self._copies: dict[str, tuple[bytes, Future]] = {}    # part -> (its raw zip entry, the check of it), see check_early
        wb = self.read("xl/workbook.xml")
        if STRICT_NS.encode() in wb[:2000]:
            raise WorkbookError(f"{self.path.name}: saved as 'Strict Open XML', which LeadQ cannot write safely; "
                                "save it as a normal Excel workbook (.xlsm)")
        self.workbook = self.xml("xl/workbook.xml")
        if self.workbook.tag != f"{{{NS['m']}}}workbook":
            raise WorkbookError(f"{self.path.name}: xl/workbook.xml is not a SpreadsheetML workbook part; {NOT_A_WORKBOOK}")
        self.rels = self.read_rels("xl/workbook.xml")
        self.sheets: dict[str, str] = {}      # sheet name -> part path
        for s in self.workbook.iterfind("m:sheets/m:sheet", NS):
            rid = s.get(f"{{{NS['r']}}}id")
            if rid in self.rels and self.rels[rid][0] == REL_WORKSHEET and s.get("name"):
                self.sheets[s.get("name")] = self.rels[rid][1]

    def _raw(self, name: str) -> bytes:
        try:
            return self.zip.read(name)[:200]
        except Exception:    # only used to name the file type
            return b""

    def close(self) -> None:
        self._copies.clear()
        self.zip.close()

    def read(self, name: str) -> bytes:
        if name not in self._cache:
            try:
                info = self.zip.getinfo(name)
            except KeyError:
                raise WorkbookError(f"{self.path.name}: the workbook refers to a part {name} that is missing; "
                                    "open the file in Excel, let it repair the workbook and save it") from None
            if info.file_size > MAX_PART_BYTES:
                raise WorkbookError(f"{self.path.name}: part {name} is {info.file_size:,} bytes uncompressed; "
                                    "refusing to read it (a zip bomb?)")
            try:
                data = self.zip.read(name)
            except (zipfile.BadZipFile, *ZLIB_ERRORS, EOFError, OSError, NotImplementedError, RuntimeError) as e:
                raise _damaged(self.path, name, e) from None
            if len(data) > MAX_PART_BYTES:
                raise WorkbookError(f"{self.path.name}: part {name} is larger than its zip entry says (a zip bomb?)")
            if len(data) > 16_000_000:
                return data          # a big sheet is read once; holding it would double the memory of its edit
            self._cache[name] = data
        return self._cache[name]

    def read_whole(self, name: str):
        """A big part's bytes (a bytearray) inflated straight into one buffer of its recorded size, its CRC-32
        checked: read() holds a big part about twice while it inflates it. Parts not simply deflated: read()."""
        info = self.zip.getinfo(name) if name in self.names else None
        if info is None or info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1 or name in self._cache:
            return self.read(name)
        if info.file_size > MAX_PART_BYTES:
            return self.read(name)            # raises the zip-bomb sentence
        try:
            raw = memoryview(_raw_entry(self.zip, info))
            out = bytearray(info.file_size)
            view, pos, crc = memoryview(out), 0, 0
            d = zfast.decompressobj(-15)
            step = 1 << 16                     # 64 KB of input inflates to 64 MB at most: a bomb is caught early
            for at in range(0, len(raw), step):
                chunk = d.decompress(raw[at:at + step])
                if pos + len(chunk) > info.file_size:
                    raise zipfile.BadZipFile("the part is larger than its zip entry says")
                view[pos:pos + len(chunk)] = chunk
                crc, pos = zfast.crc32(chunk, crc), pos + len(chunk)
                if d.eof:
                    break
            if len(raw) != info.compress_size or not d.eof or pos != info.file_size or crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {name!r}")
            del view
        except (zipfile.BadZipFile, *ZLIB_ERRORS, EOFError, OSError, WorkbookError) as e:
            raise _damaged(self.path, name, e) from None
        return out

    def check_early(self, names) -> None:
        """Read the raw zip entries of parts a save will most likely copy as they are (an input sheet
        LeadQ never writes, such as a big activity log) and check their CRC-32 in a worker thread now,
        while LeadQ computes what it writes, rather than when the save reaches them. The save
        writes exactly the bytes checked; a part that ends up replaced is simply not used."""
        for name in names:
            if name in self.names and name not in self._copies:
                info = self.zip.getinfo(name)
                checked = _take_checked(self.path, info)
                if checked is not None:         # checked while the file was read (check_while_reading)
                    done: Future = Future()
                    done.set_result(checked[1])
                    self._copies[name] = (checked[0], done)
                    continue
                raw = _raw_entry(self.zip, info)
                self._copies[name] = (raw, background().submit(_intact, raw, info))

    def read_start(self, name: str, enough, chunk: int = 256 * 1024, limit: int = 4_000_000) -> bytes:
        """The start of a part, decompressed chunk by chunk until `enough(data)` is true, `limit`
        bytes are read, or the part ends: a big sheet's first rows without inflating it whole."""
        if name in self._cache:
            return self._cache[name]
        if name not in self.names:
            self.read(name)          # raises the "part is missing" sentence
        buf = b""
        try:
            with self.zip.open(self.zip.getinfo(name)) as f:
                while len(buf) < limit:
                    more = f.read(chunk)
                    if not more:
                        break
                    buf += more
                    if enough(buf):
                        break
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
            raise _damaged(self.path, name, e) from None
        return buf

    def xml(self, name: str) -> etree._Element:
        """A part parsed safely; damaged or hostile XML is a WorkbookError naming the part."""
        return parse_xml(self.read(name), f"{self.path.name}: {name}")

    def read_rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationships of a part: id -> (type, absolute target part)."""
        rels_name = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
        if rels_name not in self.names:
            return {}
        out = {}
        for rel in self.xml(rels_name).iterfind("pr:Relationship", NS):
            target = rel.get("Target")
            if rel.get("TargetMode") == "External" or not target or not rel.get("Id"):
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

    def defined_name(self, name: str) -> str | None:
        """What a workbook-level defined name refers to, or None."""
        for dn in self.workbook.iterfind("m:definedNames/m:definedName", NS):
            if dn.get("name") == name and dn.get("localSheetId") is None:
                return dn.text
        return None

    def tables(self) -> dict[str, tuple[str, str, etree._Element]]:
        """Every Excel table: name -> (sheet name, table part, parsed XML)."""
        out = {}
        for sheet, part in self.sheets.items():
            for _, (typ, target) in self.read_rels(part).items():
                if typ == REL_TABLE and target in self.names:
                    root = self.xml(target)
                    if root.get("ref") is None or root.find("{*}tableColumns") is None:
                        raise WorkbookError(f"{self.path.name}: the table part {target} on sheet {sheet} has no range "
                                            "or no columns; open the file in Excel, let it repair the table, and save it")
                    out[root.get("displayName") or root.get("name")] = (sheet, target, root)
        return out


def fingerprint(path: Path) -> tuple:
    """What identifies this version of a file: size, modification time and every part's CRC-32 and size
    (from the zip's central directory: cheap, and it changes whenever any part's content does)."""
    st = os.stat(path)
    try:
        with zipfile.ZipFile(path) as z:
            parts = tuple((i.filename, i.CRC, i.file_size, i.compress_size) for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        parts = ()
    return st.st_size, st.st_mtime_ns, parts


def rels_path(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def relative_target(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part))


def _raw_entry(src: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One entry's compressed bytes as stored (short when the file is cut)."""
    src.fp.seek(info.header_offset)
    header = src.fp.read(30)
    if header[:4] != b"PK\x03\x04":
        raise WorkbookError(f"the zip entry {info.filename} is damaged (no local header); open the file in Excel, "
                            "let it repair the workbook and save it")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    src.fp.seek(info.header_offset + 30 + name_len + extra_len)
    return src.fp.read(info.compress_size)


def _append_raw(dst: zipfile.ZipFile, info: zipfile.ZipInfo, raw: bytes) -> None:
    """Write an entry whose compressed bytes are ready (copied, or deflated in the background)."""
    info.flag_bits &= ~0x08          # sizes go in the local header: no data descriptor needed
    info.extra = b""
    info.header_offset = dst.fp.tell()
    dst.fp.write(info.FileHeader())
    dst.fp.write(raw)
    dst.filelist.append(info)
    dst.NameToInfo[info.filename] = info
    dst.start_dir = dst.fp.tell()      # where ZipFile writes its next entry and the central directory
    dst._didModify = True


def _intact(raw: bytes, info: zipfile.ZipInfo) -> bool:
    """False when an entry was already damaged in the source (its content does not match its CRC-32)."""
    if len(raw) != info.compress_size:
        return False
    return _crc_ok(raw, info) if info.compress_type in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED) else True


_CHECKED: dict[str, Future] = {}        # realpath -> Future of {(file version, entry): (its raw entry, intact)}
_CHECKED_LOCK = threading.Lock()


def file_version(path) -> tuple:
    """What tells this version of the file from another: a workbook is replaced by a new file (a new inode)
    or rewritten in place (a new modification time)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _checked_key(path: Path, info: zipfile.ZipInfo) -> tuple:
    return (*file_version(path), info.filename, info.header_offset, info.compress_size, info.CRC)


def check_while_reading(path: Path, names) -> None:
    """Begin reading the raw zip entries of input parts a refresh of this file will copy as they are, and checking
    their CRC-32, in a thread of the lowest priority (Linux): it takes a core only when one is idle, as while the
    activity log's parse begun ahead is awaited, so the check leaves the busy writing phase. Package.check_early
    takes each result if the file is the very same version (same inode, size, modification time and entry)."""
    future: Future = Future()
    real = os.path.realpath(path)
    with _CHECKED_LOCK:
        _CHECKED.clear()                 # only the file being refreshed: no bytes held for an older one
        _CHECKED[real] = future

    def run() -> None:
        if sys.platform.startswith("linux"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)     # this thread only (Linux)
            except OSError:
                pass
        found = {}
        try:
            with zipfile.ZipFile(path) as z:
                for name in names:
                    info = z.getinfo(name)
                    raw = _raw_entry(z, info)
                    found[_checked_key(path, info)] = (raw, _intact(raw, info))
        except Exception:
            pass                           # anything wrong is met again by the save
        future.set_result(found)
    threading.Thread(target=run, name="leadq-check", daemon=True).start()


def _take_checked(path: Path, info: zipfile.ZipInfo) -> tuple[bytes, bool] | None:
    with _CHECKED_LOCK:
        future = _CHECKED.get(os.path.realpath(path))
    if future is None or not future.done():      # not yet (a busy machine starves that thread): checked as usual
        return None
    try:
        return future.result().pop(_checked_key(path, info), None)
    except OSError:
        return None


_POOL: ThreadPoolExecutor | None = None


def background() -> ThreadPoolExecutor:
    """Two worker threads for work that runs outside Python's lock (zlib, file I/O): a save deflates
    LeadQ's parts and checks the copied ones while the main thread goes on."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="leadq-zip")
    return _POOL


def return_free_memory() -> None:
    """Give the memory freed so far back to the system: glibc's malloc keeps freed blocks of its heap
    for reuse (after the reading and scoring of a big workbook, hundreds of MB), Arrow's pool too.
    What the process holds at its peak is then what it uses. A no-op where there is no glibc."""
    global _TRIM
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except Exception:
        pass
    if _TRIM is None:
        try:
            import ctypes
            _TRIM = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None


def compress_level(size: int) -> int:
    return 1 if size > 8_000_000 else 6        # a big sheet: fast deflate (a few % larger, several times faster)


def deflate(data: bytes) -> tuple[bytes, int]:
    """Raw deflate (what a zip entry holds) and the CRC-32 of `data`."""
    if len(data) > BLOCK:
        return deflate_stream((data,), compress_level(len(data)))[:2]
    c = _compressor(compress_level(len(data)))
    return c.compress(data) + c.flush(), zfast.crc32(data)


def deflate_later(data: bytes) -> Future:
    return background().submit(deflate, data)


BLOCK = 4 << 20           # bytes of a big part one thread deflates at a time (deflate_stream)
WINDOW = 32 * 1024        # how far back deflate refers: a block is primed with the end of the one before
AHEAD = 4                 # blocks deflating or waiting at a time: what a big part holds beside its deflated bytes

_DEFLATERS: ThreadPoolExecutor | None = None
_DEFLATERS_MADE = threading.Lock()


def deflaters() -> ThreadPoolExecutor:
    """One thread per core deflating the blocks of big parts side by side (zlib runs outside Python's lock).
    Made once, under a lock: the first callers are the background() workers, two at a time."""
    global _DEFLATERS
    with _DEFLATERS_MADE:
        if _DEFLATERS is None:
            _DEFLATERS = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2), thread_name_prefix="leadq-deflate")
    return _DEFLATERS


def _deflate_block(pieces: list, window: bytes, level: int, last: bool) -> bytes:
    c = _compressor(level, window)
    out = [c.compress(piece) for piece in pieces]
    out.append(c.flush(zfast.Z_FINISH if last else zfast.Z_SYNC_FLUSH))
    return b"".join(out)


def deflate_stream(chunks, level: int = 1) -> tuple[bytes, int, int]:
    """Raw deflate of the chunks end to end, their CRC-32 and size, as pigz makes it: blocks of about BLOCK
    bytes deflated side by side (deflaters()), each ended on a byte boundary (a sync flush) and primed with
    the last 32 KB before it, so the blocks joined are one deflate stream. Chunks: bytes-like."""
    pending, out = deque(), []
    crc = size = 0
    block, held, window = [], 0, b""

    def send(last: bool) -> None:
        nonlocal block, held, window
        pending.append(deflaters().submit(_deflate_block, block, window, level, last))
        tail = b""
        for piece in reversed(block):
            tail = bytes(piece[-(WINDOW - len(tail)):]) + tail
            if len(tail) >= WINDOW:
                break
        window, block, held = (window + tail)[-WINDOW:], [], 0
        while pending and (last or len(pending) > AHEAD):
            out.append(pending.popleft().result())

    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        crc, size = zfast.crc32(view, crc), size + len(view)
        for at in range(0, len(view), BLOCK):
            block.append(view[at:at + BLOCK])
            held += len(block[-1])
            if held >= BLOCK:
                send(False)
    send(True)
    return b"".join(out), crc, size


class Deflated:
    """A part made and deflated chunk by chunk by a worker thread (never whole in memory, only its
    deflated bytes); the save writes it when its turn in the zip comes."""

    def __init__(self, produce):
        self.future = background().submit(lambda: deflate_stream(produce()))


def _crc_ok(raw: bytes, info: zipfile.ZipInfo) -> bool:
    """Whether an entry's bytes decompress to its recorded size and CRC-32, in bounded memory (a zip
    bomb among the parts LeadQ copies is checked chunk by chunk, never held whole)."""
    if info.compress_type == zipfile.ZIP_STORED:
        return zfast.crc32(raw) == info.CRC and len(raw) == info.file_size
    d = zfast.decompressobj(-15)
    crc, size, data = 0, 0, raw
    try:
        while data or not d.eof:
            out = d.decompress(data, 1 << 20)
            data = d.unconsumed_tail
            crc, size = zfast.crc32(out, crc), size + len(out)
            if size > info.file_size or (not out and not data):
                break
    except ZLIB_ERRORS:
        return False
    return crc == info.CRC and size == info.file_size


TEMP_PREFIX = ".~leadq-"


def temp_name_pid(name: str) -> int | None:
    """The process id in a LeadQ temporary file's name (.~leadq-PID-…), None for other names."""
    m = re.match(re.escape(TEMP_PREFIX) + r"(\d+)-", name)
    return int(m.group(1)) if m else None


def remove_stale_temporaries(folder: Path, target_name: str) -> list[Path]:
    """Delete temporaries left beside `target_name` by a LeadQ run that was killed (its process is gone)."""
    removed = []
    try:
        entries = list(Path(folder).glob(f"{TEMP_PREFIX}*-{target_name}.tmp"))
    except OSError:
        return removed
    for p in entries:
        pid = temp_name_pid(p.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue                      # that refresh is still running
        except ProcessLookupError:
            pass
        except (PermissionError, OSError):
            continue                      # alive under another user, or cannot tell: leave it
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def write_error(target: Path, e: OSError) -> WorkbookError:
    """An OS error while saving, as a sentence; the original is never touched by then."""
    folder = target.parent
    if e.errno == errno.ENOSPC:
        why = f"the disk is full (no space left in {folder})"
    elif e.errno == errno.EDQUOT:
        why = f"the disk quota is exceeded in {folder}"
    elif e.errno == errno.EROFS:
        why = f"{folder} is on a read-only file system"
    elif e.errno in (errno.EACCES, errno.EPERM):
        why = f"permission denied: LeadQ cannot create files in {folder}"
    elif e.errno == errno.ENOENT and not folder.exists():
        why = f"the folder {folder} does not exist"
    else:
        why = e.strerror or str(e)
    return WorkbookError(f"{target.name}: could not be written — {why}; the workbook was not changed")


def check_writable(target: Path) -> None:
    """A read-only file (or its folder) is the user's decision: never replace it."""
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not mode & 0o222:
        raise WorkbookError(f"{target.name} is read-only: LeadQ does not replace it; make it writable "
                            "(Properties → uncheck Read-only, or chmod u+w) or write elsewhere with --output")
    if not target.parent.is_dir():
        raise WorkbookError(f"{target.name}: the folder {target.parent} does not exist; create it first")


def save(package: Package, target: Path, replaced: dict[str, bytes], added_order: list[str] | None = None,
         removed: set[str] | frozenset = frozenset(), expect: tuple | None = None,
         deflated: dict[str, tuple[bytes, Future]] | None = None, before_replace=None) -> list[str]:
    """Write a new package: replaced/added parts compressed anew, all others copied raw.

    Written to a temporary file beside the target (the real file when the target is a symbolic
    link), flushed to disk, then moved over it, so a crash never leaves a half-written workbook.
    `expect` is the source's fingerprint when it was read: if another program saved the file since,
    nothing is replaced. `before_replace()` is called last before the move (a file written with the workbook:
    if it raises, nothing is replaced). Returns the parts that were already damaged in the source.
    """
    target = Path(os.path.realpath(target))
    check_writable(target)
    remove_stale_temporaries(target.parent, target.name)
    damaged: list[str] = []
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f"-{target.name}.tmp", dir=target.parent)
    except OSError as e:
        raise write_error(target, e) from None
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as out:
            order = [i.filename for i in package.zip.infolist()]
            names = [n for n in order + [n for n in (added_order or sorted(replaced)) if n not in package.names]
                     if n not in removed]
            # Every replaced part is deflated by the worker threads (those deflated since they were made are ready).
            ready = {n: (deflated[n][1] if deflated and n in deflated and deflated[n][0] is replaced[n]
                         else deflate_later(replaced[n]))
                     for n in names if isinstance(replaced.get(n), bytes)}
            checks = []
            for name in names:
                if name in replaced:
                    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    zi.compress_type = zipfile.ZIP_DEFLATED
                    zi.external_attr = 0o600 << 16
                    if isinstance(replaced[name], Deflated):
                        raw, zi.CRC, zi.file_size = replaced[name].future.result()
                        zi.compress_size = len(raw)
                        _append_raw(out, zi, raw)
                        continue
                    raw, zi.CRC = ready.pop(name).result()
                    zi.file_size, zi.compress_size = len(replaced[name]), len(raw)
                    if max(zi.file_size, zi.compress_size) >= zipfile.ZIP64_LIMIT:
                        out.writestr(zi, replaced[name], compresslevel=1)
                    else:
                        _append_raw(out, zi, raw)
                else:
                    info = package.zip.getinfo(name)
                    early = package._copies.pop(name, None)
                    raw = early[0] if early else _raw_entry(package.zip, info)
                    _append_raw(out, copy.copy(info), raw)
                    checks.append((name, early[1] if early else background().submit(_intact, raw, info)))
            damaged = [name for name, check in checks if not check.result()]
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        if expect is not None and fingerprint(package.path) != expect:
            raise WorkbookError(f"{package.path.name} was changed by another program while LeadQ was refreshing it "
                                "(a sync client, Excel's AutoSave, a colleague?); LeadQ did not write its results "
                                "over the new version — run the refresh again")
        if before_replace is not None:
            before_replace()
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(target, e) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return damaged


def xml_attr(s: str) -> str:
    """Escape text for a double-quoted XML attribute value."""
    return xml_text(str(s)).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(s: str) -> str:
    """Escape text for an XML text node, dropping characters XML 1.0 cannot hold."""
    s = _ILLEGAL_XML.sub("", s)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


