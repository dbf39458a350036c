import json
import re

import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator

from addin.core.rules.model import schema
from addin.core.rules.operators import OPERATORS

REFERENCE = (ROOT / "docs" / "RULES.md").read_text("utf-8")
README = (ROOT / "README.md").read_text("utf-8")


def _schema_keys(node=None, prefix=""):
    """Top-level keys, plus the keys of plain nested objects (score.min, thresholds.mql…)."""
    node = node or schema()
    for name, sub in node.get("properties", {}).items():
        yield prefix + name
        if not prefix and name not in ("stages", "sla") and "properties" in sub:   # keyed by stage
            yield from _schema_keys(sub, name + ".")


def _documented_keys():
    keys_table = REFERENCE.split("## Keys", 1)[1].split("##", 1)[0]
    first_cells = re.findall(r"^\| ([^|]+) \|", keys_table, re.M)
    return {k for cell in first_cells for k in re.findall(r"`([^`]+)`", cell)}


def test_every_schema_key_is_in_the_rules_reference():
    missing = set(_schema_keys()) - _documented_keys()
    assert not missing, f"keys missing from docs/RULES.md: {sorted(missing)}"


def test_every_documented_key_exists_in_the_schema():
    unknown = _documented_keys() - set(_schema_keys())
    assert not unknown, f"docs/RULES.md documents keys the schema does not have: {sorted(unknown)}"


def test_every_operator_is_documented_with_a_valid_example():
    rows = dict(re.findall(r"^\| `(\w+)` \|.*\| `(\{.*\})` \|$", REFERENCE, re.M))
    assert set(OPERATORS) <= set(rows), set(OPERATORS) - set(rows)
    validator = Draft202012Validator(schema())
    for op in OPERATORS:
        example = json.loads(rows[op])
        rule = {"id": "x", "points": 1, **example}
        assert not list(validator.iter_errors({"fit": [rule]})), op


def _commands() -> list[str]:
    """The subcommands the CLI's parser knows, so a new command cannot go undocumented."""
    from addin.cli import _parser
    sub = next(a for a in _parser()._actions if a.dest == "command")
    return list(sub.choices)


def test_the_parser_has_the_commands():
    assert {"check-rules", "new", "demo", "refresh", "explain", "forget", "export"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_is_in_the_readme(command):
    assert f"leadq {command}" in README


def test_generated_files_are_fresh():
    """The schema's operator enum, docs/RULES.md's operator table and docs/PROBLEMS.md are generated
    from the registries; edit the registry and run `python -m addin.generate`."""
    from addin import generate
    assert generate.stale() == {}, "run python -m addin.generate"
    assert generate.main(["--check"]) == 0


def test_the_generator_rewrites_a_stale_file(tmp_path, monkeypatch):
    from addin import generate
    from addin.core.rules.operators import REGISTRY
    for rel in generate.GENERATED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text("utf-8"), "utf-8")
    schema = tmp_path / "addin" / "rules.schema.json"
    schema.write_text(schema.read_text("utf-8").replace('"email_domain_in"]', '"email_domain_in", "matches"]'), "utf-8")
    rules = tmp_path / "docs" / "RULES.md"
    rules.write_text(rules.read_text("utf-8").replace("| `like` |", "| `glob` |"), "utf-8")
    (tmp_path / "docs" / "PROBLEMS.md").unlink()
    (tmp_path / "rules.json").write_text("{}", "utf-8")
    found = generate.stale(tmp_path)
    assert set(found) == set(generate.GENERATED)
    assert json.loads(found["addin/rules.schema.json"])["$defs"]["operator"]["enum"] == list(REGISTRY)
    assert "| `like` |" in found["docs/RULES.md"] and "| `glob` |" not in found["docs/RULES.md"]
    assert "| `missing-lead-id` | warning | Missing Lead ID |" in found["docs/PROBLEMS.md"]
    packaged = json.loads((ROOT / "addin" / "default_rules.json").read_text("utf-8"))
    assert json.loads(found["rules.json"]) == {**packaged, "$schema": "./addin/rules.schema.json"}


def test_every_problem_code_is_a_constant_of_the_catalogue():
    from addin import problems
    constants = {v for k, v in vars(problems).items() if k.isupper() and isinstance(v, str) and v in problems.CATALOGUE}
    assert constants == {c for c in problems.CATALOGUE if not c.startswith("schema-")}
    assert problems.MISSING_LEAD_ID == "missing-lead-id"
