"""Typed audit events. Each carries its actor; `payload()` holds facts that are never personal
data (opaque ids, scores, hashes, counts), `sensitive()` holds redacted text that is sealed under
the keys named by `key_refs()`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from core.sealing import LEDGER_REF, key_ref_for_doc


@dataclass
class AuditEvent:
    kind: ClassVar[str] = "event"
    actor: str
    actor_role: str

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("actor", "actor_role", *self._sensitive_fields()):
            data.pop(name, None)
        return data

    def sensitive(self) -> dict[str, Any] | None:
        fields = self._sensitive_fields()
        return {f: getattr(self, f) for f in fields} if fields else None

    def key_refs(self) -> list[str]:
        return [LEDGER_REF]

    def _sensitive_fields(self) -> tuple[str, ...]:
        return ()


@dataclass
class AnswerServed(AuditEvent):
    kind: ClassVar[str] = "answer"
    question: str = ""  # PII-redacted
    answer: str = ""  # as shown to the asker (redacted)
    cited: list[dict] = field(default_factory=list)  # chunk_id, doc_id, score, content_hash, n
    withheld: list[dict] = field(default_factory=list)  # chunk_id, doc_id, score, content_hash
    redactions: dict[str, int] = field(default_factory=dict)
    guard_redactions: dict[str, int] = field(default_factory=dict)
    answerer: str = ""
    embedder: str = ""
    latency_ms: float = 0.0
    simulated_for: str | None = None  # set when a compliance officer used "see as"
    subject_docs: list[str] = field(default_factory=list)  # documents holding the people the question names
    # Abstention (core/abstention.py): whether the answer was "I don't know", why, and the scores and
    # thresholds behind the decision; the passages then offered as "see also" (shown, not cited).
    abstention: dict = field(default_factory=dict)
    see_also: list[dict] = field(default_factory=list)  # chunk_id, doc_id, score, content_hash, n

    def key_refs(self) -> list[str]:
        # Sealed under the cited and see-also documents (both were shown) and those holding the people
        # the question names, so erasing that person (destroying those keys) makes the question unreadable too.
        docs = sorted({c["doc_id"] for c in self.cited + self.see_also} | set(self.subject_docs))
        return [key_ref_for_doc(d) for d in docs] or [LEDGER_REF]

    def _sensitive_fields(self) -> tuple[str, ...]:
        return ("question", "answer")


@dataclass
class Denied(AuditEvent):
    kind: ClassVar[str] = "denial"
    action: str = ""
    target: str = ""  # an opaque id or page name, never personal data
    reason: str = ""


@dataclass
class DocumentIngested(AuditEvent):
    kind: ClassVar[str] = "ingest"
    doc_id: str = ""
    version: int = 1
    chunks: int = 0
    content_sha256: str = ""
    classification: str = ""
    groups: list[str] = field(default_factory=list)
    pii: dict[str, int] = field(default_factory=dict)
    replaced_chunks: int = 0

    def key_refs(self) -> list[str]:
        return [key_ref_for_doc(self.doc_id)]


@dataclass
class SignIn(AuditEvent):
    kind: ClassVar[str] = "sign_in"
    method: str = "local"
    ok: bool = True


@dataclass
class DocumentRelabelled(AuditEvent):
    """A change of groups or classification: its own audited action, never folded into a re-ingest."""

    kind: ClassVar[str] = "relabel"
    doc_id: str = ""
    old_groups: list[str] = field(default_factory=list)
    new_groups: list[str] = field(default_factory=list)
    old_classification: str = ""
    new_classification: str = ""
    chunks: int = 0
