"""The `leadq` command: parse, call the library, render. Exit 0 ok, 1 problems, 2 usage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .core.rules import check_rules
from .errors import LeadQError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise _Usage(f"{self.prog}: error: {message}")


class _Usage(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="leadq", description="Lead scoring and qualification for Excel workbooks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser("check-rules", help="validate a rules.json file")
    c.add_argument("rules", nargs="?", default="rules.json", help="path of the rules file (default ./rules.json)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def cmd_check_rules(args, out, err) -> int:
    path = Path(args.rules)
    rules, problems = check_rules(path)
    if args.json:
        out.write(json.dumps({"valid": rules is not None, "file": str(path),
                              "problems": [p.as_dict() for p in problems]}, ensure_ascii=False, indent=2) + "\n")
        return 0 if rules else 1
    for p in problems:
        prefix = "warning: " if p.severity == "warning" else ""
        (err if rules is None else out).write(f"{p.where}: {prefix}{p.message}\n")
    if rules is None:
        n = sum(p.severity == "error" for p in problems)
        err.write(f"{path}: {n} problem{'s' * (n != 1)} found\n")
        return 1
    q = rules.checklist
    out.write(f"{path}: valid — \"{rules.name}\" {rules.version}: {len(rules.fit)} fit rules, "
              f"{len(rules.activities)} activity types, {len(rules.pages)} page rules, "
              f"{len(rules.disqualify)} disqualify rules; {q.name} ({len(q.criteria)} criteria); "
              f"MQL at {rules.mql:g}, hot at {rules.hot:g}\n")
    return 0


COMMANDS = {"check-rules": cmd_check_rules}


def run(argv=None, out=None, err=None) -> int:
    """Run the CLI with injectable streams; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _Usage as e:
        err.write(f"{e}\n")
        return 2
    except SystemExit as e:      # --help
        return int(e.code or 0)
    if not args.command:
        parser.print_help(err)
        return 2
    try:
        return COMMANDS[args.command](args, out, err)
    except LeadQError as e:
        for p in e.problems or []:
            err.write(f"{p}\n")
        if not e.problems:
            err.write(f"leadq: {e}\n")
        return 1
    except KeyboardInterrupt:
        err.write("leadq: interrupted\n")
        return 130


def main() -> int:
    return run(sys.argv[1:])
