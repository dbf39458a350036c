"""LeadQ benchmark (not a timed test): `python benchmarks/bench.py [engine|workbook|history|all] [--sizes S,L]`.

engine:   evaluate() on synthetic DataFrames -> activities per second and peak memory.
workbook: a bare read of the big sheets vs. a full headless refresh.
history:  a refresh of a workbook whose Lead history holds 10 earlier weekly refreshes: its time,
          the rows it appends and the size of the Lead history part.
Each measurement runs in a fresh process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"S": (10_000, 100_000), "L": (100_000, 1_000_000)}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine(size: str) -> dict:
    sys.path.insert(0, str(HERE))
    from synth import make

    import addin
    n_leads, n_acts = SIZES[size]
    leads, acts = make(n_leads, n_acts)
    rules = addin.load_rules()
    addin.evaluate(leads.head(100), acts.head(1000), rules, as_of="2026-11-22")   # warm-up
    times = []
    for _ in range(3):
        t = time.perf_counter()
        ev = addin.evaluate(leads, acts, rules, as_of="2026-11-22")
        times.append(time.perf_counter() - t)
    best = min(times)
    # The kernel alone: engagement scoring of activities already mapped to integer codes.
    from addin.core.evaluate import _activities, _day, _lead_key
    from addin.core.scoring import RuleTable, engagement_hits
    from addin.errors import ProblemLog
    ids = _lead_key(leads["Lead ID"])
    arrays, _ = _activities(acts, leads, ids, rules, ProblemLog())
    table = RuleTable.of(rules)
    kernel = []
    for _ in range(3):
        t = time.perf_counter()
        engagement_hits(*arrays, rules=rules, table=table, as_of_day=_day("2026-11-22"))
        kernel.append(time.perf_counter() - t)
    return {"bench": "engine", "size": size, "leads": n_leads, "activities": n_acts,
            "kernel_seconds": round(min(kernel), 3), "kernel_activities_per_second": round(n_acts / min(kernel)),
            "evaluate_seconds": round(best, 3), "evaluate_activities_per_second": round(n_acts / best),
            "ledger_rows": len(ev.details), "peak_mb": round(_peak_mb())}


def _workbook_path(size: str) -> Path:
    """Build (once, cached under benchmarks/.data) a LeadQ workbook of the given size."""
    sys.path.insert(0, str(HERE))
    from synth import make

    from addin.io.template import build_workbook
    path = HERE / ".data" / f"bench-{size}.xlsm"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        n_leads, n_acts = SIZES[size]
        leads, acts = make(n_leads, n_acts)
        t = time.perf_counter()
        build_workbook(path, sample={"Leads": leads, "Activities": acts, "Qualification": None})
        print(f"built {path.name} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def workbook(size: str) -> dict:
    """Bare read of the two big sheets vs. a full headless refresh, in one process each."""
    path = _workbook_path(size)
    work = path.with_name(f"work-{size}.xlsm")
    import shutil
    shutil.copyfile(path, work)
    probe = ("import time, resource, fastexcel, sys\n"
             "t = time.perf_counter(); r = fastexcel.read_excel(sys.argv[1])\n"
             "a = r.load_table('Leads').to_pandas(); b = r.load_table('Activities').to_pandas()\n"
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    read_s, read_mb = map(float, subprocess.run([sys.executable, "-c", probe, str(work)], capture_output=True, text=True,
                                                check=True).stdout.split())
    phases = ("import time, resource, sys\n"
              "from addin.io.reader import read_workbook\nfrom addin.refresh import compute\n"
              "from addin.io.writer import write_results\nfrom addin.core.present import settings_status\n"
              "from addin.io.summary_sheet import summary_writer\nfrom pathlib import Path\n"
              "p = Path(sys.argv[1]); t0 = time.perf_counter(); d = read_workbook(p); t1 = time.perf_counter()\n"
              "ev, _ = compute(d, p, None, '2026-11-22'); t2 = time.perf_counter()\n"
              "write_results(p, d, ev, settings=settings_status(ev, 'bench'), summary=summary_writer(ev, 'bench'))\n"
              "t3 = time.perf_counter()\n"
              "print(t1 - t0, t2 - t1, t3 - t2, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    read2, score, write, peak = map(float, subprocess.run([sys.executable, "-c", phases, str(work)], capture_output=True,
                                                          text=True, check=True).stdout.split())
    def cli_refresh(target: Path) -> tuple[float, float]:
        """Wall time and peak memory of `leadq refresh` in a child process."""
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "addin", "refresh", str(target),
                              "--as-of", "2026-11-22"], check=True, capture_output=True, text=True)
        seconds, kb = out.stderr.strip().splitlines()[-1].split()
        return float(seconds), float(kb) / 1024

    shutil.copyfile(path, work)                       # a workbook never refreshed before
    cli, cli_mb = cli_refresh(work)
    again, again_mb = cli_refresh(work)               # the same workbook refreshed again
    return {"bench": "workbook", "size": size, "file_mb": round(path.stat().st_size / 1e6, 1),
            "bare_read_seconds": round(read_s, 2), "bare_read_peak_mb": round(read_mb),
            "refresh_read_seconds": round(read2, 2), "refresh_score_seconds": round(score, 2),
            "refresh_write_seconds": round(write, 2), "refresh_peak_mb": round(peak),
            "cli_refresh_seconds": round(cli, 2), "cli_peak_mb": round(cli_mb),
            "cli_refresh_again_seconds": round(again, 2), "cli_again_peak_mb": round(again_mb),
            "ratio_to_read_plus_write": round(cli / (read_s + write), 2),
            "ratio_again": round(again / (read_s + write), 2)}


def history(size: str, earlier: int = 10) -> dict:
    """A refresh of a workbook whose Lead history holds `earlier` refreshes (a week apart, so decay
    moves scores and stages): its time, the rows it appends and the History part's size."""
    import datetime as dt
    import shutil

    from addin.core.history import SHEET
    from addin.io.package import Package
    path = _workbook_path(size)
    work = path.with_name(f"history-{size}.xlsm")
    shutil.copyfile(path, work)
    rules = HERE.parent / "rules.json"          # the template's Settings name rules.json beside the workbook
    if not (work.parent / "rules.json").exists():
        shutil.copyfile(rules, work.parent / "rules.json")
    start = dt.date(2026, 11, 22) - dt.timedelta(weeks=earlier)

    def run(day: dt.date) -> tuple[float, float, int]:
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "addin", "refresh", str(work),
                              "--as-of", day.isoformat(), "--json"], check=True, capture_output=True, text=True)
        seconds, kb = out.stderr.strip().splitlines()[-1].split()
        return float(seconds), float(kb) / 1024, json.loads(out.stdout)["history_rows_added"]

    added = [run(start + dt.timedelta(weeks=k))[2] for k in range(earlier)]

    def part_size() -> tuple[int, int]:
        pkg = Package(work)
        info = pkg.zip.getinfo(pkg.sheet_part(SHEET))
        pkg.close()
        return info.file_size, info.compress_size
    before = part_size()
    seconds, peak, appended = run(dt.date(2026, 11, 22))
    after = part_size()
    return {"bench": "history", "size": size, "earlier_refreshes": earlier, "rows_added_by_earlier": added,
            "history_rows_before": sum(added), "refresh_seconds": round(seconds, 2), "peak_mb": round(peak),
            "rows_appended": appended, "history_part_mb_before": round(before[0] / 1e6, 1),
            "history_part_mb_after": round(after[0] / 1e6, 1),
            "history_part_compressed_mb_after": round(after[1] / 1e6, 1)}


BENCHES = {"engine": engine, "workbook": workbook, "history": history}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("which", nargs="?", default="all", choices=[*BENCHES, "all"])
    p.add_argument("--sizes", default="S,L")
    p.add_argument("--one", nargs=2, metavar=("BENCH", "SIZE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        print(json.dumps(BENCHES[a.one[0]](a.one[1])))
        return
    for bench in (BENCHES if a.which == "all" else [a.which]):
        for size in a.sizes.split(","):
            out = subprocess.run([sys.executable, __file__, "--one", bench, size], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                raise SystemExit(out.returncode)
            print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
