"""The DuckDB engine scores in a background thread started once the leads are read (core.evaluate.engagement_start):
the same evaluation, problems in the same order, as computing it at the engagement step."""

import threading
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest
from test_engines import AS_OF, _activities, _leads, _same, _write

import addin
from addin.core.rules.model import load_rules
from addin.core.scoring import RuleTable
from addin.engines.external import ExternalActivities, activities_for
from addin.engines.plan import Plan
from addin.engines.source import parse_source
from addin.errors import ProblemLog


@pytest.fixture
def log(tmp_path, base_rules):
    rng = np.random.default_rng(7)
    acts = _activities(rng, 4000, 40, text_dates=True)          # unknown leads and types, bad and missing dates
    leads = _leads(40)
    leads.loc[5, "Lead ID"] = "L4"                               # a duplicate id: a Leads problem before the log's
    rules = {**base_rules, "decay": {"half_life_days": 30},
             "pages": [{"id": "pricing", "match": "*pricing*", "points": 10, "max_count": 2, "tags": ["Pricing"]}]}
    return leads, parse_source(str(_write(acts, tmp_path / "e.parquet"))), rules


def _synchronous(monkeypatch):
    """start() computing nothing ahead: the plan runs at the engagement step, in the caller's thread."""
    def start(self, leads, ids, rules, table, as_of_day, date_order="auto"):
        pending = Future()
        pending.lazy = (leads, ids, rules, table, as_of_day, date_order)
        return pending
    monkeypatch.setattr(ExternalActivities, "start", start)


def test_background_scoring_equals_scoring_at_the_engagement_step(log, monkeypatch):
    leads, src, rules = log
    threads = []
    compute = Plan.compute

    def spy(self):
        threads.append(threading.current_thread() is threading.main_thread())
        return compute(self)
    monkeypatch.setattr(Plan, "compute", spy)
    ahead = addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF)
    assert threads == [False]                 # DuckDB computed in the background thread
    _synchronous(monkeypatch)
    at_step = addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF)
    assert threads == [False, True]
    _same(ahead, at_step)
    assert [str(p) for p in ahead.problems] == [str(p) for p in at_step.problems]
    assert ahead.problem_counts == at_step.problem_counts
    codes = [p.code for p in ahead.problems]
    assert "duplicate-lead-id" in codes and "unknown-lead" in codes and "not-a-date" in codes


def test_the_background_plan_reads_a_copy_of_the_leads(log):
    leads, src, rules = log
    r = load_rules(rules)
    frame = _leads(40)
    ext = activities_for(src)
    pending = ext.start(frame, frame["Lead ID"], r, RuleTable.of(r), 20414)
    frame["Email"] = None                     # the caller's frame changing meanwhile changes nothing
    frame["Lead ID"] = "x"
    plan = pending.result()
    assert plan.leads["Email"].notna().any() and list(plan.ids[:2]) == ["L0", "L1"]


def test_an_engine_error_surfaces_at_the_engagement_step(tmp_path, base_rules):
    src = parse_source(str(_write(pd.DataFrame({"Lead ID": ["L1"], "Activity": ["webinar"], "Dte": ["2026-01-01"]}),
                                  tmp_path / "e.parquet")))
    with pytest.raises(addin.WorkbookError, match='no "Date" column'):
        addin.evaluate(_leads(3), activities_for(src), base_rules, as_of=AS_OF)
    with pytest.raises(addin.WorkbookError, match='no "Date" column'):      # the synchronous door alike
        r = load_rules(base_rules)
        activities_for(src).engagement(_leads(3), _leads(3)["Lead ID"], r, RuleTable.of(r), 20414, ProblemLog())


def test_a_sheet_column_named_start_is_no_engine(base_rules):
    rng = np.random.default_rng(5)
    leads, acts = _leads(20), _activities(rng, 500, 20, text_dates=False)
    plain = addin.evaluate(leads, acts, base_rules, as_of=AS_OF)
    _same(plain, addin.evaluate(leads, acts.assign(start="x", engagement="y"), base_rules, as_of=AS_OF))


def test_a_log_too_large_to_hold_is_scored_at_the_engagement_step(log, monkeypatch):
    leads, src, rules = log
    threads = []
    compute = Plan.compute

    def spy(self):
        threads.append(threading.current_thread() is threading.main_thread())
        return compute(self)
    monkeypatch.setattr(Plan, "compute", spy)
    ahead = addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF)
    monkeypatch.setattr("addin.engines.external.holds_live", lambda backend: False)
    at_step = addin.evaluate(leads, activities_for(src), rules, as_of=AS_OF)
    assert threads == [False, True]
    _same(ahead, at_step)
