"""The Spark backend: the same SQL as DuckDB's, transpiled by SQLGlot to Spark SQL, for logs beyond one machine.

`--engine spark --spark-master URL` (spark://host:7077, yarn, k8s://…, or local[*] on one machine).
The files must be readable by the cluster at the same path (a shared file system or object store).
"""

from __future__ import annotations

import pandas as pd

from ..errors import Problem, WorkbookError
from .plan import ORDER, q
from .source import ActivitiesSource


def session(master: str | None = None):
    """The active SparkSession, or a new one on `master` (default local[*]), with UTC dates."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise WorkbookError("--engine spark needs PySpark: pip install 'leadq[spark]' (and a Java runtime)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("LeadQ").master(master or "local[*]")
    return builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()


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
            p = Problem("activities-source", source.label, "Spark reads Parquet or CSV files, not a DuckDB table; export it "
                        "first (COPY events TO 'events.parquet') or use --engine duckdb", "error")
            raise WorkbookError(str(p), [p])
        self.label = source.label
        self.spark = session(master)
        reader = self.spark.read
        try:
            if source.kind == "parquet":
                df = reader.parquet(*source.paths)
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
                df = reader.csv(list(source.paths), header=True, inferSchema=True)
                order = "monotonically_increasing_id()"   # CSV has no row index; Spark's row id keeps a file's order
            self.fields = {f.name: f.dataType for f in df.schema.fields}
            df.selectExpr("*", f"{order} AS {ORDER}").createOrReplaceTempView("src")
        except Exception as e:      # Spark raises its own hierarchy (AnalysisException, Py4J errors)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            p = Problem("activities-source", source.label, f"Spark cannot read it: {first}", "error")
            raise WorkbookError(str(p), [p]) from None
        self.views: list[str] = ["src"]

    def columns(self) -> list[tuple[str, str]]:
        return [(name, _kind(t)) for name, t in self.fields.items()]

    def distinct(self, column: str) -> pd.DataFrame:
        return self.fetch(f"SELECT {q(column)} AS v, COUNT(*) AS n FROM src WHERE {q(column)} IS NOT NULL GROUP BY 1")

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

    def close(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)
