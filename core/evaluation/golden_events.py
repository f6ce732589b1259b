"""The audit event of a golden-set evaluation: figures only (counts and rates per principal)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from core.audit.events import AuditEvent


@dataclass
class EvaluationRun(AuditEvent):
    kind: ClassVar[str] = "evaluation"
    questions: int = 0
    k: int = 0
    regressions: int = 0
    scores: dict = field(default_factory=dict)  # principal -> {recall_at_k, citation_correct, answer_contains, leaks, stale}
    sources: dict = field(default_factory=dict)  # doc_id -> version asked about (freshness: `ragledger eval --changed`)
    reason: str = "manual"  # manual, changed (--changed), new_version (after an ingest), gate (before a promotion)
    details: dict = field(default_factory=dict)  # principal -> question_key -> {rank, similarity, cited, stale}: drift
    failures: list = field(default_factory=list)  # the regressions, leaks and stale facts found, in words (no text of the corpus)
    trigger: dict = field(default_factory=dict)  # new_version: {by, doc_ids}; gate: {checkpoint_id}
    serving: dict = field(default_factory=dict)  # the embedder and answerer evaluated
    seconds: float = 0.0
