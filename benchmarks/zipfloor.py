"""The physical floor of any writer of a refreshed workbook (a baseline of bench.py, not LeadQ's code).

`python zipfloor.py SOURCE REFRESHED OUT`: the parts of REFRESHED that differ from SOURCE are read
into memory first (not timed: "sheet XML prepared in advance"); then, timed, a new zip is written
the way a safe writer must: parts that did not change copied as they are (no recompression), the
new ones deflated at level 1 by ISA-L (the fastest deflate LeadQ has; zlib's level 1 without it), the file flushed
to disk and renamed into place.
The sheets a refresh writes (Leads, Score details, Summary, Settings) count as new even when their
bytes came out the same. Prints the seconds of the timed part and the MB of new XML.
"""

import os
import re
import struct
import sys
import time
import zipfile
import zlib

try:
    from isal import isal_zlib as zfast
except ImportError:
    zfast = zlib


def copy_entry(src: zipfile.ZipFile, dst: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """One entry's compressed bytes, copied without inflating them."""
    src.fp.seek(info.header_offset)
    local = src.fp.read(30)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    src.fp.seek(info.header_offset + 30 + name_len + extra_len)
    data = src.fp.read(info.compress_size)
    info.flag_bits &= ~0x08
    info.extra = b""
    append(dst, info, data)


def append(dst: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes) -> None:
    """Write an entry whose compressed bytes are ready."""
    info.header_offset = dst.fp.tell()
    dst.fp.write(info.FileHeader())
    dst.fp.write(data)
    dst.filelist.append(info)
    dst.NameToInfo[info.filename] = info
    dst.start_dir = dst.fp.tell()


WRITTEN = ("Leads", "Score details", "Summary", "Settings")      # sheets a refresh writes, changed or not


def written_parts(z: zipfile.ZipFile) -> set[str]:
    wb = z.read("xl/workbook.xml").decode()
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    target = {m[0]: m[1] for m in re.findall(r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)}
    target.update({m[1]: m[0] for m in re.findall(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)})
    out = set()
    for name, rid in re.findall(r'<sheet\b[^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', wb):
        if name in WRITTEN and rid in target:
            out.add("xl/" + target[rid].lstrip("/").removeprefix("xl/"))
    return out


def main(source: str, refreshed: str, out: str) -> None:
    with zipfile.ZipFile(source) as s, zipfile.ZipFile(refreshed) as r:
        before = {i.filename: (i.CRC, i.file_size) for i in s.infolist()}
        written = written_parts(r)
        changed = {i.filename: r.read(i.filename) for i in r.infolist()
                   if before.get(i.filename) != (i.CRC, i.file_size) or i.filename in written}
        order = [i.filename for i in r.infolist()]
    tmp = out + ".tmp"
    t = time.perf_counter()
    with zipfile.ZipFile(source) as s, zipfile.ZipFile(tmp, "w") as w:
        for name in order:
            if name in changed:
                data = changed[name]
                c = zfast.compressobj(1, zfast.DEFLATED, -15)
                raw = c.compress(data) + c.flush()
                info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
                info.compress_type, info.CRC, info.file_size, info.compress_size = zipfile.ZIP_DEFLATED, zfast.crc32(data), len(data), len(raw)
                append(w, info, raw)
            else:
                copy_entry(s, w, s.getinfo(name))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(f"{time.perf_counter() - t:.3f} {sum(map(len, changed.values())) / 1e6:.1f}")


if __name__ == "__main__":
    if sys.platform.startswith("linux"):        # as `leadq` runs (addin.cli.no_huge_pages)
        import ctypes
        ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)
    main(*sys.argv[1:4])
