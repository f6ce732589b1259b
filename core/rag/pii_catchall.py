"""Deny by default: candidates that no recognizer typed, kept so that a restrictive profile can hide them.

Recognizers find what they know; a strict profile must also hide what nobody recognised (a German
name the English model does not know, a number in a format without a recognizer). At analysis, every
proper-noun run (spaCy part of speech) and every digit run of four or more digits that no typed span
covers is stored as a PROPER_NOUN or NUMBER candidate. Which of them a reader sees is decided at
retrieval time by the reader's profile (`deny_unrecognized` in policies/redaction.yaml) and the
organisation's allowlist, so changing either never needs a re-analysis.
"""
from __future__ import annotations

import re

from core.rag.pii_types import NUMBER, PROPER_NOUN

CATCH_ALL_SCORE = 0.3
MIN_STORED_DIGITS = 4
# A digit run: digits joined by at most one separator (space, dot, dash, slash) between them.
# Parentheses count as separators too: "(003) 7035952", "(576)706-9259"; letters may touch the run,
# since ids glue them on ("ZZ644730T", "X58683449").
DIGIT_RUN = re.compile(r"(?<![\d(])\(?\d(?:[ .\-/()]{0,2}\d)*\)?(?!\d)")
# Particles inside a name ("Ludwig van Beethoven", "Ana de la Cruz").
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "la", "le", "di", "da", "du", "del", "dos", "das", "ter", "ten", "y", "bin", "al", "-", "'"})


def common_words(nlp) -> frozenset[str]:  # type: ignore[no-untyped-def]
    """English common words (the WordNet index the English pipeline's lemmatizer ships with, ~90,000
    nouns, verbs, adjectives and adverbs): a capitalised word among them that the tagger did not call a
    proper noun is a heading or a sentence start, not a name."""
    try:
        index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    except (KeyError, ValueError):  # a pipeline without lookup tables: no vocabulary, every candidate kept
        return frozenset()
    return frozenset(w for words in index.values() for w in words)


def _name_like(tok, vocabulary: frozenset[str] = frozenset()) -> bool:  # type: ignore[no-untyped-def]
    """A proper noun by spaCy's tagger, or a capitalised word the tagger called a common noun or adjective
    (small models tag unknown foreign names so): inside a sentence always, at its start only when no
    English dictionary holds the word."""
    text = tok.text
    if not text[:1].isupper() or not any(ch.isalpha() for ch in text) or any(ch.isdigit() for ch in text):
        return False  # names hold no digits: "TR-55821" is a reference (its number is a NUMBER candidate)
    if text.isupper() and len(text) <= 5:  # acronyms (HR, VPN, SSO) name teams and systems, not people
        return False
    word = text.lower()
    in_dictionary = word in vocabulary or (word.endswith("s") and word[:-1] in vocabulary)
    if in_dictionary and (_starts_heading(tok) or (tok.is_sent_start and tok.pos_ != "PROPN")):
        return False  # a dictionary word starting a sentence or a heading ("## Meals and per diem", "Incident follow-up")
    if tok.pos_ == "PROPN":
        return True
    if tok.is_stop or tok.pos_ not in {"NOUN", "X", "ADJ"}:
        return False
    if not tok.is_sent_start:
        return True  # capitalised inside a sentence: a name unless the tagger said otherwise
    # At the start of a sentence (or a CSV field) a capitalised singular noun directly followed by a
    # comma or a verb is far more often a name ("Caroline lives", "Zajko,") than a word; before a colon
    # or alone on a line it is a label or a heading ("Ticket:", "## Investigation").
    nxt = tok.nbor(1) if tok.i + 1 < len(tok.doc) else None
    return tok.tag_ != "NNS" and nxt is not None and (nxt.text in {",", ";"} or nxt.pos_ in {"VERB", "AUX", "PROPN"})


def _starts_heading(tok) -> bool:  # type: ignore[no-untyped-def]
    """The token opens a Markdown heading or a bold line, where the small taggers call title-case words PROPN."""
    text = tok.doc.text
    line_start = text.rfind("\n", 0, tok.idx) + 1
    prefix = text[line_start:tok.idx].strip()
    return bool(prefix) and set(prefix) <= {"#", "*", "_"}


def proper_noun_runs(doc, vocabulary: frozenset[str] = frozenset()) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Character ranges of consecutive name-like tokens (particles may join two of them)."""
    runs: list[tuple[int, int]] = []
    tokens = list(doc)

    def _is_name_like(tok) -> bool:  # type: ignore[no-untyped-def]
        return _name_like(tok, vocabulary)

    i = 0
    while i < len(tokens):
        if not _is_name_like(tokens[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens):
            nxt = tokens[j + 1]
            if _is_name_like(nxt) and "\n" not in tokens[j].whitespace_:
                j += 1
            elif nxt.text.lower() in _PARTICLES and j + 2 < len(tokens) and _is_name_like(tokens[j + 2]):
                j += 2
            elif not tokens[j].whitespace_ and (end := _hyphen_chain_end(tokens, j, vocabulary)) > j:
                j = end  # "Marion-la-Forêt", "Étienne-sur-Da Silva": one place name
            else:
                break
        runs.append((tokens[i].idx, tokens[j].idx + len(tokens[j].text)))
        i = j + 1
    return runs


def _hyphen_chain_end(tokens: list, j: int, vocabulary: frozenset[str] = frozenset()) -> int:  # type: ignore[type-arg]
    """The last token of a chain glued to tokens[j] by hyphens ("-la-", "-sur-") that ends on a name-like token."""
    k, end = j, j
    while k + 1 < len(tokens) and not tokens[k].whitespace_:
        k += 1
        if tokens[k].text != "-" and tokens[k].text.islower() is False and _name_like(tokens[k], vocabulary):
            end = k
        elif tokens[k].text != "-" and not tokens[k].text.islower():
            break
    return end


def digit_runs(text: str) -> list[tuple[int, int]]:
    """Digit runs of MIN_STORED_DIGITS or more digits, widened over the letters glued to them: an id
    code is the whole token ("ZZ689775T", "X58683449"), not only its digits."""
    out = []
    for m in DIGIT_RUN.finditer(text):
        if sum(ch.isdigit() for ch in m.group()) < MIN_STORED_DIGITS:
            continue
        start, end = m.start(), m.end()
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        while end < len(text) and text[end].isalpha():
            end += 1
        out.append((start, end))
    return out


def candidates(text: str, doc, covered: list[tuple[int, int]], vocabulary: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    """PROPER_NOUN and NUMBER candidates that overlap no typed span."""
    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in covered)

    runs = proper_noun_runs(doc, vocabulary) if doc is not None else []
    found = [(PROPER_NOUN, a, b) for a, b in runs if free(a, b)]
    found += [(NUMBER, a, b) for a, b in digit_runs(text) if free(a, b)]
    return found
