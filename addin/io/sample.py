"""Realistic sample data: ~200 French and English leads, a year of activities, every stage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

FIRST = ["Camille", "Julien", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Thomas", "Inès", "Nicolas", "Zoé", "Étienne",
         "Amélie", "François", "Hélène", "Oliver", "Emma", "James", "Sophie", "William", "Charlotte", "Noah", "Grace",
         "Daniel", "Anaïs", "Benoît", "Margaux", "Raphaël", "Élodie", "Matthieu"]
LAST = ["Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux", "Fournier", "Lambert",
        "Fontaine", "Chevalier", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "O'Connor", "Müller", "Garnier",
        "Perrin", "Morel", "Mercier", "Blanc", "Guérin", "Boyer", "Faure", "André", "Clément"]
COMPANIES = [("Boulangeries Réunies", "Retail", 320, "France"), ("Assurances du Littoral", "Assurance", 1800, "France"),
             ("Logiciels Mistral", "Logiciel", 85, "France"), ("Banque Alpine", "Banque", 2400, "Suisse"),
             ("Cabinet Lefort & Associés", "Conseil", 18, "France"), ("Transports Rhône-Express", "Logistique", 640, "France"),
             ("Brasserie de la Meuse", "Agroalimentaire", 120, "Belgique"), ("Northwind Traders", "Retail", 450, "United Kingdom"),
             ("Contoso Software", "Software", 230, "Canada"), ("Fabrikam Finance", "Finance", 900, "Luxembourg"),
             ("Atelier Vélo Lyonnais", "Retail", 12, "France"), ("Clinique Saint-Roch", "Santé", 380, "France"),
             ("Hôtels du Lac", "Hôtellerie", 150, "Suisse"), ("DataNova", "Software", 60, "France"),
             ("Groupe Ardennes Industrie", "Industrie", 1500, "Belgique"), ("Maple Leaf Insurance", "Insurance", 700, "Canada")]
TITLES = ["Directeur commercial", "Directrice marketing", "CEO", "Head of Sales", "Responsable marketing", "Sales Manager",
          "Chef de projet", "Développeur", "Assistante de direction", "VP Marketing", "Gérant", "Consultant",
          "Chargée de communication", "Fondateur", "Étudiant", "Stagiaire marketing", "Office Manager", "Directeur financier"]
SOURCES = ["Site web", "Webinar", "LinkedIn", "Salon", "Recommandation", "Google Ads", "Newsletter"]
OWNERS = ["Camille Martin", "Hugo Bernard", "Sarah Cohen"]
PAGES = ["https://leadq.example/pricing", "https://leadq.example/tarifs", "https://leadq.example/blog/crm-et-scoring",
         "https://leadq.example/blog/lead-scoring-guide", "https://leadq.example/cas-client/assurances",
         "https://leadq.example/case-studies/retail", "https://leadq.example/", "https://leadq.example/contact"]
ASSETS = ["Livre blanc — Le lead scoring en 10 étapes", "White paper: CRM best practices", "Guide BANT (PDF)"]
# Companies where the assistant is a management controller instead: their buying group has Finance.
FINANCE_AT = {"Banque Alpine", "Contoso Software", "DataNova", "Logiciels Mistral", "Cabinet Lefort & Associés"}
DECIDERS = [0, 1, 2, 3, 9, 10, 13]     # TITLES the default rules count as decision-makers
OTHERS = [4, 5, 6, 7, 8, 11, 12]
WEBINARS = ["Webinar: qualifier ses leads avec BANT", "Webinar: scoring et CRM"]


def sample_frames(as_of: dt.date, seed: int = 2026, n: int = 200) -> dict[str, pd.DataFrame]:
    """Leads, Activities and Qualification for a demo, dated relative to `as_of`."""
    rng = np.random.default_rng(seed)
    today = pd.Timestamp(as_of)
    rows, acts, answers = [], [], []
    # Profile of each lead: how engaged, and where it is in the funnel.
    # Closed deals (won or lost) are numerous, as in a pipeline that has run for a year, and their
    # outcome follows the lead's quality — profile and behaviour — plus chance, so `leadq calibrate`
    # has something true to find (and, with 70 outcomes, says the sample is small).
    plan = (["visitor"] * 25 + ["cold"] * 40 + ["warm"] * 30 + ["sql"] * 15 + ["opp"] * 15 + ["closed"] * 70
            + ["disq"] * 5)
    plan = plan[:n] + ["cold"] * max(0, n - len(plan))
    rng.shuffle(plan)
    mid = [c for c in COMPANIES if 50 <= c[2] <= 1000]
    other = [c for c in COMPANIES if not 50 <= c[2] <= 1000]
    for i, kind in enumerate(plan):
        lid = f"L{1001 + i}"
        first, last = FIRST[rng.integers(len(FIRST))], LAST[rng.integers(len(LAST))]
        company, industry, size, country = COMPANIES[rng.integers(len(COMPANIES))]
        title = TITLES[rng.integers(0, 14)] if kind != "disq" else ["Étudiant", "Stagiaire marketing"][i % 2]
        quality = rng.normal()
        if kind == "closed":
            pool = DECIDERS if rng.random() < 0.35 + 0.25 * quality else OTHERS
            title = TITLES[pool[rng.integers(len(pool))]]
            pick = mid if rng.random() < 0.55 + 0.2 * quality else other
            company, industry, size, country = pick[rng.integers(len(pick))]
            kind = "won" if quality + rng.normal(0, 0.7) > 0.6 else "lost"
        if title == "Assistante de direction" and company in FINANCE_AT:
            title = "Contrôleuse de gestion"      # a Finance contact for the Accounts' buying groups; no rule scores it
        domain = company.lower().split()[0].replace("é", "e").replace("ô", "o") + ".example"
        if kind == "disq" and i % 3 == 0:
            domain = "competitor.example"
        free_email = 0.15 if kind not in ("won", "lost") else (0.3 if quality < 0 else 0.05)
        email = "" if kind == "visitor" else (f"{first}.{last}".lower().replace("'", "").replace(" ", "")
                                              .replace("é", "e").replace("è", "e").replace("ë", "e").replace("ï", "i")
                                              .replace("ü", "u").replace("ç", "c").replace("É", "e").replace("ô", "o")
                                              + "@" + (domain if rng.random() > free_email else "gmail.com"))
        created = today - pd.Timedelta(days=int(rng.integers(20, 360)))
        deal, amount, action, action_date = "", None, "", None
        if kind == "opp":
            deal = ["Needs analysis", "Proposal", "Pricing", "Presentation", "Negotiation"][i % 5]
            amount = float(rng.integers(5, 120) * 500)
        elif kind == "won":
            deal, amount = "Won", float(rng.integers(8, 100) * 500)
        elif kind == "lost":
            deal, amount = ["Lost", "Lost to competitor"][i % 2], float(rng.integers(5, 60) * 500)
        if kind in ("warm", "sql", "opp"):
            r = rng.random()
            if r < 0.15:
                action, action_date = "", None
            else:
                action = ["Rappeler", "Envoyer la proposition", "Démo produit", "Call back", "Send pricing"][i % 5]
                action_date = today + pd.Timedelta(days=int(rng.integers(-15, 25)))
        phone = f"+33 6 {rng.integers(10, 99)} {rng.integers(10, 99)} {rng.integers(10, 99)} {rng.integers(10, 99)}"
        rows.append({"Lead ID": lid, "First name": first, "Last name": last, "Email": email,
                     "Phone": phone if email else "",      # a visitor left no contact at all (a Lead needs one)
                     "Job title": title,
                     "Company": company, "Industry": industry, "Company size": size, "Annual revenue": float(size * 110_000),
                     "Country": country, "Source": SOURCES[rng.integers(len(SOURCES))], "Owner": OWNERS[i % 3],
                     "Created": created, "Consent": "Oui" if rng.random() > 0.2 else "Non", "Deal stage": deal,
                     "Amount": amount, "Next action": action, "Next action date": action_date,
                     "Disqualified": "Doublon" if kind == "disq" and i % 3 == 1 else ""})
        n_acts = {"visitor": 3, "cold": 3, "warm": 5, "sql": 7, "opp": 8, "won": 6, "lost": 6, "disq": 4}[kind]
        if kind in ("won", "lost"):
            n_acts = max(2, int(round(n_acts + 2 * quality)))
        for _ in range(int(rng.integers(max(1, n_acts - 3), n_acts + 4))):
            age = int(rng.integers(0, 120 if kind in ("warm", "sql", "opp") else 360))
            when = today - pd.Timedelta(days=age)
            r = rng.random()
            if kind in ("won", "lost"):     # better leads do more of what signals intent
                r = r ** np.exp(-0.6 * quality) if r > 0.35 else r
            if kind in ("visitor", "cold"):
                t, d = ("page_visit", PAGES[rng.integers(len(PAGES))]) if r < 0.7 else ("newsletter_open", "Newsletter")
            elif r < 0.35:
                t, d = "page_visit", PAGES[rng.integers(len(PAGES))]
            elif r < 0.5:
                t, d = "newsletter_open", "Newsletter — " + ["octobre", "novembre", "September"][rng.integers(3)]
            elif r < 0.6:
                t, d = "email_click", PAGES[rng.integers(len(PAGES))]
            elif r < 0.72:
                t, d = "whitepaper_download", ASSETS[rng.integers(len(ASSETS))]
            elif r < 0.82:
                t, d = "webinar", WEBINARS[rng.integers(len(WEBINARS))]
            elif r < 0.88:
                t, d = "newsletter_signup", ""
            elif r < 0.93:
                t, d = "simulator", "Simulateur de ROI"
            elif r < 0.97:
                t, d = "form_submit", "Formulaire contact"
            else:
                t, d = "demo_request", "Demande de démo"
            acts.append({"Lead ID": lid, "Date": when, "Activity": t, "Detail": d})
        if kind in ("warm", "sql", "opp", "won"):
            yes = kind != "warm" or rng.random() < 0.2
            answers.append({"Lead ID": lid, "Budget": "Oui" if yes or rng.random() < 0.6 else "Non",
                            "Authority": "Yes" if yes or rng.random() < 0.5 else "",
                            "Need": "x" if yes or rng.random() < 0.7 else "Non",
                            "Timeframe": "Oui" if yes else ["", "Non", "?"][i % 3],
                            "Notes": "Rappel prévu" if i % 4 == 0 else ""})
    # A few things a real sheet has, so the Summary's data-quality section has something to show.
    acts.append({"Lead ID": "L1003", "Date": today - pd.Timedelta(days=4), "Activity": "webinr", "Detail": "typo"})
    acts.append({"Lead ID": "L9999", "Date": today - pd.Timedelta(days=2), "Activity": "webinar", "Detail": "unknown lead"})
    if answers:
        answers[0]["Budget"] = "peut-être"
    leads = pd.DataFrame(rows)
    activities = pd.DataFrame(acts).sort_values("Date", kind="stable").reset_index(drop=True)
    return {"Leads": leads, "Activities": activities, "Qualification": pd.DataFrame(answers)}
