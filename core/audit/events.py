"""Typed audit events. Each carries its actor; `payload()` holds facts that are never personal
data (opaque ids, scores, hashes, counts), `sensitive()` holds redacted text that is sealed under
the keys named by `key_refs()`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from core.audit.sealing import LEDGER_REF, key_ref_for_doc


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

    def bind(self, conn: Any) -> None:
        """Resolve, inside the append's transaction and write lock, what the key refs depend on."""

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
    # Sealed: the identifiers the question named ({"type", "as_written", "keys"}), core/audit/asked_about.py.
    asked_about: list[dict] = field(default_factory=list)
    # Abstention (core/answering/abstention.py): whether the answer was "I don't know", why, and the scores and
    # thresholds behind the decision; the passages then offered as "see also" (shown, not cited).
    abstention: dict = field(default_factory=dict)
    see_also: list[dict] = field(default_factory=list)  # chunk_id, doc_id, score, content_hash, n
    # Routing (core/answering/router.py): the route that answered, the retrieval scores that decided, and why
    # each other route was refused (numbers and reasons only, never question terms).
    route: dict = field(default_factory=dict)

    def bind(self, conn: Any) -> None:
        from core.audit.asked_about import subject_ids

        self._subject_ids = subject_ids(conn, [k for s in self.asked_about for k in s["keys"]], create=True)

    def key_refs(self) -> list[str]:
        # Sealed under the cited and see-also documents (both were shown), those holding the people the
        # question names, and one key per person named (who may have no document): erasing that person
        # destroys those keys and makes the stored question unreadable too.
        from core.audit.asked_about import key_ref

        docs = sorted({c["doc_id"] for c in self.cited + self.see_also} | set(self.subject_docs))
        subjects = [key_ref(i) for i in getattr(self, "_subject_ids", [])]
        return [key_ref_for_doc(d) for d in docs] + subjects or [LEDGER_REF]

    def _sensitive_fields(self) -> tuple[str, ...]:
        # A question naming nobody seals exactly what it did before subjects were kept.
        return ("question", "answer", "asked_about") if self.asked_about else ("question", "answer")

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        data.pop("asked_about", None)  # never in clear, even when empty
        return data


@dataclass
class AuditSearched(AuditEvent):
    """A search of the trail for the questions about a data subject. The name is sealed under that
    subject's key, so the search is on record and a purge of the subject erases what was searched."""

    kind: ClassVar[str] = "audit_search"
    filters: dict[str, Any] = field(default_factory=dict)  # the other filters (kinds, actor, dates), never the name
    results: int = 0
    about: str = ""  # sealed

    def bind(self, conn: Any) -> None:
        from core.audit.asked_about import keys_for, subject_ids

        self._subject_ids = subject_ids(conn, keys_for(self.about), create=True)

    def key_refs(self) -> list[str]:
        from core.audit.asked_about import key_ref

        return [key_ref(i) for i in getattr(self, "_subject_ids", [])] or [LEDGER_REF]

    def _sensitive_fields(self) -> tuple[str, ...]:
        return ("about",)


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
