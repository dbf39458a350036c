"""`leadq export --pseudonymise`: scores, stages and grades for an agency or analyst, without who.

Lead IDs, names, emails and owners become stable salted hashes (the same person gets the same
token in every export made with the same salt, so exports can be compared; nobody without the
salt can turn a token back into an email). Company, job title and phone are left out: with a
job title and a company, a person is easy to find again. Pseudonymised data is still personal
data under the GDPR; share it under an agreement.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.privacy import pseudonyms
from ..core.values.headers import canonicalize
from ..salt import privacy_salt

KEPT_INPUTS = ["Industry", "Company size", "Country", "Source", "Created", "Deal stage", "Amount"]
OUTPUTS = ["Fit score", "Engagement score", "Score", "Grade", "Stage", "Checklist", "Interests",
           "Next action status"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(values: pd.Series) -> pd.Series:
    """Text a spreadsheet would run as a formula ('=HYPERLINK(…)') gets a leading apostrophe."""
    def one(v):
        if isinstance(v, str) and v.startswith(_FORMULA_START):
            return "'" + v
        return v
    return values.map(one)


def pseudonymised_frame(workbook, rules=None, as_of=None, env: dict | None = None) -> tuple[pd.DataFrame, str]:
    """The export's rows (one per scored lead) and where the salt lives."""
    from .inputs import from_file
    from .refresh import compute
    workbook = Path(workbook)
    inp = from_file(workbook)
    data = inp.source
    ev, _ = compute(inp, rules, as_of)
    salt, where = privacy_salt(workbook, env)
    leads, _ = canonicalize(data.leads.reset_index(drop=True), "Leads")
    leads = leads.iloc[ev.leads.index]
    ctx = ev.context
    name = ctx["Name"]
    out = pd.DataFrame({
        "Lead": pseudonyms(ev.leads["Lead ID"], salt, "L-"),
        "Name": pseudonyms(name, salt, "N-"),
        "Email": pseudonyms(ctx["Email"], salt, "E-"),
        "Owner": pseudonyms(ctx["Owner"], salt, "O-"),
    })
    for col in KEPT_INPUTS:
        if col in leads.columns:
            values = leads[col].reset_index(drop=True)
            if pd.api.types.is_float_dtype(values.dtype) and (values.dropna() % 1 == 0).all():
                values = values.astype("Int64")         # 18, not 18.0 (Excel stores every number as a float)
            out[col] = values
    for col in OUTPUTS:
        out[col] = ev.leads[col].to_numpy()
    out["Consent"] = np.where(ctx["Consent"].to_numpy(bool), "Yes", "No")
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = _safe_text(out[col])
    return out, where


def export_pseudonymised(workbook, out_csv, rules=None, as_of=None, env: dict | None = None) -> tuple[int, str]:
    """Write the pseudonymised CSV (UTF-8 with BOM, so Excel reads accents); return (rows, where the salt is)."""
    from ..io.guard import check_output
    check_output(out_csv, inputs=[workbook, rules], suffixes=(".csv",), what="the pseudonymised export (CSV)",
                 flag="--pseudonymise")
    frame, where = pseudonymised_frame(workbook, rules, as_of, env)
    target = Path(out_csv)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".csv", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8-sig") as f:
            frame.to_csv(f, index=False, quoting=csv.QUOTE_MINIMAL, date_format="%Y-%m-%d")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(frame), where


CRM_EXPORT_SUFFIX = ".crm-export.csv"     # the Export for CRM job's file, beside the workbook


def crm_export_frame(workbook, crm: str, rules=None, as_of=None, now: str | None = None):
    """The rows of `leadq export --for CRM` (see core.report.crm_export) and the evaluation behind them."""
    from .inputs import from_file
    return crm_export_input(from_file(Path(workbook)), crm, rules, as_of, now)


def crm_export_input(inp, crm: str, rules=None, as_of=None, now: str | None = None):
    """The CRM export's rows from a workbook's input (a file, or a book open in Excel), and the evaluation."""
    import datetime as dt

    from ..core.report.crm_export import crm_frame
    from .refresh import compute
    ev, run = compute(inp, rules, as_of)
    leads, hmap = canonicalize(inp.leads.reset_index(drop=True), "Leads", (run.column_mapping or {}).get("Leads"))
    leads = leads.iloc[ev.leads.index].reset_index(drop=True)
    real = {**{c: c for c in leads.columns}, **{k: str(v) for k, v in hmap.columns.items()}}
    stamp = now or dt.datetime.now().isoformat(timespec="seconds")
    return crm_frame(crm, leads, real, ev, stamp), ev


def write_crm_csv(frame: pd.DataFrame, crm: str, out_csv) -> int:
    """Write a CRM import file atomically; return the number of rows. UTF-8 (with a BOM for the plain
    csv format only, so Excel reads accents; the CRMs' importers read UTF-8 as it is)."""
    target = Path(out_csv)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".csv", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8-sig" if crm == "csv" else "utf-8") as f:
            frame.to_csv(f, index=False, quoting=csv.QUOTE_MINIMAL)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(frame)


def export_for_crm(workbook, crm: str, out_csv, rules=None, as_of=None, now: str | None = None) -> int:
    """Write the CRM's import file atomically; return the number of rows."""
    frame, _ = crm_export_frame(workbook, crm, rules, as_of, now)
    return write_crm_csv(frame, crm, out_csv)


def export_for_crm_input(inp, now: str | None = None) -> tuple[Path, int]:
    """The workbook's Export for CRM job: the plain csv format (LeadQ's columns, which every CRM's
    importer can map) written to NAME.crm-export.csv beside the workbook; returns (file, rows)."""
    from ..errors import LeadQError
    if inp.path is None:
        raise LeadQError("this workbook has no folder to write the CRM export to; save it first")
    from ..core.values.text import key
    from ..io.guard import check_output
    from ..settings import ACTIVITIES_SOURCE, DETAILS_FILE
    target = Path(inp.path).resolve().with_name(Path(inp.path).stem + CRM_EXPORT_SUFFIX)
    for name in (ACTIVITIES_SOURCE, DETAILS_FILE):     # what the workbook reads from is never written over
        text = str(inp.settings.get(key(name)) or "").strip()
        row = inp.settings_rows.get(key(name))
        try:
            check_output(target, inputs=(target.parent / text,) if text else (), suffixes=(".csv",), what="", flag="")
        except LeadQError:
            raise LeadQError(f"Export for CRM writes {target.name} beside the workbook, and Settings"
                             f"{'!B' + str(row) if row else ''} ({name}) names that file: rename it and its "
                             "setting; nothing was written") from None
    frame, _ = crm_export_input(inp, "csv", now=now)
    return target, write_crm_csv(frame, "csv", target)
