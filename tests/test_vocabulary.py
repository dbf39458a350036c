"""LeadQ's words live in addin/core/values/vocabulary.py alone: no other module spells a list of them again."""

import re

import pytest
from conftest import ROOT

from addin.core.values.vocabulary import ACTION_STATUSES, NO_WORDS, STAGES, YES_WORDS, default_probability

SOURCES = {p: p.read_text("utf-8") for p in (ROOT / "addin").rglob("*.py") if p.name != "vocabulary.py"}
_LITERAL_LIST = re.compile(r"[\[{(]([^\[\]{}()]*)[\]})]", re.S)


def _lists_of(words) -> list[str]:
    """Bracketed literals, in modules other than vocabulary.py, naming three or more of `words`."""
    quoted = {f'"{w}"' for w in words}
    return [f"{p.relative_to(ROOT)}: {m.group(0)[:60]}" for p, text in SOURCES.items()
            for m in _LITERAL_LIST.finditer(text) if sum(q in m.group(1) for q in quoted) >= 3]


@pytest.mark.parametrize("name, words", [("stages", STAGES), ("next-action statuses", ACTION_STATUSES),
                                         ("yes words", sorted(YES_WORDS)), ("no words", sorted(NO_WORDS))])
def test_no_module_spells_the_list_again(name, words):
    assert not _lists_of(words), f"{name} spelled outside vocabulary.py"


def test_no_module_spells_the_default_probability_again():
    spelled = [str(p.relative_to(ROOT)) for p, text in SOURCES.items() if re.search(r'1\.0 if .*== "won"', text)]
    assert not spelled


def test_default_probability_is_one_for_won_and_zero_otherwise():
    assert (default_probability("won"), default_probability("lost"), default_probability(None)) == (1.0, 0.0, 0.0)
