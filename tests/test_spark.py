"""The Spark engine (local mode) equals the pandas engine. CI installs Java and PySpark: there it must run."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_engines import AS_OF, _activities, _leads, _same, _write

import addin
from addin.engines.external import activities_for
from addin.engines.source import parse_source

try:
    import pyspark  # noqa: F401
    missing = None if shutil.which("java") else "no Java runtime"
except ImportError:
    missing = "PySpark is not installed"
if missing and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the Spark equality test, but {missing}: see .ci/run")
pytestmark = [pytest.mark.spark, pytest.mark.skipif(missing is not None, reason=missing or "")]


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[1]").appName("leadq-tests")
               .config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "1")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_engine_equals_pandas_engine(spark, tmp_path, base_rules):
    rules = {**base_rules, "decay": {"half_life_days": 30},
             "activities": {**base_rules["activities"], "webinar": {"points": 20.5, "max_count": 2, "max_points": 30}},
             "pages": [{"id": "pricing", "match": "*pricing*", "points": 10, "max_count": 2, "tags": ["Pricing"]},
                       {"id": "cas", "match": "*cas*client*", "points": 4.5, "tags": ["Cas"], "activity": "webinar"},
                       {"id": "ete", "match": "*été*", "points": -3, "max_points": 5, "tags": ["Été"]}]}
    leads = _leads(30)
    acts = _activities(np.random.default_rng(11), 400, 30, text_dates=False)
    acts["Type"] = acts["Type"].replace({"signup": "newsletter_signup", "unsub": "unsubscribe", "white_paper": "whitepaper_download"})
    src = parse_source(str(_write(acts, tmp_path / "events.parquet")))
    by_pandas = addin.evaluate(leads, acts, rules, as_of=AS_OF)
    by_spark = addin.evaluate(leads, activities_for(src, "spark"), rules, as_of=AS_OF)
    _same(by_pandas, by_spark)
    assert by_spark.details["Kind"].astype(str).isin(["activity", "page"]).any()
    assert {p.code for p in by_spark.problems} == {p.code for p in by_pandas.problems} != set()


def test_spark_sql_is_transpiled_from_the_duckdb_description():
    from addin.engines.spark import to_spark_sql
    out = to_spark_sql('SELECT ARG_MAX(d, STRUCT_PACK(a := day, b := -o)) AS newest FROM src WHERE "Lead ID" = 1')
    assert out == "SELECT MAX_BY(d, STRUCT(day AS a, -o AS b)) AS newest FROM src WHERE `Lead ID` = 1"


SESSION_SCRIPT = """
from addin.engines.spark import session
spark = session()
assert spark.conf.get("spark.sql.runSQLOnFiles") == "false", spark.conf.get("spark.sql.runSQLOnFiles")
assert spark.conf.get("spark.sql.catalogImplementation") == "in-memory"
assert spark.sparkContext.uiWebUrl is None
try:
    spark.sql("SELECT * FROM parquet.`{path}`").collect()
except Exception as e:
    print("refused:", type(e).__name__)
else:
    print("read it")
spark.stop()
"""


def test_the_session_leadq_creates_cannot_read_a_file_by_path_in_sql(tmp_path):
    """A fresh process (the test session's own Spark is active here): LeadQ's session has SQL-on-files off,
    no Hive catalog and no web UI."""
    import subprocess
    import sys

    import pandas as pd
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "secret.parquet")
    done = subprocess.run([sys.executable, "-c", SESSION_SCRIPT.format(path=tmp_path / "secret.parquet")],
                          capture_output=True, text=True, cwd=str(Path(__file__).resolve().parent.parent))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout and "read it" not in done.stdout
