"""The embedded default answerer: picks the most relevant sentences of the redacted passages.

It never invents text, so it cannot leak anything that redaction removed, and it runs in well under
a millisecond. Relevance of a sentence = weighted overlap of the question's content words
(IDF over the passages) plus a share of its passage's retrieval similarity.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from core.rag.answerers import Answer, Passage, register

IDENTITY = "extractive-v1"
NO_ANSWER = "I don't know: none of the documents you may read answers that."
MIN_SIMILARITY = 0.30  # below this cosine similarity and with no word overlap, nothing is relevant enough
MIN_OVERLAP = 0.34  # share of the question's content words a sentence must contain
MAX_SENTENCES = 2
STOPWORDS = set(
    """a an and are as at be by can did do does for from has have how i in is it its of on or our
    should that the their there this to was we were what when where which who whom why will with
    you your get gets got much many any all per after before about into than then them they""".split()
)
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z0-9]+")


def _terms(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS or len(w) < 2:
            continue
        out.append(w[:-1] if len(w) > 4 and w.endswith("s") else w)
    return out


def _sentences(text: str) -> list[str]:
    # Headings and titles are not answers: a line that starts with '#' is skipped.
    parts = [s.strip(" *-\t") for s in _SENT.split(text) if not s.lstrip().startswith("#")]
    return [s for s in parts if len(s.split()) >= 3]


class ExtractiveAnswerer:
    identity = IDENTITY

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        q_terms = set(_terms(question))
        candidates = [(p, s) for p in passages for s in _sentences(p.text)]
        if not candidates or not q_terms:
            return Answer(NO_ANSWER, [], knows=False)
        df = Counter(t for _, s in candidates for t in set(_terms(s)))
        n = len(candidates)
        idf = {t: math.log(1 + n / (1 + df[t])) for t in q_terms}
        total = sum(idf.values()) or 1.0
        scored = []
        for order, (p, s) in enumerate(candidates):
            present = q_terms & set(_terms(s))
            overlap = sum(idf[t] for t in present) / total
            scored.append((overlap + 0.5 * p.similarity, overlap, order, p, s))
        scored.sort(key=lambda x: (-x[0], x[2]))
        best_score, best_overlap, _, best_p, _ = scored[0]
        if best_overlap < MIN_OVERLAP and best_p.similarity < MIN_SIMILARITY:
            return Answer(NO_ANSWER, [], knows=False)
        chosen = [x for x in scored[:MAX_SENTENCES] if x[0] >= 0.75 * best_score and x[1] > 0]
        chosen = chosen or scored[:1]
        chosen.sort(key=lambda x: x[2])  # keep document order
        text = " ".join(f"{s.rstrip()} [{p.n}]" for _, _, _, p, s in chosen)
        return Answer(text, sorted({p.n for *_, p, _ in chosen}))


register("extractive", lambda **_: ExtractiveAnswerer())
