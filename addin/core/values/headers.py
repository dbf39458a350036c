"""Match the headers users paste (CRM exports, French sheets) to LeadQ's column names.

Headers compare case-, accent-, space- and punctuation-insensitively, then through aliases
collected from real Salesforce, HubSpot, Pipedrive, SuiteCRM and Odoo exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..report.outputs import outputs
from .text import fold, key, suggest

if TYPE_CHECKING:
    import pandas as pd

LEAD_ID = "Lead ID"

LEADS_INPUTS: dict[str, list[str]] = {
    LEAD_ID: ["Id", "Record ID", "LeadID", "Lead Id", "Prospect ID", "Contact ID", "Person ID", "Lead Number",
              "(Do Not Modify) Lead", "Identifiant", "ID prospect", "ID lead", "ID contact", "Réf", "Référence",
              "External ID"],
    "First name": ["FirstName", "First_Name", "Prénom", "Prenom", "Given name"],
    "Last name": ["LastName", "Last_Name", "Nom", "Nom de famille", "Surname", "Family name",
                  "contact_name"],
    "Email": ["Email Address", "E-mail", "Emails", "Primary email", "Adresse électronique", "Mail", "Courriel", "Adresse email",
              "Adresse e-mail", "email_from", "Work email"],
    "Phone": ["Phone Number", "Business Phone", "Mobile Phone", "Mobile", "Office Phone", "Work Phone", "Téléphone",
              "Telephone", "Tél", "Tel", "Portable", "Téléphone mobile", "Mobile number"],
    "Job title": ["Title", "JobTitle", "Job_Title", "Fonction", "Poste", "Titre", "function",
                  "Position", "Role"],
    "Company": ["Company Name", "Account Name", "Account", "Associated Company", "Company / Account",
                "Organization", "Organisation", "Organization Name", "Entreprise", "Société",
                "Societe", "Raison sociale", "partner_name", "Compte", "Nom de l'entreprise", "Company name (partner)"],
    "Industry": ["Secteur", "Secteur d'activité", "Sector", "Industrie"],
    "Company size": ["No. of Employees", "NumberOfEmployees", "Number of Employees", "Employees",
                     "Employee count", "Employees range", "Headcount", "Effectif", "Tranche d'effectif",
                     "Effectifs", "Taille", "Taille de l'entreprise",
                     "Nombre d'employés", "Nombre de salariés"],
    "Annual revenue": ["AnnualRevenue", "Revenue", "Chiffre d'affaires", "CA", "CA annuel"],
    "Country": ["Country/Region", "Primary Address Country", "Address Country", "Billing Country", "Mailing Country",
                "country_id", "Pays"],
    "Source": ["Lead Source", "LeadSource", "Original Source", "Source of lead", "source_id", "Origine",
               "Source du lead", "Source du contact", "Canal", "Source d'origine", "Canal d'acquisition"],
    "Owner": ["Lead Owner", "Record Owner", "OwnerId", "Contact owner", "Assigned to",
              "Assigned User", "Deal owner", "sales_agent", "user_id", "Propriétaire",
              "Salesperson", "Owner Name", "Commercial", "Responsable", "Sales rep", "Propriétaire du contact",
              "Suivi par", "Owner ID", "Deal - Owner"],
    "Created": ["Created Date", "CreatedDate", "Create Date", "Date Created", "Created Time", "Created On",
                "Created on", "Creation date", "Date added", "date_added", "Date de création", "Créé le",
                "Date d'ajout", "first_contact_date", "Deal created", "create_date"],
    "Consent": ["Consentement", "Opt-in", "Optin", "Opt in", "GDPR consent", "GDPR", "RGPD", "Consentement RGPD",
                "Marketing consent", "Email consent", "Email opt-in", "Consent given", "Einwilligung",
                "Consentimiento", "Consenso"],
    "Deal stage": ["DealStage", "deal_stage", "Deal - Stage", "Opportunity stage", "Pipeline stage",
                   "Étape", "Etape", "Étape de la vente", "Étape de l'affaire", "Étape de l'opportunité",
                   "stage_id", "Sales stage", "Phase"],
    "Amount": ["Deal Value", "Value", "Deal - Value", "Opportunity Amount", "close_value", "Expected Revenue",
               "expected_revenue", "Deal amount", "Est. Revenue", "Estimated Revenue", "Montant", "Montant HT",
               "Montant de l'affaire", "Valeur"],
    "Next action": ["Next step", "NextStep", "Prochaine action", "Prochaine étape", "Next activity"],
    "Next action date": ["Next step date", "Next action due", "Date prochaine action",
                         "Date de la prochaine action", "Next activity date", "Échéance"],
    "CRM status": ["Lifecycle Stage", "Lead Status", "Status", "LeadStatus", "Status Reason", "Deal - Status",
                   "Deal Status", "CRM stage", "Lifecyclestage", "hs_lead_status", "Statut", "Statut du lead", "Statut du contact",
                   "Cycle de vie", "Étape du cycle de vie"],
    "Disqualified": ["Disqualification reason", "Disqualified reason", "Disqualifié",
                     "Motif de disqualification", "Raison de disqualification"],
}

# Read when present, but not a column of the template (most CRM exports carry one).
LEADS_OPTIONAL_INPUTS: dict[str, list[str]] = {
    "Last updated": ["Last modified", "Last Modified Date", "LastModifiedDate", "Modified", "Modified date",
                     "Updated", "Updated at", "Date Modified", "Last update", "Date of last update", "Dernière modification",
                     "Date de modification", "Modifié le", "Mis à jour le", "write_date", "Update time"],
    # The account a lead belongs to (LeadQ groups leads by it first; see core.accounts).
    "Company ID": ["Account ID", "AccountId", "Account Id", "CompanyId", "Associated Company ID", "Associated Company IDs",
                   "Organization ID", "Organisation ID", "Org ID", "partner_id", "ID entreprise", "ID société", "SIREN"],
    # A win probability typed by hand: it beats the pipeline stage's (docs: Overrides).
    "Probability": ["Deal probability", "Win probability", "Probability (%)", "Deal - Probability", "Probabilité",
                    "Probabilité de gain", "Manual probability"],
}

LEADS_OUTPUTS: list[str] = outputs()          # what the engine computes: the current layout's columns

ACTIVITIES_INPUTS: dict[str, list[str]] = {
    LEAD_ID: LEADS_INPUTS[LEAD_ID],
    "Email": LEADS_INPUTS["Email"],
    "Date": ["Activity date", "Timestamp", "date_added", "Event date", "Date de l'événement",
             "Occurred at", "Datetime", "Date de l'activité", "Jour"],
    "Activity": ["Activity type", "Type", "Event", "Event type", "Action", "Activité",
                 "Type d'activité", "Événement"],
    "Detail": ["Details", "URL", "Page", "Page URL", "Asset", "Description", "Détail", "Détails",
               "Contenu", "Label"],
}

QUALIFICATION_INPUTS: dict[str, list[str]] = {
    LEAD_ID: LEADS_INPUTS[LEAD_ID],
    "Notes": ["Note", "Comments", "Commentaires", "Remarques"],
}

OVERRIDES_INPUTS: dict[str, list[str]] = {
    LEAD_ID: LEADS_INPUTS[LEAD_ID],
    "Kind": ["Type", "Override", "Override kind", "Genre"],
    "Value": ["Points", "Valeur", "New value"],
    "Reason": ["Why", "Raison", "Motif", "Because"],
    "Author": ["By", "Rep", "Owner", "Auteur", "Par"],
    "Until": ["Expires", "Expiry", "Until date", "End date", "Valid until", "Jusqu'au", "Fin"],
}

# Pipedrive-style headers ("Person - Email", "Deal - Value"): the part after "Entity - " is
# tried too, but only for the fields that entity carries ("Deal - Title" is no job title).
_ENTITY_FIELDS = {
    "person": {LEAD_ID, "First name", "Last name", "Email", "Phone", "Job title", "Owner", "Created", "Source",
               "Country", "CRM status"},
    "contact": {LEAD_ID, "First name", "Last name", "Email", "Phone", "Job title", "Owner", "Created", "Source",
                "Country", "CRM status"},
    "lead": set(LEADS_INPUTS),
    "deal": {LEAD_ID, "Owner", "Created", "Source", "Deal stage", "Amount", "CRM status", "Next action",
             "Next action date"},
    "organization": {"Company", "Industry", "Company size", "Annual revenue", "Country", "Company ID"},
    "organisation": {"Company", "Industry", "Company size", "Annual revenue", "Country", "Company ID"},
    "company": {"Company", "Industry", "Company size", "Annual revenue", "Country", "Company ID"},
}
_ENTITY_FIELDS["activity"] = {"Date", "Activity", "Detail", LEAD_ID, "Email"}

# How a header claims a field, best first (the documented rank; ties go to the leftmost column).
RANK_MAPPED, RANK_EXACT, RANK_ALIAS, RANK_ENTITY, RANK_GUESSED = 0, 1, 2, 3, 4
RANK_WORDS = {RANK_MAPPED: "named on Settings' Column mapping", RANK_EXACT: "the LeadQ name",
              RANK_ALIAS: "a known alias", RANK_ENTITY: "a known alias after an entity prefix"}
# An id column LeadQ may take as Lead ID when it is the only one: "Prospect ID", "opportunity_id",
# "Record ID", "Lead Number", "LeadId".
_ID_LIKE = re.compile(r"(?:^|[\s_./#-])(?:id|identifier|identifiant|number|num|no|nr|nº|#)$")
_CAMEL_ID = re.compile(r"[a-z0-9]Id$")
# An id of the organisation a person belongs to: never a Lead ID while a person-level id exists.
_ORG_ID = re.compile(r"(?:^|[\s_./#-])(?:org|organi[sz]ation|account|company|companies|societe|entreprise|compte)"
                     r"(?:[\s_./#-]|$)")


@dataclass
class HeaderMap:
    """Which real column stands for each LeadQ column, and what was left over.

    `columns` maps each LeadQ name to the real header that won it; `positions` the same to its
    column position (headers may repeat). `conflicts` lists (field, winner, loser) where two
    columns claimed one field; `guessed_id` names a lone id-like column taken as Lead ID;
    `unmapped` lists Column-mapping entries whose header is not on the sheet.
    """

    columns: dict[str, str] = field(default_factory=dict)   # canonical -> real header
    custom: list[str] = field(default_factory=list)          # real headers kept as they are
    outputs: dict[str, str] = field(default_factory=dict)    # LeadQ output -> real header
    positions: dict[str, int] = field(default_factory=dict)  # canonical -> column position
    custom_positions: list[int] = field(default_factory=list)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    guessed_id: str | None = None
    guess_reason: str = "the only id column"                 # why guessed_id was taken
    deal_title: str | None = None                            # a bare "Title" on a sheet of deals: not a Job title
    id_candidates: list[str] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    ranks: dict[str, int] = field(default_factory=dict)      # canonical -> rank of the winning claim

    def real(self, canonical: str) -> str | None:
        return self.columns.get(canonical)


def _alias_table(spec: dict[str, list[str]]) -> dict[str, tuple[str, int, int]]:
    """folded name -> (LeadQ name, rank, order among aliases)."""
    table: dict[str, tuple[str, int, int]] = {}
    for canonical in spec:
        table.setdefault(key(canonical), (canonical, RANK_EXACT, 0))
    for canonical, aliases in spec.items():
        for i, name in enumerate(aliases, start=1):
            table.setdefault(key(name), (canonical, RANK_ALIAS, i))
    return table


def _spec(sheet: str) -> dict[str, list[str]]:
    return {"Leads": LEADS_INPUTS, "Activities": ACTIVITIES_INPUTS, "Qualification": QUALIFICATION_INPUTS,
            "Overrides": OVERRIDES_INPUTS}[sheet]


_TABLES = {
    "Leads": _alias_table({**LEADS_INPUTS, **LEADS_OPTIONAL_INPUTS}),
    "Activities": _alias_table(ACTIVITIES_INPUTS),
    "Qualification": _alias_table(QUALIFICATION_INPUTS),
    "Overrides": _alias_table(OVERRIDES_INPUTS),
}
_OUTPUT_KEYS = {key(name): name for name in LEADS_OUTPUTS}


def _claim(header, table) -> tuple[str, int, int] | None:
    """(LeadQ name, rank, alias order) a header claims, or None."""
    k = key(header)
    if k in table:
        return table[k]
    text = str(header)
    if " - " in text:
        entity, _, rest = text.partition(" - ")
        hit = table.get(key(rest))
        if hit and hit[0] in _ENTITY_FIELDS.get(key(entity), ()):
            return hit[0], RANK_ENTITY, hit[2]
    return None


def _lookup(header: str, table) -> str | None:
    hit = _claim(header, table)
    return hit[0] if hit else None


def is_id_like(header) -> bool:
    """An id column by its name: 'Prospect ID', 'opportunity_id', 'Lead Number', 'LeadId'."""
    text = str(header).strip()
    return bool(_ID_LIKE.search(fold(text).replace("_", " "))) or bool(_CAMEL_ID.search(text))


def match_headers(headers, sheet: str, outputs: bool = False, mapping: dict[str, str] | None = None) -> HeaderMap:
    """Map real headers to LeadQ columns for one sheet ("Leads", "Activities", "Qualification").

    Never fails, whatever the headers (repeated, blank, not text). Each LeadQ field goes to the
    best claim: a Column mapping entry (LeadQ field -> your header), then the LeadQ name itself,
    then an alias (earlier aliases first), then an alias after an entity prefix ("Person - Email");
    ties go to the leftmost column. Every other claimant stays a custom column, recorded in
    `conflicts`. With no Lead ID column, the only id-like column is taken as Lead ID.
    """
    table = _TABLES[sheet]
    spec = _spec(sheet)
    result = HeaderMap()
    wanted = {}
    for canonical, header in (mapping or {}).items():
        name = _lookup(canonical, {key(c): (c, RANK_EXACT, 0) for c in spec}) if canonical else None
        if name and header is not None and str(header).strip():
            wanted[key(header)] = name
    claims: dict[str, list[tuple[int, int, int, str]]] = {}
    free: list[tuple[int, str]] = []
    for pos, header in enumerate(headers):
        if header is None or (isinstance(header, float) and header != header) or str(header).strip() == "":
            continue
        if outputs and key(header) in _OUTPUT_KEYS and _OUTPUT_KEYS[key(header)] not in result.outputs:
            result.outputs[_OUTPUT_KEYS[key(header)]] = header
            continue
        if outputs and key(header) in _OUTPUT_KEYS:
            continue
        hit = (wanted[key(header)], RANK_MAPPED, 0) if key(header) in wanted else _claim(header, table)
        if hit:
            claims.setdefault(hit[0], []).append((hit[1], hit[2], pos, header))
        else:
            free.append((pos, header))
    for canonical, found in claims.items():
        found.sort(key=lambda c: c[:3])
        winner = found[0]
        result.columns[canonical] = winner[3]
        result.positions[canonical] = winner[2]
        result.ranks[canonical] = winner[0]
        for loser in found[1:]:
            result.conflicts.append((canonical, str(winner[3]), str(loser[3])))
            free.append((loser[2], loser[3]))
    for canonical, header in (mapping or {}).items():
        name = next((c for c in spec if key(c) == key(canonical)), None)
        if name and header is not None and str(header).strip() and key(result.columns.get(name, "")) != key(header):
            result.unmapped.append((name, str(header)))
    free.sort()
    if LEAD_ID in spec and LEAD_ID not in result.columns:
        result.id_candidates = [str(h) for _, h in free if is_id_like(h)]
        if len(result.id_candidates) == 1:
            pos, header = next((p, h) for p, h in free if str(h) == result.id_candidates[0])
            result.columns[LEAD_ID], result.positions[LEAD_ID] = header, pos
            result.guessed_id = str(header)
            free = [(p, h) for p, h in free if p != pos]
    result.custom = [h for _, h in free]
    result.custom_positions = [p for p, _ in free]
    return result


def header_row(filled_per_row) -> int:
    """Index of the header row: the first row with at least two values (a title row above is skipped)."""
    return next((i for i, n in enumerate(filled_per_row) if n >= 2), 0)


def canonical_field(name: str) -> str:
    """The LeadQ name of a Leads column named in a rule, or the name itself for custom columns."""
    return _lookup(name, _TABLES["Leads"]) or name


# Computed per account before the fit rules run (core.accounts), readable by any rule.
ACCOUNT_FIELDS = ["Account contacts", "Account coverage"]


def known_fields() -> list[str]:
    return [*LEADS_INPUTS, *LEADS_OPTIONAL_INPUTS, *ACCOUNT_FIELDS]


def suggest_mappings(hmap: HeaderMap, sheet: str) -> list[tuple[str, str]]:
    """(LeadQ field, your header) for custom headers that look like a missing field: near-misses
    of a LeadQ name or alias ("Emial", "Lead Sorce"), to add to Settings' Column mapping."""
    out = []
    for header in hmap.custom:
        hit = near_miss(str(header), sheet)
        if hit and hit not in hmap.columns and hit not in [f for f, _ in out]:
            out.append((hit, str(header)))
    return out


def near_miss(header: str, sheet: str) -> str | None:
    """A known column name close to an unknown header, for 'did you mean' messages."""
    names = [n for canonical, aliases in {"Leads": {**LEADS_INPUTS, **LEADS_OPTIONAL_INPUTS}, "Activities": ACTIVITIES_INPUTS,
                                          "Qualification": QUALIFICATION_INPUTS}[sheet].items()
             for n in [canonical, *aliases]]
    hit = suggest(header, names, cutoff=0.8)
    return _lookup(hit, _TABLES[sheet]) if hit else None


def canonicalize(frame: pd.DataFrame, sheet: str, mapping: dict[str, str] | None = None) -> tuple[pd.DataFrame, HeaderMap]:
    """Rename a sheet's columns to LeadQ's names; custom columns keep their header.

    Columns are taken by position, so repeated headers never produce a two-column "field";
    a custom header repeated, or equal to a LeadQ name another column won, gets " (2)", " (3)"…
    """
    hmap = match_headers(list(frame.columns), sheet, outputs=(sheet == "Leads"), mapping=mapping)
    if LEAD_ID in _spec(sheet) and not (mapping or {}).get(LEAD_ID):
        _guess_id_by_values(frame, hmap)
    _deal_title(hmap, mapping)
    order = list(hmap.positions.items())
    names = [c for c, _ in order]
    taken = {key(n) for n in names}
    for header in hmap.custom:
        name, n = str(header), 1
        while key(name) in taken:
            n += 1
            name = f"{header} ({n})"
        taken.add(key(name))
        names.append(name)
    out = frame.iloc[:, [p for _, p in order] + hmap.custom_positions].copy()
    out.columns = names
    return out, hmap


def is_org_id(header) -> bool:
    """An organisation's id by its name: 'organization_id', 'Account ID', 'company_id'."""
    return bool(_ORG_ID.search(fold(str(header)).replace("_", " ")))


def _guess_id_by_values(frame: pd.DataFrame, hmap: HeaderMap) -> None:
    """Choose the Lead ID among id-like columns by evidence, when the headers alone do not tell.

    A Lead ID column empty on every row counts as absent. Among the id-like columns, one whose
    values are unique and filled on every row with data wins; an organisation's id
    (organization_id, account_id, company_id) is never taken while a person-level id exists.
    """
    import numpy as np  # here: `leadq check-rules` imports this module and starts without numpy

    from .parse import blank_mask
    if frame.shape[1] == 0 or len(frame) == 0:
        return
    current = hmap.positions.get(LEAD_ID)
    if current is not None and not blank_mask(frame.iloc[:, current]).all():
        return                   # a filled Lead ID column (or the only id-like column) stands
    blank = np.column_stack([blank_mask(frame.iloc[:, i]).to_numpy() for i in range(frame.shape[1])])
    has_data = ~blank.all(axis=1)
    if not has_data.any():
        return
    free = [(p, h) for p, h in zip(hmap.custom_positions, hmap.custom) if is_id_like(h) or is_org_id(h)]
    if current is not None and hmap.guessed_id:
        free.append((current, hmap.guessed_id))
    if not free:
        return
    hmap.id_candidates = [str(h) for _, h in sorted(free)]
    person = [(p, h) for p, h in free if not is_org_id(h)]
    pool = person or free

    def telling(pos: int) -> bool:
        values = frame.iloc[:, pos][has_data]
        return not blank[has_data, pos].any() and values.astype(str).str.strip().str.casefold().is_unique
    good = [(p, h) for p, h in sorted(pool) if telling(p)]
    if len(good) != 1:
        return                   # none or several could be it: the refresh names them (no guess)
    pos, header = good[0]
    others = [str(h) for p, h in sorted(free) if p != pos]
    if current is not None and not hmap.guessed_id:      # the empty "Lead ID" column becomes a column of its own
        hmap.custom.append(hmap.columns[LEAD_ID])
        hmap.custom_positions.append(current)
    hmap.custom_positions, hmap.custom = (
        [p for p, h in zip(hmap.custom_positions, hmap.custom) if p != pos],
        [h for p, h in zip(hmap.custom_positions, hmap.custom) if p != pos])
    hmap.columns[LEAD_ID], hmap.positions[LEAD_ID] = header, pos
    hmap.guessed_id = str(header)
    reason = "its values are unique and filled on every row"
    if others:
        org = [o for o in others if is_org_id(o)]
        reason += (f', unlike {", ".join(f"{chr(34)}{o}{chr(34)}" for o in others if o not in org)}' if len(org) < len(others)
                   else "")
        if org:
            reason += f'; {", ".join(chr(34) + o + chr(34) for o in org)} names an organisation, not a person'
    if current is not None:
        reason = 'the "Lead ID" column is empty on every row; ' + reason
    hmap.guess_reason = reason


def _deal_title(hmap: HeaderMap, mapping: dict | None) -> None:
    """A bare "Title" beside deal columns (Amount, Deal stage) on a sheet of deals is the deal's title,
    not the person's job title: it stays a column of its own (the Column mapping can still name it).
    A sheet of people (First name / Last name columns, as a Salesforce Lead export or LeadQ's own
    Leads table, which also carry Amount) keeps Title as the job title."""
    header = hmap.columns.get("Job title")
    people = {"First name", "Last name"} & set(hmap.columns)
    if header is None or (mapping or {}).get("Job title") or not ({"Amount", "Deal stage"} & set(hmap.columns)):
        return
    hmap.conflicts = [c for c in hmap.conflicts if not (c[0] == "Job title" and key(c[2]) == "title")]
    if key(header) != "title" or people:
        return
    pos = hmap.positions.pop("Job title")
    del hmap.columns["Job title"]
    hmap.ranks.pop("Job title", None)
    hmap.custom.append(header)
    hmap.custom_positions.append(pos)
    hmap.deal_title = str(header)
