"""LeadQ benchmark (not a timed test): `python benchmarks/bench.py [startup|refresh|engine|history|all] [--sizes S,L] [--runs N]`.

Every measure runs in a fresh process and is repeated (--runs) and reported as min–median–max;
ratios are of medians. The baselines are not LeadQ's code:
  startup  `python -c "import json, argparse"` for --help/--version, `python -c "import jsonschema"`
           for check-rules;
  refresh  the bare fastexcel read of the Leads and Activities tables, one after the other, into
           pandas (and into Arrow, the strictest floor) — a whole process, start-up included, like
           `leadq refresh`; and a bare zip rewrite of the same file with LeadQ's sheet XML prepared
           in advance (zipfloor.py: unchanged parts copied raw, the new ones deflated at level 1,
           fsync, rename — the physical floor of any writer here).
Workbooks: synth.py with a fixed seed; S = 10,000 leads / 100,000 activities, L = 100,000 / 1,000,000;
layout "left" is the template's (the user's columns left of LeadQ's), "right" has 30 more user
columns right of LeadQ's output columns (what users do when they add columns to the table).
They are built once under benchmarks/.data, keyed by LeadQ's version and template.
engine: evaluate() alone on DataFrames (activities per second), in one process.
history: a refresh of a workbook whose Lead history holds 10 earlier refreshes a week apart: its time
         and peak memory, the rows it appends and the size of the Lead history part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
SIZES = {"S": (10_000, 100_000), "L": (100_000, 1_000_000)}
AS_OF = "2026-11-22"
PY = sys.executable
LEADQ = [PY, "-m", "addin"]


def timed_rss(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (MB, from wait4) and output of one fresh process."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if p.returncode:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{err.read()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def spread(xs: list[float], digits: int = 2) -> str:
    """min–median–max."""
    return f"{min(xs):.{digits}f}–{statistics.median(xs):.{digits}f}–{max(xs):.{digits}f}"


# ---------------------------------------------------------------- start-up
def startup(runs: int) -> dict:
    rules = ROOT / "rules.json"
    cases = {
        "bare: import json, argparse": [PY, "-c", "import json, argparse"],
        "leadq --help": LEADQ + ["--help"],
        "leadq --version": LEADQ + ["--version"],
        "bare: import jsonschema": [PY, "-c", "import jsonschema"],
        "leadq check-rules": LEADQ + ["check-rules", str(rules)],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for name, cmd in cases.items():          # interleaved, so a busy moment hits every case alike
            times[name].append(timed_rss(cmd, ROOT)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"bench": "startup", "runs": runs, "seconds": {k: spread(v, 3) for k, v in times.items()},
            "help_ratio": round(med["leadq --help"] / med["bare: import json, argparse"], 2),
            "version_ratio": round(med["leadq --version"] / med["bare: import json, argparse"], 2),
            "check_rules_ratio": round(med["leadq check-rules"] / med["bare: import jsonschema"], 2)}


# ---------------------------------------------------------------- workbooks
def _key() -> str:
    """Workbooks are rebuilt when LeadQ's template code or version changes."""
    import addin
    src = (ROOT / "addin" / "io" / "template.py").read_bytes() + (HERE / "synth.py").read_bytes()
    return f"{addin.__version__}-{hashlib.sha1(src).hexdigest()[:8]}"


def workbook_path(size: str, layout: str) -> Path:
    """The never-refreshed workbook of that size and layout (built once, in a child process: on Linux a
    child's peak memory (ru_maxrss) counts its parent's at fork, so a benchmark process that had held a
    100k-lead workbook it built would report inflated peaks for every process it starts afterwards)."""
    path = DATA / f"bench-{size}-{layout}-{_key()}.xlsm"
    if not path.exists():
        subprocess.run([PY, __file__, "--build", size, layout], check=True)
    return path


def build(size: str, layout: str) -> None:
    """Build the workbook `workbook_path` names (run by `bench.py --build SIZE LAYOUT`)."""
    path = DATA / f"bench-{size}-{layout}-{_key()}.xlsm"
    if path.exists():
        return
    DATA.mkdir(exist_ok=True)
    shutil.copyfile(ROOT / "rules.json", DATA / "rules.json")
    t = time.perf_counter()
    if layout == "left":
        sys.path.insert(0, str(HERE))
        from synth import make

        from addin.io.template import build_workbook
        leads, acts = make(*SIZES[size])
        tmp = path.with_suffix(".tmp.xlsm")
        build_workbook(tmp, sample={"Leads": leads, "Activities": acts, "Qualification": None})
    else:
        tmp = path.with_suffix(".tmp.xlsm")
        shutil.copyfile(workbook_path(size, "left"), tmp)
        subprocess.run(LEADQ + ["refresh", str(tmp), "--as-of", AS_OF], check=True, capture_output=True)
        add_user_columns(tmp, 30)
    os.replace(tmp, path)
    print(f"built {path.name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)


def add_user_columns(path: Path, n: int) -> None:
    """n user columns right of the Leads table's last column (LeadQ's outputs), the table grown over them."""
    import numpy as np
    import pyarrow as pa
    from lxml import etree

    from addin.io.edit import PackageEdit
    from addin.io.package import Package, col_letter, parse_range, parse_xml, to_xml
    from addin.io.sheetxml import _join, _row_strings, patch_rows, set_dimension, split
    pkg = Package(path)
    try:
        edit = PackageEdit(pkg)
        part = pkg.sheets["Leads"]
        table_part = next(p for name, (sheet, p, root) in pkg.tables().items() if sheet == "Leads")
        table = parse_xml(pkg.read(table_part))
        r1, c1, r2, c2 = parse_range(table.get("ref"))
        rows = np.arange(r1 + 1, r2 + 1, dtype=np.int64)
        rng = np.random.default_rng(11)
        cells = {}
        for k in range(n):
            col = c2 + 1 + k
            letter = col_letter(col)
            header = f'<c r="{letter}{r1}" t="inlineStr"><is><t>Note {k + 1}</t></is></c>'
            if k % 2:
                body = _join(f'<c r="{letter}', _row_strings(rows), '"><v>',
                             pa.array(rng.integers(0, 10_000, len(rows)).astype(str)), "</v></c>")
            else:
                body = _join(f'<c r="{letter}', _row_strings(rows), '" t="inlineStr"><is><t>',
                             pa.array(np.char.add("remark ", rng.integers(0, 500, len(rows)).astype(str))), "</t></is></c>")
            cells[col] = pa.concat_arrays([pa.array([header]), body])
        head, rows_xml, tail = split(pkg.read(part))
        rows_xml, _ = patch_rows(rows_xml, np.concatenate([[r1], rows]), cells, list(cells))
        edit.put(part, set_dimension(head, r2, c2 + n).encode() + rows_xml + tail.encode())
        table.set("ref", f"{col_letter(c1)}{r1}:{col_letter(c2 + n)}{r2}")
        af = table.find("{*}autoFilter")
        if af is not None:
            af.set("ref", table.get("ref"))
        tcs = table.find("{*}tableColumns")
        next_id = max(int(tc.get("id")) for tc in tcs) + 1
        for k in range(n):
            etree.SubElement(tcs, tcs[0].tag, id=str(next_id + k), name=f"Note {k + 1}")
        tcs.set("count", str(len(tcs)))
        edit.put(table_part, to_xml(table))
        edit.save(path)
    finally:
        pkg.close()


# ---------------------------------------------------------------- refresh
# The baselines run as `leadq` does: transparent huge pages off for the process (addin.cli.no_huge_pages), here
# without importing LeadQ.
AS_LEADQ = "import ctypes, sys\nif sys.platform.startswith('linux'):\n    ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)\n"
READ = (AS_LEADQ + "import sys, fastexcel\n"
        "r = fastexcel.read_excel(sys.argv[1])\n"
        "a = r.load_table('Leads').{to}(); b = r.load_table('Activities').{to}()\n"
        "print(len(a), len(b))\n")


def refresh(size: str, layout: str, runs: int) -> dict:
    source = workbook_path(size, layout)
    work = Path(tempfile.mkdtemp(prefix="leadq-bench-"))
    shutil.copyfile(DATA / "rules.json", work / "rules.json")
    first, again, first_mb, again_mb = [], [], [], []
    read_pd, read_arrow, read_pd_after, floor = [], [], [], []
    wb = work / "bench.xlsm"
    try:
        for _ in range(runs):
            shutil.copyfile(source, wb)
            read_pd.append(timed_rss([PY, "-c", READ.format(to="to_pandas"), str(wb)])[0])
            read_arrow.append(timed_rss([PY, "-c", READ.format(to="to_arrow"), str(wb)])[0])
            wall, mb, _ = timed_rss(LEADQ + ["refresh", str(wb), "--as-of", AS_OF], work)
            first.append(wall), first_mb.append(mb)
            out = subprocess.run([PY, str(HERE / "zipfloor.py"), str(source), str(wb), str(work / "floor.xlsm")],
                                 check=True, capture_output=True, text=True).stdout
            floor.append(float(out.split()[0]))
            read_pd_after.append(timed_rss([PY, "-c", READ.format(to="to_pandas"), str(wb)])[0])
            wall, mb, _ = timed_rss(LEADQ + ["refresh", str(wb), "--as-of", AS_OF], work)
            again.append(wall), again_mb.append(mb)
        med = statistics.median
        return {"bench": "refresh", "size": size, "layout": layout, "runs": runs,
                "file_mb": round(source.stat().st_size / 1e6, 1),
                "bare_read_pandas_s": spread(read_pd), "bare_read_arrow_s": spread(read_arrow),
                "bare_read_refreshed_file_s": spread(read_pd_after), "zip_floor_s": spread(floor),
                "refresh_first_s": spread(first), "refresh_again_s": spread(again),
                "peak_mb": f"{max(first_mb + again_mb):.0f}",
                "ratio_first_to_read": round(med(first) / med(read_pd), 2),
                "ratio_again_to_read": round(med(again) / med(read_pd_after), 2),
                "ratio_first_to_arrow_read": round(med(first) / med(read_arrow), 2),
                "ratio_first_to_read_plus_floor": round(med(first) / (med(read_pd) + med(floor)), 2),
                "ratio_again_to_read_plus_floor": round(med(again) / (med(read_pd_after) + med(floor)), 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- engine alone
def engine(size: str, runs: int) -> dict:
    sys.path.insert(0, str(HERE))
    from synth import make

    import addin
    leads, acts = make(*SIZES[size])
    rules = addin.load_rules()
    addin.evaluate(leads.head(100), acts.head(1000), rules, as_of=AS_OF)   # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        addin.evaluate(leads, acts, rules, as_of=AS_OF)
        times.append(time.perf_counter() - t)
    return {"bench": "engine", "size": size, "evaluate_s": spread(times),
            "activities_per_s": round(SIZES[size][1] / statistics.median(times))}


def accounts(size: str, runs: int) -> dict:
    """The account step (grouping, roles, coverage, the Summary's account table) against the whole
    engine on the same leads: evaluate() includes the step, so step ÷ (evaluate − step) is what it adds;
    a refresh also reads and writes the file, so its share of a refresh is smaller still."""
    sys.path.insert(0, str(HERE))
    from synth import make

    import addin
    from addin.core import accounts as acc_mod
    from addin.core.values.headers import canonicalize
    leads, acts = make(*SIZES[size])
    import numpy as np
    import pandas as pd
    # synth gives every lead one company: spread them over realistic accounts (about 5 contacts each).
    n = len(leads)
    rng = np.random.default_rng(3)
    leads["Company"] = pd.Series(rng.integers(0, max(n // 5, 1), n)).map(lambda i: f"Company {i} SAS").to_numpy(object)
    rules = addin.load_rules()
    frame, _ = canonicalize(leads, "Leads")
    ev = addin.evaluate(leads, acts, rules, as_of=AS_OF)
    step, whole = [], []
    for _ in range(runs):
        t = time.perf_counter()
        acc = acc_mod.group(frame, rules)
        acc_mod.account_table(acc, ev.context, rules)
        step.append(time.perf_counter() - t)
        t = time.perf_counter()
        addin.evaluate(leads, acts, rules, as_of=AS_OF)
        whole.append(time.perf_counter() - t)
    s, w = statistics.median(step), statistics.median(whole)
    return {"bench": "accounts", "size": size, "leads": len(leads), "accounts": int(len(acc.names)),
            "account_step_s": spread(step, 3), "evaluate_s": spread(whole), "adds_to_engine": f"{s / (w - s):.1%}"}


# ---------------------------------------------------------------- Lead history
def history(size: str, runs: int, earlier: int = 10) -> dict:
    """The workbook refreshed `earlier` times a week apart (activities dated after an as-of date do
    not count yet, and decay moves scores, so stages change as in real use), then a timed refresh at
    AS_OF, repeated `runs` times from the same file: time, peak memory, rows appended, part sizes."""
    import datetime as dt

    from addin.core.history import SHEET
    from addin.io.package import Package
    source = workbook_path(size, "left")
    work = Path(tempfile.mkdtemp(prefix="leadq-bench-"))
    shutil.copyfile(DATA / "rules.json", work / "rules.json")
    wb, base = work / "bench.xlsm", work / "base.xlsm"
    day = dt.date.fromisoformat(AS_OF)

    def refresh_at(when: dt.date) -> tuple[float, float, dict]:
        wall, mb, out = timed_rss(LEADQ + ["refresh", str(wb), "--as-of", when.isoformat(), "--json"], work)
        return wall, mb, json.loads(out)

    def part_size() -> tuple[int, int]:
        pkg = Package(wb)
        try:
            info = pkg.zip.getinfo(pkg.sheet_part(SHEET))
        finally:
            pkg.close()
        return info.file_size, info.compress_size

    try:
        shutil.copyfile(source, wb)
        added = [refresh_at(day - dt.timedelta(weeks=earlier - k))[2]["history_rows_added"] for k in range(earlier)]
        shutil.copyfile(wb, base)
        before = part_size()
        times, peaks, appended = [], [], 0
        for _ in range(runs):
            shutil.copyfile(base, wb)
            wall, mb, result = refresh_at(day)
            times.append(wall), peaks.append(mb)
            appended = result["history_rows_added"]
        after = part_size()
        return {"bench": "history", "size": size, "runs": runs, "earlier_refreshes": earlier,
                "rows_added_by_earlier": added, "history_rows_before": sum(added), "rows_appended": appended,
                "refresh_s": spread(times), "peak_mb": f"{max(peaks):.0f}",
                "history_part_mb_before": round(before[0] / 1e6, 1), "history_part_mb_after": round(after[0] / 1e6, 1),
                "history_part_compressed_mb_after": round(after[1] / 1e6, 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compile_leadq() -> None:
    """LeadQ's modules compiled to bytecode before anything is timed, as an installed LeadQ has them (pip
    compiles what it installs; an editable install writes them on its first run). Where
    PYTHONDONTWRITEBYTECODE is set, as on the machine these figures come from, every timed `leadq` would
    otherwise compile its ~75 modules again (0.15-0.25 CPU-s), while the bare read it is compared with
    imports only compiled ones."""
    import compileall
    import importlib.util
    spec = importlib.util.find_spec("addin")
    if spec is not None and spec.origin:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", nargs="?", default="all", choices=["startup", "refresh", "engine", "history", "accounts", "all"])
    p.add_argument("--sizes", default="S,L")
    p.add_argument("--layouts", default="left,right")
    p.add_argument("--runs", type=int, default=0, help="repetitions (default: 10 for start-up, 5 for S, 3 for L)")
    p.add_argument("--engine-child", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.build:
        build(*a.build)
        return
    compile_leadq()
    if a.engine_child:
        print(json.dumps(engine(a.engine_child[0], int(a.engine_child[1]))))
        return
    todo = ["startup", "refresh", "engine", "history"] if a.which == "all" else [a.which]
    for bench in todo:
        if bench == "startup":
            print(json.dumps(startup(a.runs or 10), ensure_ascii=False), flush=True)
        for size in a.sizes.split(","):
            runs = a.runs or (5 if size == "S" else 3)
            if bench == "refresh":
                for layout in a.layouts.split(","):
                    print(json.dumps(refresh(size, layout, runs), ensure_ascii=False), flush=True)
            elif bench == "history":
                print(json.dumps(history(size, runs), ensure_ascii=False), flush=True)
            elif bench == "accounts":
                print(json.dumps(accounts(size, runs), ensure_ascii=False), flush=True)
            elif bench == "engine":      # in a child process of its own
                out = subprocess.run([PY, __file__, "--engine-child", size, str(runs)], check=True, capture_output=True,
                                     text=True).stdout
                print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
