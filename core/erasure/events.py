"""Audit events of the erasure lifecycle: they name the request and counts, never the subject."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.audit.events import AuditEvent


@dataclass
class ErasureStep(AuditEvent):
    kind = "purge"  # type: ignore[assignment]
    request_id: str = ""
    stage: str = ""  # recorded | confirmed | started | certified | verification_failed | cancelled | closed
    counts: dict = field(default_factory=dict)
    reason: str = ""  # why a request was cancelled or closed (checked not to name the subject)
    certificate_sha256: str | None = None
