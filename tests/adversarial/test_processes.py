"""The corpus cases that need a real process: kills at random moments, SIGTERM, two refreshes at
once, a closed pipe and a full stdout. Each runs `python -m addin` as a user would."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from conftest import AS_OF, ROOT, gate
from corpus import TALLY, no_temporaries

from addin.refresh import new_workbook

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def leadq(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "addin", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV, **kw)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A workbook whose refresh takes long enough (a few seconds) to be interrupted at many moments."""
    d = tmp_path_factory.mktemp("kill")
    path = d / "big.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    return path


def place(big, folder):
    """The workbook and its rules.json (named on its Settings sheet) in a folder of the test's own."""
    shutil.copy(big.parent / "rules.json", folder / "rules.json")
    path = folder / "book.xlsm"
    shutil.copy(big, path)
    return path


def opens(path) -> bool:
    with zipfile.ZipFile(path) as z:
        return z.testzip() is None


def test_kill_9_at_random_moments_never_hurts_the_original(big, tmp_path):
    rng = random.Random(10)
    path = place(big, tmp_path)
    original = path.read_bytes()
    outcomes, alive = [], []
    # Kill moments are fractions of how long one refresh takes on this machine, so they land while
    # it runs on a fast machine and a loaded one alike.
    start = time.perf_counter()
    timing = leadq("refresh", path, "--as-of", AS_OF, "--output", tmp_path / "timing.xlsm")
    timing.communicate(timeout=300)
    duration = time.perf_counter() - start
    for i in range(6):
        p = leadq("refresh", path, "--as-of", AS_OF)
        time.sleep(rng.uniform(0.05, 0.9) * duration)
        alive.append(p.poll() is None)
        p.send_signal(signal.SIGKILL)
        p.wait()
        now = path.read_bytes()
        assert now == original or opens(path), f"kill {i}: the workbook is neither the original nor a whole refresh"
        outcomes.append("original" if now == original else "refreshed")
        if now != original:
            gate(path, "kill -9 landed after the replace")
            shutil.copy(big, path)
        TALLY[f"kill -9 #{i}"] = "refused" if now == original else "succeeded"
    assert sum(alive) >= 3, "most kills should land while the refresh runs"
    # the next run removes what the killed ones left
    p = leadq("refresh", path, "--as-of", AS_OF)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    no_temporaries(path.parent)
    gate(path, "refresh after kills")


def test_sigterm_removes_the_temporary_file(big, tmp_path):
    path = place(big, tmp_path)
    original = path.read_bytes()
    for delay in (0.8, 1.8, 2.6, 3.4):
        p = leadq("refresh", path, "--as-of", AS_OF)
        time.sleep(delay)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=120)
        assert b"Traceback" not in err
        # -15: still importing, before LeadQ's handler exists (and before any file is opened)
        assert p.returncode in (0, 143, -signal.SIGTERM), err
        no_temporaries(path.parent)
        if p.returncode != 0:
            assert path.read_bytes() == original
            assert p.returncode != 143 or b"stopped" in err
        else:
            shutil.copy(big, path)
        TALLY[f"SIGTERM after {delay}s"] = "refused" if p.returncode else "succeeded"


def test_two_refreshes_at_once(big, tmp_path):
    path = place(big, tmp_path)
    procs = [leadq("refresh", path, "--as-of", AS_OF) for _ in range(2)]
    results = [(p.communicate(timeout=300)[1], p.returncode) for p in procs]
    results = [(code, err) for err, code in results]
    for code, err in results:
        assert b"Traceback" not in err
        assert code == 0 or (code == 1 and b"changed by another program" in err), err
    assert any(code == 0 for code, _ in results)
    assert opens(path)
    no_temporaries(path.parent)
    gate(path, "two refreshes at once")
    TALLY["two refreshes at once"] = "succeeded"


def test_explain_into_a_closed_pipe_and_a_full_stdout(big, tmp_path):
    path = place(big, tmp_path)
    head = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    p = subprocess.Popen([sys.executable, "-m", "addin", "explain", str(path), "L1001", "--as-of", AS_OF, "--json"],
                         stdout=head.stdin, stderr=subprocess.PIPE, env=ENV)
    head.stdin.close()
    _, err = p.communicate(timeout=120)
    head.wait()
    assert b"Traceback" not in err and p.returncode == 0, err
    TALLY["explain | head (BrokenPipe)"] = "succeeded"
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "addin", "explain", str(path), "L1001", "--as-of", AS_OF], stdout=full,
                           stderr=subprocess.PIPE, env=ENV, timeout=120)
    assert r.returncode == 1 and b"Traceback" not in r.stderr and b"could not write the output" in r.stderr, r.stderr
    TALLY["stdout on a full device"] = "refused"


def test_sigterm_while_the_temporary_file_is_being_written(big, tmp_path):
    """The moment that matters: the new package is half written beside the workbook."""
    path = place(big, tmp_path)
    original = path.read_bytes()
    for _ in range(5):
        p = leadq("refresh", path, "--as-of", AS_OF)
        while p.poll() is None and not any(f.name.startswith(".~leadq-") for f in tmp_path.iterdir()):
            time.sleep(0.002)
        if p.poll() is not None:
            shutil.copy(big, path)
            continue                                  # finished before we saw the temporary: try again
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
        if p.returncode == 0:                         # the replace had already happened
            shutil.copy(big, path)
            continue
        assert p.returncode == 143 and b"stopped" in err and b"Traceback" not in err, err
        assert path.read_bytes() == original
        no_temporaries(tmp_path)
        TALLY["SIGTERM while writing the temporary file"] = "refused"
        return
    pytest.skip("the write was never caught in progress")
