"""Every ratio of a benchmark run, one per line: `python benchmarks/ratios.py RESULTS.jsonl` (what `make bench` ends with).

Reads the JSON lines bench.py and log_bench.py print and lists each field that is a ratio (or a share)
with what it measured, so a run ends with all its comparisons to a baseline in one place.
"""

from __future__ import annotations

import json
import sys

CONTEXT = ("bench", "size", "layout", "engine")


def ratios(lines) -> list[str]:
    out = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        where = " ".join(str(row[k]) for k in CONTEXT if k in row) or "startup"
        for key, value in row.items():
            if "ratio" in key or key == "adds_to_engine":
                out.append(f"{where:28s} {key:36s} {value}")
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print("\n".join(ratios(f)))
