"""`leadq calibrate`: synthetic leads generated from known points plus noise, through the core and the CLI."""

import io
import json
import shutil

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import AS_OF, write_json

from addin.cli import run
from addin.core.calibrate.fit import calibrate
from addin.core.calibrate.stats import auc, wilson
from addin.core.calibrate.suggest import Goal, threshold_for_share
from addin.io.template import build_workbook
from addin.settings import check_rules_file as check_rules
from addin.settings import load_rules

# The generating model: log-odds per unit of each feature LeadQ computes.
TRUE = {"demo_request": 1.5, "decision-maker": 1.1, "mid-market": 0.7, "webinar": 0.35, "page_visit": 0.1,
        "free-email": -0.9}
RULES = {
    "name": "synthetic", "version": "1", "decay": None, "score": {"min": 0, "max": 100},
    "fit": [{"id": "decision-maker", "field": "Job title", "op": "contains_any", "value": ["CEO"], "points": 10},
            {"id": "mid-market", "field": "Company size", "bands": [{"lt": 50, "points": 0}, {"gte": 50, "lt": 1000, "points": 10}]},
            {"id": "free-email", "field": "Email", "op": "email_domain_in", "value": ["gmail.com"], "points": -10}],
    "activities": {"webinar": {"points": 10}, "demo_request": {"points": 10, "max_count": 1}, "page_visit": {"points": 10}},
    "pages": [],
}


def synthetic(n=4000, seed=1, intercept=-2.0, extra=None):
    """Leads and activities drawn from TRUE plus logistic noise; returns (leads, activities, true log-odds)."""
    rng = np.random.default_rng(seed)
    ceo = rng.random(n) < 0.3
    size = rng.integers(5, 3000, n)
    free = rng.random(n) < 0.25
    web, demo, pv = rng.poisson(0.8, n), rng.binomial(1, 0.15, n), rng.poisson(4, n)
    logit = (intercept + TRUE["decision-maker"] * ceo + TRUE["mid-market"] * ((size >= 50) & (size < 1000))
             + TRUE["free-email"] * free + TRUE["webinar"] * web + TRUE["demo_request"] * demo + TRUE["page_visit"] * pv)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    ids = [f"S{i}" for i in range(n)]
    leads = pd.DataFrame({"Lead ID": ids, "Email": [f"p{i}@{'gmail.com' if f else 'corp.fr'}" for i, f in enumerate(free)],
                          "Job title": np.where(ceo, "CEO", "Analyst"), "Company size": size,
                          "Deal stage": np.where(won, "Won", "Lost")})
    for k, v in (extra or {}).items():
        leads[k] = v(rng, won)
    acts = pd.concat([pd.DataFrame({"Lead ID": np.repeat(ids, cnt), "Date": "2026-11-01", "Activity": t, "Detail": ""})
                      for t, cnt in (("webinar", web), ("demo_request", demo), ("page_visit", pv))], ignore_index=True)
    return leads, acts, logit


@pytest.fixture(scope="module")
def fitted():
    leads, acts, logit = synthetic()
    return leads, acts, logit, calibrate(leads, acts, RULES, as_of=AS_OF)


def suggested_points(cal):
    s = cal.suggested
    fit = {r["id"]: r for r in s["fit"]}
    # mid-market: its band against the unlisted ≥1000 (the reference, most leads)
    return {"decision-maker": fit["decision-maker"]["points"], "mid-market": fit["mid-market"]["bands"][1]["points"],
            "free-email": fit["free-email"]["points"],
            **{t: s["activities"][t]["points"] for t in ("webinar", "demo_request", "page_visit")}}


def test_calibrate_recovers_the_ranking_of_the_generating_points(fitted):
    *_, cal = fitted
    pts = suggested_points(cal)
    assert sorted(pts, key=pts.get) == sorted(TRUE, key=TRUE.get)
    assert all(isinstance(v, int) for v in pts.values())
    # and their proportions: points per log-odds unit are nearly the same for every feature
    ratios = [pts[k] / TRUE[k] for k in TRUE if abs(TRUE[k]) >= 0.35]
    assert max(ratios) / min(ratios) < 1.5


def test_calibrate_reaches_the_generating_models_auc_on_the_held_out_part(fitted):
    leads, _, logit, cal = fitted
    pos = pd.Index(leads["Lead ID"]).get_indexer(cal.holdout_ids)
    y = (leads["Deal stage"] == "Won").to_numpy()[pos]
    truth = auc(y, logit[pos])
    assert cal.metrics["test"] == len(pos) == 1200
    assert cal.metrics["auc_suggested"] >= truth - 0.01
    assert cal.metrics["auc_suggested"] > cal.metrics["auc_current"] + 0.05
    assert cal.metrics["brier_suggested"] < cal.metrics["brier_current"] < cal.metrics["brier_base_rate"]


def test_the_held_out_split_is_stratified_and_seeded(fitted):
    leads, acts, _, cal = fitted
    y = (leads.set_index("Lead ID")["Deal stage"] == "Won")
    share = y.loc[cal.holdout_ids].mean()
    assert abs(share - y.mean()) < 0.005
    again = calibrate(leads, acts, RULES, as_of=AS_OF, seed=0)
    other = calibrate(leads, acts, RULES, as_of=AS_OF, seed=7)
    assert again.holdout_ids == cal.holdout_ids and other.holdout_ids != cal.holdout_ids


def test_the_report_gives_lift_and_wilson_interval_per_rule(fitted):
    leads, acts, _, cal = fitted
    r = cal.report.set_index("Rule")
    y = leads["Deal stage"] == "Won"
    ceo = leads["Job title"] == "CEO"
    row = r.loc["decision-maker"]
    assert row["Hits"] == ceo.sum() and row["Won when hit"] == (y & ceo).sum()
    assert row["Conversion when hit"] == pytest.approx(y[ceo].mean())
    assert row["Conversion when not"] == pytest.approx(y[~ceo].mean())
    assert row["Lift"] == pytest.approx(y[ceo].mean() / y.mean())
    lo, hi = wilson(row["Won when hit"], row["Hits"])
    assert (row["Wilson low"], row["Wilson high"]) == pytest.approx((lo, hi))
    assert set(r.index) >= {"mid-market[<50]", "mid-market[50–<1000]", "activity:webinar", "activity:demo_request"}
    assert r.loc["activity:demo_request", "Lift"] > 1.5 and r.loc["free-email", "Lift"] < 1


def test_wilson_interval_matches_the_textbook():
    lo, hi = wilson(5, 10)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 20)
    assert float(lo) == 0 and round(float(hi), 4) == 0.1611


def test_few_hits_and_few_outcomes_are_warned(fitted):
    leads, acts, _, _ = fitted
    small = leads.iloc[:150].copy()
    cal = calibrate(small, acts, RULES, as_of=AS_OF)
    assert any(w.startswith("small sample: 150 leads with an outcome") for w in cal.warnings)
    warn = cal.report.set_index("Rule")["Warning"]
    assert "only" in warn["activity:demo_request"]
    full = fitted[3]
    assert full.report.set_index("Rule")["Warning"]["decision-maker"] == ""
    assert not any(w.startswith("small sample") for w in full.warnings)


def test_open_leads_are_left_out_and_counted(fitted):
    leads, acts, _, _ = fitted
    mixed = leads.copy()
    mixed.loc[:499, "Deal stage"] = "Proposal"
    mixed.loc[500:599, "Deal stage"] = ""
    cal = calibrate(mixed, acts, RULES, as_of=AS_OF)
    assert cal.counts["left_out"] == 600 and cal.counts["closed"] == 3400
    assert cal.counts["won"] + cal.counts["lost"] == 3400


def test_an_outcome_column_is_read_as_yes_no_and_never_a_feature(fitted):
    leads, acts, _, _ = fitted
    conv = leads.drop(columns=["Deal stage"]).copy()
    won = fitted[0]["Deal stage"] == "Won"
    conv["Converted"] = np.where(won, "Yes", "0").astype(object)
    conv.loc[:9, "Converted"] = None
    conv.loc[10, "Converted"] = "maybe"
    rules = {**RULES, "fit": [*RULES["fit"], {"id": "cheat", "field": "Converted", "op": "equals", "value": "Yes", "points": 50}]}
    cal = calibrate(conv, acts, rules, as_of=AS_OF, outcome="converted")
    assert cal.outcome.startswith('column "Converted"')
    assert cal.counts["left_out"] == 11 and cal.counts["not_understood"] == 1
    p = cal.problems[0]
    assert p.code == "outcome-not-understood" and p.where == 'Leads!E12 (column "Converted")'
    assert "cheat" not in set(cal.report["Rule"])
    cheat = next(r for r in cal.suggested["fit"] if r["id"] == "cheat")
    assert cheat["points"] == 0
    assert not any(r.get("field") == "Converted" for r in cal.new_rules)


def test_a_leaky_column_is_left_out_whole_and_named_and_excluding_it_removes_it(fitted):
    leads, acts, _, _ = fitted
    won = (leads["Deal stage"] == "Won").to_numpy()
    leads = leads.assign(Tags=np.where(won, "Closed by sales", np.where(np.arange(len(won)) % 2, "Ringing", "No answer")))
    cal = calibrate(leads, acts, RULES, as_of=AS_OF)
    tags = next(lk for lk in cal.leaks if lk["field"] == "Tags")
    assert tags["auc"] > 0.99 and not tags["kept"] and '"Closed by sales" 100%' in tags["why"]
    assert '"Ringing" 0%' in tags["why"]          # both ends: the values that never convert are named too
    assert not any(r.get("field") == "Tags" for r in cal.suggested["fit"])
    clean = calibrate(leads, acts, RULES, as_of=AS_OF, exclude=["tags"])
    assert not any(lk["field"] == "Tags" for lk in clean.leaks)
    assert not any(r.get("field") == "Tags" for r in clean.suggested["fit"])


def test_new_rules_are_suggested_from_unused_columns_and_marked_new():
    strong = {"Source": lambda rng, won: np.where(rng.random(len(won)) < np.where(won, 0.45, 0.15), "Webinar", "Web site"),
              "Noise": lambda rng, won: np.where(rng.random(len(won)) < 0.5, "A", "B")}
    leads, acts, _ = synthetic(extra=strong)
    cal = calibrate(leads, acts, RULES, as_of=AS_OF)
    new = {r["id"]: r for r in cal.new_rules}
    assert "new-source" in new and "new-noise" not in new
    assert new["new-source"]["label"].startswith("new:")
    webinar = next(b for b in new["new-source"]["bands"] if b["in"] == ["Webinar"])
    assert webinar["points"] > 0
    assert any(ch["what"] == "fit new-source (new)" for ch in cal.changes)
    assert not calibrate(leads, acts, RULES, as_of=AS_OF, new_rules=False).new_rules


@pytest.mark.parametrize("goal, check", [
    (Goal("share", 0.2), lambda cal, s: abs((s >= cal.threshold["mql"]).mean() - 0.2) < 0.02),
    (Goal("precision", 0.6), lambda cal, s: cal.threshold["train_precision"] >= 0.6),
])
def test_the_mql_threshold_meets_the_stated_goal(fitted, goal, check):
    leads, acts, _, _ = fitted
    cal = calibrate(leads, acts, RULES, as_of=AS_OF, goal=goal)
    from addin.core.evaluate import evaluate
    scores = evaluate(leads, acts, cal.suggested, as_of=AS_OF).leads["Score"].to_numpy()
    assert cal.suggested["thresholds"]["mql"] == cal.threshold["mql"]
    assert check(cal, scores)


def test_mql_per_week_uses_the_created_dates(fitted):
    leads, acts, _, _ = fitted
    dated = leads.assign(Created=pd.Timestamp("2026-11-22") - pd.to_timedelta(np.arange(len(leads)) % 400, unit="D"))
    cal = calibrate(dated, acts, RULES, as_of=AS_OF, goal=Goal("per_week", 14))
    assert cal.threshold["leads_per_week"] == pytest.approx(4000 / (399 / 7))
    assert cal.threshold["mqls_per_week"] == pytest.approx(14, rel=0.1)
    with pytest.raises(Exception, match="needs the leads' Created dates"):
        calibrate(leads, acts, RULES, as_of=AS_OF, goal=Goal("per_week", 14))


def test_threshold_for_share():
    s = np.arange(100)
    assert threshold_for_share(s, 0.2) == 80 and (s >= 80).mean() == 0.2
    assert threshold_for_share(np.array([5, 5, 5, 1]), 0.5) == 6


def test_too_few_outcomes_is_a_clear_error(fitted):
    leads, acts, _, _ = fitted
    few = leads.copy()
    few["Deal stage"] = "Proposal"
    few.loc[:2, "Deal stage"] = "Won"
    with pytest.raises(Exception, match="too few outcomes to learn from: 3 won and 0 lost"):
        calibrate(few, acts, RULES, as_of=AS_OF)


# ---------------------------------------------------------------------------- through the CLI and files
def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def book(tmp_path_factory, fitted):
    leads, acts, _, _ = fitted
    d = tmp_path_factory.mktemp("cal")
    build_workbook(d / "s.xlsm", load_rules(RULES), {"Leads": leads, "Activities": acts})
    write_json(d / "rules.json", RULES)
    return d / "s.xlsm"


def test_suggested_file_validates_and_a_refresh_with_it_reproduces_the_reported_auc(book, tmp_path):
    shutil.copy(book, tmp_path / "s.xlsm")
    shutil.copy(book.parent / "rules.json", tmp_path / "rules.json")
    code, out, err = call("calibrate", tmp_path / "s.xlsm", "--as-of", AS_OF, "--write", tmp_path / "suggested.json", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["written"] == str(tmp_path / "suggested.json")
    code, out, err = call("check-rules", tmp_path / "suggested.json")
    assert code == 0 and "valid" in out, err
    text = (tmp_path / "suggested.json").read_text("utf-8")
    assert '    {"id": "decision-maker", "field": "Job title"' in text          # one rule per line: a readable diff
    code, _, err = call("refresh", tmp_path / "s.xlsm", "--rules", tmp_path / "suggested.json", "--as-of", AS_OF,
                        "--output", tmp_path / "r.xlsm")
    assert code == 0, err
    ws = openpyxl.load_workbook(tmp_path / "r.xlsm", data_only=True, read_only=True)["Leads"]
    rows = list(ws.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if r and "Lead ID" in r)
    cols = list(rows[head])
    frame = pd.DataFrame(rows[head + 1:], columns=cols).set_index("Lead ID")
    held = frame.loc[report["holdout_ids"]]
    y = (held["Deal stage"] == "Won").to_numpy()
    assert auc(y, held["Score"].to_numpy(float)) == pytest.approx(report["metrics"]["auc_suggested"], abs=1e-12)
    # the base is a ledger row of its own, and explain names it
    base = report["suggested"]["score"]["base"]
    code, out, err = call("explain", tmp_path / "r.xlsm", "S0", "--rules", tmp_path / "suggested.json", "--as-of", AS_OF)
    assert code == 0, err
    assert f"(base {base:g} + fit" in out.splitlines()[0]
    assert any(line.startswith("score-base") and line.split()[1] == "base" for line in out.splitlines())


def test_cli_report_reads_rule_by_rule(book):
    code, out, err = call("calibrate", book, "--as-of", AS_OF, "--mql-share", "0.25")
    assert code == 0, err
    assert "outcome: won vs lost deals (Deal stage) — 4000 leads with an outcome" in out
    assert "held out: 1200 of them" in out
    lines = out.splitlines()
    dm = next(line for line in lines if line.startswith("decision-maker "))
    assert dm.split()[:3] == ["decision-maker", "fit", "10"]
    assert any(line.startswith("current rules") for line in lines) and any(line.startswith("suggested rules") for line in lines)
    assert any("fit decision-maker" in line and "10 →" in line for line in lines)
    assert any("thresholds.mql" in line and "25% of leads are MQLs" in line for line in lines)
    assert "add --write rules.suggested.json" in out


def test_calibrate_never_writes_over_rules_json(book):
    code, out, err = call("calibrate", book, "--as-of", AS_OF, "--write", book.parent / "rules.json")
    assert code == 1 and "never writes over a rules.json" in err
    assert json.loads((book.parent / "rules.json").read_text("utf-8")) == RULES


@pytest.mark.parametrize("argv", [["--holdout", "1.5"], ["--mql-share", "0.2", "--mql-precision", "0.5"],
                                  ["--mql-per-week", "-3"], ["--seed", "x"]])
def test_calibrate_usage_errors_exit_2(book, argv):
    assert call("calibrate", book, *argv)[0] == 2


def test_unknown_outcome_column_is_a_one_line_error(book):
    code, out, err = call("calibrate", book, "--as-of", AS_OF, "--outcome", "Convertd")
    assert code == 1 and "Traceback" not in err
    assert err.strip().startswith('leadq: Leads!1:1: no column "Convertd" to read the outcome from')


def test_suggested_rules_pass_the_validator_as_data(fitted):
    *_, cal = fitted
    rules, problems = check_rules(cal.suggested)
    assert rules is not None, problems
    assert rules.version.startswith("1 (calibrated 2026-11-22")
