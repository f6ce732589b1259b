"""Redaction quality, measured: precision and recall of PII detection on labelled sentences.

The project ships its own sample set (tests/data/redaction_samples.jsonl, fake data, exact
character-offset labels); users add theirs with `--samples FILE` (same JSONL shape:
{"text": ..., "spans": [{"type", "start", "end"}]}). The default configuration (policy recognizers,
score threshold, false-positive list in core/pii.py) is compared with vanilla Presidio (AnalyzerEngine
with the small spaCy model and its default recognizers) through the same harness: same sentences,
same entity types, same overlap resolution, same matching rule.

Matching rule: a predicted span is a true positive when it has the gold span's type and their overlap
covers at least half of the longer of the two (one prediction per gold span).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core import pii
from core.config import REPO_ROOT
from core.errors import RagLedgerError
from core.pii import Span

DEFAULT_SAMPLES = REPO_ROOT / "tests" / "data" / "redaction_samples.jsonl"
RESULT_FILE = "redaction_eval.json"  # under RAGLEDGER_HOME: the overview shows the last run


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:  # None: nothing predicted, so nothing to be precise about
        return round(self.tp / (self.tp + self.fp), 3) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:  # None: no labelled span of this type
        return round(self.tp / (self.tp + self.fn), 3) if self.tp + self.fn else None

    def as_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": self.precision, "recall": self.recall}


@dataclass
class EvalReport:
    name: str
    sentences: int
    per_type: dict[str, Scores] = field(default_factory=dict)
    overall: Scores = field(default_factory=Scores)
    shared: Scores = field(default_factory=Scores)  # over the types vanilla Presidio can detect at all
    misses: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sentences": self.sentences, "overall": self.overall.as_dict(),
                "shared_types": self.shared.as_dict(),
                "per_type": {t: s.as_dict() for t, s in sorted(self.per_type.items())}}


def load_samples(path: Path) -> list[dict]:
    if not path.is_file():
        raise RagLedgerError(f"no sample file at {path}", hint="pass --samples FILE (JSONL with text and spans)")
    samples = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            s = json.loads(line)
            text = s["text"]
            for sp in s["spans"]:
                if not (0 <= sp["start"] < sp["end"] <= len(text)) or not sp["type"]:
                    raise ValueError(f"span {sp} outside the text")
        except (ValueError, KeyError, TypeError) as exc:
            raise RagLedgerError(f"{path}:{n}: not a labelled sample ({exc})",
                                 hint='each line: {"text": "...", "spans": [{"type": "PERSON", "start": 0, "end": 5}]}') from None
        samples.append(s)
    return samples


def _matches(gold: dict, pred: Span) -> bool:
    if gold["type"] != pred.entity_type:
        return False
    overlap = min(gold["end"], pred.end) - max(gold["start"], pred.start)
    return overlap > 0 and overlap >= 0.5 * max(gold["end"] - gold["start"], pred.end - pred.start)


def score(name: str, samples: list[dict], detect: Callable[[str], list[Span]], types: list[str], shared: set[str]) -> EvalReport:
    report = EvalReport(name, len(samples))
    per: dict[str, Scores] = {t: Scores() for t in types}
    for s in samples:
        gold = [g for g in s["spans"] if g["type"] in per]
        preds = [p for p in detect(s["text"]) if p.entity_type in per]
        used: set[int] = set()
        for g in gold:
            hit = next((i for i, p in enumerate(preds) if i not in used and _matches(g, p)), None)
            if hit is None:
                per[g["type"]].fn += 1
                report.misses.append({"text": s["text"], "missed": g["type"], "value": s["text"][g["start"]:g["end"]]})
            else:
                used.add(hit)
                per[g["type"]].tp += 1
        for i, p in enumerate(preds):
            if i not in used:
                per[p.entity_type].fp += 1
                report.misses.append({"text": s["text"], "false_positive": p.entity_type, "value": s["text"][p.start:p.end]})
    report.per_type = {t: sc for t, sc in per.items() if sc.tp + sc.fp + sc.fn}
    for t, sc in report.per_type.items():
        for target in (report.overall, report.shared) if t in shared else (report.overall,):
            target.tp += sc.tp
            target.fp += sc.fp
            target.fn += sc.fn
    return report


def vanilla_analyzer():  # type: ignore[no-untyped-def]
    """Presidio as it comes: the small spaCy model and the default recognizers, nothing else."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                "models": [{"lang_code": "en", "model_name": pii.SPACY_MODEL}]}).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


def evaluate(entities: list[str], recognizers: tuple = (), samples_path: Path | None = None) -> dict[str, Any]:
    """Evaluate the default configuration and vanilla Presidio on the same samples."""
    samples = load_samples(samples_path or DEFAULT_SAMPLES)
    types = sorted(set(entities) | {g["type"] for s in samples for g in s["spans"]})
    vanilla = vanilla_analyzer()
    vanilla_types = set(vanilla.get_supported_entities(language="en"))

    def detect_vanilla(text: str) -> list[Span]:
        results = vanilla.analyze(text=text, language="en", entities=[t for t in types if t in vanilla_types])
        return pii.resolve_overlaps([Span(r.entity_type, r.start, r.end, r.score) for r in results])

    def detect_default(text: str) -> list[Span]:
        return pii.analyze(text, types, recognizers)

    shared = {t for t in types if t in vanilla_types}
    default = score("default", samples, detect_default, types, shared)
    base = score("vanilla", samples, detect_vanilla, types, shared)
    return {"samples": str(samples_path or DEFAULT_SAMPLES), "sentences": len(samples), "types": types,
            "default": default.as_dict(), "vanilla": base.as_dict(),
            "default_errors": default.misses[:200], "vanilla_errors": base.misses[:200]}


def save_result(home: Path, result: dict[str, Any]) -> Path:
    path = home / RESULT_FILE
    path.write_text(json.dumps({k: v for k, v in result.items() if not k.endswith("_errors")}, indent=2))
    return path


def last_result(home: Path) -> dict[str, Any] | None:
    path = home / RESULT_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per entity type (and 'overall', 'shared types'): default vs vanilla."""
    rows = []
    for t in result["types"]:
        d, v = result["default"]["per_type"].get(t), result["vanilla"]["per_type"].get(t)
        if d is None and v is None:
            continue
        rows.append({"type": t, "default_precision": d and d["precision"], "default_recall": d and d["recall"],
                     "vanilla_precision": v and v["precision"], "vanilla_recall": v and v["recall"],
                     "support": (d or v)["tp"] + (d or v)["fn"]})
    for label, key in (("overall", "overall"), ("shared types", "shared_types")):
        d, v = result["default"][key], result["vanilla"][key]
        rows.append({"type": label, "default_precision": d["precision"], "default_recall": d["recall"],
                     "vanilla_precision": v["precision"], "vanilla_recall": v["recall"], "support": d["tp"] + d["fn"]})
    return rows

