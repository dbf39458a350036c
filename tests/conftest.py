import json
import os
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


OOXCHECK = Path(os.environ.get("OOXCHECK", "/work/shared/tools/ooxcheck/ooxcheck.py"))


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
