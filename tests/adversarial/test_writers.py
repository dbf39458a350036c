"""One writer at a time, outputs that never clobber an input, and forget's trust cases (issue 26)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import AS_OF, ROOT, refreshed_demo
from corpus import record

from addin.cli import run

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "LEADQ_PRIVACY_SALT": "test-salt"}


def _call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return refreshed_demo(tmp_path_factory.mktemp("writers"), "demo.xlsm")


def _copy(demo: Path, folder: Path, name="wb.xlsm") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for extra in ("rules.json", "rules.schema.json"):
        shutil.copyfile(demo.parent / extra, folder / extra)
    shutil.copyfile(demo, folder / name)
    return folder / name


def _lead_ids(path: Path) -> list[str]:
    from addin.io.reader import read_workbook
    return [str(v) for v in read_workbook(path).leads["Lead ID"] if isinstance(v, str) and v]


def _log_lines(path: Path) -> int:
    wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
    n = sum(1 for r in wb["Privacy log"].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)) \
        if "Privacy log" in wb.sheetnames else 0
    wb.close()
    return n


@pytest.mark.parametrize("argv,message", [
    (["calibrate", "{wb}", "--write", "{wb}"], "must end in .json"),
    (["calibrate", "{wb}", "--write", "{folder}/rules.json"], "never writes over a rules.json"),
    (["export", "{wb}", "--pseudonymise", "{wb}"], "must end in .csv"),
    (["export", "{wb}", "--pseudonymise", "{folder}/rules.json"], "must end in .csv"),
    (["forget", "{wb}", "--lead", "L1001", "--output", "{folder}/x.xlsx"], "its macros cannot go in an .xlsx file"),
    (["refresh", "{wb}", "--output", "{folder}/x.xlsx"], "its macros cannot go in an .xlsx file"),
])
def test_no_command_writes_over_the_workbook_an_input_or_under_another_kind(demo, tmp_path, argv, message):
    wb = _copy(demo, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = _call(*[a.format(wb=wb, folder=tmp_path) for a in argv])
    assert code == 1 and message in err and err.count("\n") == 1, err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    record("refused")


@pytest.mark.parametrize("flag,value", [("--lead", ""), ("--lead", "   "), ("--email", ""), ("--email", " \t")])
def test_an_empty_person_is_refused(demo, tmp_path, flag, value):
    wb = _copy(demo, tmp_path)
    before = wb.read_bytes()
    code, out, err = _call("forget", wb, flag, value, "--as-of", AS_OF)
    assert code == 1 and "is empty (an unset shell variable?)" in err and err.count("\n") == 1, err
    assert wb.read_bytes() == before
    record("refused")


def test_dry_run_writes_nothing_not_even_a_salt_file(demo, tmp_path, monkeypatch):
    monkeypatch.delenv("LEADQ_PRIVACY_SALT", raising=False)
    wb = _copy(demo, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = _call("forget", wb, "--lead", "L1001", "--dry-run", "--as-of", AS_OF)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_activities_of_another_lead_sharing_the_email_stay(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADQ_PRIVACY_SALT", "s")
    wb = _copy(demo, tmp_path)
    log = tmp_path / "acts.csv"
    log.write_bytes(b"Lead ID,Email,Date,Activity\r\nL1001,shared@x.fr,2026-11-01,webinar\r\n"
                    b"L1002,shared@x.fr,2026-11-02,webinar\r\n,shared@x.fr,2026-11-03,webinar\r\n")
    os.chmod(log, 0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(log)
    code, out, err = _call("forget", wb, "--lead", "L1001", "--activities", link, "--as-of", AS_OF)
    assert code == 0, err
    assert link.is_symlink()                              # the link kept, the real file rewritten
    assert log.read_bytes() == b"Lead ID,Email,Date,Activity\r\nL1002,shared@x.fr,2026-11-02,webinar\r\n" \
                               b",shared@x.fr,2026-11-03,webinar\r\n"
    assert (log.stat().st_mode & 0o777) == 0o640


def _spawn(*args):
    return subprocess.Popen([sys.executable, "-m", "addin", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)


def test_two_writers_at_once_lose_nothing_in_ten_trials(demo, tmp_path):
    """Two forgets of two people at once (and, every other trial, a refresh racing a forget): in every
    trial both people are gone, every other lead is there, and each forget left its Privacy log line."""
    ids = _lead_ids(demo)
    for trial in range(10):
        wb = _copy(demo, tmp_path / f"t{trial}")
        a, b = ids[2 * trial], ids[2 * trial + 1]
        if trial % 2:
            procs = [_spawn("forget", wb, "--lead", a, "--as-of", AS_OF), _spawn("refresh", wb, "--as-of", AS_OF)]
            gone, lines = {a}, 1
        else:
            procs = [_spawn("forget", wb, "--lead", a, "--as-of", AS_OF), _spawn("forget", wb, "--lead", b, "--as-of", AS_OF)]
            gone, lines = {a, b}, 2
        results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
        assert all(code == 0 for _, _, code in results), [e.decode() for _, e, _ in results]
        assert set(_lead_ids(wb)) == set(ids) - gone, trial
        assert _log_lines(wb) == lines, trial
        assert not list(wb.parent.glob(".~*")), list(wb.parent.iterdir())
        record("succeeded", f"two writers at once, trial {trial}")


def test_a_lock_left_by_a_killed_process_is_stale_and_taken(demo, tmp_path):
    from addin.io.guard import lock_path
    wb = _copy(demo, tmp_path)
    lock_path(wb).write_text("999999\n", encoding="utf-8")      # a lock file nobody holds
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)
    assert code == 0, err
    assert not lock_path(wb).exists()


def test_a_held_lock_makes_the_second_writer_wait_then_refuse_with_a_sentence(demo, tmp_path, monkeypatch):
    from addin.io.guard import lock_path
    wb = _copy(demo, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from addin.io.guard import workbook_lock
with workbook_lock({str(wb)!r}):
    print("held", flush=True)
    time.sleep(30)
"""], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        monkeypatch.setenv("LEADQ_LOCK_TIMEOUT", "0.5")
        before = wb.read_bytes()
        code, out, err = _call("refresh", wb, "--as-of", AS_OF)
        assert code == 1 and "is being changed by another LeadQ command (process" in err and err.count("\n") == 1, err
        assert wb.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    code, out, err = _call("refresh", wb, "--as-of", AS_OF)      # the killed holder's lock is free again
    assert code == 0, err
    assert not lock_path(wb).exists()


def test_a_lead_history_with_impossible_and_future_dates_is_read_with_problem_lines(demo, tmp_path):
    import datetime as dt
    wb = _copy(demo, tmp_path)
    book = openpyxl.load_workbook(wb, keep_vba=True)
    ws = book["Lead history"]
    ws["A2"] = dt.datetime(9999, 12, 31)
    ws["A3"] = "9999-12-31 10:00"
    ws["A4"] = dt.datetime(2031, 1, 1)
    book.save(wb)
    for _ in range(2):                   # and every later refresh too
        code, out, err = _call("refresh", wb, "--as-of", AS_OF)
        assert code == 0, err
        assert "2 Lead history rows with a date LeadQ cannot compute with" in out + err
        assert "is before the last refresh" in out + err          # the 2031 row: history-back-dated
