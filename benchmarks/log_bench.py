"""Activity logs beyond Excel (not a timed test): `python benchmarks/log_bench.py [--sizes 10M,100M] [--pandas 1M]`.

Generates synthetic Parquet logs (100,000 leads; deterministic, by DuckDB) into benchmarks/.data,
then scores each with the DuckDB engine in a fresh process: wall time, peak memory (ru_maxrss of
that process: Python, pandas and DuckDB together), events per second; and, alternated with it
(`--runs N`), the engine's floor: a bare DuckDB group-by on the same file (count, decayed sum, last
date, newest Detail per lead and type), printing min–median–max and the ratios of medians: the whole
`evaluate` (fit rules, checklists, stages and texts of the 100,000 leads included) and the engine's own
part of it (the plan's queries and sums) to the floor, in wall time and CPU. The pandas engine runs on
the 1M log for comparison, and its scores are checked equal to DuckDB's on that log.
`--refresh 10M` also times `leadq refresh` of a 100,000-lead workbook whose activities are that log.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
LEADS = 100_000
AS_OF = "2026-11-22"
TYPES = ["page_visit"] * 6 + ["newsletter_open"] * 3 + ["email_click"] * 2 + [
    "whitepaper_download", "webinar", "newsletter_signup", "form_submit", "demo_request", "unsubscribe", "simulator"]
PAGES = ["https://ex.fr/pricing", "https://ex.fr/blog/crm-tips", "https://ex.fr/", "https://ex.fr/blog/lead-scoring",
         "https://ex.fr/case-studies/acme", "https://ex.fr/tarifs", "https://ex.fr/contact", "https://ex.fr/Études-de-cas/Cas-Client"]


def _count(label: str) -> int:
    return int(float(label[:-1]) * {"K": 1e3, "M": 1e6}[label[-1].upper()])


def log_path(label: str) -> Path:
    """The synthetic log of that many events (generated once, ~1.3 GB per 100M)."""
    import duckdb
    path = DATA / f"events-{label}.parquet"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        n = _count(label)
        lit = lambda xs: "[" + ", ".join(f"'{x}'" for x in xs) + "]"   # noqa: E731
        t = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET memory_limit = '2GB'")
        con.execute("SET enable_progress_bar = false")
        con.execute(f"""COPY (
            SELECT 'L' || CAST(hash(i * 4 + 0) % {LEADS} + 1 AS VARCHAR) AS "Lead ID",
                   DATE '{AS_OF}' - CAST(hash(i * 4 + 1) % 380 AS INTEGER) AS "Date",
                   {lit(TYPES)}[1 + CAST(hash(i * 4 + 2) % {len(TYPES)} AS INTEGER)] AS "Activity",
                   {lit(PAGES)}[1 + CAST(hash(i * 4 + 3) % {len(PAGES)} AS INTEGER)]
                       || '?utm_campaign=c' || CAST(hash(i * 4 + 3) % 300 AS VARCHAR) AS "Detail"
            FROM range({n}) t(i)) TO '{path}.tmp' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
        Path(f"{path}.tmp").rename(path)
        print(f"generated {path.name} ({n:,} events, {path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
    return path


def _leads():
    sys.path.insert(0, str(HERE))
    from synth import make
    return make(LEADS, 0)[0]


def _cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def score(label: str, engine: str) -> dict:
    """One measurement, in this (fresh) process."""
    import resource

    import addin
    from addin.engines.external import ExternalActivities, activities_for
    from addin.engines.source import parse_source
    path = log_path(label)
    leads = _leads()
    plain, spent = ExternalActivities.engagement, []

    def timed(self, *args, **kwargs):          # the engine's own part of evaluate(): the plan's queries and sums
        t0 = time.perf_counter()
        try:
            return plain(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)
    ExternalActivities.engagement = timed
    t, cpu = time.perf_counter(), _cpu()
    ev = addin.evaluate(leads, activities_for(parse_source(str(path)), engine), None, as_of=AS_OF)
    seconds, cpu = time.perf_counter() - t, _cpu() - cpu
    ExternalActivities.engagement = plain
    n = _count(label)
    ev.leads[["Lead ID", "Engagement score", "Score", "Interests"]].to_parquet(DATA / f"scores-{label}-{engine}.parquet")
    # CPU seconds (all threads) tell the work done when the machine is shared and wall time stretches.
    return {"engine": engine, "events": n, "leads": LEADS, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "engine_part_seconds": round(sum(spent), 1) if spent else None,
            "events_per_second": round(n / seconds), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "ledger_rows": len(ev.details), "parquet_gb": round(path.stat().st_size / 1e9, 2)}


def floor(label: str) -> dict:
    """The bare DuckDB query doing the heart of the engine's work on the same log: the engine's floor.

    Group by lead and activity type: count, decayed sum (90-day half-life), last date, newest Detail.
    Same connection settings as the engine (memory limit, UTC, all threads).
    """
    import resource

    import duckdb
    path = log_path(label)
    con = duckdb.connect()
    con.execute("SET memory_limit = '3GB'")
    con.execute("SET enable_progress_bar = false")
    t, cpu = time.perf_counter(), _cpu()
    rows = con.execute(f"""SELECT "Lead ID", "Activity", COUNT(*) AS n,
                                  SUM(POWER(0.5, (DATE '{AS_OF}' - "Date") / 90.0)) AS decayed,
                                  MAX("Date") AS last, ARG_MAX("Detail", "Date") AS newest
                           FROM read_parquet('{path}') GROUP BY ALL""").to_arrow_table()
    seconds, cpu = time.perf_counter() - t, _cpu() - cpu
    n = _count(label)
    return {"engine": "floor (bare DuckDB group-by)", "events": n, "groups": rows.num_rows, "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1), "events_per_second": round(n / seconds),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def refresh(label: str) -> dict:
    """`leadq refresh --activities events.parquet` of a 100,000-lead workbook, in a child process."""
    from addin.io.template import build_workbook
    path = log_path(label)
    book = DATA / "bench-100k-leads.xlsm"
    if not book.exists():
        build_workbook(book, sample={"Leads": _leads(), "Activities": None, "Qualification": None})
    if not (DATA / "rules.json").exists():              # the template's Settings name rules.json beside it
        from addin.core.rules.model import default_rules_text
        (DATA / "rules.json").write_text(default_rules_text(), encoding="utf-8")
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "addin", "refresh", str(book),
                          "--activities", str(path), "--as-of", AS_OF], check=True, capture_output=True, text=True)
    seconds, kb = out.stderr.strip().splitlines()[-1].split()
    return {"engine": "duckdb", "bench": "cli refresh", "events": _count(label), "leads": LEADS,
            "seconds": float(seconds), "peak_mb": round(float(kb) / 1024), "summary": out.stdout.strip().splitlines()[0]}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", *args], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10M,100M", help="DuckDB engine on logs of these sizes")
    p.add_argument("--pandas", default="1M", help="the pandas engine (and DuckDB, for equality) on this size; '' to skip")
    p.add_argument("--runs", type=int, default=3, help="runs of the engine and of its floor per size, alternated")
    p.add_argument("--refresh", default="", help="also time a CLI refresh of a 100k-lead workbook on this log size")
    p.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        which, label = a.one
        from addin.cli import no_huge_pages
        no_huge_pages()          # each child, the floor's too, runs as `leadq` runs (addin.cli.no_huge_pages)
        print(json.dumps(refresh(label) if which == "refresh" else floor(label) if which == "floor" else score(label, which)))
        return
    from bench import compile_leadq
    compile_leadq()              # as an installed LeadQ is (bench.compile_leadq)
    import pandas as pd
    if a.pandas:
        for engine in ("pandas", "duckdb"):
            print(json.dumps(_child(engine, a.pandas)), flush=True)
        x, y = (pd.read_parquet(DATA / f"scores-{a.pandas}-{e}.parquet") for e in ("pandas", "duckdb"))
        pd.testing.assert_frame_equal(x, y)
        print(json.dumps({"check": f"{a.pandas}: pandas and DuckDB scores equal on all {len(x):,} leads"}), flush=True)
    import statistics
    for label in filter(None, a.sizes.split(",")):
        got: dict[str, list[dict]] = {"floor": [], "duckdb": []}
        for _ in range(a.runs):               # alternated, so a loaded machine weighs on both alike
            for which in got:
                got[which].append(_child(which, label))
                print(json.dumps(got[which][-1]), flush=True)
        spread = lambda xs: "–".join(f"{x:.1f}" for x in (min(xs), statistics.median(xs), max(xs)))   # noqa: E731
        med = {w: {m: statistics.median(r[m] for r in rs) for m in ("seconds", "cpu_seconds", "peak_mb")} for w, rs in got.items()}
        part = statistics.median(r["engine_part_seconds"] for r in got["duckdb"])
        print(json.dumps({"size": label, "runs": a.runs,
                          "floor_s": spread([r["seconds"] for r in got["floor"]]),
                          "duckdb_s": spread([r["seconds"] for r in got["duckdb"]]),
                          "duckdb_engine_part_s": spread([r["engine_part_seconds"] for r in got["duckdb"]]),
                          "ratio_wall": round(med["duckdb"]["seconds"] / med["floor"]["seconds"], 2),
                          "ratio_cpu": round(med["duckdb"]["cpu_seconds"] / med["floor"]["cpu_seconds"], 2),
                          "ratio_engine_part_wall": round(part / med["floor"]["seconds"], 2),
                          "peak_mb": {w: m["peak_mb"] for w, m in med.items()}}), flush=True)
    if a.refresh:
        print(json.dumps(_child("refresh", a.refresh)), flush=True)


if __name__ == "__main__":
    main()
