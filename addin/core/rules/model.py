"""Load rules.json and check it in two passes (shape by JSON Schema, then meaning).

Every problem is collected before anything is reported; each names the file, line and JSON
path and, where it can, suggests the fix.
"""

from __future__ import annotations

import bisect
import copy
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ...errors import Problem, RulesError
from ...problems import (
    CRITERIA_IGNORED,
    CRITERIA_MISSING,
    DECAY_KINDS,
    DUPLICATE_ACTIVITY_NAME,
    DUPLICATE_ID,
    DUPLICATE_KEY,
    DUPLICATE_STAGE,
    GRADES_ORDER,
    JSON_SYNTAX,
    NOT_AN_OBJECT,
    OPERATOR_VALUE,
    OUTCOME_PROBABILITY,
    PROBABILITY_MISSING,
    PROBABILITY_RANGE,
    REGEX_PAGE_PATTERN,
    REQUIRE_MIN,
    SCORE_RANGE,
    THRESHOLD_UNREACHABLE,
    THRESHOLDS_ORDER,
    UNDEFINED_ACTIVITY_TYPE,
    UNKNOWN_CRITERION,
    UNKNOWN_FIELD,
    schema_code,
)
from ..qualification import FRAMEWORKS, Checklist, build_checklist, criterion_names
from ..values.headers import canonical_field, known_fields
from ..values.text import did_you_mean, key, suggest
from ..values.vocabulary import OUTCOMES, STAGES, default_probability
from . import fitrules
from .limits import limit_problems
from .operators import value_shape_error

_MERGED_OBJECTS = ("score", "thresholds", "next_actions", "crm_status", "privacy", "history")


def schema() -> dict:
    """The JSON Schema of rules.json shipped in the package."""
    return json.loads(resources.files("addin").joinpath("rules.schema.json").read_text("utf-8"))


def default_rules_text() -> str:
    return resources.files("addin").joinpath("default_rules.json").read_text("utf-8")


def json_path(parts) -> str:
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif str(p).replace("_", "").replace("-", "").isalnum() and "-" not in str(p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(str(p), ensure_ascii=False) + "]"
    return out


# ---------------------------------------------------------------------------- line numbers
def _line_map(text: str) -> dict[tuple, int]:
    """Map each JSON path (as a tuple) to the line where its key or value starts."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    lines: dict[tuple, int] = {}

    def line_of(i: int) -> int:
        return bisect.bisect_left(newlines, i) + 1

    def ws(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def string(i: int) -> tuple[str, int]:
        j = i + 1
        while text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return json.loads(text[i:j + 1]), j + 1

    def value(i: int, path: tuple) -> int:
        i = ws(i)
        lines.setdefault(path, line_of(i))
        ch = text[i]
        if ch == "{":
            i = ws(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                i = ws(i)
                k, j = string(i)
                lines[path + (k,)] = line_of(i)
                i = ws(j) + 1           # the colon
                i = ws(value(i, path + (k,)))
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1
        if ch == "[":
            i = ws(i + 1)
            if text[i] == "]":
                return i + 1
            n = 0
            while True:
                i = ws(value(i, path + (n,)))
                n += 1
                if text[i] == ",":
                    i += 1
                    continue
                return i + 1
        if ch == '"':
            return string(i)[1]
        while i < len(text) and text[i] not in ",]} \t\r\n":
            i += 1
        return i

    try:
        value(0, ())
    except (IndexError, ValueError, RecursionError):
        pass
    return lines


# ---------------------------------------------------------------------------- the Rules object
@dataclass(frozen=True)
class Rules:
    """A validated rule set, merged over the defaults. `data` is the merged JSON."""

    data: dict
    source: str = "<rules>"
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.data.get("name", "")

    @property
    def version(self) -> str:
        return self.data.get("version", "")

    @property
    def currency(self) -> str:
        return self.data.get("currency", "EUR")

    @property
    def score_range(self) -> tuple[float | None, float | None]:
        s = self.data.get("score", {})
        return s.get("min"), s.get("max")

    @property
    def base(self) -> float:
        return self.data.get("score", {}).get("base", 0)

    @property
    def blank_values(self) -> list | dict:
        return self.data.get("blank_values") or []

    @property
    def fit(self) -> list[dict]:
        return self.data.get("fit", [])

    @property
    def activities(self) -> dict[str, dict]:
        return self.data.get("activities", {})

    @property
    def pages(self) -> list[dict]:
        return self.data.get("pages", [])

    @property
    def decay(self) -> dict | None:
        return self.data.get("decay") or None

    @property
    def grades(self) -> list[tuple[str, float]]:
        return [(g, v) for g, v in self.data.get("grades", {}).items() if g != "else"]

    @property
    def grade_else(self) -> str:
        return self.data.get("grades", {}).get("else", "D")

    @property
    def mql(self) -> float:
        return self.data.get("thresholds", {}).get("mql", 25)

    @property
    def hot(self) -> float:
        return self.data.get("thresholds", {}).get("hot", max(60, self.mql))

    @property
    def checklist(self) -> Checklist:
        return build_checklist(self.data.get("qualification", {}))

    @property
    def disqualify(self) -> list[dict]:
        return self.data.get("disqualify", [])

    @property
    def pipeline(self) -> list[dict]:
        return self.data.get("pipeline", [])

    @property
    def crm_status(self) -> dict:
        return self.data.get("crm_status", {})

    @property
    def lead_requires(self) -> str:
        return self.data.get("lead_requires", "email or phone")

    def stage_label(self, stage: str) -> str:
        return self.data.get("stages", {}).get(stage, {}).get("label", stage)

    def stage_color(self, stage: str) -> str:
        return self.data.get("stages", {}).get(stage, {}).get("color", "#FFFFFF")

    @property
    def due_soon_days(self) -> int:
        return int(self.data.get("next_actions", {}).get("due_soon_days", 7))

    @property
    def privacy(self) -> dict:
        """The privacy section, every key filled (see core.privacy.Policy)."""
        return self.data.get("privacy") or {}

    @property
    def history_min_change(self) -> float:
        return float(self.data.get("history", {}).get("min_change", 5))

    @property
    def sla_days(self) -> dict[str, float]:
        """Follow-up deadline in days by stage key (stages without one are absent)."""
        return {s: float(v["days"]) for s, v in (self.data.get("sla") or {}).items() if isinstance(v, dict)}

    @cached_property
    def activity_names(self) -> dict[str, str]:
        """Folded name (text.key) -> activity type, from each type's key, label and aliases.

        The one lookup of the Activity column, shared by every engine (pandas, DuckDB, Spark) and
        by the worksheet functions; check-rules refuses a name that would mean two types.
        """
        lookup: dict[str, str] = {}
        for t, spec in self.activities.items():
            for name in [t, spec.get("label"), *(spec.get("aliases") or [])]:
                if isinstance(name, str) and key(name):
                    lookup.setdefault(key(name), t)
        return lookup

    def activity_points(self, activity_type: str) -> float:
        """Points of one activity type, found by key, label or alias, ignoring case and accents."""
        t = self.resolve_activity(activity_type)
        if t is None:
            raise KeyError(f'unknown activity type "{activity_type}"{did_you_mean(activity_type, self.activities)}')
        return self.activities[t]["points"]

    def resolve_activity(self, name: str) -> str | None:
        return self.activity_names.get(key(name))


# ---------------------------------------------------------------------------- loading
def _read_source(source, name: str | None = None) -> tuple[str | None, dict | None, str]:
    """Return (text, data, display name) for JSON text or a dict. The core reads no file: a rules
    file is read by addin.settings (read_rules_file, load_rules), which passes its text and name."""
    if isinstance(source, dict):
        return None, copy.deepcopy(source), name or "<rules>"
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        raise TypeError(f"core.rules reads no file ({str(source)[:60]!r}): load a rules file with "
                        "addin.settings.load_rules(path) or addin.load_rules(path)")
    return str(source), None, name or "<rules>"


def _parse(text: str, name: str) -> tuple[dict | None, list[Problem]]:
    problems: list[Problem] = []

    def no_duplicates(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                problems.append(Problem(DUPLICATE_KEY, name, f'key "{k}" appears twice in the same object; '
                                        "the second would silently win — keep one"))
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        hint = ""
        if "Expecting property name" in e.msg or "Expecting value" in e.msg:
            hint = " (a trailing comma, or a missing quote?)"
        elif "Expecting ',' delimiter" in e.msg:
            hint = " (a missing comma between two items?)"
        return None, [Problem(JSON_SYNTAX, f"{name}:{e.lineno}", f"{e.msg} at line {e.lineno} column {e.colno}{hint}",
                              line=e.lineno)]
    except RecursionError:
        return None, [Problem(JSON_SYNTAX, name, "the JSON is nested too deeply")]
    if not isinstance(data, dict):
        return None, [Problem(NOT_AN_OBJECT, f"{name}:1", "rules.json must hold one JSON object { … }", line=1)]
    return data, problems


def _located(code: str, name: str, lines: dict, parts, message: str, severity: str = "error") -> Problem:
    """A problem at a JSON path, with the line of that path (or of its nearest parent)."""
    p = list(parts)
    line = lines.get(tuple(p))
    while line is None and p:
        p.pop()
        line = lines.get(tuple(p))
    path = json_path(parts)
    return Problem(code, f"{name}:{line}: {path}" if line else f"{name}: {path}", message, severity=severity,
                   line=line, path=path)


def _schema_problem(err, lines: dict, name: str) -> Problem:
    if err.validator in ("anyOf", "oneOf") and err.context:
        deeper = [e for e in err.context if e.validator != "type" or e.validator_value != "null"]
        # The branch whose type matched went further into the value: that is the one the user meant.
        deepest = [e for e in deeper if len(e.absolute_path) > len(err.absolute_path)]
        deeper = deepest or deeper
        return _schema_problem(best_match(deeper or err.context), lines, name)
    parts = list(err.absolute_path)
    inst = err.instance
    example = (err.schema.get("examples") or [None])[0] if isinstance(err.schema, dict) else None
    eg = f" (e.g. {json.dumps(example, ensure_ascii=False)})" if example is not None and not isinstance(example, (dict, list)) else ""
    v = err.validator
    if v == "required":
        missing = [r for r in err.validator_value if isinstance(inst, dict) and r not in inst]
        msg = "missing " + ", ".join(f'"{m}"' for m in missing)
    elif v == "additionalProperties" and isinstance(inst, dict):
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in inst if k not in allowed]
        parts = parts + [extra[0]] if extra else parts
        msg = "; ".join(f'unknown key "{k}"{did_you_mean(k, allowed) or " (allowed: " + ", ".join(allowed) + ")"}'
                        for k in extra)
    elif v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        word = {"number": "a number", "integer": "a whole number", "string": "a text in quotes",
                "object": "an object { … }", "array": "a list [ … ]", "boolean": "true or false"}.get(want, want)
        msg = f"must be {word}, not {json.dumps(inst, ensure_ascii=False)[:60]}"
        if want in ("number", "integer") and isinstance(inst, str):
            msg += " — remove the quotes"
    elif v == "enum":
        msg = f'"{inst}" is not one of: {", ".join(map(str, err.validator_value))}{did_you_mean(str(inst), err.validator_value)}'
    elif v == "const":
        msg = f'must be "{err.validator_value}"'
    elif v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        word = {"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most",
                "exclusiveMaximum": "less than"}[v]
        msg = f"must be {word} {err.validator_value}, not {inst}"
    elif v in ("minLength", "minItems"):
        msg = "must not be empty"
    elif v == "pattern":
        msg = f"{json.dumps(inst, ensure_ascii=False)} is not in the expected form{eg}"
    elif v == "propertyNames":
        msg = f'"{inst}" is not a valid name here: use letters, digits, "_", "-" or "."'
    else:
        msg = err.message
    return _located(schema_code(v), name, lines, parts, msg)


_Finding = tuple[list, str, str, str]     # (JSON path parts, code, message, severity)


def _items(user: dict, section: str) -> list[tuple[int, dict]]:
    v = user.get(section)
    return [(i, r) for i, r in enumerate(v) if isinstance(r, dict)] if isinstance(v, list) else []


def _check_ids(user: dict, merged: dict) -> list[_Finding]:
    out, seen = [], {}
    for section in ("fit", "pages", "disqualify"):
        for i, r in _items(user, section):
            rid = r.get("id")
            if not isinstance(rid, str):
                continue
            if rid in seen:
                out.append(([section, i, "id"], DUPLICATE_ID, f'id "{rid}" is already used at {seen[rid]}; ids must be unique', "error"))
            else:
                seen[rid] = json_path([section, i, "id"])
    return out


def _check_rule_values(user: dict, merged: dict) -> list[_Finding]:
    """Each fit/disqualify rule's value fits its operator (the operator registry says how), and its field is known."""
    out = []
    for section in ("fit", "disqualify"):
        for i, r in _items(user, section):
            op = r.get("op")
            if section == "fit":
                out += fitrules.problems(r, [section, i])
            elif isinstance(op, str):
                err = value_shape_error(op, r.get("value"), "value" in r)
                if err:
                    out.append(([section, i, "value"] if "value" in r else [section, i], OPERATOR_VALUE, err, "error"))
            conds = r.get("all") if isinstance(r.get("all"), list) else [r]
            for j, c in enumerate(conds):
                fld = c.get("field") if isinstance(c, dict) else None
                if isinstance(fld, str) and canonical_field(fld) == fld and fld not in known_fields():
                    hit = suggest(fld, known_fields(), cutoff=0.8)
                    if hit:
                        out.append(([section, i, "all", j, "field"] if c is not r else [section, i, "field"], UNKNOWN_FIELD,
                                    f'"{fld}" is not a standard Leads column (did you mean "{hit}"?); '
                                    "a custom column of that exact name also works", "warning"))
    return out


# What only a regular expression writes: alternation, anchors, escapes, groups, ".*" — a glob
# ("*/pricing*") matches them literally, so such a pattern never matches a URL.
_REGEX_LOOK = re.compile(r"\||^\^|\$$|\\|\(|\)|\.\*|\.\+|\[[^\]]*\]")


def glob_for(pattern: str) -> list[str]:
    """The globs a regex-looking page pattern means: "/pricing|/tarifs" -> ["*/pricing*", "*/tarifs*"]."""
    out = []
    for part in pattern.split("|"):
        start, end = part.startswith("^"), part.endswith("$") and not part.endswith("\\$")
        core = part[1 if start else 0:len(part) - (1 if end else 0)]
        core = core.replace(".*", "*").replace(".+", "*").replace("\\", "").replace("(", "").replace(")", "")
        glob = ("" if start else "*") + core + ("" if end else "*")
        out.append(re.sub(r"\*+", "*", glob))
    return out


def _check_pages(user: dict, merged: dict) -> list[_Finding]:
    out = []
    types = merged.get("activities") if isinstance(merged.get("activities"), dict) else {}
    for i, r in _items(user, "pages"):
        match = r.get("match")
        if isinstance(match, str) and _REGEX_LOOK.search(match):
            globs = glob_for(match)
            fix = (f'write "{globs[0]}"' if len(globs) == 1 else
                   "write one page rule per pattern: " + ", ".join(f'"{g}"' for g in globs))
            out.append((["pages", i, "match"], REGEX_PAGE_PATTERN,
                        f'"{match}" looks like a regular expression, but page patterns are globs (* any text, '
                        f"? one character; every other character is matched as written), so it never matches a URL; {fix}", "warning"))
        acts = r.get("activity")
        for a in ([acts] if isinstance(acts, str) else acts if isinstance(acts, list) else []):
            if isinstance(a, str) and a not in types:
                out.append((["pages", i, "activity"], UNDEFINED_ACTIVITY_TYPE,
                            f'activity type "{a}" is not defined in "activities"{did_you_mean(a, types)}', "error"))
    return out


def _check_activity_names(user: dict, merged: dict) -> list[_Finding]:
    """A name in the Activity column must mean one type: keys, labels and aliases compared like the sheet compares them."""
    out, seen = [], {}
    acts = user.get("activities")
    for t, spec in (acts.items() if isinstance(acts, dict) else []):
        if not isinstance(spec, dict):
            continue
        names = [("key", t), ("label", spec.get("label"))] + [("aliases", a) for a in spec.get("aliases") or []]
        for where, name in names:
            if not isinstance(name, str) or not key(name):
                continue
            other = seen.setdefault(key(name), t)
            if other != t:
                out.append((["activities", t, where], DUPLICATE_ACTIVITY_NAME,
                            f'"{name}" already names activity type "{other}"; a name in the Activity column must mean one type',
                            "error"))
    return out


def _check_scale(user: dict, merged: dict) -> list[_Finding]:
    """Thresholds, score range and grades in a usable order."""
    out = []
    mt = merged.get("thresholds") if isinstance(merged.get("thresholds"), dict) else {}
    mql, hot = mt.get("mql"), mt.get("hot")
    if isinstance(user.get("thresholds"), dict) and _num(mql) and _num(hot) and hot < mql:
        out.append((["thresholds", "hot" if "hot" in user["thresholds"] else "mql"], THRESHOLDS_ORDER,
                    f"hot ({hot}) must not be below mql ({mql})", "error"))
    sc = merged.get("score")
    if isinstance(sc, dict):
        lo, hi = sc.get("min"), sc.get("max")
        if _num(lo) and _num(hi) and lo >= hi:
            out.append((["score"], SCORE_RANGE, f"min ({lo}) must be below max ({hi})", "error"))
        if _num(mql) and _num(hi) and mql > hi:
            out.append((["thresholds", "mql"], THRESHOLD_UNREACHABLE,
                        f"mql ({mql}) is above the highest score ({hi}): no lead could ever be an MQL", "error"))
        if isinstance(user.get("thresholds"), dict) and "hot" in user["thresholds"] and _num(hot) and _num(hi) and hot > hi:
            out.append((["thresholds", "hot"], THRESHOLD_UNREACHABLE,
                        f"hot ({hot}) is above the highest score ({hi}): no lead could ever be hot", "error"))
        if isinstance(user.get("grades"), dict) and _num(hi):
            for g, v in user["grades"].items():
                if g != "else" and _num(v) and v > hi:
                    out.append((["grades", g], THRESHOLD_UNREACHABLE,
                                f'grade "{g}" ({v}) is above the highest score ({hi}): no lead could ever get it', "error"))
    gr = user.get("grades")
    if isinstance(gr, dict):
        prev = None
        for g, v in gr.items():
            if g == "else" or not _num(v):
                continue
            if prev is not None and v >= prev[1]:
                out.append((["grades", g], GRADES_ORDER, f'grade "{g}" ({v}) must need less than grade "{prev[0]}" '
                            f"({prev[1]}); list grades from best to worst", "error"))
            prev = (g, v)
    dec = user.get("decay")
    if isinstance(dec, dict) and len(dec) > 1:
        out.append((["decay"], DECAY_KINDS, f"choose one decay kind, not {len(dec)}: {', '.join(dec)}", "error"))
    return out


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_pipeline(user: dict, merged: dict) -> list[_Finding]:
    pipe = user.get("pipeline")
    if not isinstance(pipe, list):
        return []
    out, outcomes, names = [], set(), {}
    for i, st in _items(user, "pipeline"):
        p, oc = st.get("probability"), st.get("outcome")
        if isinstance(oc, str):
            outcomes.add(oc)
        if _num(p) and oc:
            out.append((["pipeline", i, "probability"], OUTCOME_PROBABILITY, f'a "{oc}" stage takes no probability '
                        f"(it is {default_probability(oc):g} by definition); remove it", "error"))
        elif _num(p) and not 0 <= p <= 1:
            hint = f"; write {p / 100:g} for {p:g} %" if 1 < p <= 100 else ""
            out.append((["pipeline", i, "probability"], PROBABILITY_RANGE,
                        f"probability must be between 0 and 1, not {p:g}{hint}", "error"))
        elif not _num(p) and oc is None:
            out.append((["pipeline", i], PROBABILITY_MISSING,
                        f'an open stage needs a "probability" between 0 and 1 (or an "outcome": {" / ".join(OUTCOMES)})', "error"))
        for nm in [st.get("stage"), *(st.get("aliases") or [])]:
            if isinstance(nm, str):
                if key(nm) in names and names[key(nm)] != json_path(["pipeline", i]):
                    out.append((["pipeline", i], DUPLICATE_STAGE, f'deal stage "{nm}" is already defined at {names[key(nm)]}', "error"))
                names[key(nm)] = json_path(["pipeline", i])
    for oc in OUTCOMES:
        if oc not in outcomes:
            out.append((["pipeline"], f"pipeline-no-{oc}",
                        f'the pipeline has no {oc} outcome; add e.g. {{"stage": "{oc.title()}", "outcome": "{oc}"}}', "error"))
    return out


def _check_qualification(user: dict, merged: dict) -> list[_Finding]:
    q = user.get("qualification")
    if not isinstance(q, dict):
        return []
    out = []
    fw, crit = q.get("framework", "BANT"), q.get("criteria")
    if fw == "custom" and not crit:
        out.append((["qualification"], CRITERIA_MISSING,
                    'a custom framework needs "criteria": [{"id": "Budget", "question": "…"}, …]', "error"))
    if fw in FRAMEWORKS and crit:
        out.append((["qualification", "criteria"], CRITERIA_IGNORED,
                    f'"criteria" is only used with "framework": "custom"; {fw} has its own', "warning"))
    if not (fw in FRAMEWORKS or (fw == "custom" and isinstance(crit, list))):
        return out
    names = criterion_names(q) if fw in FRAMEWORKS or all(isinstance(c, dict) and "id" in c for c in crit) else []
    n = len(FRAMEWORKS[fw]) if fw in FRAMEWORKS else len(crit)
    req = q.get("require")
    if isinstance(req, list):
        for j, r in enumerate(req):
            if isinstance(r, str) and names and key(r) not in {key(x) for x in names}:
                out.append((["qualification", "require", j], UNKNOWN_CRITERION,
                            f'"{r}" is not a criterion of {fw}{did_you_mean(r, names)}', "error"))
    elif isinstance(req, dict) and isinstance(req.get("min"), int) and req["min"] > n:
        out.append((["qualification", "require", "min"], REQUIRE_MIN, f"min {req['min']} is more than the {n} criteria of {fw}", "error"))
    return out


# The checks of meaning, run in this order after the schema; each is defensive about shapes
# (the schema has already reported a wrong one).
_CHECKS = (_check_ids, _check_rule_values, _check_pages, _check_activity_names, _check_scale, _check_pipeline, _check_qualification)


def _semantic(user: dict, merged: dict) -> list[_Finding]:
    return [finding for check in _CHECKS for finding in check(user, merged)]


def _merge(defaults: dict, user: dict) -> dict:
    merged = copy.deepcopy(defaults)
    for k, v in user.items():
        if k in _MERGED_OBJECTS and isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
            if k == "privacy" and isinstance(v.get("consent"), dict):
                merged[k]["consent"] = {**defaults.get(k, {}).get("consent", {}), **v["consent"]}
        elif k == "stages" and isinstance(v, dict):
            merged[k] = {s: {**merged.get(k, {}).get(s, {}), **(v.get(s) or {})} for s in STAGES
                         if s in merged.get(k, {}) or s in v}
        else:
            merged[k] = copy.deepcopy(v)
    merged.pop("$schema", None)
    return merged


def check_rules(source, name: str | None = None) -> tuple[Rules | None, list[Problem]]:
    """Validate rules given as JSON text or a dict (`name`: the file's name, as problems show it);
    return (rules or None, every problem and warning found)."""
    text, data, name = _read_source(source, name)
    problems: list[Problem] = []
    lines: dict[tuple, int] = {}
    if data is None:
        data, problems = _parse(text, name)
        if data is None:
            return None, problems
        lines = _line_map(text)
    limits = [_located(code, name, lines, parts, msg) for parts, code, msg in limit_problems(data)]
    if limits:
        return None, problems + limits
    for err in sorted(Draft202012Validator(schema()).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(_schema_problem(err, lines, name))
    defaults = json.loads(default_rules_text())
    merged = _merge(defaults, data)
    for parts, code, msg, severity in _semantic(data, merged):
        problems.append(_located(code, name, lines, parts, msg, severity))
    problems.sort(key=lambda p: (p.line or 0))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return Rules(merged, source=name, warnings=tuple(problems)), problems


def load_rules(source=None, name: str | None = None) -> Rules:
    """Validate rules given as JSON text, a dict or a Rules object (None: the bundled defaults).

    Raises RulesError whose `.problems` lists every problem found. Files: addin.settings.load_rules.
    """
    if source is None:
        source = default_rules_text()
    if isinstance(source, Rules):
        return source
    rules, problems = check_rules(source, name)
    if rules is None:
        errors = [p for p in problems if p.severity == "error"]
        raise RulesError(f"{len(errors)} problem(s) in the rules:\n" + "\n".join(str(p) for p in errors), problems)
    return rules


def rules_text(data: dict) -> str:
    """rules.json text with one rule, activity type or pipeline stage per line: diffs read rule by rule."""
    lines = ["{"]
    items = list(data.items())
    for n, (k, v) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        head = f"  {json.dumps(k)}: "
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            body = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in v)
            lines.append(f"{head}[\n{body}\n  ]{comma}")
        elif isinstance(v, dict) and v and all(isinstance(e, dict) for e in v.values()) and k != "score":
            body = ",\n".join(f"    {json.dumps(kk)}: {json.dumps(e, ensure_ascii=False)}" for kk, e in v.items())
            lines.append(f"{head}{{\n{body}\n  }}{comma}")
        else:
            lines.append(f"{head}{json.dumps(v, ensure_ascii=False)}{comma}")
    return "\n".join(lines) + "\n}\n"
