"""Peak memory of the Lite path's data work, for the README's xlwings Lite size limit.

In Lite the book's cells reach Python as 2-D lists (one Python object per cell), become DataFrames
(core.values.table), and are scored by evaluate; no thread, no file. This runs exactly that on synthetic
data (benchmarks/synth.py: 10 activities per lead) in this process and prints the peak resident
memory: the lists alone, and with table_frame + evaluate. Run: python benchmarks/lite_memory.py 10000
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(n: int) -> None:
    from synth import make

    from addin.core.evaluate import evaluate
    from addin.core.values.table import table_frame
    from addin.settings import load_rules
    leads, acts = make(n, 10 * n)
    cells = {name: [list(f.columns)] + f.astype(object).where(f.notna(), None).to_numpy().tolist()
             for name, f in (("Leads", leads), ("Activities", acts))}
    del leads, acts
    base = peak_mb()
    frames = {name: table_frame(rows, name) for name, rows in cells.items()}
    del cells
    ev = evaluate(frames["Leads"], frames["Activities"], load_rules(), as_of="2026-11-22")
    print(f"{n} leads, {10 * n} activities: peak {peak_mb():.0f} MB (cell lists alone {base:.0f} MB); "
          f"{len(ev.leads)} leads scored")


if __name__ == "__main__":
    main(int(sys.argv[1]))
