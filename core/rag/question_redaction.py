"""Questions as the audit log keeps them: redacted, and sealed under the subjects they name.

A short question gives NER little context, so the full analyzer alone misses names that the corpus
knows. Every PII value stored as a span at ingestion (names, e-mails, phone numbers, ids, in chunk
texts and titles) is therefore kept in an index of normalised token sequences, with the documents
that hold it; the question is matched against it word by word (a dict lookup per word, not a scan
of the chunks). A name also yields "H. Marchetti" and, capitalised in the question, its first name
and surname alone; an e-mail yields the name of its local part. The stored question is sealed
under the keys of the documents holding the people it names, so erasing that person (which
destroys those keys) makes the stored question unreadable too.

The index is cached in the process per chunk-table version: an ingestion extends it with the new
chunks only; a version that removed chunks rebuilds it (bench/bench_question_redaction.py).
"""
from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from core.rag import pii
from core.rag.pii_types import CATCH_ALL
from core.rag.chunk_store import id_predicate, spans_of
from core.ledger import Ledger
from core.rag.pii import Span
from core.audit.asked_about import SUBJECT_TYPES, keys_for, subject_key
from core.subject_match import normalise_with_offsets, tokens

MIN_SINGLE = 3  # a one-word value shorter than this (an initial, "Al") is never looked for alone
_WORD = re.compile(r"\S+")
_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], tuple[int, "KnownPII"]] = {}
_COLUMNS = ["chunk_id", "doc_id", "text", "pii_spans", "title", "title_spans"]


@dataclass
class StoredQuestion:
    text: str  # every PII value replaced by <TYPE>
    subject_docs: list[str]  # documents holding the people and identifiers the question names
    # The identifiers named, for "who asked about whom" (sealed in the record, core/audit/asked_about.py):
    # {"type", "as_written", "keys"}, the keys being the value's normalised form and, for a variant
    # the corpus knows ("H. Marchetti"), the full values it stands for ("helena marchetti").
    subjects: list[dict] = field(default_factory=list)


class KnownPII:
    """Normalised PII values of the corpus, keyed by their word sequence: a question of n words
    costs n dict lookups per distinct value length (a handful), whatever the corpus size.
    `by_words[words][(entity type, capitalised only)]` is the set of documents holding the value."""

    def __init__(self) -> None:
        self.by_words: dict[tuple[str, ...], dict[tuple[str, bool], set[str]]] = defaultdict(lambda: defaultdict(set))
        # words -> the subject keys of the full values they were derived from ("h marchetti" -> "helena marchetti")
        self.full: dict[tuple[str, ...], set[str]] = defaultdict(set)
        self.chunk_ids: set[str] = set()
        self.lengths: list[int] = []
        self._stop = _stop_words()

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.by_words.values())

    def add_rows(self, rows: list[dict]) -> None:
        for r in rows:
            self.chunk_ids.add(r["chunk_id"])
            for s in spans_of(r):
                self._add(r["text"][s["start"]:s["end"]], s["type"], r["doc_id"])
            for s in json.loads(r.get("title_spans") or "[]"):
                self._add(r["title"][s["start"]:s["end"]], s["type"], r["doc_id"])
        self.lengths = sorted({len(w) for w in self.by_words}, reverse=True)  # the longest value first

    def _add(self, value: str, etype: str, doc: str) -> None:
        words = tuple(tokens(value))
        if not words or (len(words) == 1 and len(words[0]) < MIN_SINGLE):
            return
        self.by_words[words][(etype, False)].add(doc)
        full = subject_key(value)
        self.full[words].add(full)
        if etype == "EMAIL_ADDRESS":
            local = tuple(tokens(value.split("@")[0]))
            if len(local) >= 2 and all(w.isalpha() and len(w) >= 2 for w in local):
                self._add(" ".join(local), "PERSON", doc)
        if etype == "PERSON" and len(words) >= 2 and all(w.isalpha() for w in words):
            variants = [((words[0][0], *words[1:]), False), (("".join(words),), False)]  # "H. Marchetti", "helenamarchetti@…"
            variants += [((w,), True) for w in words if len(w) >= MIN_SINGLE and w not in self._stop]
            for key, capitalised in variants:
                self.by_words[key][(etype, capitalised)].add(doc)
                self.full[key].add(full)

    def find_named(self, text: str) -> tuple[list[Span], set[str], list[set[str]]]:
        """`find`, plus for each span the subject keys of the corpus values it stands for."""
        with _LOCK:
            return self._find(text, named=True)  # type: ignore[return-value]

    def find(self, text: str) -> tuple[list[Span], set[str]]:
        with _LOCK:  # known_pii() may be extending this index for a newer version in another thread
            return self._find(text)

    def _find(self, text: str, named: bool = False) -> tuple:  # type: ignore[type-arg]
        norm, offsets = normalise_with_offsets(text)
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(norm)]
        plain = [w for w, _, _ in words]
        spans, docs, fulls = [], set(), []
        i = 0
        while i < len(words):
            step = 1
            for n in self.lengths:
                if i + n > len(words) or tuple(plain[i:i + n]) not in self.by_words:
                    continue
                start, end = offsets[words[i][1]], offsets[words[i + n - 1][2] - 1] + 1
                hits = [(etype, ds) for (etype, cap), ds in self.by_words[tuple(plain[i:i + n])].items() if not cap or text[start].isupper()]
                if hits:
                    spans.append(Span(hits[0][0], start, end, 1.0))
                    fulls.append(set(self.full.get(tuple(plain[i:i + n]), ())))
                    for _, ds in hits:
                        docs |= ds
                    step = n  # words inside a longer value already found are not looked up again
                    break
            i += step
        return (spans, docs, fulls) if named else (spans, docs)


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # a word list, no model

    return frozenset(STOP_WORDS)


def build_index(rows: list[dict]) -> KnownPII:
    index = KnownPII()
    index.add_rows(rows)
    return index


def known_pii(ledger: Ledger) -> KnownPII:
    """The corpus's PII index for the table version this ledger reads. A new version that only
    added chunks (an ingestion) extends the cached index with those chunks; one that removed any
    (a new document version, a purge) rebuilds it, so an erased value is never looked for again."""
    store = ledger.store
    key = (str(store.directory), store.name)
    version = store.version()
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        ids = {r["chunk_id"] for r in store.all_rows(["chunk_id"])}
        if cached is not None and cached[1].chunk_ids <= ids:
            index = cached[1]
            new = sorted(ids - index.chunk_ids)
            for i in range(0, len(new), 500):
                index.add_rows(store.rows_where(id_predicate("chunk_id", new[i:i + 500]), _COLUMNS))
        else:
            index = build_index(store.all_rows(_COLUMNS))
        _CACHE[key] = (version, index)
        return index


def redact_question(ledger: Ledger, question: str) -> StoredQuestion:
    """The full analyzer plus every PII value known from the corpus, each replaced by <TYPE>."""
    # Deny-by-default candidates are left out: a question names few people, the analyzer and the corpus's
    # known values find them, and an officer must still be able to read what was asked about.
    spans = [s for s in pii.analyze(question, ledger.policy.files.analyzed_entities, ledger.recognizers)
             if s.entity_type not in CATCH_ALL]
    known, docs, fulls = known_pii(ledger).find_named(question)
    chosen = pii.resolve_overlaps(spans + known)
    out, cursor = [], 0
    for s in chosen:
        out.append(question[cursor:s.start] + f"<{s.entity_type}>")
        cursor = s.end
    return StoredQuestion("".join(out) + question[cursor:], sorted(docs), _subjects(question, chosen, known, fulls))


def _subjects(question: str, chosen: list[Span], known: list[Span], fulls: list[set[str]]) -> list[dict]:
    out = []
    for s in chosen:
        if s.entity_type not in SUBJECT_TYPES:
            continue
        written = question[s.start:s.end]
        keys = set(keys_for(written))
        for k, full in zip(known, fulls):
            if k.start < s.end and s.start < k.end:  # the corpus value this span overlaps
                keys |= full
        if keys:
            out.append({"type": s.entity_type, "as_written": written, "keys": sorted(keys)})
    return out
