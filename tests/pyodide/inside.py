"""Run inside real Pyodide (tests/pyodide/run.mjs): install LeadQ's wheel offline, then check what
runs without numpy/pandas. Prints one JSON object: {check name: result}. No network: the runner
makes every fetch fail."""

import json
import sys

results = {}


async def main(wheels, leadq_wheel):
    import micropip
    # deps=False: numpy and pandas (and fastexcel, duckdb, which LeadQ's markers leave out here) are not resolved
    await micropip.install([f"emfs:{w}" for w in wheels], deps=False)
    await micropip.install(f"emfs:{leadq_wheel}", deps=False)
    results["installed"] = sorted(p for p in micropip.list())
    results["platform"] = sys.platform

    # 1. the pure rules check: a located error from rules.json text
    from addin.core.rules.model import check_rules, default_rules_text
    text = default_rules_text()
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if '"points": ' in line and line.split('"points": ')[1][:1].isdigit())
    head, tail = lines[i].split('"points": ', 1)
    digits = len(tail) - len(tail.lstrip("0123456789"))
    lines[i] = head + '"points": "many"' + tail[digits:]
    broken = "\n".join(lines)
    rules, problems = check_rules(broken, "rules.json")
    results["rules_check"] = [str(p) for p in problems if p.severity == "error"]
    results["broken_line"] = i + 1
    results["default_rules_valid"] = check_rules(text, "rules.json")[0] is not None

    # 2. settings and the Rules sheet: the same error named by its cell
    import addin.settings  # noqa: F401
    from addin import rules_sheet
    sheet = rules_sheet.from_column("Rules", [r[0] for r in rules_sheet.rows_of(broken)])
    results["sheet_check"] = [str(p) for p in rules_sheet.check_sheet(sheet)[1] if p.severity == "error"]
    results["numpy_or_pandas_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "pandas"))

    # 3. the Lite entry points: imported with numpy/pandas stood in for, Check rules dispatched on a fake book
    import stubs
    import xlwings as xw
    stubs.install()
    import addin.lite as lite
    results["lite_scripts"] = [f.__name__ for f in (lite.refresh, lite.preview_rules, lite.calibrate, lite.check_rules)]
    results["lite_functions"] = [f.__name__ for f in (lite.LEADQ_TABLE, lite.LEADQ_EXPLAIN, lite.LEADQ_POINTS)]
    results["xlwings"] = xw.__version__
    book = FakeBook({"Settings": [["Setting", "Value"], ["Rules file", "sheet:Rules"], ["Status", None]],
                     "Rules": [[r[0]] for r in rules_sheet.rows_of(broken)]})
    lite.check_rules(book, now="2026-11-22 09:00")
    results["lite_check_status"] = book.cells["Settings"].get((3, 2))
    results["excluded_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in ("fastexcel", "duckdb", "pyspark"))
    print(json.dumps(results))


class FakeRange:
    def __init__(self, sheet, row, col, rows=None):
        self.sheet, self.row, self.column, self._rows = sheet, row, col, rows

    def options(self, **kw):
        return self

    @property
    def value(self):
        return self._rows if self._rows is not None else self.sheet.cells.get((self.row, self.column))

    @value.setter
    def value(self, v):
        # As Excel stores typed input: a leading apostrophe marks the text as text and is not kept
        # (tests/xlengine.py, which cites xlwings #1269 and office-js #229, does the same).
        if isinstance(v, str) and v.startswith("'"):
            v = v[1:]
        self.sheet.cells[(self.row, self.column)] = v


class FakeSheet:
    def __init__(self, book, name, rows):
        self.book, self.name, self.rows = book, name, rows
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1):
                book.cells.setdefault(name, {})[(r, c)] = v

    @property
    def cells(self):
        return self.book.cells[self.name]

    @property
    def used_range(self):
        return FakeRange(self, 1, 1, self.rows)

    def range(self, cell, *rest):
        return FakeRange(self, cell[0], cell[1])


class FakeApp:
    status_bar = None


class FakeBook:
    name = fullname = "lite.xlsx"

    def __init__(self, sheets):
        self.cells, self.app = {}, FakeApp()
        self.sheets = [FakeSheet(self, n, rows) for n, rows in sheets.items()]
