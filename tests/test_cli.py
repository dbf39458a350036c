import io
import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from addin.cli import run


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_check_rules_valid_prints_one_summary_line():
    code, out, err = call("check-rules", str(ROOT / "rules.json"))
    assert code == 0 and err == ""
    assert out.count("\n") == 1
    assert 'valid — "Default B2B rules" 2026-11-22: 7 fit rules, 11 activity types' in out
    assert "BANT (4 criteria); MQL at 25, hot at 60" in out


def test_check_rules_reports_every_problem_with_file_line_and_path(tmp_path):
    p = tmp_path / "rules.json"
    p.write_text('{\n  "activities": {"webinar": {"points": "20"}},\n  "thresholds": {"mql": 25, "hott": 1}\n}\n', "utf-8")
    code, out, err = call("check-rules", str(p))
    assert code == 1
    assert err.splitlines() == [
        'rules.json:2: $.activities.webinar.points: must be a number, not "20" — remove the quotes',
        'rules.json:3: $.thresholds.hott: unknown key "hott" (did you mean "hot"?)',
        f"{p}: 2 problems found",
    ]


def test_check_rules_json_output(tmp_path):
    p = tmp_path / "rules.json"
    p.write_text('{"grades": {"A": 1, "B": 5}}', "utf-8")
    code, out, _ = call("check-rules", str(p), "--json")
    data = json.loads(out)
    assert code == 1 and data["valid"] is False
    assert data["problems"][0]["code"] == "grades-order" and data["problems"][0]["path"] == "$.grades.B"


def test_missing_file_exits_1_without_traceback(tmp_path):
    code, out, err = call("check-rules", str(tmp_path / "nope.json"))
    assert code == 1 and "rules file not found" in err and "Traceback" not in err


def test_usage_errors_exit_2():
    assert call("frobnicate")[0] == 2
    assert call()[0] == 2
    assert call("check-rules", "--bogus")[0] == 2


def test_console_script_and_python_m_work():
    script = Path(sys.executable).parent / "leadq"
    for exe in ([str(script)], [sys.executable, "-m", "addin"]):
        out = subprocess.run([*exe, "check-rules", str(ROOT / "rules.json")], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "valid" in out.stdout


def test_help_version_and_check_rules_start_without_the_heavy_libraries():
    code = (
        "import io, sys\n"
        "from addin.cli import run\n"
        "for argv in (['--help'], ['--version'], ['check-rules', sys.argv[1]]):\n"
        "    run(argv, io.StringIO(), io.StringIO())\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow', 'fastexcel', 'xlwings', 'lxml', 'openpyxl')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "rules.json")], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


def test_version():
    out = subprocess.run([sys.executable, "-m", "addin", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"leadq {__import__('addin').__version__}"
