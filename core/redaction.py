"""Retrieval-time redaction: apply the asker's profile to the PII spans stored at ingestion.

No NER runs here (it costs ~240 ms per ask); the spans were found once, over the whole document.
One `Redactor` serves one answer, so pseudonyms are consistent within that answer only.
"""
from __future__ import annotations

import hashlib
import hmac
from collections import Counter

from core.pii import Span
from core.policy_models import RedactionProfile, RedactionRule



class Redactor:
    def __init__(self, profile: RedactionProfile, secret: bytes = b"") -> None:
        """`secret` keys the hash operator (HMAC): without it, a short value such as an IP address
        could be recovered by hashing every candidate."""
        self.profile = profile
        self.secret = secret
        self.counts: Counter[str] = Counter()
        self._pseudonyms: dict[tuple[str, str], str] = {}

    def redact(self, text: str, spans: list[Span]) -> str:
        """Replace every span whose rule is not 'keep'; spans must not overlap (resolve_overlaps)."""
        out, cursor = [], 0
        for span in sorted(spans, key=lambda s: s.start):
            if span.start < cursor or span.end > len(text):
                continue
            rule = self.profile.rule_for(span.entity_type)
            if rule.operator == "keep":
                continue
            out.append(text[cursor : span.start])
            out.append(self._replace(text[span.start : span.end], span.entity_type, rule))
            self.counts[span.entity_type] += 1
            cursor = span.end
        out.append(text[cursor:])
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


def spans_in_window(spans: list[Span], start: int, end: int) -> list[Span]:
    """Spans of a document that overlap [start, end), shifted to the window; partial spans are kept
    whole-sided (clipped) so a name cut by a chunk boundary is still redacted."""
    out = []
    for s in spans:
        if s.end <= start or s.start >= end:
            continue
        out.append(Span(s.entity_type, max(s.start, start) - start, min(s.end, end) - start, s.score))
    return out
