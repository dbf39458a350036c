import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-22"


@pytest.fixture
def base_rules() -> dict:
    """A small rule set with no decay, so expected points are easy to compute by hand."""
    return {
        "name": "test", "version": "1",
        "fit": [
            {"id": "decision-maker", "field": "Job title", "op": "contains_any", "value": ["CEO", "Directeur"], "points": 15},
            {"id": "free-email", "field": "Email", "op": "email_domain_in", "value": ["gmail.com"], "points": -10},
        ],
        "activities": {
            "newsletter_signup": {"points": 5, "max_count": 1, "label": "Newsletter signup"},
            "whitepaper_download": {"points": 15, "max_count": 3},
            "webinar": {"points": 20},
            "newsletter_open": {"points": 5},
            "simulator": {"points": 15},
            "page_visit": {"points": 1, "max_points": 3},
            "unsubscribe": {"points": -20},
        },
        "pages": [{"id": "pricing", "match": "*/pricing*", "points": 10, "tags": ["Pricing"]}],
        "decay": None,
        "thresholds": {"mql": 25},
        "disqualify": [{"id": "student", "field": "Job title", "op": "contains_any", "value": ["Étudiant"], "reason": "Not a buyer"}],
    }


def refreshed_demo(folder: Path, name: str = "demo.xlsm") -> Path:
    """The sample workbook from the template, refreshed once as of AS_OF (rules.json beside it): what a
    real user has. Each test module builds its own, in its own folder, and tests work on copies."""
    from addin.app.new import new_workbook
    from addin.app.refresh import refresh
    path = Path(folder) / name
    new_workbook(path, sample=True, as_of=AS_OF)
    refresh(path, as_of=AS_OF)
    return path


def leads_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def acts_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Lead ID", "Date", "Activity", "Detail"])


@pytest.fixture
def soffice():
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        pytest.skip("LibreOffice (soffice) is not installed")
    return exe


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _every_problem_code_is_registered(monkeypatch):
    """Every Problem built during any test carries a code of the catalogue (addin/problems.py)."""
    from addin import errors
    from addin.problems import CATALOGUE
    original = errors.Problem.__init__

    def checked(self, code, *args, **kwargs):
        assert code in CATALOGUE, f"problem code {code!r} is not registered in addin/problems.py"
        original(self, code, *args, **kwargs)
    monkeypatch.setattr(errors.Problem, "__init__", checked)


# The Excel-load checker: beside the clone in ../shared (as in CI), or where an environment variable says.
OOXCHECK = Path(os.environ.get("LEADQ_OOXCHECK") or os.environ.get("OOXCHECK") or next(
    (p for p in (ROOT.parent / "shared/tools/ooxcheck/ooxcheck.py", Path("/work/shared/tools/ooxcheck/ooxcheck.py")) if p.exists()),
    ROOT.parent / "shared/tools/ooxcheck/ooxcheck.py"))


def _errors(path: Path) -> tuple[int, set[str]]:
    run = subprocess.run([sys.executable, str(OOXCHECK), "--brief", str(path)], capture_output=True, text=True)
    lines = (run.stdout + run.stderr).splitlines()
    return run.returncode, {x.strip() for x in lines if x.strip().startswith(("ERROR", "INVALID")) or "Traceback" in x}


def ooxcheck(path: Path, baseline: Path | None = None) -> None:
    """Fail unless the Excel-load gate passes the file; with `baseline`, unless it finds no error
    the baseline file does not have (for files saved by openpyxl, which the gate faults on its own).
    Skipped where the checker is not installed."""
    if not OOXCHECK.exists():
        return
    code, errors = _errors(path)
    if baseline is None:
        assert code == 0, "\n".join(sorted(errors))
    else:
        assert errors <= _errors(baseline)[1], "\n".join(sorted(errors - _errors(baseline)[1]))


# ---------------------------------------------------------------------------- the Excel-load gate
# Every workbook the suite writes (template, new, demo, refreshed, macro path, adversarial
# successes) is checked with ooxcheck (ISO/IEC 29500 schemas + the rules Excel enforces on load),
# in a few batched runs at the end of the session. It sits beside the clone in ../shared; locally
# without it the gate is skipped (LEADQ_OOXCHECK may point at it elsewhere).
_GATED: dict[str, tuple[Path, str, Path | None]] = {}   # content hash -> (copy, who wrote it, copy of its input)
_GATE_DIR: list[Path] = []
GATE_STATS = {"checked": 0, "failed": 0}


def gate(path, origin: str = "", source: Path | None = None) -> None:
    """Queue a workbook for the end-of-session ooxcheck run (a copy: tests go on changing files).
    `source`: a copy of the workbook LeadQ read, so that defects already in the input (a file
    saved by openpyxl, say) are not counted against what LeadQ wrote."""
    path = Path(path)
    if not _GATE_DIR or not path.is_file():
        return
    data = path.read_bytes()
    digest = hashlib.sha1(data).hexdigest()
    if digest not in _GATED:
        copy = _GATE_DIR[0] / f"{len(_GATED):04d}-{path.stem[:40]}{path.suffix}"
        copy.write_bytes(data)
        _GATED[digest] = (copy, origin or os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], source)


def ungate(path, reason: str) -> None:
    """Take a written workbook off the gate: only for inputs damaged on purpose, whose damage LeadQ
    rightly copies as it was (the reason is kept for the session's report)."""
    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    if digest in _GATED:
        _GATED.pop(digest)[0].unlink(missing_ok=True)
    GATE_STATS.setdefault("exempt", []).append(f"{Path(path).name}: {reason}")


def _gated(fn):
    def wrapper(package, target, *args, **kwargs):
        source = None
        if _GATE_DIR:
            source = _GATE_DIR[0] / "inputs" / f"{len(_GATED):04d}-{Path(package.path).name}"
            source.parent.mkdir(exist_ok=True)
            shutil.copy(package.path, source)
        result = fn(package, target, *args, **kwargs)
        gate(os.path.realpath(target), source=source)
        return result
    return wrapper


def _ooxcheck(files: list[str]) -> dict[str, list[str]]:
    """ooxcheck --brief on files (in batches): each file's ERROR and INVALID lines (with their details)."""
    found: dict[str, list[str]] = {f: [] for f in files}
    for i in range(0, len(files), 60):
        batch = files[i:i + 60]
        r = subprocess.run([sys.executable, str(OOXCHECK), "--brief", *batch], capture_output=True, text=True)
        current = None
        for line in (r.stdout + r.stderr).splitlines():
            if line.startswith("=== "):
                current = line[4:].strip()
            elif current in found and (re.match(r"\s+(ERROR|INVALID)\b", line) or re.match(r"\s+line \d+:", line)
                                       or line.startswith("Traceback")):
                found[current].append(line.strip())
        if r.returncode != 0 and not any(found[f] for f in batch):
            found[batch[0]].append(f"ooxcheck exited {r.returncode}: {(r.stdout + r.stderr)[-500:]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def ooxcheck_gate(tmp_path_factory):
    import addin.io.edit as edit
    import addin.io.template as template
    _GATE_DIR.append(tmp_path_factory.mktemp("gate"))
    saved = edit.save, template.build_workbook
    edit.save = _gated(edit.save)

    def build(out, *a, **k):
        result = saved[1](out, *a, **k)
        gate(out)
        return result
    template.build_workbook = build
    gate(ROOT / "workbook_template.xlsm", "workbook_template.xlsm")
    yield
    edit.save, template.build_workbook = saved
    if not OOXCHECK.exists() or not _GATED:
        return
    entries = {str(p): (who, src) for p, who, src in _GATED.values()}
    found = _ooxcheck(list(entries))
    failing = {f: lines for f, lines in found.items() if lines}
    # A defect already in the workbook LeadQ read is not LeadQ's: compare with the input's report.
    inputs = {f: str(entries[f][1]) for f in failing if entries[f][1] is not None}
    before = _ooxcheck(sorted(set(inputs.values()))) if inputs else {}
    failures = []
    for f, lines in failing.items():
        new = [x for x in lines if x not in set(before.get(inputs.get(f), []))]
        if new:
            failures.append(f"{Path(f).name} (written by {entries[f][0]}):\n    " + "\n    ".join(new[:12]))
    GATE_STATS.update(checked=len(entries), failed=len(failures))
    if failures:
        pytest.fail("ooxcheck (the Excel-load gate) rejects workbooks the suite wrote:\n" + "\n".join(failures), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    corpus = sys.modules.get("corpus")
    if corpus is not None and corpus.TALLY:
        t = corpus.summary()
        terminalreporter.write_line(
            f"adversarial corpus: {t['cases']} cases, {t['refused']} clean refusals, {t['succeeded']} successes with "
            f"nothing changed outside LeadQ's parts, {t['tracebacks']} tracebacks, {t['catchalls']} catch-alls, "
            f"{t['sockets_opened']} sockets opened ({t['sockets_watched']} runs watched by strace)")
    if GATE_STATS["checked"]:
        terminalreporter.write_line(f"ooxcheck gate: {GATE_STATS['checked']} workbooks checked, {GATE_STATS['failed']} failing "
                                    f"(defects already in an input are not counted), {len(GATE_STATS.get('exempt', []))} exempt "
                                    "(inputs damaged on purpose)")
    elif not OOXCHECK.exists():
        terminalreporter.write_line(f"ooxcheck gate skipped: {OOXCHECK} not found")
