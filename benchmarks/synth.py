"""Synthetic leads and activities for benchmarks (vectorised numpy: fast for a million rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TITLES = np.array(["CEO", "Directeur commercial", "Head of Marketing", "Sales Manager", "Développeur", "Étudiant",
                   "VP Sales", "Responsable marketing", "Consultant", ""], dtype=object)
INDUSTRIES = np.array(["Software", "Finance", "Retail", "Industrie", "Santé", "Assurance"], dtype=object)
COUNTRIES = np.array(["France", "Belgique", "Canada", "Germany", "Suisse", "Spain"], dtype=object)
SOURCES = np.array(["Website", "Webinar", "LinkedIn", "Salon", "Referral", "Google Ads"], dtype=object)
OWNERS = np.array(["Camille Martin", "Hugo Bernard", "Léa Dubois", "Tom Smith"], dtype=object)
DEALS = np.array(["", "", "", "", "", "", "Needs analysis", "Proposal", "Negotiation", "Won", "Lost"], dtype=object)
TYPES = np.array(["page_visit"] * 6 + ["newsletter_open"] * 3 + ["email_click"] * 2 + ["whitepaper_download", "webinar",
                 "newsletter_signup", "form_submit", "demo_request", "unsubscribe"], dtype=object)
PAGES = np.array(["https://ex.fr/pricing", "https://ex.fr/blog/crm-tips", "https://ex.fr/", "https://ex.fr/blog/lead-scoring",
                  "https://ex.fr/case-studies/acme", "https://ex.fr/tarifs", "https://ex.fr/contact"], dtype=object)


def make(n_leads: int, n_acts: int, seed: int = 7, as_of="2026-11-22") -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.char.add("L", np.arange(1, n_leads + 1).astype(str)).astype(object)
    has_email = rng.random(n_leads) < 0.85
    emails = np.where(has_email, np.char.add(ids.astype(str), "@example.fr").astype(object), "")
    start = pd.Timestamp(as_of) - pd.Timedelta(days=365)
    leads = pd.DataFrame({
        "Lead ID": ids, "First name": "Anne", "Last name": "Martin", "Email": emails,
        "Job title": TITLES[rng.integers(0, len(TITLES), n_leads)],
        "Company": "Acme", "Industry": INDUSTRIES[rng.integers(0, len(INDUSTRIES), n_leads)],
        "Company size": rng.integers(1, 5000, n_leads).astype(float),
        "Country": COUNTRIES[rng.integers(0, len(COUNTRIES), n_leads)],
        "Source": SOURCES[rng.integers(0, len(SOURCES), n_leads)],
        "Owner": OWNERS[rng.integers(0, len(OWNERS), n_leads)],
        "Created": start + pd.to_timedelta(rng.integers(0, 365, n_leads), unit="D"),
        "Deal stage": DEALS[rng.integers(0, len(DEALS), n_leads)],
        "Amount": np.round(rng.uniform(1000, 90000, n_leads), -2),
        "Next action": np.where(rng.random(n_leads) < 0.7, "Call back", ""),
        "Next action date": pd.Timestamp(as_of) + pd.to_timedelta(rng.integers(-20, 30, n_leads), unit="D"),
    })
    acts = pd.DataFrame({
        "Lead ID": ids[rng.integers(0, n_leads, n_acts)],
        "Date": start + pd.to_timedelta(rng.integers(0, 366, n_acts), unit="D"),
        "Activity": TYPES[rng.integers(0, len(TYPES), n_acts)],
        "Detail": PAGES[rng.integers(0, len(PAGES), n_acts)],
    })
    return leads, acts
