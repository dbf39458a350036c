"""The `leadq` command: parse, call the library, render. Exit 0 ok, 1 problems, 2 usage."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import LeadQError, RulesError

# Library modules are imported inside the commands that use them, so `leadq --help`,
# `leadq --version` and `leadq check-rules` start without loading pandas.


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise _Usage(f"{self.prog}: error: {message}")


class _Usage(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="leadq", description="Lead scoring and qualification for Excel workbooks.")
    p.add_argument("--version", action="version", version=f"leadq {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser("check-rules", help="validate a rules.json file")
    c.add_argument("rules", nargs="?", default="rules.json", help="path of the rules file (default ./rules.json)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")

    n = sub.add_parser("new", help="create a workbook from the template")
    n.add_argument("out", help="path of the new .xlsm workbook")
    n.add_argument("--sample", action="store_true", help="fill it with realistic sample data")
    n.add_argument("--rules", help="rules file to build drop-downs from (default: bundled rules)")
    n.add_argument("--force", action="store_true", help="replace an existing workbook of that name")
    n.add_argument("--leads", metavar="FILE", help="fill Leads from a CRM export: CSV, or .xlsx/.xls/.ods (first sheet, or --sheet)")
    n.add_argument("--activities", metavar="FILE", help="fill Activities from an export")
    n.add_argument("--qualification", metavar="FILE", help="fill Qualification from an export")
    n.add_argument("--sheet", help="which sheet of a spreadsheet export to read (default: the first)")
    n.add_argument("--lite", action="store_true",
                   help="an xlwings Lite workbook (.xlsx, no VBA, the rules in its Rules sheet) and, beside it, "
                        "the main.py and requirements.txt to paste into Lite's editor")

    ri = sub.add_parser("rules-in", help="copy a rules.json into a workbook's Rules sheet (for xlwings Lite)")
    ri.add_argument("workbook")
    ri.add_argument("rules", nargs="?", default="rules.json", help="the rules file (default ./rules.json)")
    ro = sub.add_parser("rules-out", help="copy a workbook's Rules sheet out to a rules.json file")
    ro.add_argument("workbook")
    ro.add_argument("out", nargs="?", default="rules.json", help="the file to write (never over an existing one)")

    m = sub.add_parser("import", help="append (or replace) the rows of a workbook's table from a CRM export")
    m.add_argument("workbook")
    m.add_argument("--leads", metavar="FILE")
    m.add_argument("--activities", metavar="FILE")
    m.add_argument("--qualification", metavar="FILE")
    m.add_argument("--sheet", help="which sheet of a spreadsheet export to read (default: the first)")
    m.add_argument("--replace", action="store_true", help="replace the table's rows instead of appending (columns are kept)")

    d = sub.add_parser("demo", help="new workbook with sample data, refreshed: the main job on bundled data")
    d.add_argument("out", nargs="?", default="out/demo.xlsm", help="where to write it (default out/demo.xlsm)")
    d.add_argument("--as-of", type=_date, help="date ages are measured at (default today)")
    d.add_argument("--force", action="store_true", help="replace an existing workbook of that name")

    r = sub.add_parser("refresh", help="score, qualify and stage every lead of a workbook")
    r.add_argument("workbook")
    r.add_argument("--rules", help="rules file (default: Settings sheet, then rules.json beside the workbook)")
    r.add_argument("--as-of", type=_date, help="date ages are measured at, YYYY-MM-DD (default: Settings, then today)")
    r.add_argument("--output", help="write the refreshed workbook here instead of in place")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    _source_options(r)

    v = sub.add_parser("preview", help="what a new rules file would change on a workbook's leads (writes nothing)")
    v.add_argument("workbook")
    v.add_argument("--rules", required=True, help="the new rules file to compare with the rules the workbook uses")
    v.add_argument("--as-of", type=_date, help="date ages are measured at, for both rule sets (default: Settings, then today)")
    v.add_argument("--json", action="store_true", help="print the comparison as JSON")

    e = sub.add_parser("explain", help="print the rule-by-rule ledger of one lead")
    e.add_argument("workbook")
    e.add_argument("lead_id")
    e.add_argument("--rules")
    e.add_argument("--as-of", type=_date)
    _source_options(e)
    e.add_argument("--json", action="store_true", help="print the ledger as JSON")
    e.add_argument("--saved", action="store_true",
                   help="print the ledger the last refresh saved (Score details sheet, or its Parquet file) instead of recomputing")

    k = sub.add_parser("calibrate", help="learn the points from outcomes: lift per rule, suggested points and MQL threshold")
    k.add_argument("workbook")
    k.add_argument("--outcome", default="won", metavar="won|COLUMN",
                   help="won: won vs lost deals (default); or a Leads column of 1/0, Yes/No (blank: still open)")
    k.add_argument("--holdout", type=_share, default=0.3, help="share of the leads with an outcome kept apart to measure on (default 0.3)")
    k.add_argument("--seed", type=int, default=0, help="seed of the held-out split (default 0)")
    k.add_argument("--write", metavar="FILE", help="write the suggested rules to FILE (never over rules.json)")
    k.add_argument("--json", action="store_true", help="print the whole report as JSON")
    k.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="COL",
                   help="Leads columns never used (fields filled in after contact would leak the answer)")
    k.add_argument("--no-new-rules", action="store_true", help="do not suggest new rules, re-cuts or interaction rules")
    k.add_argument("--keep", nargs="+", action="extend", default=[], metavar="COL",
                   help="Leads columns kept although they look like leaks (a strong pre-contact source, say)")
    k.add_argument("--holdout-by", metavar="COL",
                   help="hold out the most recent leads by this date column (e.g. Created) instead of a stratified sample")
    k.add_argument("--max-rules", type=_count, default=40, metavar="N",
                   help="at most N rules, activity types and page rules in the suggestion (default 40)")
    k.add_argument("--points-per-doubling", type=_positive, metavar="P",
                   help="points that double a lead's odds (default: a tenth of the score range)")
    k.add_argument("--force", action="store_true",
                   help="with --write: write the suggestion even when it does worse than the current rules on the held-out part")
    g = k.add_mutually_exclusive_group()
    g.add_argument("--mql-precision", type=_share, metavar="P", help="MQL threshold: the lowest whose MQLs win at least P (0-1)")
    g.add_argument("--mql-share", type=_share, metavar="S", help="MQL threshold: S (0-1) of the leads are MQLs")
    g.add_argument("--mql-per-week", type=_positive, metavar="N", help="MQL threshold: about N MQLs a week (sales capacity)")
    k.add_argument("--rules", help="rules file (default: Settings sheet, then rules.json beside the workbook)")
    k.add_argument("--as-of", type=_date, help="date ages are measured at, YYYY-MM-DD (default: Settings, then today)")
    _privacy_commands(sub)
    for command in sub.choices.values():       # the trust boundary's one door, on every command
        command.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                             help="let the workbook's Settings name files inside DIR too (default: only its own "
                                  "folder; also $LEADQ_ALLOWED_PATHS)")
    return p


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return v


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1 (e.g. 0.3)")
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return v


def _source_options(p: argparse.ArgumentParser) -> None:
    """Where the activity log is and which engine scores it (shared by every command that scores)."""
    from .engines import ENGINES
    p.add_argument("--activities", metavar="SRC",
                   help="activity log: a .parquet/.csv file, a glob (events/*.parquet) or crm.duckdb#TABLE "
                        "(default: Settings > Activities source, else the Activities sheet)")
    p.add_argument("--engine", choices=list(ENGINES),
                   help="what scores the activities: " + ", ".join(ENGINES) + " (pandas: the sheet's engine; duckdb: default for files)")
    p.add_argument("--spark-master", metavar="URL", help="Spark master for --engine spark (spark://host:7077, yarn, local[*])")


def _source_args(args) -> dict:
    return {"activities": args.activities, "engine": args.engine, "spark_master": args.spark_master}


def _privacy_commands(sub) -> None:
    f = sub.add_parser("forget", help="erase one person from a workbook (GDPR), log it, and refresh")
    f.add_argument("workbook")
    who = f.add_mutually_exclusive_group(required=True)
    who.add_argument("--lead", metavar="ID", help="the person's Lead ID")
    who.add_argument("--email", metavar="ADDRESS", help="the person's email (every Leads row with it goes)")
    f.add_argument("--dry-run", action="store_true", help="show what would be removed; change nothing")
    f.add_argument("--activities", metavar="FILE", help="an external activities file (CSV) to erase the person from too "
                   "(Settings > Activities source is erased from as well)")
    f.add_argument("--rules")
    f.add_argument("--as-of", type=_date)
    f.add_argument("--output", help="write the result here instead of in place")
    x = sub.add_parser("export", help="scores back to your CRM (--for), or pseudonymised for an analyst")
    x.add_argument("workbook")
    x.add_argument("--for", dest="crm", nargs=2, metavar=("CRM", "OUT.csv"),
                   help="hubspot, salesforce, pipedrive or csv, and the import file to write: the CRM's own import "
                        "columns (record id, score, grade, stage, why, refreshed at)")
    x.add_argument("--pseudonymise", "--pseudonymize", metavar="OUT.csv",
                   help="the CSV to write (names, emails, Lead IDs and owners as stable salted hashes)")
    x.add_argument("--rules")
    x.add_argument("--as-of", type=_date)


def cmd_forget(args, out, err) -> int:
    from .app.forget import forget
    r = forget(args.workbook, lead=args.lead, email=args.email, dry_run=args.dry_run, activities_file=args.activities,
               rules=args.rules, as_of=args.as_of, output=args.output)
    verb = "would remove" if r.dry_run else "removed"
    sheets = ", ".join(f"{n} row{'s' * (n != 1)} from {s}" for s, n in r.rows.items())
    out.write(f"{args.workbook}: {verb} {sheets} (person {r.request})\n")
    if r.dry_run:
        for sheet, rows in r.cells.items():
            if rows:
                out.write(f"  {sheet}: rows {', '.join(map(str, rows))}\n")
        out.write("  Score details and the Summary are rebuilt without them; nothing was changed (--dry-run)\n")
    for path, n in r.files.items():
        out.write(f"{path}: {verb} {n} row{'s' * (n != 1)}\n")
    for line in r.remains:
        err.write(f"warning: {line}\n")
    if not r.dry_run:
        ev = r.refresh.evaluation
        out.write(f"logged on the Privacy log sheet (salted hashes only; salt: {r.salt_where}); "
                  f"refreshed: {len(ev.leads)} leads — {_stage_line(ev)}\n")
    return 0


def cmd_export(args, out, err) -> int:
    from .app.export import export_for_crm, export_pseudonymised
    from .core.report.crm_export import FORMATS
    if bool(args.crm) == bool(args.pseudonymise):
        err.write("leadq export: give either --for hubspot|salesforce|pipedrive|csv OUT.csv, or --pseudonymise OUT.csv\n")
        return 2
    if args.crm:
        crm, target = args.crm[0].strip().lower(), args.crm[1]
        if crm not in FORMATS:
            err.write(f"leadq export: --for {args.crm[0]!r}: choose hubspot, salesforce, pipedrive or csv\n")
            return 2
        n = export_for_crm(args.workbook, crm, target, rules=args.rules, as_of=args.as_of)
        fmt = FORMATS[crm]
        out.write(f"wrote {target}: {n} leads in {fmt.name}'s import columns ({fmt.id_header} first); import it "
                  f"as an update — see README, Back to your CRM\n")
        return 0
    n, where = export_pseudonymised(args.workbook, args.pseudonymise, rules=args.rules, as_of=args.as_of)
    out.write(f"wrote {args.pseudonymise}: {n} leads, Lead IDs, names, emails and owners as salted hashes "
              f"(salt: {where}; keep it private)\n")
    return 0


def _date(text: str):
    import datetime as dt
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a date in the form YYYY-MM-DD") from None
    if not 1900 <= day.year <= 2262:
        raise argparse.ArgumentTypeError(f"{text!r} is outside the dates LeadQ computes with (1900 to 2262)")
    return day


def _progress(err):
    """Stage messages on a terminal; silent when piped (schedulers, CI)."""
    if not getattr(err, "isatty", lambda: False)():
        return None
    import time
    start = time.perf_counter()

    def step(message: str) -> None:
        err.write(f"\r\033[K[{time.perf_counter() - start:5.1f}s] {message}…")
        err.flush()
    return step


def _stage_line(ev) -> str:
    from .core.report.present import stage_counts
    counts = stage_counts(ev)
    return ", ".join(f"{ev.rules.stage_label(s)} {n}" for s, n in counts.items() if n)


def cmd_refresh(args, out, err) -> int:
    from .app.inputs import read_ahead
    read_ahead(args.workbook)          # the big tables are parsed (without Python's lock) while the scoring code is imported
    from .app.refresh import refresh
    from .problems import grouped
    step = _progress(err)
    result = refresh(args.workbook, rules=args.rules, as_of=args.as_of, output=args.output, progress=step,
                     **_source_args(args))
    if step:
        err.write("\r\033[K")
    ev = result.evaluation
    from .core.history import changes
    moved = changes(ev.history, ev.context)
    if args.json:
        from .core.report.present import stage_counts
        out.write(json.dumps({"workbook": str(result.report.target), "leads": len(ev.leads),
                              "as_of": ev.as_of.date().isoformat(), "rules": result.rules_source,
                              "stages": stage_counts(ev), "changes": moved.as_dict(),
                              "history_rows_added": result.report.history_rows, "problems_found": ev.problem_total,
                              "problem_counts": ev.problem_counts,
                              "problem_groups": [p.as_dict() for p in grouped(result.problems, ev.problem_counts)],
                              "problems": [p.as_dict() for p in result.problems]}, ensure_ascii=False, indent=2) + "\n")
        return 0
    out.write(f"{result.report.target}: {len(ev.leads)} leads scored as of {ev.as_of.date().isoformat()} "
              f"with {result.rules_source} — {_stage_line(ev)}\n")
    _changes(out, ev, moved, result.report.history_rows)
    if result.details_file:
        out.write(f"Score details holds each lead's totals by kind of rule; all {len(ev.details):,} ledger rows are in "
                  f"{result.details_file} (`leadq explain --saved` reads it)\n")
    if result.report.details_cut:
        out.write(f"Score details holds the first {result.report.details_rows:,} ledger rows of "
                  f"{result.report.details_rows + result.report.details_cut:,} (a sheet's limit); use `leadq explain`\n")
    if ev.problem_total:
        lines = grouped(result.problems, ev.problem_counts)
        out.write(f"{ev.problem_total:,} data problem(s) on {len(lines):,} line{'s' * (len(lines) != 1)} (rows of one "
                  f"kind, sheet and column are one line), listed on the Summary sheet{'; the first ones' * (len(lines) > 10)}:\n")
        for p in lines[:10]:
            out.write(f"  {p}\n")
    return 0


def _imports(args) -> dict:
    return {sheet: ((path, args.sheet) if args.sheet else path) for sheet, path in
            (("Leads", args.leads), ("Activities", args.activities), ("Qualification", args.qualification)) if path}


def _changes(out, ev, moved, added: int) -> None:
    """What changed since the last refresh, stage by stage (`MQL 70 → 73: +5 new, −2 moved on`)."""
    if not ev.history.write:
        out.write("Lead history: nothing added (the as-of date is before its last refresh)\n")
        return
    if moved.first:
        out.write(f"Lead history started: {added:,} leads recorded\n")
        return
    lines = moved.lines(ev.rules.stage_label)
    since = moved.previous_at.strftime("%Y-%m-%d %H:%M") if moved.previous_at is not None else "the last refresh"
    out.write(f"Since {since}:" + (" no lead changed stage" if not lines else "") + "\n")
    for line in lines:
        out.write(f"  {line}\n")
    out.write(f"Lead history: {added:,} row{'s' * (added != 1)} added\n")


def cmd_preview(args, out, err) -> int:
    from .app.preview import preview
    from .core.report.preview import render_text
    old, new, p = preview(args.workbook, args.rules, as_of=args.as_of)
    if args.json:
        out.write(json.dumps({"workbook": str(args.workbook), "as_of": old.as_of.date().isoformat(),
                              "current_rules": old.rules_source, "new_rules": new.rules_source, **p.as_dict()},
                             ensure_ascii=False, indent=2) + "\n")
        return 0
    out.write(f"{args.workbook}: as of {old.as_of.date().isoformat()}, {old.rules_source} → {new.rules_source}\n")
    for line in render_text(p, old.rules.stage_label):
        out.write(line + "\n")
    return 0


def cmd_new(args, out, err) -> int:
    from .app.new import new_workbook
    imports = _imports(args)
    if imports and args.sample:
        err.write("leadq new: use --sample or --leads/--activities/--qualification, not both\n")
        return 2
    notes: list[str] = []
    for path in new_workbook(args.out, sample=args.sample, rules=args.rules, imports=imports, force=args.force,
                             lite=args.lite, notes=notes):
        out.write(f"wrote {path}\n")
    for line in notes:
        out.write(line + "\n")
    if args.lite:
        out.write("next: open it in Excel, start xlwings Lite (Home > xlwings Lite), paste main.py and requirements.txt "
                  "into Lite's editor, then run LeadQ: Refresh (see the README: In Excel without installing Python)\n")
        return 0
    if imports:
        out.write(f"next: leadq refresh {args.out}\n")
    return 0


def cmd_import(args, out, err) -> int:
    from .app.imports import import_files
    imports = _imports(args)
    if not imports:
        err.write("leadq import: give at least one of --leads, --activities, --qualification\n")
        return 2
    if not Path(args.workbook).is_file():
        raise LeadQError(f"{args.workbook}: no such file")
    for sheet, n, skipped, path, notes in import_files(args.workbook, imports, replace=args.replace):
        for note in notes:
            err.write(f"warning: {note}\n")
        out.write(f"{args.workbook}: {'replaced the rows of' if args.replace else 'appended to'} {sheet}: {n} row(s) from {path}\n")
        if skipped:
            out.write(f"  not imported (no such column in the {sheet} table; add one with that header first): "
                      f"{', '.join(skipped)}\n")
    out.write(f"next: leadq refresh {args.workbook}\n")
    return 0


def cmd_demo(args, out, err) -> int:
    from .app.new import new_workbook
    from .app.refresh import refresh
    for path in new_workbook(args.out, sample=True, as_of=args.as_of, force=args.force):
        out.write(f"wrote {path}\n")
    step = _progress(err)
    result = refresh(args.out, as_of=args.as_of, progress=step)
    if step:
        err.write("\r\033[K")
    ev = result.evaluation
    out.write(f"refreshed {args.out}: {len(ev.leads)} leads — {_stage_line(ev)}; {ev.problem_total} data problems\n")
    out.write(f"open it in Excel or LibreOffice, or run: leadq explain {args.out} {ev.leads['Lead ID'].iloc[0]}\n")
    return 0


def cmd_explain(args, out, err) -> int:
    from .app.explain import explain_file
    path = Path(args.workbook)
    if args.saved:
        return _explain_saved(path, str(args.lead_id).strip(), args.json, out, err)
    done = explain_file(path, args.lead_id, args.rules, args.as_of, **_source_args(args))
    ev, ex = done.evaluation, done.explanation
    used = f" ({done.as_of_source})" if done.as_of_source else ""
    if done.as_of_source.startswith("today"):
        used += "; the sheet's scores are those of its last refresh: give --as-of that date to see them"
    row, ledger = ex.lead, ex.ledger
    if args.json:
        out.write(json.dumps({"lead": row, "stage_reason": ex.stage_reason,
                              "ledger": json.loads(ledger.astype({"Rule": str, "Kind": str}).to_json(orient="records", force_ascii=False))},
                             ensure_ascii=False, indent=2) + "\n")
        return 0
    base = f"base {ev.rules.base:g} + " if ev.rules.base else ""
    out.write(f"{row['Lead ID']}: score {row['Score']:g} ({base}fit {row['Fit score']:g} + engagement {row['Engagement score']:g}), "
              f"grade {row['Grade']}, stage {row['Stage']}, as of {ev.as_of.date().isoformat()}{used}\n")
    out.write(f"stage: {ex.stage_reason}\n")
    if row["Checklist"]:
        out.write(f"checklist: {row['Checklist']}\n")
    _ledger_table(ledger, out, ex.total)
    return 0


def _ledger_table(ledger, out, total: float) -> None:
    header = f"{'rule':<28} {'kind':<9} {'count':>5} {'raw':>8} {'decay':>7} {'cap':>8} {'points':>8}  matched"
    out.write(header + "\n" + "-" * len(header) + "\n")
    for r in ledger.itertuples(index=False):   # one lead's ledger: a handful of rows
        out.write(f"{str(r.Rule):<28} {str(r.Kind):<9} {r.Count:>5} {r._5:>8.2f} {r._6:>7.3f} {r.Cap:>8.2f} "
                  f"{r.Points:>8.2f}  {str(r.Matched)[:50]}\n")
    out.write(f"{'total':<28} {'':<9} {'':>5} {'':>8} {'':>7} {'':>8} {total:>8.2f}\n")


def _explain_saved(path, lead_id: str, as_json: bool, out, err) -> int:
    """The ledger the last refresh wrote: the Score details sheet, or the Parquet file beside the workbook."""
    from .app.explain import explain_saved
    ledger, where = explain_saved(path, lead_id)
    if ledger.empty:
        err.write(f'{path.name}: no saved Score details for lead "{lead_id}" (read from {where})\n')
        return 1
    if as_json:
        out.write(json.dumps({"lead": lead_id, "source": where,
                              "ledger": json.loads(ledger.to_json(orient="records", force_ascii=False))},
                             ensure_ascii=False, indent=2) + "\n")
        return 0
    out.write(f"{lead_id}: Score details saved by the last refresh, read from {where}\n")
    _ledger_table(ledger, out, float(ledger["Points"].sum()))
    return 0


def cmd_check_rules(args, out, err) -> int:
    from .app.check import check_file
    path = Path(args.rules)
    checked = check_file(path)
    rules, problems = checked.rules, checked.problems
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


def cmd_calibrate(args, out, err) -> int:
    from .app.calibrate import calibrate_file, goal_of, worse_than_current, write_suggested
    from .core.calibrate.view import calibration_lines
    cal, source, path = calibrate_file(
        args.workbook, rules=args.rules, as_of=args.as_of, outcome=args.outcome, holdout=args.holdout, seed=args.seed,
        exclude=args.exclude, goal=goal_of(args.mql_precision, args.mql_share, args.mql_per_week),
        new_rules=not args.no_new_rules, keep=args.keep, holdout_by=args.holdout_by, max_rules=args.max_rules,
        points_per_doubling=args.points_per_doubling)
    refused = worse_than_current(cal) if args.write and not args.force else None
    if refused:
        from .core.calibrate.view import calibration_lines
        for line in calibration_lines(cal):
            out.write(line + "\n")
        err.write(f"leadq: {refused}; nothing written — add --force to write it anyway\n")
        return 1
    written = write_suggested(cal, args.write, path, args.workbook) if args.write else None
    if args.json:
        from .core.calibrate.view import calibration_json
        out.write(json.dumps({"workbook": str(args.workbook), "rules": source, "written": str(written) if written else None,
                              **calibration_json(cal)}, ensure_ascii=False, indent=2) + "\n")
        return 0
    out.write(f"{args.workbook}: rules from {source}\n")
    for line in calibration_lines(cal):
        out.write(line + "\n")
    if written:
        rules_name = path.name if path else "rules.json"
        out.write(f"\nwrote {written} — check it with `leadq check-rules {written}`, compare with "
                  f"`diff {rules_name} {written}` (one rule per line), and refresh with `--rules {written}` to try it\n")
    else:
        out.write("\nadd --write rules.suggested.json to save the suggested rules\n")
    return 0


def cmd_rules_in(args, out, err) -> int:
    from .io.rules_book import rules_in
    n = rules_in(args.workbook, args.rules)
    out.write(f"{args.workbook}: the Rules sheet now holds {args.rules} ({n} lines); the workbook uses it when "
              "Settings' Rules file says sheet:Rules or is blank\n")
    return 0


def cmd_rules_out(args, out, err) -> int:
    from .io.rules_book import rules_out
    out.write(f"wrote {rules_out(args.workbook, args.out)} from the Rules sheet of {args.workbook}\n")
    return 0


COMMANDS = {"rules-in": cmd_rules_in, "rules-out": cmd_rules_out,
            "check-rules": cmd_check_rules, "preview": cmd_preview, "new": cmd_new, "import": cmd_import, "demo": cmd_demo, "refresh": cmd_refresh,
            "explain": cmd_explain, "calibrate": cmd_calibrate, "forget": cmd_forget, "export": cmd_export}


class Terminated(BaseException):
    """SIGTERM (timeout, schedulers, service managers): unwind so temporary files are removed."""


def _json_error(out, kind: str, message: str, problems=()) -> None:
    out.write(json.dumps({"error": {"kind": kind, "message": message, "problems": [p.as_dict() for p in problems]}},
                         ensure_ascii=False, indent=2) + "\n")


def _subject(args) -> str:
    for name in ("workbook", "out", "rules"):
        value = getattr(args, name, None)
        if value:
            return str(value)
    return "this command"


def run(argv=None, out=None, err=None) -> int:
    """Run the CLI with injectable streams; return the exit code. Never raises, never prints a traceback."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _Usage as e:
        err.write(f"{e}\n")
        if as_json:
            _json_error(out, "usage", str(e))
        return 2
    except SystemExit as e:      # --help
        return int(e.code or 0)
    if not args.command:
        parser.print_help(err)
        return 2
    try:
        from .settings import allowing
        with allowing(getattr(args, "allow_path", None)):
            return COMMANDS[args.command](args, out, err)
    except LeadQError as e:
        for p in e.problems or []:
            err.write(f"{p}\n")
        if not e.problems:
            err.write(f"leadq: {e}\n")
        if as_json:
            _json_error(out, "rules" if isinstance(e, RulesError) else "workbook", str(e), e.problems)
        return 1
    except BrokenPipeError:
        # `leadq explain … | head`: the reader has all it wanted. Point stdout at nothing so the
        # interpreter's final flush does not complain again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except KeyboardInterrupt:
        err.write("leadq: interrupted; the workbook was not changed\n")
        return 130
    except Terminated:
        err.write("leadq: stopped (terminated); the workbook was not changed\n")
        return 143
    except OSError as e:
        if getattr(e, "errno", None) in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            err.write(f"leadq: could not write the output ({e.strerror}); any workbook written is complete\n")
            return 1
        return _crash(e, args, err, out, as_json)
    except Exception as e:
        return _crash(e, args, err, out, as_json)


def _crash(e: BaseException, args, err, out, as_json: bool) -> int:
    from .crash import crash_message
    message = crash_message(e, _subject(args), context="leadq " + " ".join(sys.argv[1:]))
    try:
        err.write(message + "\n")
        if as_json:
            _json_error(out, "crash", message)
    except OSError:
        pass
    return 1


PR_SET_THP_DISABLE = 41      # <linux/prctl.h>, Linux 3.15+


def no_huge_pages() -> bool:
    """Turn transparent huge pages off for this process (prctl PR_SET_THP_DISABLE; threads and children inherit it).
    Arrow's allocator (mimalloc) asks the kernel for 2 MiB pages, and each one a sheet's columns touch is cleared
    whole when first written: on this project's 2-core machine a first refresh of 100,000 leads spent about a CPU-second
    more in the kernel with them, and took about 0.5 s longer (a 10M-event log too), peak memory no lower (README,
    Performance, round 7). Only `leadq`'s own process: a program that imports LeadQ keeps its settings. False where
    it is not Linux, or the kernel refused."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main() -> int:
    no_huge_pages()      # before anything is read: see no_huge_pages
    import signal

    def terminate(signum, frame):
        # Objects half-built when the signal lands (a ZipFile being opened) may complain when collected: not news to the user.
        sys.unraisablehook = lambda unraisable: None
        raise Terminated()
    signal.signal(signal.SIGTERM, terminate)
    code = run(sys.argv[1:])
    # Everything is written (files are saved atomically and fsynced before this point); skip
    # the interpreter's teardown, which spends seconds freeing a large workbook's objects.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass
        except OSError as e:           # stdout on a full device
            if stream is sys.stdout:
                try:
                    sys.stderr.write(f"leadq: could not write the output ({e.strerror})\n")
                    sys.stderr.flush()
                except OSError:
                    pass
                code = code or 1
    os._exit(code)
