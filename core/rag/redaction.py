"""Retrieval-time redaction: apply the asker's profile to the PII spans stored at ingestion.

No NER runs here (it costs ~240 ms per ask); the spans were found once, over the whole document.
One `Redactor` serves one answer, so pseudonyms are consistent within that answer only.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter

from typing import TYPE_CHECKING

from core.rag import pii
from core.rag.pii import Span
from core.rag.pii_types import CATCH_ALL, NUMBER
from core.policy.models import Allowlist, RedactionProfile, RedactionRule
from core.rag.pii_catchall import digit_runs
from core.rag.redaction_allow import AllowedTerms, number_allowed

if TYPE_CHECKING:
    from core.ledger import Ledger
    from core.policy.engine import Principal

KEEP = RedactionRule(operator="keep")


def strictness(rule: RedactionRule) -> int:
    """How much of a value an operator leaves readable: keep shows it, a mask its tail, the others nothing."""
    if rule.operator == "keep":
        return 0
    if rule.operator == "mask" and rule.keep_last:
        return 1
    return 2


class Redactor:
    def __init__(self, profile: RedactionProfile, secret: bytes = b"", allowlist: Allowlist | None = None) -> None:
        """`secret` keys the hash operator (HMAC): without it, a short value such as an IP address
        could be recovered by hashing every candidate. `allowlist` is the organisation vocabulary a
        deny-by-default profile lets through."""
        self.profile = profile
        self.secret = secret
        self.allowed = AllowedTerms(allowlist)
        self.counts: Counter[str] = Counter()
        self._pseudonyms: dict[tuple[str, str], str] = {}

    def rule(self, span: Span, text: str) -> RedactionRule:
        """The strictest operator among the span's candidate types; a deny-by-default candidate is
        hidden only by a profile that denies unrecognised values and only when not allowed."""
        if span.entity_type in CATCH_ALL:
            deny = self.profile.deny_unrecognized
            if deny is None:
                return KEEP
            value = text[span.start:span.end]
            if span.entity_type == NUMBER:
                allowed = number_allowed(text, span.start, span.end, deny.min_digits)
            else:
                allowed = not deny.proper_nouns or self.allowed.proper_noun_allowed(value)
            return KEEP if allowed else self.profile.rule_for(span.entity_type)
        rules = [self.profile.rule_for(t) for t in span.types if t not in CATCH_ALL]
        return max(rules, key=strictness)  # max keeps the first of equals: the primary type's rule

    def redact(self, text: str, spans: list[Span], kept: list[tuple[int, int, int]] | None = None) -> str:
        """Replace every span whose rule is not 'keep'; spans must not overlap (merge_overlaps).
        `kept`, when given, receives (start in the result, start in `text`, length) of every piece of
        the original copied unchanged, so a caller can tell which original characters were shown."""
        out, cursor, length = [], 0, 0

        def copy(a: int, b: int) -> None:
            nonlocal length
            if b > a:
                if kept is not None:
                    kept.append((length, a, b - a))
                out.append(text[a:b])
                length += b - a

        for span in sorted(spans, key=lambda s: s.start):
            if span.start < cursor or span.end > len(text):
                continue
            rule = self.rule(span, text)
            if rule.operator == "keep":
                continue
            label = span.entity_type if self.profile.rule_for(span.entity_type) == rule else next(
                t for t in span.types if self.profile.rule_for(t) == rule)
            copy(cursor, span.start)
            replacement = self._replace(text[span.start : span.end], label, rule)
            out.append(replacement)
            length += len(replacement)
            self.counts[label] += 1
            cursor = span.end
        copy(cursor, len(text))
        return "".join(out)

    def must_hide(self, entity_type: str) -> bool:
        return self.profile.rule_for(entity_type).operator != "keep"

    def _replace(self, value: str, entity_type: str, rule: RedactionRule) -> str:
        if rule.operator == "placeholder":
            return f"<{entity_type}>"
        if rule.operator == "mask":
            visible = value[-rule.keep_last :] if rule.keep_last else ""
            return "*" * (len(value) - len(visible)) + visible
        if rule.operator == "pseudonym":
            key = (entity_type, value.strip().lower())
            if key not in self._pseudonyms:
                n = sum(1 for t, _ in self._pseudonyms if t == entity_type) + 1
                self._pseudonyms[key] = f"<{entity_type}_{n}>"
            return self._pseudonyms[key]
        if rule.operator == "hash":
            digest = hmac.new(self.secret, value.strip().lower().encode(), hashlib.sha256).hexdigest()[:12]
            return f"<{entity_type}#{digest}>"
        raise ValueError(f"unknown operator {rule.operator!r}")  # unreachable: policy validation forbids it


def redact_stored(redactor: Redactor, text: str, spans_json: str | None) -> str:
    """`text` redacted for the redactor's principal from its spans as stored (JSON: a title's
    `title_spans`, a chunk's `pii_spans`): the one way lists, lineage, datasets and erasure show titles."""
    return redactor.redact(text, [Span.from_dict(s) for s in json.loads(spans_json or "[]")])


def spans_in_window(spans: list[Span], start: int, end: int) -> list[Span]:
    """Spans of a document that overlap [start, end), shifted to the window; partial spans are kept
    whole-sided (clipped) so a name cut by a chunk boundary is still redacted."""
    out = []
    for s in spans:
        if s.end <= start or s.start >= end:
            continue
        out.append(Span(s.entity_type, max(s.start, start) - start, min(s.end, end) - start, s.score))
    return out


def redactor_for(ledger: "Ledger", principal: "Principal") -> Redactor:
    """The redactor of one answer or one listing for `principal`: its role's profile, the home's hash
    key and the organisation's allowlist."""
    return Redactor(ledger.policy.profile_for(principal), ledger.redaction_secret, ledger.policy.redaction.allowlist)


def _already_hidden(text: str, start: int, end: int) -> bool:
    """Inside a placeholder, pseudonym, hash or mask that redaction already wrote."""
    value = text[start:end]
    if "<" in value or "*" in value or (start > 0 and text[start - 1] == "*"):
        return True
    opening, closing = text.rfind("<", 0, start), text.rfind(">", 0, start)
    return opening > closing


def redact_shown(redactor: Redactor, text: str, stored: list[Span], recognizers: tuple = (),
                 kept: list[tuple[int, int, int]] | None = None) -> tuple[str, dict[str, int]]:
    """A stored passage or title as the reader is shown it: its stored spans, plus what a pattern scan
    of the text finds that the stored analysis missed (a document analysed before a recognizer existed),
    under the reader's profile. Returns the text and what the scan added to the redaction (the guard's
    share). The scan runs on the stored text and is cached, so a cited passage costs it once."""
    found = [s for s in pii.scan_shown(text, recognizers) if all(s.end <= t.start or s.start >= t.end for t in stored)]
    spans = pii.merge_overlaps(list(stored) + found) if found else stored
    added: Counter[str] = Counter()
    for s in found:
        if redactor.rule(s, text).operator != "keep":
            added[s.entity_type] += 1
    return redactor.redact(text, spans, kept), dict(added)


def guard(redactor: Redactor, text: str, entities: list[str], recognizers: tuple = ()) -> tuple[str, dict[str, int]]:
    """Last line of defence over anything shown (answer, passage, title): a pattern-only Presidio scan
    for the types the reader may not see, and the reader's deny-by-default rule for digit runs, applied
    to text that redaction already passed. Returns the guarded text and what it hid."""
    if not text:
        return text, {}
    hidden = [e for e in entities if redactor.must_hide(e)]
    found = [s for s in pii.scan_patterns(text, hidden, recognizers) if not _already_hidden(text, s.start, s.end)]
    if redactor.profile.deny_unrecognized is not None:
        taken = [(s.start, s.end) for s in found]
        found += [Span(NUMBER, a, b, 0.3) for a, b in digit_runs(text)
                  if all(b <= x or a >= y for x, y in taken) and not _already_hidden(text, a, b)]
    if not found:
        return text, {}
    before = Counter(redactor.counts)
    guarded = redactor.redact(text, found)
    return guarded, dict(Counter(redactor.counts) - before)


def redaction_counts(counts: dict[str, int] | None) -> str:
    """Redaction counts for people to read ("PERSON ×2, EMAIL_ADDRESS ×1"), never a Python dict."""
    if not counts:
        return "none"
    return ", ".join(f"{entity} ×{n}" for entity, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
