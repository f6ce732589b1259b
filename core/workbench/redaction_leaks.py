"""What a reader is actually shown: the labelled values a profile must hide that stay readable after
redaction and the guard, measured on character positions of the original text.

The path is the product's own: `pii.analyze` as at ingestion, then `redaction.redact_shown` with the
reader's `Redactor`, as every cited passage is shown. A labelled value counts as visible when a
significant piece of it is left uncovered (a word of three or more letters that is not a street type
or particle, or three or more digits), and as visible verbatim when the whole value appears unchanged
in the shown text. A masked card number counts as hidden: showing its last digits is the policy.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from core.rag import pii_types
from core.rag.pii import Span
from core.policy.models import RedactionProfile
from core.rag.redaction import Redactor, redact_shown

# Pieces of a labelled value that identify nobody on their own.
GENERIC = frozenset("""street st road rd avenue ave lane ln drive way court place boulevard close square apt suite flat unit
floor studio apartment rue via viale piazza corso calle avenida plaza paseo ulica aleja the and of de la le du del di
van von der den des das dos die strasse straße weg platz gatan vägen laan straat
mrs mr ms dr prof pan pani sig ra signor signora dott herr frau mme mlle monsieur madame sr sra señor señora dhr mevr
mevrouw meneer fru""".split())  # honorifics and particles: part of a labelled name, identifying nobody alone
SENSITIVE = frozenset({"NATIONAL_ID", "PASSPORT", "CREDIT_CARD", "IBAN_CODE"})  # never shown where a profile hides them
_TOKEN = re.compile(r"[^\W_]+")


@dataclass
class ProfileLeaks:
    must_hide: int = 0
    visible: int = 0
    visible_verbatim: int = 0
    sensitive_must_hide: int = 0
    sensitive_visible: int = 0
    hidden_spans: int = 0
    hidden_spans_on_gold: int = 0
    visible_by_type: Counter = field(default_factory=Counter)
    must_hide_by_type: Counter = field(default_factory=Counter)
    examples: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        recall = round(1 - self.visible / self.must_hide, 4) if self.must_hide else None
        precision = round(self.hidden_spans_on_gold / self.hidden_spans, 4) if self.hidden_spans else None
        return {"must_hide": self.must_hide, "visible": self.visible, "visible_share": round(self.visible / self.must_hide, 4) if self.must_hide else None,
                "visible_verbatim": self.visible_verbatim, "recall": recall, "precision": precision,
                "sensitive_must_hide": self.sensitive_must_hide, "sensitive_visible": self.sensitive_visible,
                "visible_by_type": {t: [self.visible_by_type[t], n] for t, n in sorted(self.must_hide_by_type.items())}}


def shown_with_coverage(redactor: Redactor, text: str, spans: list[Span], entities: list[str], recognizers: tuple) -> tuple[str, list[tuple[int, int]], list[tuple[int, int]]]:
    """The shown text as a cited passage is shown (core.rag.redaction.redact_shown: stored spans plus the
    shown-text scan), the original character ranges replaced, and the same ranges for precision."""
    kept: list[tuple[int, int, int]] = []
    shown, _ = redact_shown(redactor, text, spans, recognizers, kept)
    covered = _complement([(o, o + n) for _, o, n in kept], len(text))
    return shown, covered, list(covered)


def _complement(ranges: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    out, cursor = [], 0
    for a, b in sorted(ranges):
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < length:
        out.append((cursor, length))
    return out


def value_visible(text: str, start: int, end: int, covered: list[tuple[int, int]]) -> bool:
    for m in _TOKEN.finditer(text, start, end):
        chars = [i for i in range(m.start(), m.end()) if not any(a <= i < b for a, b in covered)]
        if not chars:
            continue
        piece = "".join(text[i] for i in chars)
        digits = sum(ch.isdigit() for ch in piece)
        letters = sum(ch.isalpha() for ch in piece)
        if digits >= 3 or (letters >= 3 and piece.casefold() not in GENERIC):
            return True
    return False


def profile_must_hide(profile: RedactionProfile, gold_type: str) -> bool:
    return any(profile.rule_for(t).operator != "keep" for t in pii_types.family(gold_type))


def score_profile(leaks: ProfileLeaks, sample: dict, shown: str, covered: list[tuple[int, int]], profile: RedactionProfile,
                  hidden_spans: list[tuple[int, int]]) -> None:
    text = sample["text"]
    for g in sample["spans"]:
        if not profile_must_hide(profile, g["type"]):
            continue
        leaks.must_hide += 1
        leaks.must_hide_by_type[g["type"]] += 1
        sensitive = g["type"] in SENSITIVE
        leaks.sensitive_must_hide += sensitive
        if value_visible(text, g["start"], g["end"], covered):
            leaks.visible += 1
            leaks.sensitive_visible += sensitive
            leaks.visible_by_type[g["type"]] += 1
            if len(leaks.examples) < 200:
                leaks.examples.append({"type": g["type"], "value": text[g["start"]:g["end"]], "shown": shown, "locale": sample.get("locale")})
        leaks.visible_verbatim += text[g["start"]:g["end"]] in shown
    for a, b in hidden_spans:
        leaks.hidden_spans += 1
        leaks.hidden_spans_on_gold += any(a < g["end"] and b > g["start"] for g in sample["spans"])
