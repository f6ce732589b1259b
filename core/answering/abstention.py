"""Abstention: an answer is served only when a passage the asker may read supports it.

Retrieval always returns the k nearest permitted passages, however far they are from the question,
and an answerer asked to answer from them will usually find something to quote. A question that no
readable document answers (a budget memo the asker is not cleared for, an employee who is not in the
corpus) then got a confident answer from an unrelated passage. So the chosen passage must pass the
thresholds of `policy.yaml` `abstention:` (core.policy.models.Abstention), calibrated on question
sets by bench/bench_abstention.py (docs/abstention.md):

- similarity: cosine similarity of the question and the chosen passage (the vector leg);
- fused: its reciprocal-rank fused score (high when the vector and full-text legs agree);
- overlap: the share of the question's content terms that the passage (title and text) contains.

Overlap is measured on the passage AS THE ASKER IS SHOWN IT (redacted): measuring it on the stored
text would let an employee probe whether a hidden name is the one she typed, by whether the chat
answers. Scores only (numbers, never question terms) go into the audit record: its payload is not sealed.
"""
from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.rag.answerers import Passage
from core.rag.answerers.extractive import STOPWORDS

if TYPE_CHECKING:
    from core.policy.models import Abstention

I_DONT_KNOW = "I don't know: none of the documents you may read answers that question."
# Words that carry no content in a question, beyond the extractive answerer's stopwords: pronouns
# and question scaffolding ("who is she", "tell me", "according to").
_EXTRA_STOPWORDS = set("""he him his she her hers me my mine us they it tell say said according
    not no yes if so also would could may might must shall was been being""".split())
_WORD = re.compile(r"[^\W_]+")


_STEMMERS = threading.local()  # a Snowball stemmer keeps state while it stems: one per thread
# Snowball's algorithm per language of core/rag/languages.py (Polish has none: its words are kept whole).
_SNOWBALL = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "nl": "dutch", "sv": "swedish"}
_STOPWORDS: dict[str, frozenset[str]] = {}


@functools.lru_cache(maxsize=65536)
def _stem(word: str, language: str) -> str:
    # Cached: an ask stems the question and every shown passage twice (router and abstention), about
    # 200 words, mostly the same few hundred; Snowball in pure Python costs a quarter of a governed ask's
    # time otherwise. A word's stem never changes, and the cache is shared by every thread.
    algorithm = _SNOWBALL.get(language)
    if algorithm is None:
        return word
    stemmer = getattr(_STEMMERS, algorithm, None)
    if stemmer is None:
        import snowballstemmer

        stemmer = snowballstemmer.stemmer(algorithm)
        setattr(_STEMMERS, algorithm, stemmer)
    return stemmer.stemWord(word)


def _stopwords(language: str) -> frozenset[str]:
    """English: the extractive answerer's list and question scaffolding (what the thresholds were tuned
    with); another language: spaCy's stop-word list for it (shipped with spaCy, no model needed)."""
    if language not in _STOPWORDS:
        if language == "en":
            _STOPWORDS[language] = frozenset(STOPWORDS | _EXTRA_STOPWORDS)
        else:
            import importlib

            module = importlib.import_module(f"spacy.lang.{language}.stop_words")
            _STOPWORDS[language] = frozenset(module.STOP_WORDS)
    return _STOPWORDS[language]


def content_terms(text: str, language: str = "en") -> set[str]:
    """Lower-cased content words of `language`, stemmed (Snowball): "greased" and "grease",
    "protected" and "protection" count as the same term."""
    stop = _stopwords(language)
    return {_stem(w, language) for w in _WORD.findall(text.lower()) if w not in stop and len(w) >= 2}


@dataclass(frozen=True)
class Support:
    """How well one shown passage supports an answer to the question."""

    n: int
    similarity: float
    fused: float
    overlap: float

    def as_dict(self) -> dict[str, Any]:
        return {"passage": self.n, "similarity": round(self.similarity, 4), "fused": round(self.fused, 5), "overlap": round(self.overlap, 4)}


@dataclass(frozen=True)
class Decision:
    answers: bool
    reason: str  # why it abstained ("" when it answers), in words for the audit trail
    support: Support | None  # the chosen passage's scores

    def audit(self, rule: "Abstention") -> dict[str, Any]:
        """What the audit record keeps: the decision, the scores and the thresholds they met or missed."""
        return {"abstained": not self.answers, "reason": self.reason, "scores": self.support.as_dict() if self.support else None,
                "thresholds": {"min_similarity": rule.min_similarity, "min_fused": rule.min_fused, "min_overlap": rule.min_overlap}}


def support(question: str, passage: Passage, language: str = "en") -> Support:
    q = content_terms(question, language)
    shown = content_terms(f"{passage.title}\n{passage.text}", language)
    overlap = len(q & shown) / len(q) if q else 0.0
    return Support(passage.n, passage.similarity, passage.score, overlap)


def best_support(question: str, passages: list[Passage], used: list[int], language: str = "en") -> Support | None:
    """The chosen passage: of those the answer cites (all shown ones when it cites none), the best
    supported, by overlap first and similarity second."""
    pool = [p for p in passages if p.n in used] or passages
    scored = [support(question, p, language) for p in pool]
    return max(scored, key=lambda s: (s.overlap, s.similarity), default=None)


def decide(question: str, passages: list[Passage], used: list[int], answerer_knows: bool, rule: "Abstention",
           language: str = "en") -> Decision:
    """Answer or abstain. Any threshold missed abstains; the reason names the first one, with its score."""
    chosen = best_support(question, passages, used, language)
    if chosen is None:
        return Decision(False, "no passage the asker may read was retrieved", None)
    if not answerer_knows:
        return Decision(False, "the answerer found no supporting sentence", chosen)
    if not rule.enabled:
        return Decision(True, "", chosen)
    if chosen.similarity < rule.min_similarity:
        return Decision(False, f"similarity {chosen.similarity:.3f} below {rule.min_similarity}", chosen)
    if chosen.fused < rule.min_fused:
        return Decision(False, f"fused score {chosen.fused:.4f} below {rule.min_fused}", chosen)
    if chosen.overlap < rule.min_overlap:
        return Decision(False, f"overlap {chosen.overlap:.2f} below {rule.min_overlap}", chosen)
    return Decision(True, "", chosen)
