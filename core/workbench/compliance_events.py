"""Audit events of the compliance workbench (policy changes, re-analysis, retention, legal hold,
exports). Payloads hold opaque ids, hashes and counts only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.audit.events import AuditEvent, AuditSearched


@dataclass
class PolicyChanged(AuditEvent):
    kind: ClassVar[str] = "policy_change"
    filename: str = ""
    before_sha256: str = ""
    after_sha256: str = ""
    version_before: str = ""
    version_after: str = ""
    summary: dict = field(default_factory=dict)  # counts of gained/lost permissions and documents per role


@dataclass
class Reanalysed(AuditEvent):
    kind: ClassVar[str] = "reanalysis"
    documents: int = 0
    chunks: int = 0
    changed_chunks: int = 0
    skipped: list[str] = field(default_factory=list)  # doc ids whose original is missing or differs
    pii_before: dict = field(default_factory=dict)
    pii_after: dict = field(default_factory=dict)
    reason: str = ""


@dataclass
class RetentionRun(AuditEvent):
    kind: ClassVar[str] = "retention"
    dry_run: bool = False
    suspended_by_hold: bool = False
    audit_records_removed: int = 0
    removed_through_seq: int = 0
    anchor_hash: str = ""
    documents_expired: list[str] = field(default_factory=list)
    periods: dict = field(default_factory=dict)


@dataclass
class LegalHoldChanged(AuditEvent):
    kind: ClassVar[str] = "legal_hold"
    active: bool = True
    hold_id: int = 0

    reason: str = ""  # sealed: a reason may name a matter or a person

    def _sensitive_fields(self) -> tuple[str, ...]:
        return ("reason",)


@dataclass
class AuditExported(AuditEvent):
    kind: ClassVar[str] = "audit_export"
    format: str = ""
    records: int = 0
    head_hash: str = ""
    sha256: str = ""
    filters: dict = field(default_factory=dict)  # kinds, actor, dates; `about` is only flagged here
    about: str = ""  # sealed under the subject's key, like a search (core/events.AuditSearched)

    def bind(self, conn: Any) -> None:
        if self.about:
            AuditSearched.bind(self, conn)  # type: ignore[arg-type]

    def key_refs(self) -> list[str]:
        return AuditSearched.key_refs(self)  # type: ignore[arg-type]

    def _sensitive_fields(self) -> tuple[str, ...]:
        return ("about",)
