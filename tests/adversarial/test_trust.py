"""Trust, round 3: a workbook from a stranger cannot make LeadQ read, send or overwrite anything outside
its folder (issue 26). Each refusal: exit 1, one sentence naming the Settings cell and the flag that
allows the folder, the workbook byte-identical, no file written anywhere."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import SOCKETS, record

from addin.cli import run

AS_OF = "2026-11-22"
ROOT = Path(__file__).resolve().parents[2]


def _call(*argv, env=None):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _set_setting(path, label: str, value: str) -> None:
    import openpyxl
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Settings"]
    row = next(c.row for c in ws["A"] if c.value == label)
    ws.cell(row, 2).value = value
    wb.save(path)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A sample workbook (folder `book/`) and its activities exported to Parquet, CSV and DuckDB."""

    from addin.io.reader import read_workbook
    base = tmp_path_factory.mktemp("trust")
    (base / "book").mkdir()
    wb = base / "book" / "sample.xlsm"
    assert _call("new", wb, "--sample")[0] == 0
    acts = read_workbook(wb).activities.copy()
    acts.attrs = {}
    return base, wb, acts


@pytest.fixture
def book(sample, tmp_path):
    """A fresh copy: tmp/book/wb.xlsm, tmp/outside/ with a secret CSV and Parquet, and the activities."""
    base, wb, acts = sample
    (tmp_path / "book").mkdir()
    (tmp_path / "outside").mkdir()
    target = tmp_path / "book" / "wb.xlsm"
    shutil.copyfile(wb, target)
    for name in ("rules.json", "rules.schema.json"):
        shutil.copyfile(wb.parent / name, target.parent / name)
    secret = acts.assign(**{"Lead ID": None})
    secret["Email"] = "ceo.private@victim-corp.example" if "Email" in secret else None
    secret.to_csv(tmp_path / "outside" / "subscribers.csv", index=False)
    acts.to_parquet(tmp_path / "outside" / "events.parquet", index=False)
    return target, acts


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _refused(wb: Path, cell_label: str, *extra, env=None):
    """Refresh is refused with one sentence naming the cell; nothing anywhere under tmp changes."""
    root = wb.parent.parent
    before = _files(root)
    code, out, err = _call("refresh", wb, "--as-of", AS_OF, *extra)
    assert code == 1, (out, err)
    assert err.count("\n") == 1 and f"({cell_label})" in err and err.startswith("Settings!B"), err
    assert "Traceback" not in err and "please report" not in err
    assert _files(root) == before          # byte-identical: the workbook, and no file written anywhere
    record("refused")
    return err


@pytest.mark.parametrize("value", ["{outside}/subscribers.csv", "../outside/subscribers.csv", "sub/../../outside/subscribers.csv",
                                   "../outside/*.csv", "{outside}/*.parquet"])
def test_an_activities_source_outside_the_workbook_folder_is_refused(book, value):
    wb, _ = book
    _set_setting(wb, "Activities source", value.format(outside=wb.parent.parent / "outside"))
    err = _refused(wb, "Activities source")
    assert "outside the workbook's folder" in err and "--allow-path" in err and "LEADQ_ALLOWED_PATHS" in err
    assert "victim-corp" not in err


def test_a_symbolic_link_out_of_the_folder_is_refused_and_named(book):
    wb, _ = book
    (wb.parent / "events.csv").symlink_to(wb.parent.parent / "outside" / "subscribers.csv")
    _set_setting(wb, "Activities source", "events.csv")
    err = _refused(wb, "Activities source")
    assert "through a symbolic link" in err


@pytest.mark.parametrize("value", ["http://127.0.0.1:9/events.csv", "https://example.com/e.parquet", "s3://bucket/e.parquet"])
def test_a_url_is_refused(book, value):
    wb, _ = book
    _set_setting(wb, "Activities source", value)
    assert "is a URL" in _refused(wb, "Activities source")


def test_allow_path_and_the_environment_let_the_user_open_a_folder_the_workbook_cannot(book, monkeypatch):
    wb, _ = book
    outside = wb.parent.parent / "outside"
    _set_setting(wb, "Activities source", str(outside / "events.parquet"))
    _refused(wb, "Activities source")
    code, out, err = _call("refresh", wb, "--as-of", AS_OF, "--allow-path", outside)
    assert code == 0, err
    _set_setting(wb, "Activities source", "../outside/events.parquet")
    monkeypatch.setenv("LEADQ_ALLOWED_PATHS", str(outside))
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 0, err


def test_the_command_line_stays_free(book):
    wb, _ = book
    code, out, err = _call("refresh", wb, "--as-of", AS_OF, "--activities", wb.parent.parent / "outside" / "events.parquet")
    assert code == 0, err


@pytest.mark.parametrize("label,value", [("Rules file", "../outside/rules.json"), ("Rules file", "/etc/passwd"),
                                         ("Score details file", "../outside/events.parquet"),
                                         ("Score details file", "{outside}/other-team.parquet")])
def test_rules_and_score_details_paths_stay_inside(book, label, value):
    wb, _ = book
    outside = wb.parent.parent / "outside"
    (outside / "rules.json").write_text((ROOT / "rules.json").read_text("utf-8"), encoding="utf-8")
    (outside / "other-team.parquet").write_bytes((outside / "events.parquet").read_bytes())
    _set_setting(wb, label, value.format(outside=outside))
    assert "outside the workbook's folder" in _refused(wb, label)


def test_a_duckdb_view_reaching_elsewhere_is_refused(book):
    import duckdb
    wb, acts = book
    secret = wb.parent.parent / "outside" / "subscribers.csv"
    db = wb.parent / "crm.duckdb"
    con = duckdb.connect(str(db))
    con.register("a", acts)
    con.execute("CREATE TABLE events AS SELECT * FROM a")
    con.execute(f"CREATE VIEW leak AS SELECT * FROM read_csv('{secret}')")
    con.execute("CREATE VIEW renamed AS SELECT * FROM events")
    con.close()
    for view in ("leak", "renamed"):
        _set_setting(wb, "Activities source", f"crm.duckdb#{view}")
        before = wb.read_bytes()
        code, out, err = _call("refresh", wb, "--as-of", AS_OF)
        assert code == 1 and "is a view, not a table" in err and err.count("\n") == 1, err
        assert wb.read_bytes() == before
    _set_setting(wb, "Activities source", "crm.duckdb#events")
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 0, err


def test_every_duckdb_connection_is_locked_down(tmp_path):
    import duckdb

    from addin.engines.duck import locked_connection
    inside = tmp_path / "in.csv"
    inside.write_text("a\n1\n", encoding="utf-8")
    (tmp_path / "secret.csv").write_text("a\n2\n", encoding="utf-8")
    con = locked_connection([str(inside)])
    assert con.execute(f"SELECT * FROM read_csv('{inside}')").fetchall() == [(1,)]
    for sql in (f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')", "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
                "INSTALL httpfs", "SET enable_external_access = true", "SET autoload_known_extensions = true",
                f"ATTACH '{tmp_path / 'x.sqlite'}' (TYPE sqlite)"):
        with pytest.raises(duckdb.Error):
            con.execute(sql)


STRACE_SCRIPT = """
import sys
from addin.cli import run
from addin.engines.duck import locked_connection
con = locked_connection([])
for sql in ("SELECT * FROM read_csv('http://example.com/x.csv')", "SELECT * FROM read_parquet('s3://b/x.parquet')",
            "INSTALL httpfs", "LOAD httpfs", "ATTACH 'x.sqlite' (TYPE sqlite)"):
    try:
        con.execute(sql)
    except Exception:
        pass
sys.exit(run(sys.argv[1:]))
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_no_socket_is_opened_by_a_hostile_workbook(book, tmp_path):
    """Under strace, a refresh of a workbook naming a URL and a DuckDB view reading a URL, and a locked
    connection asked for URLs and extensions, open no network socket."""
    import duckdb
    wb, acts = book
    db = wb.parent / "crm.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE VIEW leak AS SELECT * FROM read_csv('{wb.parent.parent / 'outside' / 'subscribers.csv'}')")
    con.close()
    log = tmp_path / "strace.log"
    for value in ("crm.duckdb#leak", "http://example.com/e.csv", "../outside/events.parquet"):
        _set_setting(wb, "Activities source", value)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
        done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log), sys.executable, "-c",
                               STRACE_SCRIPT, "refresh", str(wb), "--as-of", AS_OF], capture_output=True, text=True,
                              env=env, timeout=300)
        if "ptrace" in done.stderr and "Operation not permitted" in done.stderr:
            pytest.skip("ptrace is not permitted here")
        assert done.returncode == 1, done.stderr
        calls = log.read_text()
        SOCKETS["watched"] += 1
        SOCKETS["opened"] += calls.count("AF_INET")
        assert "AF_INET" not in calls and "AF_INET6" not in calls, calls
        record("refused", f"no socket: Activities source {value}")
    assert not (tmp_path / ".duckdb").exists()         # no extension was downloaded into HOME


# ---------------------------------------------------------------------------- the Score details file
@pytest.fixture
def big(book, monkeypatch):
    """The ledger passes 'the sheet' (ROOM made small), so refresh writes the Score details file."""
    from addin.io import ledger_file
    monkeypatch.setattr(ledger_file, "ROOM", 10)
    return book


def test_the_score_details_file_is_never_the_activities_source(big):
    wb, acts = big
    acts.to_parquet(wb.parent / "events.parquet", index=False)
    _set_setting(wb, "Activities source", "events.parquet")
    _set_setting(wb, "Score details file", "events.parquet")
    err = _refused(wb, "Score details file")
    assert "is one of this refresh's inputs" in err


def test_a_link_planted_at_the_temporary_name_cannot_redirect_the_write(big):
    wb, _ = big
    victim = wb.parent.parent / "outside" / "events.parquet"
    before = victim.read_bytes()
    (wb.parent / f".wb.score-details.parquet.{os.getpid()}.tmp").symlink_to(victim)
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 1 and "already exists (a file or a link LeadQ did not make)" in err and err.count("\n") == 1, err
    assert victim.read_bytes() == before and not (wb.parent / "wb.score-details.parquet").exists()


def test_a_refresh_that_fails_writes_neither_file(big, monkeypatch):
    import errno

    from addin.io import ledger_file
    from addin.io import writer as refresh_module
    wb, _ = big
    before = _files(wb.parent)
    real = refresh_module.write_results

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(ledger_file, "write_details_file", lambda fd, tmp, d: (os.close(fd), no_space()))
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 1 and _files(wb.parent) == before, err          # the Parquet failed: the workbook is not replaced
    monkeypatch.undo()
    monkeypatch.setattr(ledger_file, "ROOM", 10)

    def refused(*a, **k):
        from addin.errors import WorkbookError
        raise WorkbookError("wb.xlsm was changed by another program while LeadQ was reading it")
    monkeypatch.setattr(refresh_module, "write_results", refused)
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 1 and _files(wb.parent) == before, err          # the workbook refused: no Parquet file either
    monkeypatch.setattr(refresh_module, "write_results", real)
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 0 and (wb.parent / "wb.score-details.parquet").is_file(), err
    assert not list(wb.parent.glob(".*.tmp"))


@pytest.mark.parametrize("value", ["{outside}/subscribers.csv", "../outside/subscribers.csv"])
def test_the_refresh_button_refuses_a_settings_path_outside_the_folder(book, tmp_path, monkeypatch, value):
    """Through the Excel door (tests/xlengine.py, an engine behaving as Excel does): the Refresh button on a
    workbook whose Settings name a file outside its folder says so in Status, naming the cell, and
    leaves every other cell of the book as it was; the file itself is never written by a button."""
    import openpyxl
    from xlengine import open_as_caller

    import addin.macros as macros
    monkeypatch.setenv("LEADQ_LOG_DIR", str(tmp_path / "logs"))
    wb, _ = book
    _set_setting(wb, "Activities source", value.format(outside=tmp_path / "outside"))
    file_before = wb.read_bytes()

    def cells(path):
        w = openpyxl.load_workbook(path, keep_vba=True)
        return {(s.title, c.coordinate): c.value for s in w for r in s.iter_rows() for c in r if c.value is not None}
    before = cells(wb)
    book_ = open_as_caller(wb)
    macros.refresh(now="2026-11-22 09:00")
    assert wb.read_bytes() == file_before                      # a button changes the open book, never the file
    status = book_.sheets["Settings"].range("B5").value
    assert status.startswith("Failed: Settings!B6 (Activities source): ") and "outside the workbook's folder" in status, status
    assert "--allow-path" in status and "Traceback" not in status and "please report" not in status
    book_.impl.save()
    after = cells(wb)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {("Settings", "B4"), ("Settings", "B5")}, sorted(changed)[:5]     # LeadQ's Last refresh, Status
    record("refused")


@pytest.mark.parametrize("path", ["s3a://bucket/events.parquet", "hdfs://nn:8020/events.parquet", "http://x.example/e.csv",
                                  "{folder}/missing.parquet", "{folder}/ev[1].parquet"])
def test_the_spark_engine_is_given_local_files_only(tmp_path, path):
    """Checked before Spark starts or sees a path: no URL or other scheme, no missing file, no name Spark would
    read as a glob pattern (engines.spark.spark_paths)."""
    from addin.engines.source import ActivitiesSource
    from addin.engines.spark import spark_paths
    from addin.errors import WorkbookError
    (tmp_path / "ev[1].parquet").write_bytes(b"PAR1")
    with pytest.raises(WorkbookError) as e:
        spark_paths(ActivitiesSource("parquet", "events", (path.format(folder=tmp_path),)))
    assert str(e.value).startswith("events: ") and ("URL" in str(e.value) or "not a file" in str(e.value)
                                                    or "pattern" in str(e.value))
    record("refused")


def test_the_spark_session_leadq_creates_is_locked_down(tmp_path):
    from addin.engines.source import ActivitiesSource
    from addin.engines.spark import session_config, spark_paths
    (tmp_path / "a b.parquet").write_bytes(b"PAR1")
    assert spark_paths(ActivitiesSource("parquet", "e", (str(tmp_path / "a b.parquet"),))) == [f"file://{tmp_path}/a b.parquet"]
    local, cluster = session_config(None), session_config("spark://10.0.0.5:7077")
    for config in (local, cluster):
        assert config["spark.sql.runSQLOnFiles"] == "false" and config["spark.ui.enabled"] == "false"
        assert config["spark.jars.packages"] == config["spark.jars"] == config["spark.jars.repositories"] == ""
        assert config["spark.sql.catalogImplementation"] == "in-memory"
    assert local["spark.driver.bindAddress"] == "127.0.0.1" and "spark.driver.bindAddress" not in cluster
