"""Guards around writing: one writer at a time per workbook, and output paths that cannot clobber an input.

`workbook_lock(path)`: an OS lock (fcntl.flock) on a lock file beside the workbook, taken by every
command that rewrites it (refresh, import, forget). A second command waits for the first (up to
$LEADQ_LOCK_TIMEOUT seconds, default 120) and then reads the workbook the first one wrote, so two
at once never lose a row or a log line. The OS drops the lock when its process dies, so a lock
file left by a killed run is stale by construction: the next run takes it (its pid is only shown in
the message while a live process holds it).

`check_output(path, ...)`: an output named on the command line (--write, --output, export's file)
is refused when it is the workbook, one of the command's inputs, or of another kind than what is
written (a macro workbook is never written under .xlsx, JSON never over a workbook).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import WorkbookError

LOCK_SUFFIX = ".leadq-lock"
ENV_TIMEOUT = "LEADQ_LOCK_TIMEOUT"
_HELD: set[Path] = set()           # locks this process holds (forget's inner refresh takes the same lock again)


def lock_path(workbook: Path) -> Path:
    real = Path(os.path.realpath(workbook))
    return real.with_name(f".~{real.name}{LOCK_SUFFIX}")


def _holder(path: Path) -> str:
    try:
        text = path.read_text("utf-8").strip()
    except OSError:
        return ""
    return f" (process {text})" if text else ""


@contextmanager
def workbook_lock(workbook, timeout: float | None = None):
    """Hold the workbook's lock for the block; waits for another LeadQ writing it, refuses after `timeout`."""
    try:
        import fcntl
    except ImportError:                      # Windows: Excel's own file lock is what guards the workbook
        yield
        return
    path = lock_path(Path(workbook))
    if path in _HELD:
        yield
        return
    if timeout is None:
        try:
            timeout = float(os.environ.get(ENV_TIMEOUT, "120"))
        except ValueError:
            timeout = 120.0
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as e:
            raise WorkbookError(f"{path}: cannot create LeadQ's lock file beside the workbook ({e.strerror}); "
                                "make the folder writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise WorkbookError(f"{Path(workbook).name} is being changed by another LeadQ command{_holder(path)}; "
                                    f"wait for it to finish and run this again (waited {timeout:g} s; "
                                    f"${ENV_TIMEOUT} sets how long)") from None
            time.sleep(0.05)
            continue
        # The holder before us may have removed the file after we opened it: lock the file that is there.
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        break
    _HELD.add(path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        _HELD.discard(path)
        try:
            path.unlink(missing_ok=True)          # while still holding it: the next waiter re-checks the inode
        finally:
            os.close(fd)


def check_output(target, *, inputs=(), suffixes: tuple[str, ...], what: str, flag: str) -> Path:
    """Refuse an output path that is an input (the workbook, rules, activity log) or of another kind."""
    target = Path(target)
    if target.is_dir():
        raise WorkbookError(f"{flag} {target}: that is a folder; give a file name ending in {suffixes[0]}")
    if target.suffix.lower() not in suffixes:
        raise WorkbookError(f"{flag} {target}: {what} must end in {' or '.join(suffixes)} "
                            f"(a file of another kind would not open); e.g. {flag} {target.with_suffix(suffixes[0]).name}")
    real = Path(os.path.realpath(target))
    for p in inputs:
        if p is not None and _same_file(Path(os.path.realpath(p)), real):
            raise WorkbookError(f"{flag} {target}: that is one of this command's inputs ({p}); LeadQ never writes over "
                                f"it: choose another name")
    return target


def _same_file(a: Path, b: Path) -> bool:
    """The same path once links are resolved, or the same file under two names (a hard link)."""
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:                  # one of them does not exist yet: not the same file
        return False
