"""Score health (issue 25): conversion per score band per period, grade drift, and the stale-rules warning."""

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF

from addin.core.evaluate import evaluate
from addin.core.report.monitoring import auc
from addin.core.report.summary import summarise
from addin.core.report.summary_layout import summary_layout

RULES = {
    "fit": [{"id": "ceo", "field": "Job title", "op": "equals", "value": "CEO", "points": 70},
            {"id": "manager", "field": "Job title", "op": "equals", "value": "Manager", "points": 30}],
    "thresholds": {"mql": 25, "hot": 60},
    "grades": {"A": 60, "B": 25, "C": 10},
    "monitoring": {"period": "quarter", "periods": 4, "min_closed": 30, "auc_drop": 0.1},
}
QUARTERS = ["2026-01-15", "2026-04-15", "2026-07-15", "2026-10-15"]
STABLE = {"CEO": 0.6, "Manager": 0.3, "Analyst": 0.1}
DRIFTED = {"CEO": 0.1, "Manager": 0.3, "Analyst": 0.5}       # later leads follow other weights


def _history(later: dict) -> pd.DataFrame:
    """100 leads per title per quarter, all closed; exactly p of each group won (no randomness)."""
    rows = []
    for q, day in enumerate(QUARTERS):
        rates = STABLE if q < 2 else later
        for title, p in rates.items():
            for i in range(100):
                rows.append({"Lead ID": f"L{q}{title}{i}", "Email": f"x{q}{i}@{title.lower()}.example",
                             "Job title": title, "Created": day, "Deal stage": "Won" if i < p * 100 else "Lost",
                             "Amount": 1000})
    return pd.DataFrame(rows)


def _health(later):
    ev = evaluate(_history(later), None, RULES, as_of=AS_OF)
    s = summarise(ev)
    return s, ev


def test_a_stable_history_raises_no_warning():
    s, _ = _health(STABLE)
    h = s.health
    assert list(h.table["Period"]) == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert h.table["Entered"].tolist() == [300] * 4 and h.table["Won"].tolist() == [100] * 4
    hot, warm, cold = h.bands[2], h.bands[1], h.bands[0]
    assert h.table[hot].tolist() == pytest.approx([0.6] * 4)
    assert h.table[warm].tolist() == pytest.approx([0.3] * 4)
    assert h.table[cold].tolist() == pytest.approx([0.1] * 4)
    assert h.warning == ""
    texts = [v for v, _ in summary_layout(s, s_rules(), "2026-11-22 09:00").cells.values() if isinstance(v, str)]
    assert any(t.startswith("Score health") for t in texts)
    assert any("The rules still rank the leads that closed" in t for t in texts)


def s_rules():
    from addin.core.rules.model import load_rules
    return load_rules(RULES)


def test_a_history_whose_later_leads_follow_other_weights_raises_the_stale_warning():
    s, _ = _health(DRIFTED)
    h = s.health
    hot, warm = h.bands[2], h.bands[1]
    assert h.table[hot].tolist() == pytest.approx([0.6, 0.6, 0.1, 0.1])
    assert h.table[warm].tolist() == pytest.approx([0.3] * 4)
    assert h.table.loc[3, "AUC"] < h.table.loc[0, "AUC"] - 0.1
    assert h.warning.startswith("The rules may have gone stale: in 2026Q4 the Hot (≥ 60) band converted 10%, "
                                "less than Warm (25–60) (30%)")
    assert "AUC fell from" in h.warning and "run `leadq calibrate WORKBOOK`" in h.warning
    texts = [v for v, _ in summary_layout(s, s_rules(), "2026-11-22 09:00").cells.values() if isinstance(v, str)]
    assert any("The rules may have gone stale" in t for t in texts)


def test_grade_drift_is_the_share_of_leads_per_grade_per_period():
    leads = _history(STABLE)
    leads.loc[leads["Created"] == QUARTERS[3], "Job title"] = "Analyst"      # the last quarter: no CEO, no manager
    s = summarise(evaluate(leads, None, RULES, as_of=AS_OF))
    t = s.health.table
    assert t["Grade A"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0])
    assert t["Grade D"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1])


def test_too_few_closed_leads_never_warn():
    leads = _history(DRIFTED)
    leads = leads.groupby(["Created", "Job title"]).head(8)    # 24 closed leads per quarter, under min_closed
    s = summarise(evaluate(leads, None, RULES, as_of=AS_OF))
    assert s.health.warning == ""


def test_auc_is_the_mann_whitney_statistic():
    assert auc(np.array([1, 2, 3, 4.0]), np.array([False, False, True, True])) == 1.0
    assert auc(np.array([1, 1, 1, 1.0]), np.array([False, True, False, True])) == 0.5
    assert np.isnan(auc(np.array([1.0]), np.array([True])))
