"""Engines that score the activity log where it lives (files, a database), outside the sheet.

The core (addin.core) scores a sheet-sized Activities table in pandas. When the log outgrows
Excel, `source` names where it is and `external.ExternalActivities` hands evaluate() the
engagement part of the ledger computed by DuckDB (`duck`) or Spark (`spark`), from one SQL
description of the computation (`plan`).
"""

ENGINES = ("pandas", "duckdb", "spark")
