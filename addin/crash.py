"""The last line of defence at each entry point (CLI, Refresh button, worksheet functions).

An error LeadQ did not foresee must still reach the user as one sentence, never as a Python
traceback; the traceback goes to a log file they can attach to a report. Writes are atomic, so
by the time such an error surfaces the workbook has not been touched.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import traceback
from pathlib import Path


def log_folder() -> Path:
    """$LEADQ_LOG_DIR, else ~/.leadq/logs, else the system's temporary folder."""
    env = os.environ.get("LEADQ_LOG_DIR")
    if env:
        return Path(env)
    try:
        return Path.home() / ".leadq" / "logs"
    except RuntimeError:      # no home directory
        return Path(tempfile.gettempdir()) / "leadq-logs"


def write_log(exc: BaseException, context: str) -> Path | None:
    """Write the traceback and the context to a new log file; None if even that fails."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (f"LeadQ crash report {dt.datetime.now().isoformat(timespec='seconds')}\n{context}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for folder in (log_folder(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"leadq-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def crash_message(exc: BaseException, what: str, context: str = "") -> str:
    """One sentence for an unexpected error, after logging its traceback."""
    log = write_log(exc, context or what)
    detail = f"{type(exc).__name__}: {str(exc)[:120]}" if str(exc) else type(exc).__name__
    where = f"; details in {log}" if log else ""
    return f"LeadQ failed on {what} ({detail}) — please report this with the file{where}. Your workbook was not changed."
