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
