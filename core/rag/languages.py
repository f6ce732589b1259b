"""Which language a document and a question are in, for retrieval (issue 13): each document's language
is detected once at ingestion and stored with it (registry and chunks), and a question in a language
that some candidate passages share is answered from those first.

Detection is py3langid restricted to the languages of core/rag/pii_language.py (its model ships inside the
wheel). A document may declare its language in front matter (`language: de`), which wins. Questions
are short, so their language counts only when the classifier is confident: an uncertain question
("Who approves expenses?" scores 0.70 English) prefers no language, and ranking stays as it was.
"""
from __future__ import annotations

from core.rag import pii_language
from core.errors import IngestError

LANGUAGES = pii_language.LANGUAGES
# Below this normalised probability a question's language is not used. A design choice, not a tuned
# figure: at 0.9 the short questions we tried in each language pass and two-word fragments do not.
QUESTION_CONFIDENCE = 0.9
MIN_QUESTION_CHARS = 12


def document_language(text: str, meta: dict) -> str:
    declared = meta.get("language")
    if declared is not None:
        code = str(declared).strip().lower()
        if code not in LANGUAGES:
            raise IngestError(f"front matter says language: {declared!r}, which is not one RAG Ledger knows",
                              hint=f"use one of {', '.join(LANGUAGES)}, or remove the line to let it be detected")
        return code
    return pii_language.detect(text)


def question_language(question: str) -> str | None:
    """The question's language when the classifier is confident, else None (no preference)."""
    if len(question.strip()) < MIN_QUESTION_CHARS:
        return None
    language, probability = pii_language.classify(question)
    return language if probability >= QUESTION_CONFIDENCE else None
