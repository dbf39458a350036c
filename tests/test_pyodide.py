"""LeadQ inside real Pyodide (the runtime of xlwings Lite), offline, under Node.

scripts/pyodide-setup.sh installs the npm `pyodide` package (pinned) and the pure wheels into
build/pyodide; this test builds LeadQ's wheel, and tests/pyodide/run.mjs installs it with micropip
(deps=False: numpy and pandas are not resolved) and runs tests/pyodide/inside.py: the rules check's
located error, the same error from a Rules sheet named by its cell, settings imported without
numpy/pandas, and the Lite entry points imported and Check rules dispatched on a stand-in book.
Skipped without Node or build/pyodide, except in CI (.ci/run sets it up), where it must run.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

PYODIDE = ROOT / "build" / "pyodide"


@pytest.fixture(scope="module")
def inside(tmp_path_factory):
    ready = shutil.which("node") and (PYODIDE / "node_modules" / "pyodide" / "pyodide.mjs").is_file()
    if not ready:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Pyodide test: scripts/pyodide-setup.sh did not set up build/pyodide")
        pytest.skip("no Node or no build/pyodide (run scripts/pyodide-setup.sh)")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], check=True,
                   capture_output=True)
    wheel = next(out.glob("leadq-*.whl"))
    run = subprocess.run(["node", str(ROOT / "tests" / "pyodide" / "run.mjs"), str(PYODIDE / "node_modules" / "pyodide"),
                          str(PYODIDE / "wheels"), str(wheel)], capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    return json.loads(lines[-1])


def test_the_wheel_installs_offline_without_numpy_pandas_fastexcel_or_duckdb(inside):
    assert inside["platform"] == "emscripten"
    assert "leadq" in inside["installed"]
    assert not {"numpy", "pandas", "fastexcel", "duckdb"} & set(inside["installed"])


def test_the_rules_check_reports_a_located_error_inside_pyodide(inside):
    n = inside["broken_line"]
    assert inside["rules_check"] == [f'rules.json:{n}: $.fit[0].points: must be a number, not "many" — remove the quotes']
    assert inside["default_rules_valid"] is True


def test_a_rules_sheet_names_the_cell_and_needs_no_numpy_or_pandas(inside):
    n = inside["broken_line"]
    assert inside["sheet_check"] == [f'Rules!A{n + 1}: $.fit[0].points: must be a number, not "many" — remove the quotes']
    assert inside["numpy_or_pandas_loaded"] == []


def test_the_lite_entry_points_import_and_check_rules_dispatches_inside_pyodide(inside):
    assert inside["lite_scripts"] == ["refresh", "preview_rules", "calibrate", "check_rules"]
    assert inside["lite_functions"] == ["LEADQ_TABLE", "LEADQ_EXPLAIN", "LEADQ_POINTS"]
    n = inside["broken_line"]
    assert inside["lite_check_status"].startswith(f"1 problem(s) in the Rules sheet: Rules!A{n + 1}: $.fit[0].points")
    assert inside["excluded_loaded"] == []
