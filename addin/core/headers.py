"""Match the headers users paste (CRM exports, French sheets) to LeadQ's column names.

Headers compare case-, accent-, space- and punctuation-insensitively, then through aliases
collected from real Salesforce, HubSpot, Pipedrive, SuiteCRM and Odoo exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .outputs import outputs
from .text import key, suggest

if TYPE_CHECKING:
    import pandas as pd

LEAD_ID = "Lead ID"

LEADS_INPUTS: dict[str, list[str]] = {
    LEAD_ID: ["Id", "Record ID", "LeadID", "Lead Id", "Contact ID", "Person ID", "Identifiant",
              "ID prospect", "ID lead", "Réf", "Référence"],
    "First name": ["FirstName", "First_Name", "Prénom", "Prenom", "Given name"],
    "Last name": ["LastName", "Last_Name", "Nom", "Nom de famille", "Surname", "Family name",
                  "contact_name"],
    "Email": ["Email Address", "E-mail", "Emails", "Mail", "Courriel", "Adresse email",
              "Adresse e-mail", "email_from", "Work email"],
    "Phone": ["Phone Number", "Mobile Phone", "Mobile", "Office Phone", "Téléphone", "Telephone",
              "Tél", "Tel", "Portable"],
    "Job title": ["Title", "JobTitle", "Job_Title", "Fonction", "Poste", "Titre", "function",
                  "Position", "Role"],
    "Company": ["Company Name", "Account Name", "Account", "Associated Company", "Company / Account",
                "Organization", "Organisation", "Organization Name", "Entreprise", "Société",
                "Societe", "Raison sociale", "partner_name", "Compte"],
    "Industry": ["Secteur", "Secteur d'activité", "Sector", "Industrie"],
    "Company size": ["No. of Employees", "NumberOfEmployees", "Number of Employees", "Employees",
                     "Headcount", "Effectif", "Effectifs", "Taille", "Taille de l'entreprise",
                     "Nombre d'employés", "Nombre de salariés"],
    "Annual revenue": ["AnnualRevenue", "Revenue", "Chiffre d'affaires", "CA", "CA annuel"],
    "Country": ["Country/Region", "Primary Address Country", "country_id", "Pays"],
    "Source": ["Lead Source", "LeadSource", "Original Source", "source_id", "Origine",
               "Source du lead", "Canal", "Source d'origine"],
    "Owner": ["Lead Owner", "Record Owner", "OwnerId", "Contact owner", "Assigned to",
              "Assigned User", "Deal owner", "sales_agent", "user_id", "Propriétaire",
              "Commercial", "Responsable", "Sales rep"],
    "Created": ["Created Date", "CreatedDate", "Create Date", "Date Created", "Creation date",
                "Date de création", "Créé le", "first_contact_date", "Deal created"],
    "Consent": ["Consentement", "Opt-in", "Optin", "GDPR consent", "RGPD"],
    "Deal stage": ["DealStage", "deal_stage", "Opportunity stage", "Étape", "Etape",
                   "Étape de la vente", "Étape de l'affaire", "stage_id", "Sales stage", "Phase"],
    "Amount": ["Deal Value", "Value", "Opportunity Amount", "Montant", "expected_revenue",
               "Deal amount", "Valeur"],
    "Next action": ["Next step", "NextStep", "Prochaine action", "Prochaine étape", "Next activity"],
    "Next action date": ["Next step date", "Next action due", "Date prochaine action",
                         "Date de la prochaine action", "Next activity date", "Échéance"],
    "Disqualified": ["Disqualification reason", "Disqualified reason", "Disqualifié",
                     "Motif de disqualification", "Raison de disqualification"],
}

LEADS_OUTPUTS: list[str] = outputs()          # what the engine computes: the current layout's columns

ACTIVITIES_INPUTS: dict[str, list[str]] = {
    LEAD_ID: LEADS_INPUTS[LEAD_ID],
    "Email": LEADS_INPUTS["Email"],
    "Date": ["Activity date", "Timestamp", "Occurred at", "Datetime", "Date de l'activité", "Jour"],
    "Activity": ["Activity type", "Type", "Event", "Event type", "Action", "Activité",
                 "Type d'activité", "Événement"],
    "Detail": ["Details", "URL", "Page", "Page URL", "Asset", "Description", "Détail", "Détails",
               "Contenu", "Label"],
}

QUALIFICATION_INPUTS: dict[str, list[str]] = {
    LEAD_ID: LEADS_INPUTS[LEAD_ID],
    "Notes": ["Note", "Comments", "Commentaires", "Remarques"],
}

# The part after "Entity - " in Pipedrive-style headers ("Person - Email") is tried too.
_ENTITY_PREFIXES = ("person", "deal", "organization", "organisation", "lead", "contact", "company")


@dataclass
class HeaderMap:
    """Which real column stands for each LeadQ column, and what was left over."""

    columns: dict[str, str] = field(default_factory=dict)   # canonical -> real header
    custom: list[str] = field(default_factory=list)          # real headers kept as they are
    outputs: dict[str, str] = field(default_factory=dict)    # LeadQ output -> real header

    def real(self, canonical: str) -> str | None:
        return self.columns.get(canonical)


def _alias_table(spec: dict[str, list[str]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, aliases in spec.items():
        for name in [canonical, *aliases]:
            table.setdefault(key(name), canonical)
    return table


_TABLES = {
    "Leads": _alias_table(LEADS_INPUTS),
    "Activities": _alias_table(ACTIVITIES_INPUTS),
    "Qualification": _alias_table(QUALIFICATION_INPUTS),
}
_OUTPUT_KEYS = {key(name): name for name in LEADS_OUTPUTS}


def _lookup(header: str, table: dict[str, str]) -> str | None:
    k = key(header)
    if k in table:
        return table[k]
    if " - " in str(header):
        entity, _, rest = str(header).partition(" - ")
        if key(entity) in _ENTITY_PREFIXES:
            return table.get(key(rest))
    return None


def match_headers(headers, sheet: str, outputs: bool = False) -> HeaderMap:
    """Map real headers to LeadQ columns for one sheet ("Leads", "Activities", "Qualification")."""
    table = _TABLES[sheet]
    result = HeaderMap()
    for header in headers:
        if header is None or str(header).strip() == "":
            continue
        if outputs and key(header) in _OUTPUT_KEYS:
            result.outputs.setdefault(_OUTPUT_KEYS[key(header)], header)
            continue
        canonical = _lookup(header, table)
        if canonical and canonical not in result.columns:
            result.columns[canonical] = header
        else:
            result.custom.append(header)
    return result


def header_row(filled_per_row) -> int:
    """Index of the header row: the first row with at least two values (a title row above is skipped)."""
    return next((i for i, n in enumerate(filled_per_row) if n >= 2), 0)


def canonical_field(name: str) -> str:
    """The LeadQ name of a Leads column named in a rule, or the name itself for custom columns."""
    return _lookup(name, _TABLES["Leads"]) or name


def known_fields() -> list[str]:
    return list(LEADS_INPUTS)


def near_miss(header: str, sheet: str) -> str | None:
    """A known column name close to an unknown header, for 'did you mean' messages."""
    names = [n for canonical, aliases in {"Leads": LEADS_INPUTS, "Activities": ACTIVITIES_INPUTS,
                                          "Qualification": QUALIFICATION_INPUTS}[sheet].items()
             for n in [canonical, *aliases]]
    hit = suggest(header, names, cutoff=0.8)
    return _lookup(hit, _TABLES[sheet]) if hit else None


def canonicalize(frame: pd.DataFrame, sheet: str) -> tuple[pd.DataFrame, HeaderMap]:
    """Rename a sheet's columns to LeadQ's names; custom columns keep their header."""
    hmap = match_headers(frame.columns, sheet, outputs=(sheet == "Leads"))
    rename = {real: canonical for canonical, real in hmap.columns.items()}
    keep = list(rename) + hmap.custom
    out = frame[keep].rename(columns=rename)
    return out, hmap
