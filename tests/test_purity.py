"""core/ is the pure engine: text, dicts and frames in, results out.

It imports no I/O or Excel library and nothing from the layers above it (io, excel, app, engines,
settings, the doors), and it opens no file but its own bundled resources (the rules schema and the
default rules, read from the installed package). Both are checked: statically over every module's
imports (in-function imports included), and by running the engine under an audit hook.
"""

import ast
import subprocess
import sys
from pathlib import Path

import addin

CORE = Path(addin.__file__).parent / "core"
# What core may not import: I/O and Excel libraries, and every layer above core.
FORBIDDEN = ("openpyxl", "xlwings", "xlsxwriter", "fastexcel", "lxml", "duckdb", "pyspark", "click",
             "addin.io", "addin.excel", "addin.app", "addin.engines", "addin.settings", "addin.cli",
             "addin.macros", "addin.udfs", "addin.lite", "addin.refresh", "addin.forget", "addin.export")


def _module(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, typing_only: bool = True):
    """(line, absolute module) of every import in a file, relative ones resolved; typing_only=False
    leaves out the imports under `if TYPE_CHECKING:` (never run)."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text("utf-8"))
    skip = set()
    if not typing_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                skip |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            for a in node.names:                       # `from addin import io` imports addin.io
                yield node.lineno, f"{target}.{a.name}"


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_core_imports_nothing_from_the_layers_above_or_io_libraries():
    found = [f"{p.relative_to(CORE.parent.parent)}:{line}: {name}"
             for p in sorted(CORE.rglob("*.py")) for line, name in _imports(p) if _forbidden(name)]
    assert found == []


def test_the_static_check_sees_an_in_function_import(tmp_path, monkeypatch):
    bad = CORE / "values" / "_probe_tmp.py"
    bad.write_text("def f():\n    from ...io import reader\n    return reader\n")
    try:
        found = [name for _, name in _imports(bad) if _forbidden(name)]
    finally:
        bad.unlink()
    assert "addin.io" in found


def test_core_modules_have_no_import_cycle_hidden_in_functions():
    """An import inside a function is for start-up speed (pandas, scikit-learn), never to break a cycle
    between core modules: the graph of core's module-level AND in-function imports is acyclic."""
    graph = {}
    for p in CORE.rglob("*.py"):
        mod = _module(p)
        graph[mod] = {n for _, n in _imports(p, typing_only=False) if n.startswith("addin.core.") and n != mod}
    mods = set(graph)
    graph = {m: {d if d in mods else d.rsplit(".", 1)[0] for d in deps} & mods - {m} for m, deps in graph.items()}
    state, cycle = {}, []

    def visit(m, stack):
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                cycle.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"
    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycle == []


RUN = r"""
import os, sys
blocked = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError("core imported " + name)
sys.meta_path.insert(0, Block())
import pkgutil, importlib
import addin.core
for m in pkgutil.walk_packages(addin.core.__path__, "addin.core."):
    importlib.import_module(m.name)
import pandas as pd
import sklearn.linear_model, sklearn.metrics, sklearn.model_selection, sklearn.preprocessing, sklearn.tree, scipy.stats
allowed = [os.path.dirname(addin.__file__), sys.prefix, sys.base_prefix, os.path.dirname(os.__file__)]
seen = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if not any(path.startswith(os.path.realpath(a)) for a in allowed):
            seen.append(path)
    elif event.startswith("socket.") or event in ("subprocess.Popen", "os.system", "os.remove", "os.rename", "os.mkdir"):
        seen.append(event)
sys.addaudithook(hook)
os.chdir({tmp!r})
open("bait.json", "w").write("{{}}")          # a rules-looking file in the working folder: core must not read it
seen.clear()
from addin.core.evaluate import evaluate
from addin.core.rules.model import load_rules
from addin.core.report.summary import summarise
from addin.core.report.summary_layout import summary_layout
from addin.core.report.explain import explain
from addin.core.calibrate.fit import calibrate
leads = pd.DataFrame({{"Lead ID": [f"L{{i}}" for i in range(40)], "Email": [f"p{{i}}@x.example" for i in range(40)],
                      "Company size": [10 * i for i in range(40)], "Country": ["France", "US"] * 20,
                      "CRM status": ["Customer", "Lost"] * 20, "Created": ["2026-01-05"] * 40}})
acts = pd.DataFrame({{"Lead ID": ["L1", "L2", "L3"] * 10, "Activity": ["Webinar", "Email open", "Demo request"] * 10,
                     "Date": ["2026-11-01"] * 30}})
rules = load_rules()
ev = evaluate(leads, acts, rules, as_of="2026-11-22")
page = summary_layout(summarise(ev), rules, "2026-11-22 09:00")
explain(ev, "L1")
try:
    calibrate(leads, acts, rules, as_of="2026-11-22")
except Exception as e:          # too few closed leads is a refusal, not a file access
    print("calibrate:", type(e).__name__)
print("scored", len(ev.leads), "cells", len(page.cells))
print("OPENED", seen)
"""


def test_core_runs_without_io_libraries_and_opens_no_file(tmp_path):
    code = RUN.format(blocked=[f for f in FORBIDDEN], tmp=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "scored 40" in out.stdout, out.stdout + out.stderr[-2000:]
    assert out.stdout.strip().endswith("OPENED []"), out.stdout
