"""The DuckDB backend: the activity log scored where it lies, streamed from Parquet/CSV files or a table.

DuckDB runs embedded (nothing to install or start) and spills to disk past its memory limit, so a
log of hundreds of millions of rows is scored with a few GB of memory.

Every connection is locked down (`locked_connection`): no extension is installed or loaded on its
own, the only files it may touch are the source's files and its spill folder, and the
configuration is then locked so no query can undo that. A DuckDB source must be a table: a view
(which may read another file, a URL or a SQLite database) is refused.
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np
import pandas as pd

from ..errors import LeadQError, Problem, WorkbookError
from ..problems import ACTIVITIES_SOURCE
from .plan import ORDER, distinct_sql
from .source import ActivitiesSource

# DuckDB's memory for one scoring; past it, it spills to SPILL (LEADQ_DUCKDB_MEMORY changes it). 1GB keeps a
# 100M-event log under 1.5 GB for the whole process at the same CPU time as 3GB did (benchmarks/log_bench.py).
MEMORY_LIMIT = "1GB"
SPILL = os.path.join(tempfile.gettempdir(), "leadq-duckdb")
_SIZE = re.compile(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*", re.IGNORECASE)


def memory_setting(given: str | None = None) -> str:
    """DuckDB's memory limit: `given`, else $LEADQ_DUCKDB_MEMORY, else 1GB; a size such as 3GB or 500MB."""
    value = given or os.environ.get("LEADQ_DUCKDB_MEMORY") or MEMORY_LIMIT
    if not _SIZE.fullmatch(value):
        raise LeadQError(f'LEADQ_DUCKDB_MEMORY="{value}" is not a size: write it like 3GB or 500MB '
                         "(the memory DuckDB may use before it spills to the temporary folder)")
    return value.strip()


def memory_bytes(setting: str) -> int:
    """A memory_setting() size in bytes, as DuckDB reads it (KB = 1000 B, KiB = 1024 B)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", setting)
    unit = m.group(2).upper()
    scale = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}[unit]
    return int(float(m.group(1)) * scale)


def locked_connection(paths=(), memory_limit: str | None = None, threads: int | None = None, keep_order: bool = True):
    """An in-memory DuckDB that may read only `paths` (and spill to SPILL): no extension auto-install
    or auto-load, external access off, configuration locked. Every DuckDB LeadQ opens is made here."""
    import duckdb
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    con.execute(f"SET memory_limit = '{memory_setting(memory_limit)}'")
    con.execute("SET temp_directory = ?", [SPILL])
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if not keep_order:         # the row order is in a column: spare the memory
        con.execute("SET preserve_insertion_order = false")
    con.execute("SET allowed_directories = ?", [[SPILL + os.sep]])
    files = {f for p in paths for f in (str(p), os.path.realpath(p))}
    files |= {f + ".wal" for f in files if f.lower().endswith((".duckdb", ".ddb", ".db"))}   # a database's log
    con.execute("SET allowed_paths = ?", [sorted(files)])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _kind(sql_type: str) -> str:
    t = sql_type.upper()
    if t.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                     "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")):
        return "number"
    return "text" if t.startswith("VARCHAR") else "other"


def _list(paths) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


class DuckBackend:
    """Runs the plan's SQL in an embedded DuckDB over the source's files or table."""

    def __init__(self, source: ActivitiesSource, memory_limit: str | None = None, threads: int | None = None):
        import duckdb
        self.label = source.label
        self.hashes = True         # the plan may key leads by hash() of their raw id (Plan._hash_bits)
        self.con = locked_connection(source.paths, memory_limit, threads, keep_order=source.kind == "csv")
        self._types: dict[str, str] = {}
        # What the plan weighs before holding rows in memory: the source's row count when its metadata tells
        # (Parquet), and DuckDB's memory limit in bytes.
        self.rows: int | None = None
        self.memory = memory_bytes(memory_setting(memory_limit))
        try:
            self.con.execute(f"CREATE TEMP VIEW src AS {self._select(source)}")
            described = self.con.execute("DESCRIBE src").fetchall()
        except duckdb.Error as e:
            p = Problem(ACTIVITIES_SOURCE, source.label, f"cannot be read: {str(e).splitlines()[0]}", "error")
            raise WorkbookError(str(p), [p]) from None
        self._types = {name: typ for name, typ, *_ in described}

    def _select(self, source: ActivitiesSource) -> str:
        if source.kind == "duckdb":
            self.con.execute(f"ATTACH {_list(source.paths)[1:-1]} AS leadq_src (READ_ONLY)")
            schema, _, name = source.table.rpartition(".")
            found = self.con.execute("SELECT table_type FROM information_schema.tables WHERE table_catalog = 'leadq_src' "
                                     "AND table_name = ? AND (? = '' OR table_schema = ?)", [name, schema, schema]).fetchall()
            if found and found[0][0] != "BASE TABLE":
                p = Problem(ACTIVITIES_SOURCE, source.label,
                            f'"{source.table}" is a view, not a table; a view can read other files or the network, so '
                            "LeadQ reads only tables: store the activities in a table "
                            f"(CREATE TABLE events AS SELECT * FROM {source.table})", "error")
                raise WorkbookError(str(p), [p])
            return f"SELECT *, rowid AS {ORDER} FROM leadq_src.{source.table}"
        if source.kind == "parquet":
            # Row order across the files: each file's first row comes after all rows of the files before it.
            sizes = dict(self.con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({_list(source.paths)})")
                         .fetchall())
            offsets = np.concatenate([[0], np.cumsum([sizes[p] for p in source.paths])[:-1]]).tolist()
            self.rows = int(sum(sizes.values()))
            return (f"SELECT * EXCLUDE (filename, file_row_number), "
                    f"list_extract({offsets}, list_position({_list(source.paths)}, filename)) + file_row_number AS {ORDER} "
                    f"FROM read_parquet({_list(source.paths)}, filename = true, file_row_number = true)")
        # CSV has no row-number column: number the rows as read (DuckDB keeps the files' order).
        return f"SELECT *, ROW_NUMBER() OVER () - 1 AS {ORDER} FROM read_csv({_list(source.paths)}, header = true)"

    def columns(self) -> list[tuple[str, str]]:
        return [(name, _kind(typ)) for name, typ in self._types.items()]

    def distinct(self, column: str, relation: str = "src") -> pd.DataFrame:
        return self.con.execute(distinct_sql(column, relation)).df()

    def keep(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def register(self, name: str, frame: pd.DataFrame, key_column: str | None = None) -> None:
        self.con.register(f"{name}_in", frame)
        if key_column is None:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_in")
        else:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT CAST(v AS {self._types[key_column]}) AS v, "
                             f"* EXCLUDE (v) FROM {name}_in")
        self.con.unregister(f"{name}_in")

    def fetch(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def fetch_numbers(self, sql: str) -> dict[str, np.ndarray]:
        # through Arrow: a third of .df()'s time for the 1.6M groups of a 10M-event log
        table = self.con.sql(sql).to_arrow_table()
        return {name: column.to_numpy() for name, column in zip(table.column_names, table.columns)}

    def close(self) -> None:
        self.con.close()
