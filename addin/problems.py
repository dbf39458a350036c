"""The catalogue of problem codes, in the style of frictionless's error catalogue.

Every Problem LeadQ reports carries one of these codes (a test scans the source for it); the
code is stable, so scripts reading `--json` can rely on it. Severity here is the usual one: a
call site may lower or raise it where the context says more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import Problem


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: a stable code, a short title, the usual severity, what it means, and its group."""

    code: str
    title: str
    severity: str
    description: str
    group: str = ""


RULES, SCHEMA, WORKBOOK, DATA, PRIVACY = "Rules files", "Rules files: schema", "Workbook and Settings", "Data", "Privacy"
CATALOGUE: dict[str, ProblemType] = {}


def _code(group: str, code: str, title: str, severity: str, description: str) -> str:
    """Register a code and return it: each code is declared once, as the constant it is raised with."""
    if code in CATALOGUE:
        raise ValueError(f"problem code {code} declared twice")
    CATALOGUE[code] = ProblemType(code, title, severity, description, group)
    return code


# Rules files (`leadq check-rules`, and every run that loads rules)
FILE_NOT_FOUND = _code(RULES, "file-not-found", "File not found", "error", "The rules file named does not exist.")
FILE_TOO_LARGE = _code(RULES, "file-too-large", "File too large", "error", "The rules file is larger than LeadQ reads.")
NOT_UTF8 = _code(RULES, "not-utf8", "Not UTF-8", "error", "The rules file is not UTF-8 text.")
JSON_SYNTAX = _code(RULES, "json-syntax", "JSON syntax", "error", "The rules file is not valid JSON (a trailing comma, a missing quote…).")
NOT_AN_OBJECT = _code(RULES, "not-an-object", "Not an object", "error", "The rules file must hold one JSON object.")
DUPLICATE_KEY = _code(RULES, "duplicate-key", "Duplicate key", "error", "A key appears twice in one object; the second would silently win.")
DUPLICATE_ID = _code(RULES, "duplicate-id", "Duplicate rule id", "error", "Two rules share an id; ids name ledger rows and must be unique.")
OPERATOR_VALUE = _code(RULES, "operator-value", "Operator value", "error",
                       "A rule's value does not fit its operator (a list where one value is needed…).")
UNKNOWN_FIELD = _code(RULES, "unknown-field", "Unknown field", "warning",
                      "A rule reads a column that is no standard Leads column (a custom one may still match).")
REGEX_PAGE_PATTERN = _code(RULES, "regex-page-pattern", "Page pattern written as a regex", "warning",
                           "A page rule's match looks like a regular expression;"
                           " page patterns are globs, the warning gives the glob to write.")
UNDEFINED_ACTIVITY_TYPE = _code(RULES, "undefined-activity-type", "Undefined activity type", "error",
                                "A page rule names an activity type that `activities` does not define.")
DUPLICATE_ACTIVITY_NAME = _code(RULES, "duplicate-activity-name", "Duplicate activity name", "error",
                                "Two activity types share a key, label or alias.")
THRESHOLDS_ORDER = _code(RULES, "thresholds-order", "Thresholds out of order", "error", "The hot threshold is below the MQL threshold.")
SCORE_RANGE = _code(RULES, "score-range", "Score range", "error", "score.min is not below score.max.")
THRESHOLD_UNREACHABLE = _code(RULES, "threshold-unreachable", "Threshold unreachable", "error",
                              "The MQL threshold is above the highest possible score.")
GRADES_ORDER = _code(RULES, "grades-order", "Grades out of order", "error", "Grades must be listed from best to worst with decreasing minimums.")
DECAY_KINDS = _code(RULES, "decay-kinds", "Several decay kinds", "error", "Only one decay kind may be chosen.")
OUTCOME_PROBABILITY = _code(RULES, "outcome-probability", "Probability on a closed stage", "error", "A won or lost stage takes no probability.")
PROBABILITY_RANGE = _code(RULES, "probability-range", "Probability out of range", "error", "A probability must be between 0 and 1.")
PROBABILITY_MISSING = _code(RULES, "probability-missing", "Probability missing", "error", "An open pipeline stage needs a probability.")
DUPLICATE_STAGE = _code(RULES, "duplicate-stage", "Duplicate deal stage", "error", "A deal stage (or alias) is defined twice.")
PIPELINE_NO_WON = _code(RULES, "pipeline-no-won", "No won outcome", "error", "The pipeline has no stage with outcome won.")
PIPELINE_NO_LOST = _code(RULES, "pipeline-no-lost", "No lost outcome", "error", "The pipeline has no stage with outcome lost.")
CRITERIA_MISSING = _code(RULES, "criteria-missing", "Criteria missing", "error", "A custom framework needs its criteria.")
CRITERIA_IGNORED = _code(RULES, "criteria-ignored", "Criteria ignored", "warning", "Criteria are only read with the custom framework.")
UNKNOWN_CRITERION = _code(RULES, "unknown-criterion", "Unknown criterion", "error", "A required criterion is not one of the framework's.")
REQUIRE_MIN = _code(RULES, "require-min", "Require more than exists", "error", "The minimum of criteria is above their number.")
FIT_RULE_KIND = _code(RULES, "fit-rule-kind", "Fit rule kind", "error",
                      "A fit rule is none, or more than one, of: a condition (op), all, bands, per.")
FIT_RULE_KEY = _code(RULES, "fit-rule-key", "Key out of place", "error", "A fit rule lacks a key its kind needs, or has one its kind does not take.")
BAND_SHAPE = _code(RULES, "band-shape", "Band shape", "error", "A band is neither a range (gte / lt) nor a list (in), or is an empty range.")
BAND_UNREACHABLE = _code(RULES, "band-unreachable", "Band never matches", "error",
                         "An earlier band already takes every value of this one (first match wins).")
BAD_NUMBER = _code(RULES, "bad-number", "Absurd number", "error", "NaN, Infinity or a number beyond ±10¹² (it would overflow every score).")
TOO_MANY_RULES = _code(RULES, "too-many-rules", "Too many rules", "error",
                       "A section holds more rules than a refresh can evaluate in reasonable time.")
TOO_MANY_VALUES = _code(RULES, "too-many-values", "Too many values", "error", "One rule lists more values than LeadQ accepts.")

# JSON Schema violations: one code per keyword LeadQ explains in plain words.
_SCHEMA = {
    "required": "A required key is missing.",
    "additionalProperties": "A key the schema does not know (a typo?).",
    "type": "A value of the wrong type (a number in quotes…).",
    "enum": "A value that is not one of the allowed words.",
    "const": "A value that must be one exact word.",
    "minimum": "A number below its minimum.",
    "exclusiveMinimum": "A number not above its minimum.",
    "maximum": "A number above its maximum.",
    "exclusiveMaximum": "A number not below its maximum.",
    "minLength": "An empty text where one is needed.",
    "minItems": "An empty list where one is needed.",
    "maxItems": "A list longer than allowed.",
    "pattern": "A text not in the expected form.",
    "propertyNames": "A key that is not a valid name here.",
    "other": "Any other schema violation, described by the validator.",
}
for _k, _d in _SCHEMA.items():
    _code(SCHEMA, f"schema-{_k}", f"Schema: {_k}", "error", _d)


# The workbook and its Settings
MISSING_SHEET = _code(WORKBOOK, "missing-sheet", "Missing sheet", "error", "A sheet LeadQ reads is not in the workbook.")
MISSING_COLUMN = _code(WORKBOOK, "missing-column", "Missing column", "error", "A column LeadQ needs is not on the sheet.")
SETTINGS_RULES_NOT_FOUND = _code(WORKBOOK, "settings-rules-not-found", "Rules file not found", "error",
                                 "The rules file named on the Settings sheet does not exist.")
SETTINGS_RULES_SHEET_NOT_FOUND = _code(WORKBOOK, "settings-rules-sheet-not-found", "Rules sheet not found", "error",
                                       'Settings "Rules file" names a sheet (sheet:NAME) the workbook does not have, or one LeadQ did not make.')
RULES_SHEET_EMPTY = _code(WORKBOOK, "rules-sheet-empty", "Rules sheet empty", "error", "The workbook's Rules sheet holds no rules below its title.")
LITE_NO_FOLDER = _code(WORKBOOK, "lite-no-folder", "No folder in xlwings Lite", "error",
                       "In xlwings Lite nothing lies beside the workbook: the rules must be kept in its Rules sheet, not a file.")
SETTINGS_BAD_DATE = _code(WORKBOOK, "settings-bad-date", "As-of date not understood", "error", "The as-of date is not a date.")
NOT_A_WORKBOOK = _code(WORKBOOK, "not-a-workbook", "Not a LeadQ workbook", "error",
                       "A CSV, .xls or .ods file given to refresh; `leadq new --leads` builds a workbook.")
IMPORT_UNREADABLE = _code(WORKBOOK, "import-unreadable", "Export not readable", "error",
                          "An export given to `leadq new` or `leadq import` cannot be read.")
SETTINGS_BAD_DATE_ORDER = _code(WORKBOOK, "settings-bad-date-order", "Date order not understood", "error",
                                "Date order must be auto, DMY, MDY or YMD.")
SETTINGS_ROW_NOT_OURS = _code(WORKBOOK, "settings-row-not-ours", "Settings row not LeadQ's", "warning",
                              "A Settings row labelled Status or Last refresh was not written by LeadQ; its value is left alone.")
DAMAGED_PART = _code(WORKBOOK, "damaged-part", "Damaged part", "warning",
                     "A part LeadQ only copies was already damaged (checksum mismatch); copied as it was.")
REFRESH_BUTTON_NAME = _code(WORKBOOK, "refresh-button-name", "Workbook name not importable", "warning",
                            "Excel's Refresh button imports the workbook's name as a Python module; this name cannot be imported.")
REFRESH_BUTTON_MODULE = _code(WORKBOOK, "refresh-button-module", "Refresh button module missing", "warning",
                              "NAME.py, the module the Refresh button imports, is missing beside the workbook or is not LeadQ's.")
ACTIVITIES_SOURCE = _code(WORKBOOK, "activities-source", "Activities source unusable", "error",
                          "The activity log named by --activities or Settings > Activities source cannot be found or read.")
SCORE_DETAILS_FILE = _code(WORKBOOK, "score-details-file", "Score details file", "error", "Settings > Score details file must name a .parquet file.")
UNTRUSTED_PATH = _code(WORKBOOK, "untrusted-path", "Path outside the workbook's folder", "error",
                       "A path written in the workbook (Settings) points outside its folder, through a link, or at a URL; allow the "
                       "folder with --allow-path DIR or $LEADQ_ALLOWED_PATHS.")

# Data in the sheets (Leads, Activities, Qualification, Overrides, Lead history)
MISSING_LEAD_ID = _code(DATA, "missing-lead-id", "Missing Lead ID", "warning", "A Leads row has no Lead ID; it is skipped.")
DUPLICATE_LEAD_ID = _code(DATA, "duplicate-lead-id", "Duplicate Lead ID", "warning",
                          "A Lead ID is used twice; the later row is skipped (or used, on Qualification).")
RULE_COLUMN_MISSING = _code(DATA, "rule-column-missing", "Rule column missing", "warning",
                            "A rule reads a column the Leads sheet does not have; it never matches.")
NOT_A_NUMBER = _code(DATA, "not-a-number", "Not a number", "warning", "A value read as a number is not one.")
NOT_A_DATE = _code(DATA, "not-a-date", "Not a date", "warning", "A value read as a date is not one.")
MISSING_DATE = _code(DATA, "missing-date", "Missing date", "warning", "An activity has no date; it is skipped.")
ACTIVITY_WITHOUT_LEAD = _code(DATA, "activity-without-lead", "Activity without lead", "warning",
                              "An activity names no Lead ID or known Email; it is skipped.")
UNKNOWN_LEAD = _code(DATA, "unknown-lead", "Unknown lead", "warning", "A row names a lead that is not on the Leads sheet; it is ignored.")
UNKNOWN_ACTIVITY = _code(DATA, "unknown-activity", "Unknown activity type", "warning",
                         "An Activities row has a type rules.json does not define; it is skipped.")
MISSING_ACTIVITY = _code(DATA, "missing-activity", "Missing activity type", "warning", "An Activities row has no type; it is skipped.")
MISSING_CRITERION_COLUMN = _code(DATA, "missing-criterion-column", "Missing criterion column", "warning",
                                 "A checklist criterion has no column on Qualification.")
ANSWER_NOT_UNDERSTOOD = _code(DATA, "answer-not-understood", "Answer not understood", "warning", "A checklist answer is neither yes, no nor blank.")
CONSENT_NOT_UNDERSTOOD = _code(DATA, "consent-not-understood", "Consent not understood", "warning",
                               "A Consent cell is neither yes, no, a date nor blank; the lead counts as without consent.")
UNKNOWN_DEAL_STAGE = _code(DATA, "unknown-deal-stage", "Unknown deal stage", "warning",
                           "A Deal stage is not in the pipeline of rules.json; it is ignored.")
HISTORY_DATE_IMPOSSIBLE = _code(DATA, "history-date-impossible", "History date impossible", "warning",
                                "Lead history rows dated past what LeadQ computes with (9999-12-31) are ignored.")
HISTORY_ROW_NOT_UNDERSTOOD = _code(DATA, "history-row-not-understood", "History row not understood", "warning",
                                   "A Lead history row has no date, Lead ID or known stage (the sheet was edited); it is ignored.")
HISTORY_FULL = _code(DATA, "history-full", "History full", "warning",
                     "Lead history reached a sheet's row limit; its oldest refreshes were folded into one baseline.")
HISTORY_BACK_DATED = _code(DATA, "history-back-dated", "Refresh dated before the history", "warning",
                           "The as-of date is before the last refresh Lead history records; the history is read as it stood then and not added to.")
OUTCOME_NOT_UNDERSTOOD = _code(DATA, "outcome-not-understood", "Outcome not understood", "warning",
                               "calibrate: an outcome cell is not 1/Yes, 0/No or blank; left out.")
UNKNOWN_DEAL_STAGES = _code(DATA, "unknown-deal-stages", "Unknown deal stages (grouped)", "warning",
                            "Every unknown deal stage with its count, and the fix.")
NO_AMOUNT_COLUMN = _code(DATA, "no-amount-column", "No amount column", "warning", "Deal stages but no Amount column: won and pipeline amounts are 0.")
NO_CONTACT_COLUMN = _code(DATA, "no-contact-column", "No email or phone column", "warning",
                          "No column can make a contact a Lead: every lead stays a Visitor.")
UNKNOWN_CRM_STATUS = _code(DATA, "unknown-crm-status", "Unknown CRM status", "warning",
                           "CRM status values crm_status does not map, with counts; LeadQ's stage is kept.")
HEADER_CONFLICT = _code(DATA, "header-conflict", "Two columns for one field", "info",
                        "Two headers mean one LeadQ column; the better-ranked is used, the other stays custom.")
HEADER_NEAR_MISS = _code(DATA, "header-near-miss", "Header near-miss", "info",
                         "A header looks like a LeadQ column but is not read as one; map it on Settings.")
LEAD_ID_GUESSED = _code(DATA, "lead-id-guessed", "Lead ID guessed", "info",
                        "No Lead ID column (or one empty on every row): the id-like column whose values are"
                        " unique and filled on every row is used, never an organisation's id while a person's exists.")
DEAL_TITLE_NOT_JOB_TITLE = _code(DATA, "deal-title-not-job-title", "Deal title is not a job title", "info",
                                 "A bare \"Title\" beside deal columns is"
                                 " the deal's title and is not read as Job title.")
ROWS_BELOW_TABLE = _code(DATA, "rows-below-table", "Rows below a table", "info",
                         "Rows typed or pasted under a table's last row (through gaps of up to 3 empty rows) are read,"
                         " and the table is extended over them when LeadQ writes the workbook.")
EMPTY_COLUMN = _code(DATA, "empty-column", "Column empty on every row", "info",
                     "An optional column empty on every row is read as"
                     " absent (e.g. no consent recorded: consent is not checked).")
MAPPING_HEADER_MISSING = _code(DATA, "mapping-header-missing", "Column mapping names no column", "warning",
                               "Settings' Column mapping names a header the sheet does not have.")
DATE_ORDER_CONFLICT = _code(DATA, "date-order-conflict", "Date order conflict", "warning",
                            "A date readable only in the other day/month order than its column.")
DATE_ORDER_GUESSED = _code(DATA, "date-order-guessed", "Date order guessed", "warning",
                           "Dates that could be DMY or MDY with nothing in the column to tell; read DMY.")
OVERRIDE_SHEET_NOT_READ = _code(DATA, "override-sheet-not-read", "Overrides sheet not read", "warning",
                                "A sheet named Overrides lacks LeadQ's override columns (Lead ID, Kind, Value, Reason); it is left alone.")
OVERRIDE_NO_REASON = _code(DATA, "override-no-reason", "Override without a reason", "error",
                           "An override has no Reason; it is refused until one is typed.")
OVERRIDE_BAD_KIND = _code(DATA, "override-bad-kind", "Override kind not understood", "warning",
                          "An override's Kind is not points, stage or probability; it is ignored.")
OVERRIDE_BAD_VALUE = _code(DATA, "override-bad-value", "Override value not understood", "warning",
                           "An override's Value is not points, a stage or a probability as its kind needs; it is ignored.")
OVERRIDE_BAD_DATE = _code(DATA, "override-bad-date", "Override end date not understood", "warning",
                          "An override's Until is not a date; it is ignored.")
OVERRIDE_UNKNOWN_LEAD = _code(DATA, "override-unknown-lead", "Override of no lead", "warning",
                              "An override names no Lead ID, or one not on Leads; it is ignored.")
OVERRIDE_EXPIRED = _code(DATA, "override-expired", "Override expired", "info",
                         "An override's Until date is before the as-of date; it is ignored and listed.")
OVERRIDE_SUPERSEDED = _code(DATA, "override-superseded", "Override superseded", "info",
                            "A later stage or probability override of the same lead wins over this one.")
NOT_A_PROBABILITY = _code(DATA, "not-a-probability", "Not a probability", "warning",
                          "A Probability typed on Leads is not 0–1 or a percentage; the stage's is used.")
PROBABILITY_WITHOUT_DEAL = _code(DATA, "probability-without-deal", "Probability without an open deal", "warning",
                                 "A probability override names a lead with no open deal stage; it is not used.")

# Privacy (`leadq forget`, consent, retention)
LEAD_NOT_FOUND = _code(PRIVACY, "lead-not-found", "Person not found", "error",
                       "`leadq forget` names a Lead ID or email that no Leads row, Lead history row, activity or Score details file holds.")
ERASE_REFUSED = _code(PRIVACY, "erase-refused", "Erasure refused", "error",
                      "Removing the person's rows would break something LeadQ cannot shift safely (a formula pointing only into them, "
                      "a pivot table, a drawing below them…); nothing was changed.")
EXTERNAL_SOURCE_REMAINS = _code(PRIVACY, "external-source-remains", "External source not erased", "warning",
                                "The activities come from a source LeadQ cannot rewrite; the person's rows remain there.")
PERSON_MENTIONED = _code(PRIVACY, "person-mentioned", "Person still named in free text", "warning",
                         "After `leadq forget`, a cell of another sheet, a note or a document property still names the person (their "
                         "Lead ID, e-mail or name); LeadQ lists it and never edits what a user wrote.")

def schema_code(validator: str) -> str:
    """The code of a JSON Schema violation by its keyword."""
    code = f"schema-{validator}"
    return code if code in CATALOGUE else "schema-other"


def title(code: str) -> str:
    """The short title of a code (the code itself for an unknown one)."""
    found = CATALOGUE.get(code)
    return found.title if found else code


GROUP_CELLS = 3          # cells a grouped line names before "… and N more rows"
CUT_SHORT = "more problems of this kind"     # errors.ProblemLog.finish's line for the rows not kept


def _is_cut_line(p: Problem) -> bool:
    return not p.where and CUT_SHORT in p.message


def grouped(problems: list[Problem], counts: dict[str, int] | None = None) -> list[Problem]:
    """Per-row problems of one kind on one sheet and column as one line with a count (`Problem.count`)
    and the first cells: `Leads!A5, A6, A9 … and 2,997 more rows (column "Lead ID"): row has no Lead ID`.

    Lines are in the order their first problem came. Rows the log counted but did not keep
    (`counts`: every problem found, by code) are added to the code's group when it has one, so
    the counts of the lines add up to the total found; problems without a row stay as they are."""
    counts = counts or {}
    keyed: dict[tuple, list[Problem]] = {}
    order: list[object] = []
    kept: dict[str, int] = {}
    cut: dict[str, Problem] = {}
    for p in problems:
        if _is_cut_line(p):
            cut[p.code] = p
            continue
        if p.row is None or not p.sheet:
            order.append(p)
            continue
        kept[p.code] = kept.get(p.code, 0) + 1
        k = (p.code, p.sheet, p.column, p.severity)
        if k not in keyed:
            keyed[k] = []
            order.append(k)
        keyed[k].append(p)
    by_code: dict[str, list[tuple]] = {}
    for k in keyed:
        by_code.setdefault(k[0], []).append(k)
    out: list[Problem] = []
    for item in order:
        if isinstance(item, Problem):
            out.append(item if item.count else replace(item, count=1))
            continue
        rows = keyed[item]
        code = item[0]
        extra = max(counts.get(code, 0) - kept.get(code, 0), 0) if len(by_code[code]) == 1 and code in cut else 0
        out.append(_group(rows, len(rows) + extra))
    out += [replace(p, count=max(counts.get(code, 0) - kept.get(code, 0), 0))
            for code, p in cut.items() if len(by_code.get(code, [])) != 1]
    return out


def _group(rows: list[Problem], n: int) -> Problem:
    first = rows[0]
    if n == 1:
        return replace(first, count=1)
    cells = [p.cell or f"{p.row}:{p.row}" for p in rows[:GROUP_CELLS]]
    where = f"{first.sheet}!{', '.join(cells)}" + (f" … and {n - len(cells):,} more rows" if n > len(cells) else "")
    if first.column is not None:
        where += f' (column "{first.column}")'
    same = all(p.message == first.message for p in rows)
    message = first.message if same else f"{title(first.code)}, such as {cells[0]}: {first.message}"
    return Problem(first.code, where, message, first.severity, sheet=first.sheet, column=first.column, count=n)
