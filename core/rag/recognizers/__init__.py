"""Built-in recognizers that Presidio lacks, registered through one door.

Presidio covers US formats and some European ones; the rest of what European HR and finance documents
hold (French and Dutch national numbers, street addresses and postcodes of nine locales, every card
brand, passports named in any language, dates of birth, obfuscated e-mails) is written here, one
concept per module, validated by checksum where the format has one. `register()` is the same door an
outside plugin uses; `builtin_recognizers()` builds fresh instances for one analyzer.
"""
from __future__ import annotations

from collections.abc import Callable

RECOGNIZERS: dict[str, Callable[[], object]] = {}


def register(name: str, factory: Callable[[], object]) -> None:
    """Add a recognizer factory (returns a Presidio EntityRecognizer) used by every full and guard analyzer."""
    RECOGNIZERS[name] = factory


def builtin_recognizers() -> list:
    _load_builtins()
    return [factory() for _, factory in sorted(RECOGNIZERS.items())]


def _load_builtins() -> None:
    # Importing a module registers its recognizers; import here, not at package import, so that
    # presidio (seconds) loads only when an analyzer is built.
    from core.rag.recognizers import addresses, cards, dates, emails, identity, phones  # noqa: F401
