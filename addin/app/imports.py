"""`leadq import`: append (or replace) the rows of a workbook's tables from CRM exports, as one write."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..io.guard import workbook_lock
from ..io.importer import import_rows, prepare, read_export
from ..io.package import TEMP_PREFIX
from ..io.writer import check_not_open


def import_files(workbook, imports: dict, replace: bool = False) -> list[tuple[str, int, list[str], Path, list[str]]]:
    """Import several exports into one workbook as ONE write: every export is read (and refused)
    before the workbook is touched, the rows go into a copy beside it, and the copy replaces the
    workbook only when all are in: all files or none. Holds the workbook's lock (io.guard), so an
    import never interleaves with a refresh, a forget or another import.
    Returns, per export: (sheet, rows, columns skipped, path, notes)."""
    workbook = Path(workbook)
    frames = []
    for sheet, source in imports.items():
        path, name = source if isinstance(source, tuple) else (source, None)
        raw = read_export(path, name)
        notes = list(raw.attrs.get("leadq_import_notes", []))
        frames.append((sheet, prepare(raw, sheet, notes), Path(path), notes))
    with workbook_lock(workbook):
        check_not_open(workbook)
        real = Path(os.path.realpath(workbook))
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f"-{real.name}.tmp", dir=real.parent)
        os.close(fd)
        tmp = Path(tmp)
        done = []
        try:
            shutil.copyfile(real, tmp)
            for sheet, frame, path, notes in frames:
                n, skipped = import_rows(tmp, sheet, frame, replace=replace)
                done.append((sheet, n, skipped, path, notes))
            os.chmod(tmp, real.stat().st_mode & 0o777)
            os.replace(tmp, real)
        finally:
            tmp.unlink(missing_ok=True)
    return done
