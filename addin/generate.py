"""Files generated from LeadQ's registries, so that a fact is written once and shown everywhere.

- `addin/rules.schema.json`: the operator enum, from the operator registry (core.rules.operators);
- `docs/RULES.md`: the operators table, between its `generated: operators` markers;
- `docs/PROBLEMS.md`: the whole problem-code reference, from the catalogue (addin.problems);
- `rules.json` (the repository's editable copy): the packaged defaults addin/default_rules.json, its
  `$schema` pointing at addin/rules.schema.json.

`python -m addin.generate` rewrites them; `python -m addin.generate --check` lists the stale ones and
exits 1 (a test runs the same check, as the template's byte test does for workbook_template.xlsm).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- generated: {} (python -m addin.generate; do not edit by hand) -->", "<!-- end generated: {} -->"


def schema_text(text: str) -> str:
    """The schema with `$defs.operator.enum` equal to the operator registry, in its order."""
    from .core.rules.operators import REGISTRY
    start = text.index('"operator": {')
    m = re.compile(r'"enum": \[[^\]]*\]').search(text, start)
    return text[:m.start()] + '"enum": ' + json.dumps(list(REGISTRY), ensure_ascii=False) + text[m.end():]


def replace_block(text: str, name: str, body: str) -> str:
    """Text with the lines between the `generated: NAME` markers replaced by body."""
    begin, end = BEGIN.format(name), END.format(name)
    if begin not in text or end not in text:
        raise ValueError(f"the markers of the generated block {name!r} are missing")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body.strip()}\n{end}{tail}"


def rules_md(text: str) -> str:
    from .core.rules.operators import markdown_table
    return replace_block(text, "operators", markdown_table())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def problems_md(_text: str = "") -> str:
    """docs/PROBLEMS.md: every problem code LeadQ reports, by group, from the catalogue."""
    from .problems import CATALOGUE
    out = ["# Problem codes", "",
           "<!-- generated from addin/problems.py by `python -m addin.generate`; do not edit by hand -->", "",
           "Every problem LeadQ reports carries one of these codes: in `--json` (`code`), on the Summary's",
           "data-quality lines and in `leadq check-rules`. Codes are stable; a script may rely on them. The",
           "severity is the usual one (a call site may raise or lower it where it knows more): an **error** stops",
           "the job with the file unchanged, a **warning** is reported and the job goes on, **info** only informs.",
           "A code is declared once, in `addin/problems.py`, as the constant it is raised with",
           "(`problems.MISSING_LEAD_ID == \"missing-lead-id\"`).", ""]
    groups: dict[str, list] = {}
    for entry in CATALOGUE.values():
        groups.setdefault(entry.group, []).append(entry)
    for group, entries in groups.items():
        out += [f"## {group}", "", "| code | severity | title | meaning |", "|---|---|---|---|"]
        out += [f"| `{e.code}` | {e.severity} | {_cell(e.title)} | {_cell(e.description)} |" for e in entries]
        out.append("")
    return "\n".join(out)


def repo_rules(_text: str = "") -> str:
    """rules.json at the repository's root: the packaged defaults, byte for byte but for the $schema path."""
    text = (ROOT / "addin" / "default_rules.json").read_text("utf-8")
    return text.replace('"$schema": "./rules.schema.json"', '"$schema": "./addin/rules.schema.json"', 1)


GENERATED = {"addin/rules.schema.json": schema_text, "docs/RULES.md": rules_md, "docs/PROBLEMS.md": problems_md,
             "rules.json": repo_rules}


def stale(root: Path = ROOT) -> dict[str, str]:
    """{path: what it should hold} for every generated file that differs from what it should hold."""
    out = {}
    for rel, make in GENERATED.items():
        path = root / rel
        old = path.read_text("utf-8") if path.exists() else ""
        new = make(old)
        if new != old:
            out[rel] = new
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    found = stale()
    if "--check" in argv:
        for rel in found:
            print(f"{rel} is stale: run python -m addin.generate")
        return 1 if found else 0
    for rel, text in found.items():
        (ROOT / rel).write_text(text, "utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
