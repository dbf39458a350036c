"""The Spark backend: the same SQL as DuckDB's, transpiled by SQLGlot to Spark SQL, for logs beyond one machine.

`--engine spark --spark-master URL` (spark://host:7077, yarn, k8s://…, or local[*] on one machine).
The files must be readable by the cluster at the same path (a shared file system mounted alike).

What LeadQ locks, and what it cannot (DuckDB is locked tighter: engines.duck.locked_connection):
- Before Spark sees a path, each is checked here (`spark_paths`): a local file that exists, given to
  Spark as a file:// path (so a cluster's default file system, e.g. HDFS, never reinterprets it); a URL
  or any other scheme (s3a://, hdfs://, http://) is refused, and so is a path Spark would read as a
  glob pattern (* ? [ ] { } \\ in its name: it could match other files). Paths from a workbook's Settings have
  already passed the trust boundary (settings.trusted_path); `--activities` is the user's own.
- The session LeadQ creates (`session`, when none is active) runs with `LOCKED`: SQL cannot read files
  by path (spark.sql.runSQLOnFiles off: no SELECT … FROM parquet.`/any/path`), no jars, packages,
  repositories or files fetched or shipped at start, an in-memory catalog (no Hive metastore to
  reach), no web UI (no listening port); on a local master the driver binds to 127.0.0.1 only.
- Not lockable: Spark has no allow-list of readable paths like DuckDB's `allowed_paths`, so a
  session's reads are limited by the checks above (LeadQ's SQL reads only the temp view it made)
  rather than by Spark itself; the JVM still opens local sockets (the Py4J gateway, the block
  manager) on a local master and the cluster's ports on another; packages named in the user's own
  PYSPARK_SUBMIT_ARGS or spark-defaults.conf, and a SparkSession the caller already made active
  (used as it is), are the user's configuration, not the workbook's, and are left alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Problem, WorkbookError
from ..problems import ACTIVITIES_SOURCE
from .plan import ORDER, distinct_sql
from .source import ActivitiesSource

LOCKED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.runSQLOnFiles": "false",            # no SELECT … FROM parquet.`/any/path`
    "spark.jars": "", "spark.jars.packages": "", "spark.jars.repositories": "", "spark.jars.excludes": "",
    "spark.files": "", "spark.archives": "", "spark.submit.pyFiles": "",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.ui.enabled": "false",
}
LOCAL_ONLY = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def session_config(master: str | None) -> dict[str, str]:
    """The configuration of a session LeadQ creates on `master` (see the module's docstring)."""
    local = (master or "local[*]").startswith("local")
    return {**LOCKED, **(LOCAL_ONLY if local else {})}


def session(master: str | None = None):
    """The active SparkSession, or a new one on `master` (default local[*]), locked down (`session_config`)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise WorkbookError("--engine spark needs PySpark: pip install 'leadq[spark]' (and a Java runtime)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("LeadQ").master(master or "local[*]")
    for k, v in session_config(master).items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


def spark_paths(source: ActivitiesSource) -> list[str]:
    """The source's files as file:// paths, each an existing local file; a URL or another scheme is refused
    before Spark sees it (Spark would fetch it, or read it from the cluster's default file system)."""
    out = []
    for p in source.paths:
        text = str(p)
        if "://" in text or (_SCHEME.match(text) and not _DRIVE.match(text)):
            problem = Problem(ACTIVITIES_SOURCE, source.label, f'"{text}" is a URL; the Spark engine reads local files only '
                              "(a shared file system mounted at the same path on the cluster)", "error")
            raise WorkbookError(str(problem), [problem])
        real = Path(os.path.realpath(text))
        if not real.is_file():
            problem = Problem(ACTIVITIES_SOURCE, source.label, f"{real} is not a file", "error")
            raise WorkbookError(str(problem), [problem])
        if any(c in str(real) for c in "*?[]{}" + ("\\" if os.sep == "/" else "")):
            problem = Problem(ACTIVITIES_SOURCE, source.label, f"{real}: Spark reads a path holding * ? [ ] {{ }} or \\ as a "
                              "pattern that may match other files; rename the file or its folder", "error")
            raise WorkbookError(str(problem), [problem])
        # not percent-encoded: Hadoop's Path takes the text as it is (file:///C:/… on Windows)
        out.append("file://" + ("/" if real.drive else "") + real.as_posix())
    return out


def to_spark_sql(sql: str) -> str:
    """DuckDB's SQL in Spark's dialect. Spark has no MATERIALIZED hint (it reuses identical subplans itself)."""
    import sqlglot
    from sqlglot import exp
    tree = sqlglot.parse_one(sql, read="duckdb")
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree.sql(dialect="spark")


def _kind(data_type) -> str:
    name = type(data_type).__name__
    if name in ("DateType", "TimestampType", "TimestampNTZType"):
        return "date"
    if name in ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType", "DecimalType"):
        return "number"
    return "text" if name == "StringType" else "other"


class SparkBackend:
    """Runs the plan's SQL on Spark over Parquet or CSV files."""

    def __init__(self, source: ActivitiesSource, master: str | None = None):
        if source.kind == "duckdb":
            p = Problem(ACTIVITIES_SOURCE, source.label, "Spark reads Parquet or CSV files, not a DuckDB table; export it "
                        "first (COPY events TO 'events.parquet') or use --engine duckdb", "error")
            raise WorkbookError(str(p), [p])
        self.label = source.label
        paths = spark_paths(source)             # checked before Spark starts or sees them
        self.spark = session(master)
        reader = self.spark.read
        try:
            if source.kind == "parquet":
                df = reader.parquet(*paths)
                # Row order across the files: each file's rows come after those of the files before it (by name).
                sizes = dict(df.select("_metadata.file_path").groupBy("file_path").count().collect())
                files = sorted(sizes)
                offsets = [0]
                for f in files[:-1]:
                    offsets.append(offsets[-1] + sizes[f])
                listed = ", ".join("'" + f.replace("\\", "\\\\").replace("'", "\\'") + "'" for f in files)
                order = (f"element_at(array({', '.join(map(str, offsets))}), "
                         f"CAST(array_position(array({listed}), _metadata.file_path) AS INT)) + _metadata.row_index")
            else:
                df = reader.csv(paths, header=True, inferSchema=True)
                order = "monotonically_increasing_id()"   # CSV has no row index; Spark's row id keeps a file's order
            self.fields = {f.name: f.dataType for f in df.schema.fields}
            df.selectExpr("*", f"{order} AS {ORDER}").createOrReplaceTempView("src")
        except Exception as e:      # Spark raises its own hierarchy (AnalysisException, Py4J errors)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            p = Problem(ACTIVITIES_SOURCE, source.label, f"Spark cannot read it: {first}", "error")
            raise WorkbookError(str(p), [p]) from None
        self.views: list[str] = ["src"]

    def columns(self) -> list[tuple[str, str]]:
        return [(name, _kind(t)) for name, t in self.fields.items()]

    def distinct(self, column: str, relation: str = "src") -> pd.DataFrame:
        return self.fetch(distinct_sql(column, relation))

    def keep(self, name: str, sql: str) -> None:
        self.spark.sql(to_spark_sql(sql)).cache().createOrReplaceTempView(name)    # dropping the view uncaches it
        self.views.append(name)

    def register(self, name: str, frame: pd.DataFrame, key_column: str | None = None) -> None:
        from pyspark.sql.types import LongType, StructField, StructType
        fields = [StructField(c, self.fields[key_column] if (c == "v" and key_column) else LongType()) for c in frame.columns]
        rows = [tuple(v.item() if hasattr(v, "item") else v for v in r) for r in frame.itertuples(index=False, name=None)]
        self.spark.createDataFrame(rows, StructType(fields)).createOrReplaceTempView(name)
        self.views.append(name)

    def fetch(self, sql: str) -> pd.DataFrame:
        result = self.spark.sql(to_spark_sql(sql))
        if hasattr(result, "toArrow"):
            return result.toArrow().to_pandas()
        return pd.DataFrame([r.asDict() for r in result.collect()], columns=result.columns)

    def fetch_numbers(self, sql: str) -> dict[str, np.ndarray]:
        frame = self.fetch(sql)
        return {c: frame[c].to_numpy(dtype=float, na_value=np.nan) if frame[c].isna().any() else frame[c].to_numpy()
                for c in frame.columns}

    def close(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)
