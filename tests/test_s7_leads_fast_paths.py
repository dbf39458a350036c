"""Speed round 3 (per-lead work): the fast paths give what the plain pandas / numpy ways gave."""

import numpy as np
import pandas as pd
import pytest

from addin import load_rules
from addin.core import accounts
from addin.core.rules.fitrules import _shown_values
from addin.core.values.parse import blank_mask
from addin.core.values.text import category_codes, fold, is_in
from addin.core.values.vocabulary import STAGES

ARROW = pd.StringDtype("pyarrow", na_value=np.nan)


def _texts(values):
    return pd.Series(values, dtype=object).astype(ARROW)


def test_blank_mask_arrow_matches_strip():
    values = ["", " ", "\u00a0", "\u2003\t\n", "a", " a ", None, "\u200b", "\u3000", "\u0301", "x\u00a0"]
    got = blank_mask(_texts(values)).to_numpy()
    want = [v is None or str(v).strip() == "" for v in values]
    assert got.tolist() == want


def test_category_codes_and_is_in_match_pandas_numpy():
    values = np.array(["MQL", "SQL", None, "nope", "Lead", "MQL", np.nan, ""], dtype=object)
    known = np.array([v for v in values if v in STAGES or v is None], dtype=object)
    assert category_codes(known, STAGES).tolist() == pd.Categorical(known, categories=STAGES).codes.tolist()
    assert category_codes(values, STAGES)[[3, 6, 7]].tolist() == [-1, -1, -1]
    assert is_in(values, ["MQL", ""]).tolist() == np.isin(values, ["MQL", ""]).tolist()
    assert category_codes(np.zeros(0, dtype=object), STAGES).tolist() == []
    assert is_in(np.zeros(0, dtype=object), ["a"]).tolist() == []


def test_shown_values_arrow_text_as_objects():
    values = ["Retail", None, "Santé", "Retail", "", " x "]
    got = _shown_values(_texts(values))
    assert got.dtype == object
    assert got.tolist() == _shown_values(np.array(values, dtype=object)).tolist()
    assert _shown_values(_texts([])).tolist() == []


def _reference_group(frame, rules):
    """The account keys as texts ('id:…', 'co:…', 'dom:…'), as group() numbered them before."""
    n = len(frame)
    empty = pd.Series([None] * n, dtype=object)
    cid = frame["Company ID"] if "Company ID" in frame.columns else empty
    company = frame["Company"] if "Company" in frame.columns else empty
    email = frame["Email"] if "Email" in frame.columns else empty
    id_key = np.array(["" if blank_mask(cid).iat[i] else "id:" + fold(str(cid.iat[i])) for i in range(n)], dtype=object)
    name = np.array([accounts.normalise_company(c) if not blank_mask(company).iat[i] else ""
                     for i, c in enumerate(company)], dtype=object)
    name_key = np.where(name != "", "co:" + name.astype(str), "")
    free = {fold(d) for d in accounts.config(rules)["free_mail"]}
    dom = accounts._domains(email)
    dom_key = np.array([("dom:" + d) if d and d not in free else "" for d in dom], dtype=object)
    keys = np.where(id_key != "", id_key, np.where(name_key != "", name_key, dom_key))
    codes, _ = pd.factorize(pd.Series(keys, dtype=object).where(keys != "", None), use_na_sentinel=True)
    return codes


@pytest.mark.parametrize("arrow", [False, True])
@pytest.mark.parametrize("with_id", [False, True])
def test_group_numbers_accounts_as_text_keys(arrow, with_id):
    rng = np.random.default_rng(7)
    n = 3000

    def pick(options, p_none):
        v = rng.choice(np.array(options, dtype=object), n)
        v[rng.random(n) < p_none] = None
        return v
    frame = pd.DataFrame({
        "Company": pick(["Acme", "ACME, Inc.", " ", "Société Générale SA", "Inc", "&", "Beta GmbH", "beta"]
                        + [f"Co{i}" for i in range(30)], 0.4),
        "Email": pick(["a@gmail.com", "b@acme.com", "c@ACME.com ", "d@foo.fr>", "bad", " ", "g@Orange.fr"]
                      + [f"u{i}@d{i % 20}.com" for i in range(60)], 0.2),
        "Job title": pick(["CEO", "CFO", "Manager", "Developer", "", "Head of Sales"], 0.3)})
    if with_id:
        frame["Company ID"] = pick(["", "  ", "X1", "x1", "Y2", "y2 "], 0.7)
    if arrow:
        frame = frame.astype(ARROW)
    rules = load_rules({})
    acc = accounts.group(frame, rules)
    assert acc.code.tolist() == _reference_group(frame, rules).tolist()
    assert set(np.bincount(acc.how, minlength=4)[[1, 2, 3]]) != {0}
    assert len(acc.names) == acc.code.max() + 1 and (acc.names != "").all()


# evaluate's _interests and _why as they were before they were sped up: the reference.
def _old_interests(tags, table, n):
    import pyarrow as pa

    from addin.core.evaluate import _join_ranked
    k = len(table.tags)
    weights = tags["n"].to_numpy() if "n" in tags.columns else None
    counts = np.bincount(tags["lead"].to_numpy() * k + tags["tag"].to_numpy(), weights=weights, minlength=n * k).reshape(n, k)
    lead, tag = np.nonzero(counts)
    alpha = np.argsort(np.argsort(table.tags))
    order = np.lexsort((alpha[tag], -counts[lead, tag], lead))
    return pd.array(_join_ranked(lead[order], pa.array(table.tags, pa.string()).take(tag[order]), n, ", "), dtype="str")


def _old_why_texts(ledger, table, n):
    """Each lead's three heaviest hits, as the plain per-lead loop writes them."""
    out = []
    for i in range(n):
        rows = ledger[(ledger["lead"] == i) & (ledger["points_c"] != 0)]
        hits = sorted(((-abs(p), str(table.names[r]), r, c, p) for r, c, p in
                       zip(rows["rule"], rows["count"], rows["points_c"])), key=lambda h: (h[0], h[1]))
        parts = [str(table.names[r]).replace("activity:", "", 1) + (f" ×{c}" if c > 1 else "")
                 + f" {'+' if p >= 0 else '−'}{abs(p) / 100:g}" for _, _, r, c, p in hits[:3]]
        out.append("; ".join(parts) + ("; …" if len(hits) > 3 else ""))
    return out


class _Table:
    def __init__(self, names, tags=()):
        self.names = np.array(names, dtype=object)
        self.tags = list(tags)


@pytest.mark.parametrize("weighted", [False, True])
def test_interests_order_as_lexsort(weighted):
    from addin.core.evaluate import _interests
    rng = np.random.default_rng(3)
    table = _Table(["r"], ["pricing", "blog", "Zeta", "alpha", "case", "b"])
    n = 40
    tags = pd.DataFrame({"lead": rng.integers(0, n, 600), "tag": rng.integers(0, len(table.tags), 600)})
    if weighted:
        tags["n"] = rng.integers(1, 4, len(tags))
    assert list(_interests(tags, table, n)) == list(_old_interests(tags, table, n))


def test_why_texts_with_ties():
    from addin.core.evaluate import _why
    rng = np.random.default_rng(5)
    table = _Table(["fit-b", "fit-a", "activity:webinar", "activity:demo", "page-x", "clip"])
    n, m = 30, 400
    ledger = pd.DataFrame({"lead": rng.integers(0, n, m), "rule": rng.integers(0, len(table.names), m),
                           "count": rng.integers(1, 4, m),
                           "points_c": rng.choice([0, 500, -500, 1000, 250, 333, -1250], m)})
    assert list(_why(ledger, table, n)) == _old_why_texts(ledger, table, n)


@pytest.mark.parametrize("arrow", [False, True])
def test_has_contact_counts_phone_digits_as_before(arrow):
    from addin.core.crm import has_contact
    phones = ["+33 6 12 34 56 78", "12345", None, " ", "tel: 01-23-45-67", "123456", "", "１２３４５６", None]
    email = pd.Series(["a@b.fr", None, "x", " ", "c@d", None, "", "e@f.fr", "@"], dtype=object)
    phone = _texts(phones) if arrow else pd.Series(phones, dtype=object)
    p = phone.astype(object).where(~blank_mask(phone), "").astype(str).str.count(r"\d").to_numpy() >= 6
    for need in ("email", "phone", "email or phone"):
        got = has_contact(_texts(email) if arrow else email, phone, need)
        e = (~blank_mask(email)).to_numpy() & email.astype(str).str.contains("@", regex=False).to_numpy()
        assert got.tolist() == {"email": e, "phone": p}.get(need, e | p).tolist()
    assert not has_contact(email, pd.Series([None] * len(email), dtype=object), "phone").any()


def test_positions_as_get_indexer():
    from addin.core.evaluate import _positions
    ids = np.array(["L1", "L2", "é3", "L10", ""], dtype=object)
    keys = np.array(["L10", "x", "", "é3", "L1", "l1"], dtype=object)
    assert _positions(keys, ids).tolist() == pd.Index(ids).get_indexer(keys).tolist()
    assert _positions(np.zeros(0, dtype=object), ids).tolist() == []


def _old_fold_series(values):
    import pyarrow as pa
    import pyarrow.compute as pc
    coded = pc.dictionary_encode(pa.array(values, pa.string()))
    folded = pc.utf8_normalize(pc.utf8_lower(coded.dictionary), "NFKD")
    folded = pc.replace_substring_regex(folded, r"\p{Mn}", "")
    folded = pc.replace_substring_regex(pc.utf8_trim_whitespace(folded), r"\s+", " ")
    return folded.take(coded.indices).fill_null("").to_pylist()


@pytest.mark.parametrize("extra", [[], ["two  spaces"], ["tab\there"], ["v\vw"], ["cr\rx", "f\fg"], ["l\nm"],
                                   ["Étudiant", "a\u00a0b"], ["e\u0301"]])
def test_fold_series_skips_only_no_op_replacements(extra):
    from addin.core.values.text import fold_series
    values = [f"  Lead{i}@Example.FR " for i in range(1200)] + [None, "", " A b "] + extra
    got = fold_series(pd.Series(values, dtype=object)).tolist()
    assert got == _old_fold_series(values)
    assert fold_series(_texts(values)).tolist() == got
