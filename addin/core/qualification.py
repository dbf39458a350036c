"""Qualification checklists (BANT, CHAMP, MEDDIC, GPCTBA or custom) and their pass rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .values.text import key

if TYPE_CHECKING:
    import pandas as pd

# id, label, question, French and other header spellings accepted in the Qualification sheet
_C = tuple[str, str, list[str]]

FRAMEWORKS: dict[str, list[_C]] = {
    "BANT": [
        ("Budget", "Is there a budget for this purchase?", ["Budget"]),
        ("Authority", "Are we talking to the person who decides?", ["Autorité", "Décideur", "Decision maker"]),
        ("Need", "Is there a real need we solve?", ["Besoin"]),
        ("Timeframe", "Is there a date by which they must decide?", ["Timing", "Timeline", "Délai", "Calendrier", "Échéance"]),
    ],
    "CHAMP": [
        ("Challenges", "What challenges must they solve?", ["Défis", "Problèmes", "Enjeux"]),
        ("Authority", "Who decides?", ["Autorité", "Décideur"]),
        ("Money", "Is money available?", ["Budget", "Argent", "Financement"]),
        ("Prioritization", "Is this a priority now?", ["Priorisation", "Priorité", "Priority"]),
    ],
    "MEDDIC": [
        ("Metrics", "Which measurable gains do they expect?", ["Métriques", "Indicateurs"]),
        ("Economic buyer", "Have we met the economic buyer?", ["Acheteur économique", "Décideur économique"]),
        ("Decision criteria", "Do we know their decision criteria?", ["Critères de décision"]),
        ("Decision process", "Do we know their decision process?", ["Processus de décision"]),
        ("Identify pain", "Have we identified the pain?", ["Pain", "Douleur", "Point de douleur", "Problème identifié"]),
        ("Champion", "Do we have a champion inside?", ["Ambassadeur", "Sponsor interne"]),
    ],
    "GPCTBA": [
        ("Goals", "What goals do they pursue?", ["Objectifs"]),
        ("Plans", "What plans do they have to reach them?", ["Plans", "Projets"]),
        ("Challenges", "What stands in their way?", ["Défis", "Obstacles"]),
        ("Timeline", "When must it be done?", ["Délai", "Calendrier", "Timeframe"]),
        ("Budget", "Is there a budget?", ["Budget"]),
        ("Authority", "Who decides?", ["Autorité", "Décideur"]),
        ("Consequences", "What happens if they do nothing?", ["Conséquences", "Negative consequences"]),
        ("Implications", "What do they gain if they succeed?", ["Implications", "Positive implications"]),
    ],
}


@dataclass(frozen=True)
class Criterion:
    id: str
    label: str
    question: str
    aliases: tuple[str, ...] = ()

    def keys(self) -> set[str]:
        return {key(self.id), key(self.label), *(key(a) for a in self.aliases)}


@dataclass(frozen=True)
class Checklist:
    name: str
    criteria: tuple[Criterion, ...]
    require: object = "all"   # "all" | {"min": N} | [ids]

    def required_ids(self) -> list[str]:
        if isinstance(self.require, list):
            return [self.criterion(r).id for r in self.require]
        return [c.id for c in self.criteria]

    def criterion(self, name: str) -> Criterion:
        for c in self.criteria:
            if key(name) in c.keys():
                return c
        raise KeyError(name)


def build_checklist(spec: dict) -> Checklist:
    """Turn the rules' "qualification" section into a Checklist."""
    framework = spec.get("framework", "BANT")
    if framework == "custom":
        crit = tuple(Criterion(c["id"], c.get("label", c["id"]), c.get("question", ""))
                     for c in spec.get("criteria", []))
        name = spec.get("name", "Checklist")
    else:
        crit = tuple(Criterion(i, i, q, tuple(a)) for i, q, a in FRAMEWORKS[framework])
        name = framework
    return Checklist(name, crit, spec.get("require", "all"))


def criterion_names(spec: dict) -> list[str]:
    """Every accepted name of the criteria of a qualification section (for validation)."""
    try:
        checklist = build_checklist(spec)
    except (KeyError, TypeError):
        return []
    return [n for c in checklist.criteria for n in (c.id, c.label, *c.aliases)]


def assess(answers: pd.DataFrame, checklist: Checklist) -> pd.DataFrame:
    """Score answers (1 yes / 0 no / NaN unknown, one column per criterion id) against a checklist.

    Returns columns: yes (count), passed (bool), checklist (text like
    '3/4 BANT – missing: Timeframe'), gaps (missing criteria, comma separated).
    """
    import numpy as np  # here, not at the top: validating rules.json needs neither
    import pandas as pd
    ids = [c.id for c in checklist.criteria]
    matrix = answers.reindex(columns=ids).to_numpy(dtype=float)
    yes = np.nan_to_num(matrix, nan=0.0) == 1.0
    no = matrix == 0.0
    n_yes = yes.sum(axis=1)
    if isinstance(checklist.require, dict):
        passed = n_yes >= int(checklist.require["min"])
        need = f" (needs {int(checklist.require['min'])})"
    elif isinstance(checklist.require, list):
        cols = [ids.index(r) for r in checklist.required_ids()]
        passed = yes[:, cols].all(axis=1)
        need = ""
    else:
        passed = yes.all(axis=1)
        need = ""
    labels = np.array([c.label for c in checklist.criteria], dtype=object)
    # Each lead's gap list differs, so build the texts from distinct yes/no patterns only.
    pattern = (yes.astype(np.int64) * 2 + no.astype(np.int64)) if len(ids) else np.zeros((len(answers), 0), np.int64)
    weights = 3 ** np.arange(len(ids), dtype=np.int64)
    code = pattern @ weights if len(ids) else np.zeros(len(answers), np.int64)
    uniq, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    texts, gaps = [], []
    for i in first:
        missing = [f"{labels[j]} (no)" if no[i, j] else labels[j] for j in range(len(ids)) if not yes[i, j]]
        head = f"{int(n_yes[i])}/{len(ids)} {checklist.name}{need}"
        texts.append(f"{head} – missing: {', '.join(missing)}" if missing else f"{head} – complete")
        gaps.append(", ".join(labels[j] for j in range(len(ids)) if not yes[i, j]))
    return pd.DataFrame({
        "yes": n_yes.astype(int),
        "passed": passed.astype(bool),
        "checklist": np.array(texts, dtype=object)[inverse.ravel()] if len(code) else [],
        "gaps": np.array(gaps, dtype=object)[inverse.ravel()] if len(code) else [],
    }, index=answers.index)
