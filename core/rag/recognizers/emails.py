"""E-mail addresses written to dodge scrapers: "name at example dot com", "name [at] example [dot] com".
Presidio's e-mail recognizer needs a literal '@' and no spaces; a person who obfuscates an address
still shares it."""
from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from core.rag.recognizers import register

_AT = r"(?:\s*(?:\(at\)|\[at\]|\{at\}|<at>)\s*|\s+at\s+|\s+@\s*|\s*@\s+)"
_DOT = r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>)\s*|\s+dot\s+|\s+\.\s*|\s*\.\s+|\.)"
# Never the tail of a real address ("Rossi at sofia.rossi@example.com"): no '@' may follow.
OBFUSCATED = rf"\b[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[a-z]{{2,6}}\b(?![\w@])(?!\.[\w@])"

register("obfuscated_email", lambda: PatternRecognizer(
    supported_entity="EMAIL_ADDRESS", name="ObfuscatedEmailRecognizer",
    patterns=[Pattern("obfuscated_email", OBFUSCATED, 0.6)]))
