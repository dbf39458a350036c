"""io.reader.read_ahead: the big tables parsed in the background before the scoring code is imported
give exactly what read_workbook reads itself, and are not used for a file that changed since."""

import io
import os
import shutil
import time

import pandas as pd
import pytest
from conftest import AS_OF

from addin.cli import run
from addin.errors import WorkbookError
from addin.io import reader
from addin.io.reader import read_ahead, read_workbook


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("ahead")
    out, err = io.StringIO(), io.StringIO()
    assert run(["demo", str(d / "demo.xlsm"), "--as-of", AS_OF], out, err) == 0, err.getvalue()
    return d / "demo.xlsm"


def _finished(ahead) -> None:
    """Wait until the background thread has parsed both tables."""
    deadline = time.monotonic() + 60
    while not (len(ahead.tables) == len(reader.AHEAD) and all(f.done() for f in ahead.tables.values())):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _same(a, b) -> None:
    for name in ("leads", "activities", "qualification", "overrides"):
        x, y = getattr(a, name), getattr(b, name)
        x = x.result() if hasattr(x, "result") else x
        y = y.result() if hasattr(y, "result") else y
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        pd.testing.assert_frame_equal(x, y, check_exact=True)
        assert list(x.dtypes) == list(y.dtypes)
        ox, oy = x.attrs["leadq_origin"], y.attrs["leadq_origin"]
        assert list(ox["rows"]) == list(oy["rows"]) and ox["letters"] == oy["letters"] and ox["sheet"] == oy["sheet"]
    assert a.layouts == b.layouts and a.settings == b.settings and a.problems == b.problems


def _no_reading(monkeypatch) -> None:
    real = reader._Reader.load_table

    def refuse(self, name, **kwargs):
        assert name not in reader.AHEAD, f"table {name} read again"
        return real(self, name, **kwargs)
    monkeypatch.setattr(reader._Reader, "load_table", refuse)


def test_tables_parsed_ahead_are_what_read_workbook_reads(demo, monkeypatch):
    plain = read_workbook(demo)
    read_ahead(demo)
    ahead = reader._ahead
    _finished(ahead)
    with monkeypatch.context() as m:
        _no_reading(m)                         # both tables come from the thread, none is read again
        data = read_workbook(demo, later=True)
        data.activities = data.activities.result()
    assert reader._ahead is None and set(reader.AHEAD) <= ahead.taken
    _same(plain, data)


def test_a_table_not_begun_ahead_is_read_as_usual(demo):
    plain = read_workbook(demo)
    read_ahead(demo)
    ahead = reader._ahead
    with ahead.lock:                           # read_workbook takes both before the thread begins them
        ahead.taken.update(reader.AHEAD)
    data = read_workbook(demo, later=True)
    _same(plain, data)


def test_a_file_changed_since_is_read_anew(demo, tmp_path):
    book = tmp_path / "book.xlsm"
    shutil.copy(demo, book)
    read_ahead(book)
    _finished(reader._ahead)
    shutil.copy(demo, tmp_path / "other.xlsm")
    os.replace(tmp_path / "other.xlsm", book)  # what a writer does: a new file in its place
    calls = []
    real = reader._Reader.load_table

    def counting(self, name, **kwargs):
        calls.append(name)
        return real(self, name, **kwargs)
    reader._Reader.load_table = counting
    try:
        data = read_workbook(book)
    finally:
        reader._Reader.load_table = real
    assert {"Leads", "Activities"} <= set(calls)
    _same(read_workbook(demo), data)


def test_read_ahead_never_raises(tmp_path):
    read_ahead(tmp_path / "missing.xlsm")
    (tmp_path / "notes.xlsm").write_text("not a workbook")
    read_ahead(tmp_path / "notes.xlsm")
    time.sleep(0.2)
    with pytest.raises(WorkbookError):
        read_workbook(tmp_path / "notes.xlsm")


def test_a_stop_while_fastexcel_runs_is_a_stop_not_a_damaged_file(tmp_path):
    """A signal handler's exception (SIGTERM's cli.Terminated) raised while fastexcel parses comes back as a
    SystemError; the reader re-raises the stop instead of calling the workbook damaged."""
    from addin.cli import Terminated
    from addin.errors import WorkbookError
    from addin.io.reader import _Reader

    def stopped():
        try:
            raise Terminated()
        except Terminated as stop:
            raise SystemError("<method 'load_table'> returned a result with an exception set") from stop

    def damaged():
        raise ValueError("bad zip")

    reader = _Reader(tmp_path / "x.xlsm", lazy=True)
    with pytest.raises(Terminated):
        reader._call('the table "Leads"', stopped)
    with pytest.raises(WorkbookError, match="cannot be read"):
        reader._call('the table "Leads"', damaged)


def _activities_part(path) -> str:
    from addin.io.package import Package
    pkg = Package(path)
    try:
        return pkg.sheet_part("Activities")
    finally:
        pkg.close()


def _raw(path, name) -> bytes:
    import zipfile

    from addin.io.package import _raw_entry
    with zipfile.ZipFile(path) as z:
        return _raw_entry(z, z.getinfo(name))


def test_a_refresh_checks_the_log_it_copies_while_its_parse_is_awaited(demo, tmp_path, monkeypatch):
    """`leadq refresh` checks the Activities part's CRC-32 in a thread of its own (io.package.check_while_reading)
    while the read waits for the parse begun ahead; the save takes that check instead of checking the part again,
    and copies exactly the bytes checked."""
    import threading

    from addin.io import package
    book = tmp_path / "book.xlsm"
    shutil.copy(demo, book)
    shutil.copy(demo.parent / "rules.json", tmp_path / "rules.json")
    part = _activities_part(book)
    checks, real_intact, real_begin = [], package._intact, package.check_while_reading

    def intact(raw, info):
        checks.append((threading.current_thread().name, info.filename))
        return real_intact(raw, info)

    def begin(path, names):          # the check finished before the save asks for it (a big log's parse is longer)
        real_begin(path, names)
        package._CHECKED[os.path.realpath(path)].result(timeout=60)
    monkeypatch.setattr(package, "_intact", intact)
    monkeypatch.setattr(package, "check_while_reading", begin)
    before = _raw(book, part)
    out, err = io.StringIO(), io.StringIO()
    assert run(["refresh", str(book), "--as-of", AS_OF], out, err) == 0, err.getvalue()
    assert [t for t, name in checks if name == part] == ["leadq-check"]
    assert _raw(book, part) == before


def test_a_check_not_done_or_of_another_version_is_not_taken(demo, tmp_path, monkeypatch):
    """The save checks the part itself when the early check has not finished (a busy machine starves its thread)
    or was made on another version of the file; a damaged part checked early is reported as damaged."""
    import threading

    from addin.io import package
    book = tmp_path / "book.xlsm"
    shutil.copy(demo, book)
    part = _activities_part(book)
    release, real_intact = threading.Event(), package._intact

    def slow(raw, info):
        if threading.current_thread().name == "leadq-check":
            release.wait(60)
        return real_intact(raw, info)
    monkeypatch.setattr(package, "_intact", slow)
    package.check_while_reading(book, [part])
    pkg = package.Package(book)
    pkg.check_early([part])                              # not done: checked as usual, in a worker
    assert pkg._copies[part][1].result(timeout=60) is True
    pkg.close()
    release.set()
    package._CHECKED[os.path.realpath(book)].result(timeout=60)
    monkeypatch.setattr(package, "_intact", real_intact)

    package.check_while_reading(book, [part])
    package._CHECKED[os.path.realpath(book)].result(timeout=60)
    shutil.copy(demo, tmp_path / "other.xlsm")
    os.replace(tmp_path / "other.xlsm", book)           # another version (a new inode): the check is not taken
    pkg = package.Package(book)
    pkg.check_early([part])
    assert not pkg._copies[part][1].done() or pkg._copies[part][1].result() is True
    assert package._CHECKED[os.path.realpath(book)].result()      # still held: nothing took it
    pkg.close()

    damaged = tmp_path / "damaged.xlsm"                 # the part's stored bytes no longer match its CRC-32
    raw = _raw(book, part)
    data = bytearray(book.read_bytes())
    at = data.find(raw)
    data[at + len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    package.check_while_reading(damaged, [part])
    package._CHECKED[os.path.realpath(damaged)].result(timeout=60)
    pkg = package.Package(damaged)
    pkg.check_early([part])
    assert pkg._copies[part][1].result() is False
    assert package._CHECKED[os.path.realpath(damaged)].result() == {}      # taken
    pkg.close()
