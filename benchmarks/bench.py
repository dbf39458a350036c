"""LeadQ benchmark (not a timed test): `python benchmarks/bench.py [engine|workbook|all] [--sizes S,L]`.

engine:   evaluate() on synthetic DataFrames -> activities per second and peak memory.
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


BENCHES = {"engine": engine}


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
