"""Right-to-be-forgotten requests: record, find what they touch, preview.

A request names a document (by id) or a data subject (an e-mail, a name or an id). A subject is
found through the PII spans stored at ingestion and a full scan of the chunk texts (exact,
case-insensitive), plus the full-text index; never through ranking, which could miss a mention.
Execution and proof live in core/purge.py and core/erasure_proof.py.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from core.actions import PURGE
from core.chunk_store import id_predicate, spans_of
from core.erasure_tables import ErasureRequest
from core.errors import NotFound, RagLedgerError
from core.guard import require_audited
from core.ledger import Ledger
from core.policy import Principal
from core.sealing import ensure_keys, load_keys, seal, unseal

DEADLINE_DAYS = 30  # GDPR Art. 12(3): one month
STATUSES = ("received", "previewed", "executed", "certified")


class AlreadyErased(RagLedgerError):
    """The target was erased by an earlier request: nothing to do, and we say so."""


def request_key_ref(request_id: str) -> str:
    return f"req:{request_id}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Targets:
    """What a request touches, by opaque id only."""

    doc_ids: list[str] = field(default_factory=list)  # documents erased whole
    chunk_ids: list[str] = field(default_factory=list)  # every chunk to delete (of whole documents too)
    partial_doc_ids: list[str] = field(default_factory=list)  # documents that lose only some chunks
    audit_records: int = 0
    checkpoints: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def create_request(ledger: Ledger, principal: Principal, *, doc_id: str | None = None, subject: str | None = None,
                   requested_by: str, reason: str = "", scope: str = "documents") -> dict[str, Any]:
    require_audited(ledger, principal, PURGE.name, "erasure.create")
    if bool(doc_id) == bool(subject):
        raise RagLedgerError("name exactly one target", hint="use --doc DOC_ID or --subject TEXT")
    if scope not in ("documents", "chunks"):
        raise RagLedgerError(f"unknown scope {scope!r}", hint="use 'documents' or 'chunks'")
    if not requested_by.strip():
        raise RagLedgerError("who requested the erasure is required", hint="pass --requested-by NAME")
    if subject is not None and len(subject.strip()) < 3:
        raise RagLedgerError("the subject is too short to search for safely", hint="give a full e-mail, name or id")
    if subject is not None and (subject.strip().lower() in requested_by.lower() or subject.strip().lower() in reason.lower()):
        # The request register and the certificate are kept; they must not hold what is being erased.
        raise RagLedgerError("--requested-by and --reason must not contain the subject's identifier",
                             hint="name the requester by a case or ticket reference, e.g. 'DSR-2026-014 (data subject)'")
    if doc_id is not None:
        _check_document(ledger, doc_id)
    request_id = f"era_{uuid.uuid4().hex[:16]}"
    received = datetime.now(timezone.utc)
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        sealed = None
        if subject is not None:
            ref = request_key_ref(request_id)
            sealed = seal({"subject": subject.strip()}, [ref], ensure_keys(conn, [ref]))
        conn.execute(table.insert().values(
            request_id=request_id, kind="document" if doc_id else "subject", scope=scope if subject else "documents",
            doc_id=doc_id, subject_sealed=sealed,
            requested_by=requested_by.strip(), recorded_by=principal.name, reason=reason, status="received",
            received_at=received.isoformat(timespec="seconds"),
            due_at=(received + timedelta(days=DEADLINE_DAYS)).isoformat(timespec="seconds"),
        ))
    return get_request(ledger, request_id)


def _check_document(ledger: Ledger, doc_id: str) -> None:
    from core.documents import get_document

    doc = get_document(ledger, doc_id)
    if doc["status"] != "active":
        raise AlreadyErased(f"document {doc_id} was already erased", hint="nothing to do; see its erasure certificate")


def get_request(ledger: Ledger, request_id: str) -> dict[str, Any]:
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.request_id == request_id)).mappings().first()
    if row is None:
        raise NotFound(f"no erasure request {request_id!r}", hint="list them with `ragledger purge --list`")
    out = dict(row)
    out.pop("subject_sealed", None)
    out["overdue"] = out["status"] != "certified" and out["due_at"] < now()
    for key in ("preview_json", "certificate_json"):
        out[key] = json.loads(out[key]) if out[key] else None
    return out


def list_requests(ledger: Ledger, principal: Principal) -> list[dict[str, Any]]:
    require_audited(ledger, principal, PURGE.name, "erasure.list")
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(table.c.request_id).order_by(table.c.id.desc()))]
    return [get_request(ledger, i) for i in ids]


def certificate(ledger: Ledger, principal: Principal, request_id: str) -> dict[str, Any] | None:
    require_audited(ledger, principal, PURGE.name, f"erasure.certificate:{request_id}")
    return get_request(ledger, request_id)["certificate_json"]


def subject_of(ledger: Ledger, request_id: str) -> str | None:
    """The subject's identifier, while the request key exists (None after certification)."""
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    ref = request_key_ref(request_id)
    with ledger.engine.connect() as conn:
        sealed = conn.execute(select(table.c.subject_sealed).where(table.c.request_id == request_id)).scalar()
        keys = load_keys(conn, [ref])
    if not sealed:
        return None
    data = unseal(sealed, [ref], keys)
    return data["subject"] if data else None


def find_targets(ledger: Ledger, request: dict[str, Any], subject: str | None) -> Targets:
    store = ledger.store
    store.refresh()
    if request["kind"] == "document":
        docs = [request["doc_id"]]
        chunk_ids = [r["chunk_id"] for r in _all_rows(ledger, id_predicate("doc_id", [request["doc_id"]]))]
        return _with_downstream(ledger, Targets(doc_ids=docs, chunk_ids=chunk_ids))
    assert subject is not None
    needle = subject.strip().lower()
    hits: dict[str, list[str]] = {}
    for row in _all_rows(ledger, None):
        text = row["text"].lower()
        values = {row["text"][s["start"]:s["end"]].lower() for s in spans_of(row)}
        if needle in text or needle in values or needle in row["title"].lower():
            hits.setdefault(row["doc_id"], []).append(row["chunk_id"])
    for doc_id, chunk_id in _fts_hits(ledger, subject):
        if chunk_id not in hits.get(doc_id, []):
            hits.setdefault(doc_id, []).append(chunk_id)
    if request["scope"] == "documents" or not hits:
        docs = sorted(hits)
        chunk_ids = [r["chunk_id"] for d in docs for r in _all_rows(ledger, id_predicate("doc_id", [d]))]
        return _with_downstream(ledger, Targets(doc_ids=docs, chunk_ids=chunk_ids))
    whole = [d for d, ids in hits.items() if _title_mentions(ledger, d, needle)]  # a name in the title: every chunk carries it
    chunk_ids = [c for d, ids in hits.items() if d not in whole for c in ids]
    chunk_ids += [r["chunk_id"] for d in whole for r in _all_rows(ledger, id_predicate("doc_id", [d]))]
    partial = sorted(d for d in hits if d not in whole)
    return _with_downstream(ledger, Targets(doc_ids=sorted(whole), chunk_ids=chunk_ids, partial_doc_ids=partial))


def _all_rows(ledger: Ledger, where: str | None) -> list[dict[str, Any]]:
    cols = ["chunk_id", "doc_id", "text", "title", "pii_spans"]
    table = ledger.store.table
    q = table.search().select(cols).limit(None)
    if where:
        q = q.where(where)
    return q.to_list()


def _fts_hits(ledger: Ledger, subject: str) -> list[tuple[str, str]]:
    from core.chunk_store import _fts_terms

    terms = _fts_terms(subject)
    if not terms:
        return []
    try:
        rows = ledger.store.table.search(f'"{terms}"', query_type="fts").select(["chunk_id", "doc_id", "text", "_score"]).limit(1000).to_list()
    except Exception:  # no full-text index yet: the exhaustive scan above already covered every row
        return []
    words = terms.lower().split()
    return [(r["doc_id"], r["chunk_id"]) for r in rows if all(w in r["text"].lower() for w in words)]


def _title_mentions(ledger: Ledger, doc_id: str, needle: str) -> bool:
    rows = ledger.store.table.search().where(id_predicate("doc_id", [doc_id])).select(["title"]).limit(1).to_list()
    return bool(rows) and needle in rows[0]["title"].lower()


def _with_downstream(ledger: Ledger, targets: Targets) -> Targets:
    from sqlalchemy import func

    from core.tables import AuditRecord

    docs = sorted(set(targets.doc_ids) | set(targets.partial_doc_ids))
    if docs:
        with ledger.engine.connect() as conn:
            like = [AuditRecord.key_refs.contains(f'"doc:{d}"') for d in docs]  # type: ignore[attr-defined]
            from sqlalchemy import or_

            targets.audit_records = conn.execute(select(func.count()).select_from(AuditRecord).where(or_(*like))).scalar() or 0
        targets.checkpoints = checkpoints_trained_on(ledger, docs)
    return targets


def checkpoints_trained_on(ledger: Ledger, doc_ids: list[str]) -> list[str]:
    """Checkpoints downstream of these documents in the model registry (none if it holds nothing)."""
    try:
        from core.lineage import document_lineage
    except ImportError:  # a deployment without the model registry
        return []
    ops = Principal("erasure", "Erasure", "compliance_officer", (), "public", frozenset({"models.read"}), "compliance")
    found: set[str] = set()
    for d in doc_ids:
        try:
            found |= {c["checkpoint_id"] for c in document_lineage(ledger, ops, d)["checkpoints"]}
        except NotFound:
            continue
    return sorted(found)


def preview(ledger: Ledger, principal: Principal, request_id: str) -> dict[str, Any]:
    """Everything the request will touch, recorded on the request; nothing is changed."""
    require_audited(ledger, principal, PURGE.name, f"erasure.preview:{request_id}")
    request = get_request(ledger, request_id)
    if request["status"] in ("executed", "certified"):
        raise AlreadyErased(f"request {request_id} was already executed", hint="download its certificate instead")
    targets = find_targets(ledger, request, subject_of(ledger, request_id))
    summary = {**targets.as_dict(), "documents": len(targets.doc_ids), "chunks": len(targets.chunk_ids),
               "uploaded_files": sum(1 for d in targets.doc_ids if (ledger.settings.uploads_dir / d).exists()),
               "cached_results": 0}
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.update().where(table.c.request_id == request_id).values(
            status="previewed", previewed_at=now(), preview_json=json.dumps(summary)))
    return summary
