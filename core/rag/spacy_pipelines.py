"""spaCy pipelines for Presidio, loaded once per process and each only when a text of its language
first needs it.

Presidio's SpacyNlpEngine loads every configured model when it is built. The French pipeline alone
takes about 4.6 s to load on the 2-core machine (most of it compiling the regular expressions of its
tokenizer exceptions), English about 0.4 s; so every `ragledger` command, app start and worker that
analysed only English text paid for French too, and every analyzer built for a new set of policy
recognizers loaded both models again. Here a pipeline is loaded on first use and shared by every
analyzer of the process (spaCy pipelines are only read once loaded, and analyzers are already shared
across threads).
"""
from __future__ import annotations

import threading
from typing import Any

from presidio_analyzer.nlp_engine import SpacyNlpEngine

_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}


def pipeline(model_name: str) -> Any:
    """The spaCy pipeline of the installed package `model_name`, loaded once per process."""
    with _LOCK:
        if model_name not in _LOADED:
            import spacy

            _LOADED[model_name] = spacy.load(model_name)
        return _LOADED[model_name]


class _OnFirstUse(dict):  # type: ignore[type-arg]
    """language -> pipeline, as SpacyNlpEngine.nlp holds them; a language's model loads at its first lookup."""

    def __init__(self, models: dict[str, str]) -> None:
        super().__init__()
        self._models = dict(models)

    def __missing__(self, language: str) -> Any:
        if language not in self._models:
            raise KeyError(language)
        loaded = self[language] = pipeline(self._models[language])
        return loaded

    def __contains__(self, language: object) -> bool:
        return language in self._models

    def __bool__(self) -> bool:  # Presidio checks `if not self.nlp` for "not loaded"
        return bool(self._models)

    def keys(self):  # type: ignore[no-untyped-def, override]
        return self._models.keys()


class LazySpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine (same NER configuration, same artifacts) whose models load on first use."""

    def load(self) -> None:
        self.nlp = _OnFirstUse({m["lang_code"]: m["model_name"] for m in self.models})


def lazy_spacy_engine(models: dict[str, str]) -> LazySpacyNlpEngine:
    engine = LazySpacyNlpEngine(models=[{"lang_code": lang, "model_name": name} for lang, name in models.items()])
    engine.load()
    return engine
