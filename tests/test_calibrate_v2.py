"""Calibrate v2: the scorecard scale, first runs, leaks per column, holdout by date, the confusion matrix, the --write gate."""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, write_json
from test_calibrate import RULES, TRUE, suggested_points, synthetic

from addin.cli import run
from addin.core.calibrate.fit import calibrate
from addin.core.evaluate import evaluate
from addin.core.rules.model import check_rules, load_rules
from addin.io.template import build_workbook


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_known_points_come_back_in_order_and_on_the_stated_scale():
    leads, acts, _ = synthetic(n=8000, seed=3)
    cal = calibrate(leads, acts, RULES, as_of=AS_OF, new_rules=False)
    assert cal.metrics["points_per_doubling"] == 10          # a tenth of the 0–100 range
    pts = suggested_points(cal)
    assert sorted(pts, key=pts.get) == sorted(TRUE, key=TRUE.get)
    # points per doubling of the odds implied by each rule against the generating log-odds
    doublings = {k: TRUE[k] / math.log(2) for k in TRUE}
    slope = sum(pts[k] * d for k, d in doublings.items()) / sum(d * d for d in doublings.values())
    assert slope == pytest.approx(10, rel=0.15)
    for k in TRUE:        # each rule too, within what the pull towards today's proportions allows
        if abs(TRUE[k]) >= 0.7:
            assert pts[k] / doublings[k] == pytest.approx(10, rel=0.2), k


def test_no_signal_gives_small_points():
    rng = np.random.default_rng(5)
    leads, acts, _ = synthetic(n=3000, seed=5,
                               extra={"Office": lambda rng, won: rng.choice(["Paris", "Lyon", "Lille", "Nantes"], len(won))})
    leads["Deal stage"] = np.where(rng.random(len(leads)) < 0.3, "Won", "Lost")       # the outcome ignores everything
    cal = calibrate(leads, acts, RULES, as_of=AS_OF)
    s = cal.suggested
    points = [r.get("points", 0) for r in s["fit"]] + [b["points"] for r in s["fit"] for b in r.get("bands", [])]
    points += [a["points"] for a in s["activities"].values()]
    assert max(abs(p) for p in points) <= 5, points


@pytest.mark.parametrize("mql, share", [(95, "no lead reaches"), (0, "every lead reaches")])
def test_a_first_run_succeeds_with_thresholds_inside_the_range(tmp_path, mql, share):
    leads, acts, _ = synthetic(n=2000, seed=2)
    rules = {**RULES, "fit": [{**r, "points": 1} if "points" in r else r for r in RULES["fit"]],
             "activities": {t: {**a, "points": 1} for t, a in RULES["activities"].items()},
             "thresholds": {"mql": mql, "hot": max(mql, 60) if mql else 100},
             "grades": {"A": 99, "B": 98, "else": "D"}}
    if mql == 0:
        rules["score"] = {"min": 0, "max": 100}
    build_workbook(tmp_path / "new.xlsm", load_rules(rules), {"Leads": leads, "Activities": acts})
    write_json(tmp_path / "rules.json", rules)
    code, out, err = call("calibrate", tmp_path / "new.xlsm", "--as-of", AS_OF, "--write", tmp_path / "s.json")
    assert code == 0, err
    assert f"today {share} the MQL threshold ({mql})" in out and "--mql-share" in out
    s = json.loads((tmp_path / "s.json").read_text("utf-8"))
    th, gr = s["thresholds"], s["grades"]
    assert 0 <= th["mql"] <= th["hot"] <= 100
    assert 100 >= gr["A"] > gr["B"] >= 0
    scores = evaluate(leads, acts, s, as_of=AS_OF).leads["Score"].to_numpy()
    won = (leads["Deal stage"] == "Won").mean()
    assert (scores >= th["mql"]).mean() == pytest.approx(won, abs=0.05)     # the default goal: the base rate
    assert call("check-rules", tmp_path / "s.json")[0] == 0


def test_check_rules_rejects_hot_and_grades_above_the_range():
    rules, problems = check_rules({**RULES, "thresholds": {"mql": 50, "hot": 101}, "grades": {"A": 126, "B": 20, "else": "D"}})
    assert rules is None
    text = " | ".join(map(str, problems))
    assert "hot (101) is above the highest score (100)" in text
    assert 'grade "A" (126) is above the highest score (100)' in text


def after_contact(rng, won):
    """A sales team's call status: some values decide the outcome (97 % won), others 3 %."""
    n = len(won)
    good = rng.random(n) < 0.97
    status = np.where(won, np.where(rng.random(n) < 0.6, "Meeting booked", "Call back"),
                      np.where(rng.random(n) < 0.5, "Ringing", "Switched off"))
    # a few of the decided values go the other way, so they convert 97 % / 3 %, not 100 % / 0 %
    flip = ~good & (status != "Call back")
    status = np.where(flip & won, "Ringing", np.where(flip & ~won, "Meeting booked", status))
    return status


def test_an_after_contact_column_is_left_out_whole_and_named_and_keep_keeps_it():
    leads, acts, _ = synthetic(n=4000, seed=4, extra={"Call status": after_contact})
    cal = calibrate(leads, acts, RULES, as_of=AS_OF)
    lk = next(x for x in cal.leaks if x["field"] == "Call status")
    assert lk["auc"] >= 0.9 and not lk["kept"]
    assert '"Call back" 100%' in lk["why"] and '"Switched off" 0%' in lk["why"]      # both ends
    assert not any("Call status" in json.dumps(r) for r in cal.suggested["fit"])
    kept = calibrate(leads, acts, RULES, as_of=AS_OF, keep=["call status"])
    lk = next(x for x in kept.leaks if x["field"] == "Call status")
    assert lk["kept"] and "kept (--keep)" in lk["why"]
    assert any(r.get("field") == "Call status" for r in kept.suggested["fit"])


def dated(n=4000, seed=6, flip=False):
    leads, acts, _ = synthetic(n=n, seed=seed)
    created = pd.Timestamp("2026-11-20") - pd.to_timedelta(np.arange(n)[::-1] // 8, unit="D")
    leads["Created"] = created
    if flip:   # the recent leads behave like the current rules say, the old ones the other way round
        rng = np.random.default_rng(seed + 100)
        ceo = (leads["Job title"] == "CEO").to_numpy()
        old = np.arange(n) < 0.7 * n
        p = np.where(old, np.where(ceo, 0.1, 0.5), np.where(ceo, 0.7, 0.2))
        leads["Deal stage"] = np.where(rng.random(n) < p, "Won", "Lost")
    return leads, acts


def test_holdout_by_created_keeps_the_most_recent_leads_apart():
    leads, acts = dated()
    cal = calibrate(leads, acts, RULES, as_of=AS_OF, holdout_by="Created")
    held = leads.set_index("Lead ID").loc[cal.holdout_ids, "Created"]
    rest = leads.set_index("Lead ID").drop(index=cal.holdout_ids)["Created"]
    assert len(held) == 1200 and held.min() >= rest.max()
    assert cal.metrics["split"].startswith('the most recent 1200 by "Created"')


def test_the_confusion_matrix_counts_the_held_out_leads_at_the_mql_threshold():
    leads, acts, _ = synthetic(n=3000, seed=8)
    cal = calibrate(leads, acts, RULES, as_of=AS_OF)
    scores = evaluate(leads, acts, cal.suggested, as_of=AS_OF).leads.set_index("Lead ID")["Score"]
    s = scores.loc[cal.holdout_ids].to_numpy()
    y = (leads.set_index("Lead ID").loc[cal.holdout_ids, "Deal stage"] == "Won").to_numpy()
    cm = cal.metrics["confusion_suggested"]
    mql = s >= cal.suggested["thresholds"]["mql"]
    assert (cm["tp"], cm["fp"], cm["fn"], cm["tn"]) == ((mql & y).sum(), (mql & ~y).sum(), (~mql & y).sum(), (~mql & ~y).sum())
    assert cm["precision"] == pytest.approx(y[mql].mean()) and cm["recall"] == pytest.approx(y[mql].sum() / y.sum())


def test_write_refuses_a_suggestion_worse_than_the_current_rules_unless_forced(tmp_path):
    leads, acts = dated(flip=True)
    build_workbook(tmp_path / "b.xlsm", load_rules(RULES), {"Leads": leads, "Activities": acts})
    write_json(tmp_path / "rules.json", RULES)
    args = ["calibrate", tmp_path / "b.xlsm", "--as-of", AS_OF, "--holdout-by", "Created", "--write", tmp_path / "s.json"]
    code, out, err = call(*args)
    assert code == 1 and "do worse than the current ones on the held-out part: ROC AUC" in err and "--force" in err
    assert not (tmp_path / "s.json").exists()
    assert "MQL & won" in out                       # the figures are shown
    code, out, err = call(*args, "--force")
    assert code == 0, err
    assert (tmp_path / "s.json").exists()


def test_max_rules_bounds_the_suggestion():
    extra = {f"Col{i}": (lambda i: lambda rng, won: np.where(rng.random(len(won)) < np.where(won, 0.3 + 0.04 * i, 0.2), "x", "y"))(i)
             for i in range(6)}
    leads, acts, _ = synthetic(n=4000, seed=9, extra=extra)
    cal = calibrate(leads, acts, RULES, as_of=AS_OF, max_rules=8, interactions=0)
    s = cal.suggested
    assert len(s["fit"]) + len(s["activities"]) + len(s.get("pages", [])) <= 8
    assert any("--max-rules" in w for w in cal.warnings)


def test_a_many_valued_category_and_a_u_shaped_number_become_readable_rules():
    def page(rng, won):          # 60 values: the first six convert far better than the rest
        v = rng.integers(0, 60, len(won))
        strong = rng.random(len(won)) < np.where(won, 0.5, 0.05)
        return np.char.add("lp-", np.where(strong, v % 6, v).astype(str))

    def age(rng, won):           # leads at both ends convert more: a U no univariate AUC screen would see
        a = rng.uniform(0, 100, len(won))
        flip = rng.random(len(won)) < 0.5
        return np.where(won & flip, np.where(rng.random(len(won)) < 0.5, a * 0.15, 100 - a * 0.15), a).round(1)

    leads, acts, _ = synthetic(n=5000, seed=12, extra={"Landing page": page, "Account age": age})
    cal = calibrate(leads, acts, RULES, as_of=AS_OF, interactions=0)
    new = {r["field"]: r for r in cal.new_rules}
    lp = new["Landing page"]
    listed = {v for b in lp["bands"] for v in b.get("in", [])}
    assert {"lp-0", "lp-1", "lp-2", "lp-3", "lp-4", "lp-5"} <= listed and "else" in lp
    bands = new["Account age"]["bands"]
    assert 2 <= len(bands) <= 8 and all(b["points"] for b in bands)         # nothing at 0 points is written
    first, last = bands[0], bands[-1]
    assert "lt" in first and "gte" in last and first["points"] > 0 and last["points"] > 0
    lines = [ch for ch in cal.changes if ch["what"] == "fit new-landingpage (new)"]
    assert lines and "hits, lift" in lines[0]["new"]
