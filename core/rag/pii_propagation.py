"""Document-level consistency for PERSON spans, after Presidio has analysed a document.

spaCy's small model finds a name in one sentence and misses it in the next (PERSON recall about
0.61, see FACTS). Within one document we know more than one sentence does: every occurrence of a
name found anywhere is the same name, and an e-mail like `helena.marchetti@example.org` tells us
that "Helena Marchetti" is a person. Both rules add spans; neither removes one.
"""
from __future__ import annotations

import re

from core.rag.pii import Span, merge_overlaps

DERIVED_SCORE = 0.6
_LOCAL_PART = re.compile(r"^([a-z]{2,})[._-]([a-z]{2,})(?:[._-]([a-z]{2,}))?$")


def _occurrences(text: str, value: str) -> list[tuple[int, int]]:
    pattern = re.compile(r"(?<![\w])" + re.escape(value) + r"(?![\w])")
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _names_from_emails(text: str, spans: list[Span]) -> set[str]:
    names = set()
    for s in spans:
        if s.entity_type != "EMAIL_ADDRESS":
            continue
        match = _LOCAL_PART.match(text[s.start:s.end].split("@")[0].lower())
        if match:
            parts = [p for p in match.groups() if p]
            names.add(" ".join(p.capitalize() for p in parts))
    return names


def propagate_person_spans(text: str, spans: list[Span]) -> list[Span]:
    names = {text[s.start:s.end] for s in spans if s.entity_type == "PERSON" and " " in text[s.start:s.end].strip()}
    names |= _names_from_emails(text, spans)
    added = [Span("PERSON", a, b, DERIVED_SCORE) for name in names for a, b in _occurrences(text, name)]
    return merge_overlaps(spans + added) if added else spans
