"""Scores back to the CRM: each CRM's own import columns, in one table (`leadq export --for CRM`).

One row per scored lead: the record id as the export had it, LeadQ's score, grade, stage and a
short why, when they were computed, the CRM's status column mapped back through `crm_status`,
and the lead's fields as LeadQ read them under the CRM's names (so the file is a complete import
that LeadQ itself reads back to the same scores). Values are typed (numbers stay numbers, dates are
ISO), and text a spreadsheet would run as a formula is neutralised. Pure: frames in, a frame out.

Sources of the column names (each CRM's documentation):

- HubSpot — a column header is matched to a contact property's label; "Record ID" (or Email) is the
  unique identifier that makes an import update existing contacts; Lifecycle Stage values are
  Subscriber, Lead, Marketing Qualified Lead, Sales Qualified Lead, Opportunity, Customer,
  Evangelist, Other. https://knowledge.hubspot.com/import-and-export/understand-the-import-tool and
  https://knowledge.hubspot.com/crm-setup/set-up-your-import-file
- Salesforce — Bulk API 2.0 / Data Loader update files use field API names, the record's `Id` in
  the first column ("The first column of every line in the CSV file must be an ID of the record you
  want to update"); Lead fields Status (picklist Open - Not Contacted, Working - Contacted,
  Closed - Converted, Closed - Not Converted), Rating (Hot, Warm, Cold), Title, Company,
  NumberOfEmployees, AnnualRevenue, LeadSource…; custom fields end in `__c`.
  https://developer.salesforce.com/docs/platform/salesforce-cli-reference/guide/cli_reference_data_update_bulk.html
  and https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm
- Pipedrive — import columns are "Entity - Field" ("Person - Email", "Organization - Name",
  "Deal - Stage", "Deal - Value", "Deal - Status" Open/Won/Lost); an update matches records by their
  Pipedrive ID ("the ID field is the best solution"), else by name with email, phone or organization.
  https://community.pipedrive.com/discussion/14358/how-does-pipedrive-determine-duplicates-during-import
  and https://support.pipedrive.com/en/article/importing-data-into-pipedrive-with-spreadsheets
- csv — LeadQ's own names (`Lead ID`, the workbook's headers, `LeadQ score`…), for any other tool.

Fields a CRM computes itself or reads as another record's id (HubSpot's Original Source, Create
Date and owner; Salesforce's OwnerId and CreatedDate) keep the workbook's header, so the CRM's
importer does not map them unless asked. LeadQ's results go to custom fields the CRM admin creates once (HubSpot contact properties "LeadQ
Score"…; Salesforce Lead fields LeadQ_Score__c…; Pipedrive person fields "LeadQ score"…).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..crm import crm_table
from ..values.headers import LEAD_ID
from ..values.text import key, text_or_empty
from ..values.vocabulary import CUSTOMER, DISQUALIFIED, LOST, MQL, OPPORTUNITY, SQL


@dataclass(frozen=True)
class CrmFormat:
    """One CRM's import columns: its id, its name for each Leads field, LeadQ's results and status values."""

    name: str
    id_header: str
    fields: dict[str, str]               # LeadQ field -> the CRM's import column
    results: dict[str, str]              # score / grade / stage / why / refreshed -> column
    status_header: str | None            # the CRM's own status column LeadQ's stage is mapped into
    status_values: dict[str, str]        # LeadQ stage -> the CRM's status value (others: the lead's own value kept)
    rating_header: str | None = None     # a Hot / Warm / Cold column (Salesforce's Rating)
    source: str = ""


FORMATS: dict[str, CrmFormat] = {
    "hubspot": CrmFormat(
        "HubSpot", "Record ID",
        {"First name": "First Name", "Last name": "Last Name", "Email": "Email", "Phone": "Phone Number",
         "Job title": "Job Title", "Company": "Company Name", "Industry": "Industry",
         "Company size": "Number of Employees", "Annual revenue": "Annual Revenue", "Country": "Country/Region"},
        {"score": "LeadQ Score", "grade": "LeadQ Grade", "stage": "LeadQ Stage", "why": "LeadQ Why",
         "refreshed": "LeadQ Refreshed At"},
        "Lifecycle Stage",
        {MQL: "Marketing Qualified Lead", SQL: "Sales Qualified Lead", OPPORTUNITY: "Opportunity",
         CUSTOMER: "Customer"},
        source="knowledge.hubspot.com: Understand the import tool; Set up your import files"),
    "salesforce": CrmFormat(
        "Salesforce", "Id",
        {"First name": "FirstName", "Last name": "LastName", "Email": "Email", "Phone": "Phone", "Job title": "Title",
         "Company": "Company", "Industry": "Industry", "Company size": "NumberOfEmployees",
         "Annual revenue": "AnnualRevenue", "Country": "Country", "Source": "LeadSource"},
        {"score": "LeadQ_Score__c", "grade": "LeadQ_Grade__c", "stage": "LeadQ_Stage__c", "why": "LeadQ_Why__c",
         "refreshed": "LeadQ_Refreshed_At__c"},
        "Status",
        {OPPORTUNITY: "Closed - Converted", DISQUALIFIED: "Closed - Not Converted"},
        rating_header="Rating",
        source="developer.salesforce.com: data update bulk (Bulk API 2.0); Lead object reference"),
    "pipedrive": CrmFormat(
        "Pipedrive", "Person - ID",
        {"First name": "Person - First name", "Last name": "Person - Last name", "Email": "Person - Email",
         "Phone": "Person - Phone", "Job title": "Person - Job title", "Company": "Organization - Name",
         "Deal stage": "Deal - Stage", "Amount": "Deal - Value"},
        {"score": "Person - LeadQ score", "grade": "Person - LeadQ grade", "stage": "Person - LeadQ stage",
         "why": "Person - LeadQ why", "refreshed": "Person - LeadQ refreshed at"},
        "Deal - Status",
        {OPPORTUNITY: "Open", CUSTOMER: "Won", LOST: "Lost"},
        source="Pipedrive import (Entity - Field columns; update by Pipedrive ID)"),
    "csv": CrmFormat(
        "CSV", LEAD_ID, {},
        {"score": "LeadQ score", "grade": "LeadQ grade", "stage": "LeadQ stage", "why": "LeadQ why",
         "refreshed": "LeadQ refreshed at"},
        None, {}, source="LeadQ's own names"),
}
WHY_CHARS = 255          # Salesforce's and HubSpot's single-line text limit
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A number-like text (a phone, "-5") starting with + or - is kept: no spreadsheet runs it as a formula.
_PLAIN_SIGNED = r"^[+-][\d\s().\-/]*$"


def neutralise(values: pd.Series) -> pd.Series:
    """Text a spreadsheet would run as a formula ('=HYPERLINK(…)', '@SUM', '+cmd|…') gets a leading
    apostrophe; numbers, and signed number-like text such as phones ('+33 6 12…'), are left as they are."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        is_text = values.notna().to_numpy()
    elif kind in ("integer", "floating", "boolean", "datetime", "date", "decimal"):
        return values
    else:                                   # a mixed column: look at each value's type
        is_text = values.map(lambda v: isinstance(v, str)).to_numpy(bool)
    if not is_text.any():
        return values
    text = values.where(is_text, "").astype(str)
    risky = is_text & text.str.startswith(_FORMULA_START).to_numpy() & ~text.str.match(_PLAIN_SIGNED).to_numpy()
    out = values.astype(object).copy()
    out[risky] = "'" + text[risky]
    return out


def _typed(values: pd.Series) -> pd.Series:
    """Whole floats as integers (Excel stores every number as a float), dates as ISO text."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        v = pd.to_datetime(values)
        has_time = ((v - v.dt.normalize()).dt.total_seconds().fillna(0) != 0).any()
        return v.dt.strftime("%Y-%m-%dT%H:%M:%S" if has_time else "%Y-%m-%d").astype(object).where(v.notna(), None)
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) and (finite % 1 == 0).all():
            return values.astype("Int64")
        return values
    if (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)) and \
            pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        def one(v):
            if isinstance(v, pd.Timestamp) or hasattr(v, "isoformat"):
                return v.isoformat()[:10] if getattr(v, "hour", 0) == 0 and getattr(v, "minute", 0) == 0 else v.isoformat()
            if isinstance(v, float) and v.is_integer():
                return int(v)
            return v
        return values.map(one)
    return values


def _status(fmt: CrmFormat, stage: np.ndarray, current: pd.Series | None, crm_status: dict) -> np.ndarray:
    """The CRM status column: LeadQ's stage in the CRM's words where the CRM has a word for it and
    that word maps back to the same stage through crm_status; else the lead's current value, kept."""
    table = crm_table(crm_status)
    now = (current.astype(object).where(current.notna(), "").astype(str).to_numpy(object) if current is not None
           else np.full(len(stage), "", dtype=object))
    out = now.copy()
    codes, uniques = pd.factorize(now)
    current_target = np.array([table.get(key(u), ("keep",))[0] for u in uniques] + ["keep"], dtype=object)[codes]
    for st, value in fmt.status_values.items():
        if table.get(key(value), (None,))[0] != st:
            continue        # crm_status would not read this value back as the stage: never write it
        out[(stage == st) & (current_target != st)] = value
    return out


def _rating(score: np.ndarray, rules) -> np.ndarray:
    return np.select([score >= rules.hot, score >= rules.mql], ["Hot", "Warm"], default="Cold").astype(object)


def crm_frame(fmt_name: str, leads: pd.DataFrame, real: dict[str, str], ev, refreshed: str) -> pd.DataFrame:
    """The import file's rows: `leads` are the scored leads' input columns under LeadQ's names (in
    `ev.leads` order), `real` the header each came from; `ev` the Evaluation; `refreshed` ISO time."""
    fmt = FORMATS[fmt_name]
    out: dict[str, pd.Series] = {}
    n = len(ev.leads)
    idx = pd.RangeIndex(n)

    def col(values) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series) else values.to_numpy(),
                         index=idx)

    id_header = fmt.id_header
    if fmt_name in ("pipedrive",) and key(real.get(LEAD_ID, "")).startswith(("deal", "person")):
        id_header = real[LEAD_ID]           # the record id as the export had it ("Deal - ID")
    if fmt_name == "csv":
        id_header = real.get(LEAD_ID, LEAD_ID)
    out[id_header] = col(ev.leads["Lead ID"])
    ctx = ev.context
    score = ev.leads["Score"].to_numpy(float)
    out[fmt.results["score"]] = pd.Series(score, index=idx)
    out[fmt.results["grade"]] = col(ev.leads["Grade"])
    out[fmt.results["stage"]] = col(ev.leads["Stage"])
    why = text_or_empty(ev.leads["Why"])
    out[fmt.results["why"]] = col(why.where(why.str.len() <= WHY_CHARS, why.str.slice(0, WHY_CHARS - 1) + "…"))
    out[fmt.results["refreshed"]] = pd.Series([refreshed] * n, index=idx, dtype=object)
    if fmt.rating_header:
        out[fmt.rating_header] = pd.Series(_rating(score, ev.rules), index=idx)
    if fmt.status_header:
        current = leads["CRM status"].reset_index(drop=True) if "CRM status" in leads.columns else None
        out[fmt.status_header] = pd.Series(_status(fmt, ctx["Stage"].to_numpy(object), current, ev.rules.crm_status),
                                           index=idx)
    taken = {key(h) for h in out}
    for field in leads.columns:
        if field in (LEAD_ID, "CRM status"):
            continue
        header = fmt.fields.get(field, real.get(field, field))
        if key(header) in taken:
            continue
        taken.add(key(header))
        out[header] = _typed(leads[field].reset_index(drop=True))
    frame = pd.DataFrame(out)
    for c in frame.columns:
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype):
            frame[c] = neutralise(frame[c].astype(object))
    return frame
