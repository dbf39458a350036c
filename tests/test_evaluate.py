import json

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, ROOT, acts_frame, leads_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import addin
from addin.core.scoring import decay_factor

SEEDS = json.loads((ROOT / "tests" / "cases" / "seeds.json").read_text("utf-8"))


@pytest.mark.parametrize("case", SEEDS, ids=[c["name"][:6] for c in SEEDS])
def test_seed_worked_examples(case):
    ev = addin.evaluate(leads_frame([case["lead"]]), acts_frame(case["activities"]), case["rules"], as_of=AS_OF)
    row = ev.leads.iloc[0]
    assert row["Score"] == case["score"]
    assert row["Stage"] == case["stage"]
    assert ev.details["Points"].sum() == case["score"]


def test_fit_rules_fire_once_and_can_subtract(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@gmail.com", "Job title": "CEO, Directeur"}])
    ev = addin.evaluate(leads, None, base_rules, as_of=AS_OF)
    assert ev.leads.iloc[0]["Fit score"] == 5       # +15 once, -10
    assert sorted(ev.details["Rule"]) == ["decision-maker", "free-email"]


def test_the_ledger_lead_ids_are_the_leads_own_text(base_rules):
    """ev.details' Lead ID column is the leads' ids taken row by row, of the same type (pandas' Arrow text): the
    Score details Parquet is written from it without a Python string per row (io.ledger_file)."""
    leads = leads_frame([{"Lead ID": "A-1", "Email": "a@gmail.com", "Job title": "CEO"},
                         {"Lead ID": "Émile", "Email": "e@b.fr"}])
    acts = acts_frame([("Émile", "2026-11-01", "newsletter_signup", ""), ("A-1", "2026-11-02", "webinar", "")])
    ev = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    assert ev.details["Lead ID"].dtype == ev.leads["Lead ID"].dtype == pd.StringDtype("pyarrow", na_value=np.nan)
    points = ev.details.groupby("Lead ID", sort=False)["Points"].sum().to_dict()
    assert points == {"A-1": 15 - 10 + 20, "Émile": 5}       # CEO, free e-mail, webinar; a newsletter signup


def test_unsubscribe_subtracts_points_and_score_is_clipped_at_zero(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-11-01", "newsletter_signup", ""), ("A", "2026-11-02", "unsubscribe", "")])
    ev = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    row = ev.leads.iloc[0]
    assert row["Engagement score"] == -15
    assert row["Score"] == 0
    clip = ev.details[ev.details["Kind"] == "clip"]
    assert clip["Points"].tolist() == [15]
    assert ev.details["Points"].sum() == 0


def test_max_count_keeps_only_the_most_recent(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", f"2026-11-0{d}", "newsletter_signup", "") for d in range(1, 5)])
    ev = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    row = ev.details.iloc[0]
    assert (row["Count"], row["Raw points"], row["Cap"], row["Points"]) == (4, 20, -15, 5)


def test_max_points_clips_a_type_total(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-11-01", "page_visit", f"/p{i}") for i in range(7)])
    ev = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    assert ev.leads.iloc[0]["Engagement score"] == 3


def test_page_rules_add_points_and_tags(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-11-01", "page_visit", "https://x.fr/Pricing/enterprise")])
    ev = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    assert ev.leads.iloc[0]["Engagement score"] == 11
    assert ev.leads.iloc[0]["Interests"] == "Pricing"
    page = ev.details[ev.details["Kind"] == "page"].iloc[0]
    assert page["Rule"] == "pricing" and page["Matched"] == "https://x.fr/pricing/enterprise"


@pytest.mark.parametrize("decay, ages, expected", [
    ({"half_life_days": 30}, [0, 30, 60], [1.0, 0.5, 0.25]),
    ({"linear": {"percent": 50, "every_days": 30}}, [0, 29, 30, 59, 60, 200], [1, 1, 0.5, 0.5, 0, 0]),
    ({"window_days": 90}, [0, 90, 91], [1, 1, 0]),
    (None, [0, 1000], [1, 1]),
])
def test_decay_factor(decay, ages, expected):
    assert decay_factor(np.array(ages), decay).tolist() == pytest.approx(expected)


def test_half_life_decay_at_a_fixed_as_of_date(base_rules):
    rules = {**base_rules, "decay": {"half_life_days": 30}}
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-10-23", "webinar", ""), ("A", "2026-11-22", "webinar", "")])
    ev = addin.evaluate(leads, acts, rules, as_of=AS_OF)
    assert ev.leads.iloc[0]["Engagement score"] == 30          # 20 * 0.5 + 20
    row = ev.details.iloc[0]
    assert (row["Count"], row["Raw points"], row["Decay factor"], row["Points"]) == (2, 40, 0.75, 30)


def test_activities_after_the_as_of_date_do_not_count(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-11-23", "webinar", "")])
    assert addin.evaluate(leads, acts, base_rules, as_of=AS_OF).leads.iloc[0]["Score"] == 0


def test_same_inputs_same_as_of_same_scores(base_rules):
    rules = {**base_rules, "decay": {"half_life_days": 45}}
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-06-01", "webinar", ""), ("A", "2026-09-13", "page_visit", "/pricing")])
    a = addin.evaluate(leads, acts, rules, as_of=AS_OF)
    b = addin.evaluate(leads, acts, rules, as_of=AS_OF)
    pd.testing.assert_frame_equal(a.leads, b.leads)
    pd.testing.assert_frame_equal(a.details, b.details)


def _stage(base_rules, lead, answers=None, score_acts=()):
    leads = leads_frame([{"Lead ID": "A", **lead}])
    acts = acts_frame([("A", "2026-11-01", t, "") for t in score_acts])
    q = pd.DataFrame([{"Lead ID": "A", **answers}]) if answers else None
    return addin.evaluate(leads, acts, base_rules, qualification=q, as_of=AS_OF).leads.iloc[0]


YES4 = {"Budget": "Oui", "Authority": "x", "Need": "TRUE", "Timeframe": "✓"}


@pytest.mark.parametrize("lead, answers, acts, stage", [
    ({"Email": "a@b.fr", "Deal stage": "Won", "Disqualified": "spam"}, None, (), "Customer"),
    ({"Email": "a@b.fr", "Deal stage": "Perdu", "Disqualified": "spam"}, None, (), "Lost"),
    ({"Email": "a@b.fr", "Deal stage": "Proposal", "Disqualified": "spam"}, None, (), "Disqualified"),
    ({"Email": "a@b.fr", "Job title": "Étudiant", "Deal stage": "Proposal"}, None, (), "Disqualified"),
    ({"Email": "a@b.fr", "Deal stage": "Proposal"}, None, (), "Opportunity"),
    ({"Email": "a@b.fr"}, YES4, ("webinar", "simulator"), "SQL"),
    ({"Email": "a@b.fr"}, {**YES4, "Need": "Non"}, ("webinar", "simulator"), "MQL"),
    ({"Email": "a@b.fr"}, YES4, ("webinar",), "Lead"),
    ({"Email": ""}, YES4, ("webinar", "simulator"), "Visitor"),
])
def test_stage_precedence(base_rules, lead, answers, acts, stage):
    assert _stage(base_rules, lead, answers, acts)["Stage"] == stage


def test_stage_labels_come_from_the_rules(base_rules):
    rules = {**base_rules, "stages": {"Lead": {"label": "Piste engagée"}}}
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    assert addin.evaluate(leads, None, rules, as_of=AS_OF).leads.iloc[0]["Stage"] == "Piste engagée"


def test_disqualified_reason_shows_in_checklist(base_rules):
    row = _stage(base_rules, {"Email": "a@b.fr", "Job title": "Étudiant"})
    assert row["Checklist"] == "Disqualified – Not a buyer"


@pytest.mark.parametrize("framework, n", [("BANT", 4), ("CHAMP", 4), ("MEDDIC", 6), ("GPCTBA", 8)])
def test_each_framework_passes_with_all_yes_and_names_what_is_missing(base_rules, framework, n):
    from addin.core.qualification import FRAMEWORKS
    rules = {**base_rules, "qualification": {"framework": framework}}
    names = [c[0] for c in FRAMEWORKS[framework]]
    all_yes = {c: "Yes" for c in names}
    assert _stage(rules, {"Email": "a@b.fr"}, all_yes, ("webinar", "simulator"))["Stage"] == "SQL"
    one_missing = {**all_yes, names[-1]: ""}
    row = _stage(rules, {"Email": "a@b.fr"}, one_missing, ("webinar", "simulator"))
    assert row["Stage"] == "MQL"
    assert row["Checklist"] == f"{n - 1}/{n} {framework} – missing: {names[-1]}"


@pytest.mark.parametrize("answer, counts_yes", [
    ("Yes", True), ("Y", True), ("oui", True), ("OUI", True), ("x", True), ("✓", True), ("TRUE", True), ("1", True),
    (1.0, True), (True, True), ("No", False), ("Non", False), ("FALSE", False), ("0", False), (0.0, False),
    ("", False), (None, False), ("?", False),
])
def test_answer_spellings(base_rules, answer, counts_yes):
    answers = {**YES4, "Budget": answer}
    row = _stage(base_rules, {"Email": "a@b.fr"}, answers, ("webinar", "simulator"))
    assert (row["Stage"] == "SQL") is counts_yes


def test_unrecognised_answer_is_reported_not_guessed(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    q = pd.DataFrame([{"Lead ID": "A", **YES4, "Budget": "peut-être"}])
    ev = addin.evaluate(leads, None, base_rules, qualification=q, as_of=AS_OF)
    p = [p for p in ev.problems if p.code == "answer-not-understood"][0]
    assert p.where == 'Qualification!B2 (column "Budget")' and "peut-être" in p.message
    assert ev.leads.iloc[0]["Checklist"].startswith("3/4 BANT – missing: Budget")


@pytest.mark.parametrize("require, stage", [("all", "MQL"), ({"min": 3}, "SQL"), (["Budget", "Need"], "SQL"),
                                            (["Timeframe"], "MQL")])
def test_pass_rules(base_rules, require, stage):
    rules = {**base_rules, "qualification": {"framework": "BANT", "require": require}}
    answers = {**YES4, "Timeframe": "Non"}
    assert _stage(rules, {"Email": "a@b.fr"}, answers, ("webinar", "simulator"))["Stage"] == stage


def test_custom_framework(base_rules):
    rules = {**base_rules, "qualification": {"framework": "custom", "name": "Ours",
                                             "criteria": [{"id": "Fit"}, {"id": "Urgence", "label": "Urgency"}]}}
    row = _stage(rules, {"Email": "a@b.fr"}, {"Fit": "oui", "Urgence": "non"}, ("webinar", "simulator"))
    assert row["Checklist"] == "1/2 Ours – missing: Urgency (no)"


def test_french_headers_are_matched():
    leads = pd.DataFrame([{"Identifiant": "A", "Courriel": "a@b.fr", "Fonction": "Directeur", "Société": "Acme",
                           "Effectif": "250"}])
    ev = addin.evaluate(leads, None, None, as_of=AS_OF)
    assert set(ev.details["Rule"]) == {"decision-maker", "mid-market"}


def test_crm_export_headers_are_matched():
    leads = pd.DataFrame([{"Record ID": 101.0, "Person - Email": "a@b.fr", "Title": "VP Sales",
                           "No. of Employees": 250, "Lead Source": "Webinar", "Deal - Stage": "Negotiation", "Amount": 1000}])
    ev = addin.evaluate(leads, None, None, as_of=AS_OF)
    assert ev.leads.iloc[0]["Lead ID"] == "101"
    assert ev.leads.iloc[0]["Stage"] == "Opportunity"
    assert ev.context.iloc[0]["Weighted"] == 800


def test_bad_rows_are_reported_with_their_cells(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr", "Amount": "beaucoup", "Deal stage": "Propsal"},
                         {"Lead ID": "A", "Email": "z@b.fr"}, {"Lead ID": None, "Email": "q@b.fr"}])
    acts = acts_frame([("A", "2026-13-45", "webinar", ""), ("B", "2026-11-01", "webinar", ""),
                       ("A", "2026-11-01", "webinr", "")])
    ev = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    got = {(p.code, p.where) for p in ev.problems}
    assert ("duplicate-lead-id", 'Leads!A3 (column "Lead ID")') in got
    assert ("missing-lead-id", 'Leads!A4 (column "Lead ID")') in got
    assert ("not-a-number", 'Leads!C2 (column "Amount")') in got
    assert ("unknown-deal-stage", 'Leads!D2 (column "Deal stage")') in got
    assert ("not-a-date", 'Activities!B2 (column "Date")') in got
    assert ("unknown-lead", 'Activities!A3 (column "Lead ID")') in got
    assert ("unknown-activity", 'Activities!C4 (column "Activity")') in got
    msg = {p.code: p.message for p in ev.problems}
    assert 'did you mean "Proposal"' in msg["unknown-deal-stage"]
    assert 'did you mean "webinar"' in msg["unknown-activity"]
    assert list(ev.leads.index) == [0]


def test_next_action_status(base_rules):
    rows = [{"Lead ID": c, "Email": "a@b.fr", "Deal stage": "Proposal", "Next action": a, "Next action date": d}
            for c, a, d in [("1", "Call", "2026-11-20"), ("2", "Call", "25/11/2026"), ("3", "", None),
                            ("4", "Call", None), ("5", "Call", "2027-01-10")]]
    rows.append({"Lead ID": "6", "Email": "", "Next action": "", "Next action date": None})
    ev = addin.evaluate(leads_frame(rows), None, base_rules, as_of=AS_OF)
    assert ev.leads["Next action status"].tolist() == ["Overdue", "Due soon", "Missing", "No date", "Planned", ""]


def test_grades_follow_fit(base_rules):
    rules = {**base_rules, "grades": {"A": 15, "B": 5, "else": "Z"}}
    leads = leads_frame([{"Lead ID": "1", "Job title": "CEO"}, {"Lead ID": "2", "Job title": "CEO", "Email": "x@gmail.com"},
                         {"Lead ID": "3"}])
    assert addin.evaluate(leads, None, rules, as_of=AS_OF).leads["Grade"].tolist() == ["A", "B", "Z"]


def test_why_lists_the_heaviest_hits(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@gmail.com", "Job title": "CEO"}])
    acts = acts_frame([("A", "2026-11-01", "webinar", ""), ("A", "2026-11-02", "webinar", ""), ("A", "2026-11-03", "page_visit", "/x")])
    why = addin.evaluate(leads, acts, base_rules, as_of=AS_OF).leads.iloc[0]["Why"]
    assert why == "webinar ×2 +40; decision-maker +15; free-email −10; …"


def test_activities_may_be_keyed_by_email(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "Anne@B.fr"}])
    acts = pd.DataFrame([{"Email": "anne@b.fr", "Date": "2026-11-01", "Activity": "Webinar"}])
    assert addin.evaluate(leads, acts, base_rules, as_of=AS_OF).leads.iloc[0]["Score"] == 20


def test_missing_lead_id_column_is_a_clear_error(base_rules):
    with pytest.raises(addin.WorkbookError, match='no "Lead ID" column'):
        addin.evaluate(pd.DataFrame([{"Email": "a@b.fr"}]), None, base_rules, as_of=AS_OF)


TYPES = ["newsletter_signup", "whitepaper_download", "webinar", "page_visit", "unsubscribe"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    acts=st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 400), st.sampled_from(TYPES),
                            st.sampled_from(["", "/pricing", "/blog/crm"])), max_size=40),
    titles=st.lists(st.sampled_from(["CEO", "", "Étudiant", "Dev"]), min_size=3, max_size=3),
    decay=st.sampled_from([None, {"half_life_days": 37}, {"linear": {"percent": 30, "every_days": 20}}, {"window_days": 100}]),
    smax=st.sampled_from([30, 100, 1000]),
)
def test_ledger_points_sum_exactly_to_every_score(base_rules, acts, titles, decay, smax):
    rules = {**base_rules, "decay": decay, "score": {"min": 0, "max": smax}}
    leads = leads_frame([{"Lead ID": i, "Email": f"{i}@gmail.com", "Job title": t} for i, t in zip("ABC", titles)])
    as_of = pd.Timestamp(AS_OF)
    frame = acts_frame([(lead, (as_of - pd.Timedelta(days=age)).date().isoformat(), t, d) for lead, age, t, d in acts])
    ev = addin.evaluate(leads, frame, rules, as_of=AS_OF)
    sums = (ev.details.groupby("Lead ID")["Points"].sum() * 100).round().astype(int)
    for _, row in ev.leads.iterrows():
        assert sums.get(row["Lead ID"], 0) == round(row["Score"] * 100)
        assert 0 <= row["Score"] <= smax
    fit = ev.details[ev.details["Kind"] == "fit"].groupby("Lead ID")["Points"].sum()
    for _, row in ev.leads.iterrows():
        assert fit.get(row["Lead ID"], 0) == pytest.approx(row["Fit score"])


def test_many_bad_rows_keep_200_located_problems_and_count_the_rest(base_rules):
    leads = leads_frame([{"Lead ID": "A", "Email": "a@b.fr"}])
    acts = acts_frame([("A", "2026-11-01", f"typo{i}", "") for i in range(500)])
    problems = addin.evaluate(leads, acts, base_rules, as_of=AS_OF).problems
    located = [p for p in problems if p.code == "unknown-activity" and p.cell]
    assert len(located) == 200 and located[0].where == 'Activities!C2 (column "Activity")'
    assert [p.message for p in problems if p.code == "unknown-activity" and not p.cell] == \
        ["... and 300 more problems of this kind (unknown-activity)"]


def test_an_activities_or_qualification_column_empty_on_every_row_is_read_as_no_column(base_rules):
    """Empty on every row = absent, on Activities (Detail) and Qualification (a criterion column) as on
    Leads: the same scores, stages and checklist as without the column, and one line naming it."""
    import pandas as pd

    import addin
    base_rules["qualification"] = {"framework": "BANT", "require": "all"}
    leads = leads_frame([{"Lead ID": f"L{i}", "Email": f"p{i}@corp.fr", "Job title": "CEO"} for i in range(6)])
    rows = [(f"L{i}", "2026-11-20", "page_visit" if i % 2 else "webinar", None) for i in range(6)]
    with_empty = acts_frame(rows)
    without = with_empty.drop(columns=["Detail"])
    q_empty = pd.DataFrame({"Lead ID": [f"L{i}" for i in range(6)], "Budget": [None, "", " ", None, None, None],
                            "Need": ["Oui", "Non", "Oui", "x", "", "Oui"]})
    q_without = q_empty.drop(columns=["Budget"])
    a = addin.evaluate(leads, with_empty, base_rules, qualification=q_empty, as_of="2026-11-22")
    b = addin.evaluate(leads, without, base_rules, qualification=q_without, as_of="2026-11-22")
    cols = ["Fit score", "Engagement score", "Score", "Stage", "Checklist"]
    pd.testing.assert_frame_equal(a.leads[cols], b.leads[cols])
    lines = [p.message for p in a.problems if p.code == "empty-column"]
    assert any(m.startswith('column "Detail" is empty on every row, so it is read as absent (page rules') for m in lines), lines
    assert any(m.startswith('column "Budget" is empty on every row, so it is read as absent') for m in lines), lines
    def missing(ev):
        return [p.message for p in ev.problems if p.code == "missing-criterion-column" and '"Budget"' in p.message]
    assert missing(a) == [] and len(missing(b)) == 1        # one line for the empty column, as one for the absent one


@pytest.mark.parametrize("span", [50, 10_000_000])
def test_pair_codes_equal_np_unique_on_dense_and_sparse_keys(span):
    """The (lead, rule) codes of the engagement ledger: the counting pass on dense keys and np.unique
    on sparse ones (range above 8 keys per hit) give what np.unique gives."""
    from addin.core.scoring import _pair_codes
    group = np.random.default_rng(7).integers(0, span, 400)
    uniq, inverse = _pair_codes(group)
    want_uniq, want_inverse = np.unique(group, return_inverse=True)
    assert np.array_equal(uniq, want_uniq) and np.array_equal(inverse, want_inverse)
    assert np.array_equal(uniq[inverse], group)


def test_max_count_ranks_equal_a_full_sort():
    """_within_max_count sorts only the (lead, rule) groups with more hits than their limit: every group's
    max_count most recent hits (input order on a tie) count, as a stable sort of all the limited hits says."""
    from addin.core.scoring import NO_LIMIT, _within_max_count
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 1500))
        lead, rule = rng.integers(0, int(rng.integers(1, 120)), n), rng.integers(0, int(rng.integers(1, 7)), n)
        day = rng.integers(0, int(rng.integers(1, 40)), n)
        max_count = np.where(rng.random(int(rule.max()) + 1) < 0.3, NO_LIMIT,
                             rng.integers(1, 4, int(rule.max()) + 1)).astype(np.int64)
        want = np.ones(n, dtype=bool)
        order = np.lexsort((np.arange(n), -day, rule, lead))          # newest first, then input order
        seen: dict = {}
        for i in order:
            k = (lead[i], rule[i])
            seen[k] = seen.get(k, 0) + 1
            want[i] = max_count[rule[i]] == NO_LIMIT or seen[k] <= max_count[rule[i]]
        assert np.array_equal(_within_max_count(lead, rule, day, max_count), want)


def test_newest_hit_of_each_group_is_the_latest_day_then_the_first_in_input_order():
    from addin.core.scoring import _newest
    rng = np.random.default_rng(6)
    for k in range(200):
        n_groups = int(rng.integers(1, 300))
        group = np.concatenate([np.arange(n_groups), rng.integers(0, n_groups, int(rng.integers(0, 600)))])
        rng.shuffle(group)
        day = rng.integers(-40_000, 110_000, len(group)) if k % 2 else rng.integers(0, 4, len(group))
        value = rng.integers(-1, 30, len(group))
        want = [value[min(np.flatnonzero((group == g) & (day == day[group == g].max())))] for g in range(n_groups)]
        assert np.array_equal(_newest(group, n_groups, day, value), want)


def test_activity_lead_ids_in_arrow_text_match_as_python_strings_do(base_rules):
    """The file reader gives Arrow text: its Lead IDs are trimmed and looked up in Arrow, with the same
    leads, skipped rows and problems as the same IDs held as Python strings."""
    leads = leads_frame([{"Lead ID": "L1", "Email": "a@x.com"}, {"Lead ID": "L2", "Email": "b@x.com"},
                         {"Lead ID": "7", "Email": "c@x.com"}])
    rows = [(" L1 ", "2026-11-01", "webinar", None), ("L2", "2026-11-02", "webinar", None),
            (None, "2026-11-03", "webinar", None), ("", "2026-11-03", "webinar", None),
            ("  ", "2026-11-04", "webinar", None), ("L9", "2026-11-05", "webinar", None), ("7", "2026-11-06", "webinar", None),
            ("l1", "2026-11-07", "webinar", None), ("L2\u00a0", "2026-11-08", "webinar", None)]
    as_objects = acts_frame(rows).astype({"Lead ID": object})
    as_arrow = acts_frame(rows).astype({"Lead ID": pd.StringDtype("pyarrow", na_value=np.nan)})
    a = addin.evaluate(leads, as_objects, base_rules, as_of=AS_OF)
    b = addin.evaluate(leads, as_arrow, base_rules, as_of=AS_OF)
    pd.testing.assert_frame_equal(a.leads, b.leads)
    pd.testing.assert_frame_equal(a.details, b.details)
    assert [p.as_dict() for p in a.problems] == [p.as_dict() for p in b.problems]
    assert list(a.leads["Engagement score"]) == [20.0, 40.0, 20.0]
