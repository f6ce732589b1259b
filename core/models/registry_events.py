"""Audit events of the model registry. Payloads hold opaque ids, digests and numbers only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from core.audit.events import AuditEvent


@dataclass
class DatasetBuilt(AuditEvent):
    kind: ClassVar[str] = "dataset_built"
    dataset_id: str = ""
    rows: int = 0
    docs: int = 0
    digest: str = ""
    redaction_profile: str = ""
    rebuilt_from: str | None = None


@dataclass
class CheckpointRegistered(AuditEvent):
    kind: ClassVar[str] = "checkpoint_registered"
    checkpoint_id: str = ""
    model_kind: str = ""
    run_id: str = ""
    dataset_id: str = ""
    base_model_id: str = ""
    files: int = 0
    size_bytes: int = 0
    metrics: dict = field(default_factory=dict)
    replaces: str | None = None
    external: bool = False


@dataclass
class CheckpointStageChanged(AuditEvent):
    kind: ClassVar[str] = "checkpoint_stage"
    checkpoint_id: str = ""
    from_stage: str = ""
    to_stage: str = ""
    index_table: str | None = None  # embedder promotions: the new index the corpus was re-embedded into


@dataclass
class CheckpointsFlagged(AuditEvent):
    kind: ClassVar[str] = "checkpoints_flagged"
    checkpoint_ids: list[str] = field(default_factory=list)
    dataset_ids: list[str] = field(default_factory=list)
    request_id: str | None = None
    reason: str = ""


@dataclass
class EmbedderFellBack(AuditEvent):
    """The active embedder was flagged and policy forbids it to serve: the corpus was re-embedded with
    a clean one (the previous embedder that served, or the base model)."""

    kind: ClassVar[str] = "embedder_fallback"
    from_embedder: str = ""
    to_embedder: str = ""
    index_table: str = ""
    reason: str = ""
    request_id: str | None = None


@dataclass
class EmbedderReembedded(AuditEvent):
    """The corpus was re-embedded with the base embedder policy.yaml names (`ragledger models reembed`,
    core/rag/embedder_setting.py), into a new table that then served."""

    kind: ClassVar[str] = "embedder_reembed"
    from_embedder: str = ""
    to_embedder: str = ""
    index_table: str = ""
    dimensions: int = 0
    chunks: int = 0


@dataclass
class PromotionGated(AuditEvent):
    """The golden set asked with a candidate checkpoint serving, against the current production
    (core/evaluation/promotion_gate.py): passed, refused, or overridden with the promoter's reason."""

    kind: ClassVar[str] = "promotion_gate"
    checkpoint_id: str = ""
    model_kind: str = ""
    outcome: str = ""  # passed, refused, overridden
    regressions: list[str] = field(default_factory=list)
    override_reason: str | None = None
    questions: int = 0
    k: int = 0
    candidate: dict = field(default_factory=dict)  # principal -> {recall_at_k, citation_correct, answer_contains, leaks}
    production: dict = field(default_factory=dict)
    production_run: str | None = None  # the audit id of production's evaluation record
