"""The engine contract: every engine of `addin.engines.ENGINES` gives the pandas engine's scores.

One property test, parametrised over the registry (a new engine is tested by adding its line
there). Hypothesis generates rule sets — activity types with labels and aliases, caps (max_count,
max_points), page rules with globs and activity filters, every decay kind, CRM statuses, dates as dates or as text — and, for
each rule set, a batch of logs (cases) written to one Parquet file, each case with its own leads
(ids are namespaced per case, so cases cannot touch each other). Each engine scores the file and
must give the same leads table (scores to the hundredth, stages, interests, why), ledger and
problem codes as the pandas engine on the same data. A batch is one engine run: Spark scores
hundreds of cases in a handful of jobs.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_engines import AS_OF, DETAILS, PATTERNS, _write

import addin
from addin.engines import ENGINES
from addin.engines.external import activities_for
from addin.engines.source import parse_source

TYPES = ["signup", "white_paper", "webinar", "page_visit", "unsub"]
ALIASES = {"signup": ["Contact subscribed", "Inscription"], "white_paper": ["Asset download", "Téléchargement"],
           "webinar": ["Webinar Attended"], "page_visit": ["Page View", "Visite"], "unsub": ["Opt-out"]}
STATUSES = ["Marketing Qualified Lead", "Customer", "Unqualified", "Closed Lost", "In Progress", "Weird status", "", None]
CASES = 8                       # logs per rule set (one engine run)
LEADS = 6                       # leads per case
# Generated rule sets per engine: ≥ 200 cases each (Spark: 25 runs of 8 cases; the runs are small).
EXAMPLES = {"duckdb": 25, "spark": 25}


def _spark_missing() -> str | None:
    import shutil
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed"
    return None if shutil.which("java") else "no Java runtime"


def _engine_param(name: str):
    if name == "spark":
        missing = _spark_missing()
        if missing and os.environ.get("CI"):
            raise RuntimeError(f"CI must run the Spark contract test, but {missing}: see .ci/run")
        return pytest.param(name, marks=[pytest.mark.spark, pytest.mark.skipif(missing is not None, reason=missing or "")])
    return name


@pytest.fixture(scope="module")
def spark_session():
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[1]").appName("leadq-contract")
               .config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "1")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


points = st.one_of(st.integers(-30, 30), st.floats(-20, 20, allow_nan=False).map(lambda x: round(x, 2)))
activity_spec = st.fixed_dictionaries({"points": points}, optional={
    "max_count": st.integers(1, 4), "max_points": st.sampled_from([0.5, 3, 10, 25.25]), "label": st.sampled_from(["Label A", "Étiquette"])})
page_spec = st.fixed_dictionaries({"match": st.sampled_from(PATTERNS)}, optional={
    "points": points, "max_count": st.integers(1, 3), "max_points": st.sampled_from([1, 7.5, 20]),
    "tags": st.lists(st.sampled_from(["Pricing", "CRM", "Études"]), min_size=1, max_size=2, unique=True),
    "activity": st.one_of(st.sampled_from(TYPES), st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))})
decays = st.sampled_from([None, {"half_life_days": 37}, {"half_life_days": 7.5}, {"linear": {"percent": 30, "every_days": 20}},
                          {"linear": {"percent": 12.5, "every_days": 7}}, {"window_days": 100}, {"window_days": 0.5}])


def _rules(base: dict, types: dict, use_alias: dict, pages: list, decay) -> dict:
    acts = {}
    for t, spec in types.items():
        spec = dict(spec)
        if spec.get("label") == "Label A":
            spec["label"] = f"{t} label"       # labels must stay distinct across types
        elif "label" in spec:
            spec["label"] = f"{spec['label']} {t}"
        if use_alias[t]:
            spec["aliases"] = ALIASES[t]
        acts[t] = spec
    return {**base, "activities": acts, "decay": decay, "score": {"min": -1000, "max": 1000},
            "pages": [{"id": f"page-{k}", **p} for k, p in enumerate(pages)]}


def _case(rng: np.random.Generator, case: int, rules: dict, text_dates: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One case: LEADS leads (ids C{case}-L{i}) and up to 60 activities naming them by key, label, alias or typo."""
    ids = [f"C{case}-L{i}" for i in range(LEADS)]
    leads = pd.DataFrame({"Lead ID": ids, "Email": [f"c{case}l{i}@EX.fr" if i % 3 else "" for i in range(LEADS)],
                          "Job title": np.array(["CEO", "Dev", ""], dtype=object)[rng.integers(0, 3, LEADS)],
                          "CRM status": np.array(STATUSES, dtype=object)[rng.integers(0, len(STATUSES), LEADS)]})
    names = [n for t, spec in rules["activities"].items()
             for n in [t, spec.get("label"), *spec.get("aliases", []), t.upper(), f" {t} "] if n]
    names += ["webinr", "Page  view", "", None]
    n = int(rng.integers(0, 60))
    who = np.array(ids + [f" C{case}-L1 ", f"C{case}-L99", "", None], dtype=object)
    lead = who[np.minimum(rng.integers(0, len(who) + 2, n), len(who) - 1)]
    email = np.where(pd.isna(lead) | (lead == ""), np.array([f"C{case}L{i}@ex.FR" for i in range(LEADS)] + ["x@y.fr"],
                                                            dtype=object)[rng.integers(0, LEADS + 1, n)], None)
    age = rng.integers(-10, 300, n)
    age[rng.random(n) < 0.4] = rng.integers(0, 3)            # ties on a day
    dates = pd.Timestamp(AS_OF) - pd.to_timedelta(age, unit="D")
    if text_dates == "ambiguous":           # every date could be day- or month-first: nothing tells (date-order-guessed)
        dates = pd.to_datetime(pd.DataFrame({"year": dates.year, "month": dates.month, "day": 1 + dates.day % 12}))
        date = pd.Series(dates.dt.strftime("%d/%m/%Y"), dtype=object).to_numpy(object)
    elif text_dates:                        # dates written as text, in two formats, a few unreadable
        date = np.where(rng.random(n) < 0.5, dates.strftime("%Y-%m-%d"), dates.strftime("%d/%m/%Y")).astype(object)
        date[rng.random(n) < 0.03] = "someday"
    else:
        date = pd.Series(dates.to_numpy(), dtype="datetime64[ns]")
    acts = pd.DataFrame({"Lead ID": lead, "E-mail": email, "Date": date,
                         "Type": np.array(names, dtype=object)[rng.integers(0, len(names), n)],
                         "URL": np.array(DETAILS, dtype=object)[rng.integers(0, len(DETAILS), n)]})
    acts.loc[rng.random(n) < 0.03, "Date"] = None
    return leads, acts


@pytest.mark.parametrize("engine", [_engine_param(e) for e in ENGINES if ENGINES[e] is not None])
def test_every_engine_gives_the_pandas_engines_scores(engine, base_rules, request):
    if engine == "spark":
        request.getfixturevalue("spark_session")
    runs = []

    @settings(max_examples=EXAMPLES.get(engine, 25), deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(types=st.fixed_dictionaries({t: activity_spec for t in TYPES}),
           use_alias=st.fixed_dictionaries({t: st.booleans() for t in TYPES}),
           pages=st.lists(page_spec, max_size=4), decay=decays, seed=st.integers(0, 2**32 - 1),
           text_dates=st.sampled_from([False, True, "ambiguous"]), ids_only=st.booleans())
    # Dates as text that could all be day- or month-first: the engines read a log's distinct values
    # and did not say "date-order-guessed" (nor weigh the order's evidence by rows) as pandas does.
    @example(types={t: {"points": 5} for t in TYPES}, use_alias={t: False for t in TYPES}, pages=[], decay=None, seed=7,
             text_dates="ambiguous", ids_only=False)
    def check(types, use_alias, pages, decay, seed, text_dates, ids_only):
        rules = _rules(base_rules, types, use_alias, pages, decay)
        rng = np.random.default_rng(seed)
        cases = [_case(rng, c, rules, text_dates) for c in range(CASES)]
        leads = pd.concat([c[0] for c in cases], ignore_index=True)
        acts = pd.concat([c[1] for c in cases], ignore_index=True)
        if ids_only:     # a log naming its leads by id only, each once spelt: DuckDB keys them by hash (Plan._hash_bits)
            acts = acts[acts["Lead ID"].isin(set(leads["Lead ID"]))].drop(columns=["E-mail"]).reset_index(drop=True)
        by_pandas = addin.evaluate(leads, acts, rules, as_of=AS_OF)
        with tempfile.TemporaryDirectory() as d:
            path = _write(acts, Path(d) / "events.parquet")
            by_engine = addin.evaluate(leads, activities_for(parse_source(str(path)), engine), rules, as_of=AS_OF)
        pd.testing.assert_frame_equal(by_pandas.leads, by_engine.leads)
        pd.testing.assert_frame_equal(by_pandas.details.reset_index(drop=True), by_engine.details.reset_index(drop=True))
        assert sorted({p.code for p in by_pandas.problems}) == sorted({p.code for p in by_engine.problems})
        runs.append(len(acts))

    check()
    assert len(runs) * CASES >= 200 and sum(runs) > 0
