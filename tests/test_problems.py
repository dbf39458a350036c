"""The problem-code catalogue: every code LeadQ raises is registered, and totals count every problem."""

import io
import json
import re

import pandas as pd
from conftest import AS_OF, ROOT, acts_frame, leads_frame

import addin
from addin.cli import run
from addin.problems import CATALOGUE
from addin.refresh import new_workbook, refresh

# Where a code could still be written as a literal: Problem("code", …), report(log, "code", …),
# _error("code", …), (path, "code", msg, sev) tuples.
_LITERAL = [re.compile(p) for p in (
    r'Problem\(\s*"([a-z0-9-]+)"',
    r'\.report\(\s*log,\s*"([a-z0-9-]+)"',
    r'_error\(\s*"([a-z0-9-]+)"',
    r'append\(\(\[[^\]]*\],\s*"([a-z0-9-]+)"',
)]


def _sources():
    for path in sorted((ROOT / "addin").rglob("*.py")):
        if path != ROOT / "addin" / "problems.py":
            yield path, path.read_text("utf-8")


def test_codes_are_raised_through_their_constants():
    """A code is declared once (addin/problems.py) and raised by its constant, so a misspelt code is a
    NameError at import, not a code nobody documented: no plain string in addin/ spells a code."""
    import io
    import tokenize
    spelled = []
    for path, text in _sources():
        for t in tokenize.generate_tokens(io.StringIO(text).readline):
            if t.type == tokenize.STRING and t.string[:1] in "\"'" and t.string.strip("\"'") in CATALOGUE:
                spelled.append(f"{path.relative_to(ROOT)}:{t.start[0]}: {t.string}")
    assert spelled == [], "use the constant from addin/problems.py"
    unregistered = [f"{path.relative_to(ROOT)}: {m.group(1)}" for path, text in _sources()
                    for rx in _LITERAL for m in rx.finditer(text) if m.group(1) not in CATALOGUE]
    assert unregistered == [], "declare these codes in addin/problems.py and raise them by their constant"


def test_the_constants_of_the_catalogue_are_what_the_source_raises():
    """Every constant the source imports from addin.problems is a registered code, and at least the
    codes of every group are used somewhere (the scan above is not vacuous)."""
    import ast

    from addin import problems
    used = set()
    for _, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("problems"):
                used |= {a.name for a in node.names if a.name.isupper()}
    codes = {getattr(problems, n) for n in used if isinstance(getattr(problems, n, None), str) and getattr(problems, n) in CATALOGUE}
    assert len(codes) > 60
    assert {CATALOGUE[c].group for c in codes} >= {problems.RULES, problems.WORKBOOK, problems.DATA, problems.PRIVACY}
    assert {"pipeline-no-won", "pipeline-no-lost"} <= set(CATALOGUE)


def test_catalogue_entries_are_complete_and_codes_have_one_meaning():
    for code, entry in CATALOGUE.items():
        assert entry.code == code and entry.title and entry.description
        assert entry.severity in ("error", "warning", "info")
    # a page rule naming an undefined type and an Activities row of an unknown type are two codes
    assert CATALOGUE["undefined-activity-type"].description != CATALOGUE["unknown-activity"].description


def test_every_problem_of_a_run_uses_a_registered_code(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr", "Amount": "lots", "Deal stage": "Nowhere"},
                         {"Lead ID": "A"}, {"Lead ID": None, "Email": "x@y.fr"}])
    acts = acts_frame([("A", "2026-13-45", "webinar", ""), ("Z", AS_OF, "webinar", ""), ("A", AS_OF, "webinr", ""),
                       ("A", None, "webinar", ""), ("A", AS_OF, None, "")])
    q = pd.DataFrame([{"Lead ID": "A", "Budget": "maybe"}, {"Lead ID": "Q", "Budget": "Oui"}])
    ev = addin.evaluate(leads, acts, {**base_rules, "fit": [*base_rules["fit"], {
        "id": "size", "field": "Company size", "op": "gt", "value": 10, "points": 1}]}, qualification=q, as_of=AS_OF)
    codes = {p.code for p in ev.problems}
    assert {"not-a-number", "unknown-deal-stage", "duplicate-lead-id", "missing-lead-id", "not-a-date",
            "unknown-lead", "unknown-activity", "missing-date", "missing-activity", "answer-not-understood",
            "rule-column-missing", "missing-criterion-column"} <= codes
    assert codes <= set(CATALOGUE)


def _many_problems_book(tmp_path, n=1234):
    """A demo workbook whose Activities sheet gains n rows of one unknown type."""
    import openpyxl
    path = tmp_path / "many.xlsm"
    new_workbook(path, sample=True, as_of=AS_OF)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Activities"]
    table = ws.tables["Activities"]
    start = ws.max_row + 1
    for i in range(n):
        ws.append(["L1001", pd.Timestamp(AS_OF).to_pydatetime(), f"made-up-{i % 7}", ""])
    table.ref = f"A1:D{start + n - 1}"
    wb.save(path)
    return path


def test_totals_count_every_problem_found_on_summary_cli_and_json(tmp_path):
    path = _many_problems_book(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert run(["refresh", str(path), "--as-of", AS_OF, "--json"], out, err) == 0, err.getvalue()
    data = json.loads(out.getvalue())
    assert data["problem_counts"]["unknown-activity"] >= 1234      # the sample has a typo of its own too
    assert data["problems_found"] == sum(data["problem_counts"].values()) >= 1234
    listed = [p for p in data["problems"] if p["code"] == "unknown-activity" and p.get("cell")]
    assert len(listed) == 200                      # the list keeps the first 200 of the kind
    found = data["problems_found"]
    out = io.StringIO()
    assert run(["refresh", str(path), "--as-of", AS_OF], out, io.StringIO()) == 0
    assert f"{found:,} data problem(s)" in out.getvalue()
    import openpyxl
    wb = openpyxl.load_workbook(path, data_only=True)
    texts = [c.value for row in wb["Summary"].iter_rows() for c in row if isinstance(c.value, str)]
    assert f"Data quality — {found:,} problems" in texts
    assert any(t.endswith(f"{found} data problems") for t in texts)      # the title line
    assert re.search(rf"{found} data problems on \d lines \(see Summary\)$", wb["Settings"]["B5"].value)
    ev = refresh(path, as_of=AS_OF).evaluation
    assert addin.summarise(ev).kpis["Data problems"] == found == ev.problem_total


def test_rows_of_one_problem_are_one_line_with_a_count_on_every_surface(tmp_path):
    """3,000 Leads rows without a Lead ID and 1,234 unknown activities: one line each (CLI, --json,
    Summary, Status), with the count and the first cells, and the counts add up to the total found."""
    import openpyxl
    path = _many_problems_book(tmp_path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Leads"]
    table = ws.tables["Leads"]
    last = openpyxl.utils.cell.range_boundaries(table.ref)[3]
    for i in range(3000):
        ws.cell(last + 1 + i, 2, f"Nameless {i}")
        ws.cell(last + 1 + i, 4, f"n{i}@x.example")
    table.ref = re.sub(r"\d+$", str(last + 3000), table.ref)
    wb.save(path)
    out, err = io.StringIO(), io.StringIO()
    assert run(["refresh", str(path), "--as-of", AS_OF, "--json"], out, err) == 0, err.getvalue()
    data = json.loads(out.getvalue())
    groups = data["problem_groups"]
    assert sum(g["count"] for g in groups) == data["problems_found"] == sum(data["problem_counts"].values())
    no_id = [g for g in groups if g["code"] == "missing-lead-id"]
    assert len(no_id) == 1 and no_id[0]["count"] == 3000
    assert no_id[0]["where"] == f'Leads!A{last + 1}, A{last + 2}, A{last + 3} … and 2,997 more rows (column "Lead ID")'
    unknown = [g for g in groups if g["code"] == "unknown-activity"]
    assert len(unknown) == 1 and unknown[0]["count"] == data["problem_counts"]["unknown-activity"] >= 1234
    assert unknown[0]["message"].startswith("Unknown activity type, such as C")
    assert not [g for g in groups if "more problems of this kind" in g["message"]]

    out = io.StringIO()
    assert run(["refresh", str(path), "--as-of", AS_OF], out, io.StringIO()) == 0
    text = out.getvalue()
    assert text.count("row has no Lead ID") == 1 and "and 2,997 more rows" in text
    assert f"{data['problems_found']:,} data problem(s) on {len(groups)} lines" in text
    wb = openpyxl.load_workbook(path, data_only=True)
    rows = [[v for v in r if v is not None] for r in wb["Summary"].iter_rows(values_only=True)]
    lines = [r for r in rows if "missing-lead-id" in r]
    assert len(lines) == 1 and 3000 in lines[0] and f"A{last + 1}, A{last + 2}, A{last + 3} … and 2,997 more rows" in lines[0]
    assert wb["Settings"]["B5"].value.endswith(f"{data['problems_found']} data problems on {len(groups)} lines (see Summary)")


def test_the_grouped_no_lead_id_line_names_the_column_that_looks_like_the_id():
    from addin.problems import grouped
    leads = pd.DataFrame({"Lead ID": ["1"] + [""] * 3000, "mql_id": [f"m{i}" for i in range(3001)],
                          "Email": ["x@y.fr"] * 3001})
    ev = addin.evaluate(leads, None, None, as_of=AS_OF)
    lines = [p for p in grouped(ev.problems, ev.problem_counts) if p.code == "missing-lead-id"]
    assert len(lines) == 1 and lines[0].count == 3000 == ev.problem_counts["missing-lead-id"]
    assert str(lines[0]) == ('Leads!A3, A4, A5 … and 2,997 more rows (column "Lead ID"): row has no Lead ID; it is skipped — '
                             'give it a unique id; the column that looks like the id on these rows is "mql_id": if it is, '
                             'write "mql_id" beside "Lead ID" in Settings\' Column mapping (instead of "Lead ID")')
