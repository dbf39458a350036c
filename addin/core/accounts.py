"""Accounts: leads grouped by company, and the buying group's coverage.

B2B deals are bought by companies and committees. Each lead is put in an account by, first match:
its Company ID (an account / organisation id column), else its company name normalised (case,
accents, punctuation and legal suffixes such as Inc, SAS, GmbH ignored), else its email domain
unless it is a free-mail one (gmail.com…). Roles come from job titles (`accounts.roles` in
rules.json: a name, title patterns, required or not, a weight); an account's coverage is the
weighted share of the required roles held by at least one of its contacts: "3 of 4 roles,
missing Champion". Two account fields, `Account contacts` and `Account coverage` (0–1), are
given to every lead before the fit rules run, so any rule can use them ("points when coverage
≥ 0.75"). Pure and vectorised: distinct values are mapped once, groups are numpy bincounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .values.headers import ACCOUNT_FIELDS as FIELDS  # what rules may read
from .values.parse import blank_mask
from .values.text import arrow_text, fold, fold_series, text_or_empty
from .values.vocabulary import CUSTOMER, DISQUALIFIED, LEAD, LOST, MQL, OPEN, OPPORTUNITY, SQL, VISITOR

CONTACTS, COVERAGE = FIELDS
BY_ID, BY_NAME, BY_DOMAIN, BY_NONE = 0, 1, 2, 3
HOW = {BY_ID: "Company ID", BY_NAME: "company name", BY_DOMAIN: "email domain"}
AGGREGATES = ["max", "sum", "top3_mean"]
# The most advanced stage of an account's contacts, least to most (a lost deal went further than an SQL).
ADVANCE = [DISQUALIFIED, VISITOR, LEAD, MQL, SQL, LOST, OPPORTUNITY, CUSTOMER]
DEFAULTS = {
    "score": "max",
    "free_mail": ["gmail.com", "googlemail.com", "yahoo.com", "yahoo.fr", "hotmail.com", "hotmail.fr", "outlook.com",
                  "outlook.fr", "live.com", "live.fr", "msn.com", "icloud.com", "me.com", "aol.com", "gmx.com", "gmx.de",
                  "gmx.fr", "web.de", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net", "proton.me",
                  "protonmail.com", "yandex.ru", "mail.ru", "qq.com", "163.com"],
    "roles": [
        {"name": "Decision-maker", "titles": ["CEO", "Directeur", "Directrice", "Director", "Head of", "VP", "Gérant",
                                              "Fondateur", "Founder", "Président", "Owner"], "required": True, "weight": 2},
        {"name": "Finance", "titles": ["CFO", "DAF", "Financ", "Comptab", "Controller", "Contrôleur", "Contrôleuse",
                                       "Trésor", "Procurement", "Achat"],
         "required": True, "weight": 1},
        {"name": "Champion", "titles": ["Manager", "Responsable", "Chef de projet", "Team lead"], "required": True,
         "weight": 1},
        {"name": "User", "titles": ["Développeur", "Developer", "Consultant", "Analyst", "Ingénieur", "Engineer",
                                    "Assistant", "Chargé", "Chargée"], "required": False, "weight": 1},
    ],
    "top": 15,
}
_LEGAL = re.compile(r"\b(inc|incorporated|ltd|limited|llc|llp|plc|corp|corporation|co|company|sa|sas|sasu|sarl|eurl|"
                    r"gmbh|ag|kg|bv|nv|srl|spa|oy|ab|as|pty|the|groupe|group)\b")
_PUNCT = re.compile(r"[^0-9a-z]+")


def config(rules) -> dict:
    """rules.json's `accounts`, over the defaults (each key replaces its default as a whole)."""
    return {**DEFAULTS, **(rules.data.get("accounts") or {})}


def normalise_company(name) -> str:
    """'ACME, Inc.' and 'Acme' -> 'acme'; 'Société Générale SA' -> 'societe generale'."""
    text = _PUNCT.sub(" ", fold(name).replace("&", " and "))
    return " ".join(_LEGAL.sub(" ", text).split())


def _domain(email) -> str:
    text = fold(email)
    at = text.rfind("@")
    return text[at + 1:].strip(" >.") if at >= 0 and "." in text[at + 1:] else ""


@dataclass
class Accounts:
    """Each lead's account (code, -1 for none) and what the accounts hold before scoring."""

    code: np.ndarray             # per lead, index into `names` (-1: no account)
    how: np.ndarray              # per lead: BY_ID, BY_NAME, BY_DOMAIN or BY_NONE
    names: np.ndarray            # per account: the name shown (most frequent spelling)
    contacts: np.ndarray         # per account
    roles: list[str]             # role names, in rules.json's order
    has_role: np.ndarray         # accounts × roles, bool
    required: np.ndarray         # per role, bool
    weight: np.ndarray           # per role
    coverage: np.ndarray         # per account, 0–1 (nan when no role is required)

    def lead_fields(self) -> dict[str, np.ndarray]:
        """Account contacts and Account coverage per lead (0 and nan for a lead with no account)."""
        has = self.code >= 0
        contacts = np.where(has, self.contacts[np.maximum(self.code, 0)] if len(self.contacts) else 0, 0)
        cov = np.where(has, self.coverage[np.maximum(self.code, 0)] if len(self.coverage) else np.nan, np.nan)
        return {CONTACTS: contacts.astype(np.int64), COVERAGE: cov}

    def coverage_text(self) -> np.ndarray:
        """Per account: '3 of 4 roles, missing Champion' (required roles only)."""
        req = np.flatnonzero(self.required)
        if not len(req):
            return np.full(len(self.names), "no required roles", dtype=object)
        # Accounts share few patterns of roles held: phrase each pattern once.
        held = self.has_role[:, req]
        pattern = held.astype(np.int64) @ (1 << np.arange(len(req), dtype=np.int64))
        codes, uniques = pd.factorize(pattern)
        texts = []
        for bits in uniques:
            missing = [self.roles[r] for i, r in enumerate(req) if not bits >> i & 1]
            texts.append(f"{len(req) - len(missing)} of {len(req)} roles"
                         + (f", missing {', '.join(missing)}" if missing else ", complete"))
        return np.asarray(texts, dtype=object)[codes] if len(texts) else np.zeros(0, dtype=object)


def _folded_uniques(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, folded distinct values): each distinct value is folded once, in Arrow's kernels."""
    arr = arrow_text(values)
    if arr is not None:         # Arrow text: blanks nulled and distinct values numbered in Arrow (first seen first)
        import pyarrow.compute as pc
        blank = pc.fill_null(pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr)), True)
        enc = pc.if_else(blank, None, arr).dictionary_encode()
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
        uniques = enc.dictionary.to_numpy(zero_copy_only=False)
    elif values.dtype == object and values.isna().all():      # an absent column
        codes, uniques = np.full(len(values), -1, dtype=np.intp), []
    else:
        codes, uniques = pd.factorize(values.astype(object).where(~blank_mask(values), None), use_na_sentinel=True)
    return codes, fold_series(pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str))


def _refactorize(codes: np.ndarray, folded: np.ndarray, keep_empty: bool = False) -> np.ndarray:
    """Codes of raw distinct values (-1: blank) made codes of their folded texts (-1: blank, or folded
    to "" unless keep_empty)."""
    f_codes, f_u = pd.factorize(folded)
    if not keep_empty and len(f_u):
        f_codes = np.where(np.asarray(f_u, dtype=object)[f_codes] != "", f_codes, -1)
    return np.append(f_codes.astype(np.int64), -1)[codes]


def _company_codes(company: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, normalised names) of the distinct company names, as _company_keys gives them per lead."""
    import pyarrow as pa
    import pyarrow.compute as pc
    codes, folded = _folded_uniques(company)
    arr = pa.array(folded.to_numpy(object), type=pa.string())
    arr = pc.replace_substring(arr, "&", " and ")
    arr = pc.replace_substring_regex(arr, r"[^0-9a-z]+", " ")
    arr = pc.replace_substring_regex(arr, _LEGAL.pattern, " ")
    arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
    return codes, arr.to_numpy(zero_copy_only=False).astype(object)


def _domains(email: pd.Series) -> np.ndarray:
    """The email domain of each lead ('' for none): cut in Arrow over the whole column (addresses are
    nearly all distinct), then the few distinct domains are folded."""
    import pyarrow as pa
    import pyarrow.compute as pc
    arr = arrow_text(email)
    try:
        arr = arr if arr is not None else pa.array(email.to_numpy(object), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):          # numbers typed into the Email column
        arr = pa.array(email.astype(str).where(email.notna(), None).to_numpy(object), type=pa.string(), from_pandas=True)
    dom = pc.struct_field(pc.extract_regex(pc.utf8_trim_whitespace(arr), r"@(?P<d>[^@\s>]+\.[^@\s>]+?)[\s>.]*$"), "d")
    codes, folded = _folded_uniques(pd.Series(dom.to_numpy(zero_copy_only=False), dtype=object))
    return np.append(folded.to_numpy(object), "")[codes]


def group(frame: pd.DataFrame, rules) -> Accounts:
    """Put each lead (a row of the Leads frame, LeadQ column names) in an account and find its roles."""
    cfg = config(rules)
    n = len(frame)
    empty = pd.Series([None] * n, index=frame.index, dtype=object)
    cid = frame["Company ID"] if "Company ID" in frame.columns else empty
    company = frame["Company"] if "Company" in frame.columns else empty
    email = frame["Email"] if "Email" in frame.columns else empty
    id_codes, id_folded = _folded_uniques(cid)
    id_code = _refactorize(id_codes, id_folded.to_numpy(object), keep_empty=True)
    name_codes, name_u = _company_codes(company)
    name_code = _refactorize(name_codes, name_u)
    how = np.where(id_code >= 0, BY_ID, np.where(name_code >= 0, BY_NAME, BY_NONE))
    # The email domain counts only for the leads with neither a Company ID nor a company name.
    rest = np.flatnonzero(how == BY_NONE)
    dom = np.full(n, "", dtype=object)
    dom_code = np.full(n, -1, dtype=np.int64)
    if len(rest):
        dom[rest] = _domains(email.iloc[rest])
        free = {fold(d) for d in cfg["free_mail"]}
        d_codes, d_u = pd.factorize(dom[rest])
        d_ok = np.append((d_u != "") & ~pd.Series(d_u, dtype=object).isin(free).to_numpy(), False)
        dom_code[rest] = np.where(d_ok[d_codes], d_codes, -1)
        how[rest[dom_code[rest] >= 0]] = BY_DOMAIN
    # One account per distinct (way, key), numbered in order of first appearance (as factorising
    # the "id:…" / "co:…" / "dom:…" texts numbered them).
    within = np.select([how == BY_ID, how == BY_NAME, how == BY_DOMAIN], [id_code, name_code, dom_code], default=-1)
    placed = np.flatnonzero(how != BY_NONE)
    codes = np.full(n, -1, dtype=np.int64)
    codes[placed], uniques = pd.factorize(within[placed].astype(np.int64) * 4 + how[placed])
    n_acc = len(uniques)
    # The name shown: the most frequent company spelling in the account, else its id or domain.
    names = np.full(n_acc, "", dtype=object)
    if n_acc:
        has = codes >= 0
        shown = np.where(how == BY_DOMAIN, dom, text_or_empty(company).str.strip().to_numpy(object))
        by_id = (shown == "") & (how == BY_ID)
        if by_id.any():
            shown = np.where(by_id, cid.astype(str).to_numpy(object), shown)
        # Spellings as integers in the texts' sorted order: value_counts ranks (and breaks ties) as on the texts.
        s_codes, s_u = pd.factorize(shown[has], sort=True)
        pairs = pd.DataFrame({"a": codes[has], "s": s_codes}).value_counts(sort=True).reset_index()
        first = pairs.drop_duplicates("a")
        names[first["a"].to_numpy()] = s_u[first["s"].to_numpy()]
    contacts = np.bincount(codes[codes >= 0], minlength=n_acc)
    roles = cfg["roles"]
    title = frame["Job title"] if "Job title" in frame.columns else empty
    t_codes, t_folded = _folded_uniques(title)
    has_role = np.zeros((n_acc, len(roles)), dtype=bool)
    for r, role in enumerate(roles):       # one pass per role (a handful), each over the distinct titles only
        pats = [fold(p) for p in role.get("titles", []) if fold(p)]
        hit_u = np.zeros(len(t_folded) + 1, dtype=bool)
        for p in pats:
            hit_u[:-1] |= t_folded.str.contains(p, regex=False).to_numpy(bool)
        m = hit_u[t_codes] & (codes >= 0)
        has_role[:, r] = np.bincount(codes[m], minlength=n_acc) > 0
    required = np.array([bool(r.get("required", False)) for r in roles], dtype=bool)
    weight = np.array([float(r.get("weight", 1)) for r in roles], dtype=float)
    total = float((weight * required).sum())
    coverage = ((has_role * (weight * required)).sum(axis=1) / total) if total else np.full(n_acc, np.nan)
    return Accounts(codes.astype(np.int64), how, names, contacts, [r["name"] for r in roles], has_role, required,
                    weight, coverage)


def account_table(acc: Accounts, ctx: pd.DataFrame, rules) -> pd.DataFrame:
    """One row per account after scoring: contacts, best and aggregate score, most advanced stage,
    open pipeline, coverage; sorted by the aggregate score (rules.json `accounts.score`)."""
    cfg = config(rules)
    n_acc = len(acc.names)
    code = acc.code
    has = code >= 0
    c = code[has]
    score = ctx["Score"].to_numpy(float)[has]
    best = np.full(n_acc, -np.inf)
    np.maximum.at(best, c, score)
    total = np.bincount(c, weights=score, minlength=n_acc)
    how = cfg["score"]
    if how == "sum":
        agg = total
    elif how == "top3_mean":
        order = np.lexsort((-score, c))
        cs = c[order]
        start = np.r_[0, np.flatnonzero(cs[1:] != cs[:-1]) + 1]
        rank = np.arange(len(cs)) - np.repeat(start, np.diff(np.r_[start, len(cs)]))
        top = rank < 3
        agg = np.bincount(cs[top], weights=score[order][top], minlength=n_acc) / np.maximum(
            np.bincount(cs[top], minlength=n_acc), 1)
    else:
        agg = best
    stage = ctx["Stage"].to_numpy(object)[has]
    st_codes, st_u = pd.factorize(stage)
    st_rank = np.array([ADVANCE.index(u) if u in ADVANCE else 0 for u in st_u] + [0], dtype=np.int64)[st_codes]
    top_rank = np.zeros(n_acc, dtype=np.int64)
    np.maximum.at(top_rank, c, st_rank)
    adv = np.array([rules.stage_label(s) for s in ADVANCE], dtype=object)[top_rank]
    is_open = (ctx["Outcome"].to_numpy(object)[has] == OPEN)
    amount = np.nan_to_num(ctx["Amount"].to_numpy(float)[has])
    pipeline = np.bincount(c[is_open], weights=amount[is_open], minlength=n_acc)
    table = pd.DataFrame({
        "Account": acc.names, "Grouped by": np.array([HOW[k] for k in (BY_ID, BY_NAME, BY_DOMAIN)] + [""],
                                                     dtype=object)[_account_how(acc)], "Contacts": acc.contacts,
        "Best score": np.round(best, 2), "Account score": np.round(agg, 2), "Most advanced stage": adv,
        "Open pipeline": pipeline, "Coverage": np.round(acc.coverage, 4), "Buying group": acc.coverage_text(),
    })
    return table.sort_values(["Account score", "Contacts", "Account"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)


def _account_how(acc: Accounts) -> np.ndarray:
    out = np.full(len(acc.names), BY_NAME)
    has = acc.code >= 0
    out[acc.code[has]] = acc.how[has]
    return out


def grouping_note(acc: Accounts) -> str:
    """Which way leads were grouped, with counts: 'by Company ID 12, company name 180, email domain 3; 5 without'."""
    counts = np.bincount(acc.how, minlength=4)
    parts = [f"{HOW[k]} {counts[k]:,}" for k in (BY_ID, BY_NAME, BY_DOMAIN) if counts[k]]
    none = f"; {counts[BY_NONE]:,} lead(s) in no account (no company, and no email or a free-mail one)" \
        if counts[BY_NONE] else ""
    return "Leads grouped by " + (", ".join(parts) or "nothing") + none
