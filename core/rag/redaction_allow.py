"""What a deny-by-default profile lets through: organisation vocabulary, and numbers that say how
much, how long or which article rather than who.

Decided at retrieval time on the stored candidates (core/rag/pii_catchall.py), with the text around them,
so an allowlist edit in policies/redaction.yaml takes effect on the next question.
"""
from __future__ import annotations

import re

from core.policy.models import Allowlist

# Calendar words are capitalised in English and tagged as proper nouns; they identify nobody.
CALENDAR = frozenset("""january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday jan feb mar apr jun jul aug sep sept oct nov dec
mon tue tues wed thu thurs fri sat sun""".split())
# Words that name a part of a document or an organisation, capitalised by convention ("Article 17",
# "Annex B", "the People Team"); alone or together they never identify a person.
STRUCTURE = frozenset("""article art section chapter annex appendix clause part schedule table figure step page paragraph
policy procedure team department office committee board group division unit programme program project
q1 q2 q3 q4 h1 h2 fy""".split())
_CURRENCY = r"(?:[$€£¥]|usd|eur|gbp|chf|sek|pln|nok|dkk|jpy|inr)"
_UNITS = (r"(?:%|percent|per cent|days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|seconds?|ms|km|kg|mb|gb|tb|"
          r"employees|people|staff|users|requests|rows|chunks|records|tickets|items|eur|usd|gbp|chf|sek|pln|euros?|dollars?|pounds?)")
_BEFORE_MONEY = re.compile(rf"(?i:{_CURRENCY})\s?$")
_AFTER_UNIT = re.compile(rf"^\s?(?i:{_UNITS})\b")
_REFERENCE = re.compile(r"(?i:(?:article|art\.|section|sec\.|§|clause|chapter|paragraph|para\.|annex|version|v|rule|step|page|p\.|"
                        r"ticket|incident|iso|rfc|sev|level|tier|room|floor|gate|line|no\.|nr\.|#)\s?)$")
# "ticket TR-55821", "incident INC-20417": a system's reference code announced as such.
_REFERENCE_CODE = re.compile(r"(?i:ticket|incident|issue|order|invoice|reference|ref\.?|request|change|release|build|pr)\s+(?-i:[A-Z]{1,6})-$")
_YEAR = re.compile(r"^(?:[A-Za-z]{1,3})?(?:19|20)\d{2}$")  # 2024, FY2024, H12024 is not one
_YEAR_RANGE = re.compile(r"^(?:19|20)\d{2}\s?[-/]\s?(?:(?:19|20)?\d{2})$")


def number_allowed(text: str, start: int, end: int, min_digits: int) -> bool:
    value = text[start:end]
    digits = sum(ch.isdigit() for ch in value)
    if digits < min_digits or _YEAR.match(value) or _YEAR_RANGE.match(value):
        return True
    before, after = text[max(0, start - 12):start], text[end:end + 14]
    if re.match(r"^\d{1,3}(?:[,.]\d{3})+(?:[,.]\d{1,2})?$", value) and (_BEFORE_MONEY.search(before) or _AFTER_UNIT.match(after)):
        return True
    before_code = text[max(0, start - 24):start]
    return bool(_BEFORE_MONEY.search(before) or _AFTER_UNIT.match(after) or _REFERENCE.search(before)
                or _REFERENCE_CODE.search(before_code))


class AllowedTerms:
    """Case-insensitive phrase and word lookup over the policy's allowlist."""

    def __init__(self, allowlist: Allowlist | None) -> None:
        terms = [t.strip().casefold() for t in (allowlist.terms if allowlist else []) if t.strip()]
        self.phrases = frozenset(terms)
        self.words = frozenset(w for t in terms for w in re.findall(r"[\w'-]+", t))

    def proper_noun_allowed(self, value: str) -> bool:
        folded = value.strip().casefold()
        if folded in self.phrases:
            return True
        words = re.findall(r"[\w'-]+", folded)
        return bool(words) and all(_known(w, self.words) or _known(w, CALENDAR) or _known(w, STRUCTURE) for w in words)


def _known(word: str, vocabulary: frozenset[str]) -> bool:
    """The word or its singular ("Fridays", "Teams")."""
    return word in vocabulary or (word.endswith("s") and word[:-1] in vocabulary)
