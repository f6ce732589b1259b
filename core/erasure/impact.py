"""What an erasure will touch, measured one way for the preview, the purge and the certificate.

The preview once counted upload folders of whole documents only (0 for a chunk-scope request whose
two partly erased documents each kept an original) while the purge removed every file of whole and
partial documents; it said "2 partially erased documents" where the certificate said "1 key
destroyed" because keys exist only for documents some audit record was sealed under. Now
`measure` is the one count: the preview shows it, the plan step stores it in the journal, the
purge steps count with the same helpers (`upload_files`, `live_key_count`) and the certificate
shows the plan beside what the steps did. Audit records count only when they hold sealed text
(an ingestion record names the document's key but seals nothing; it was counted as "made unreadable").
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from core.rag.chunk_store import id_predicate, spans_of
from core.erasure.targets import Match, Targets
from core.ledger import Ledger
from core.rag.pii import Span
from core.policy.engine import Principal
from core.rag.redaction import redact_stored, redactor_for
from core.audit.sealing import key_ref_for_doc, load_keys
from core.stores.tables import AuditRecord, DocumentRow

PASSAGE_CHARS = 240  # of each chunk to be removed, shown to the officer (never stored)
PASSAGES_PER_DOCUMENT = 12
AUDIT_IDS_SHOWN = 50
SUBJECT_IN_TITLE = "[title names the subject]"
TITLE_ERASED = "[title erased with the document]"


def affected(targets: Targets) -> list[str]:
    return targets.doc_ids + targets.partial_doc_ids


def upload_files(ledger: Ledger, doc_ids: list[str]) -> list[Path]:
    """Every kept original of these documents (core/rag/ingest.py keeps them under uploads/<doc_id>/)."""
    out: list[Path] = []
    for d in doc_ids:
        folder = ledger.settings.uploads_dir / d
        if folder.is_dir():
            out += sorted(p for p in folder.iterdir())
    return out


def live_key_count(ledger: Ledger, doc_ids: list[str]) -> int:
    """Live key generations of these documents: what `destroy_keys` will shred. A document no audit
    record was ever sealed under has no key, so this can be fewer than the documents."""
    with ledger.engine.connect() as conn:
        return sum(len(gens) for gens in load_keys(conn, [key_ref_for_doc(d) for d in doc_ids]).values())


def measure(ledger: Ledger, targets: Targets) -> dict[str, Any]:
    """The counts every view of an erasure shows (opaque ids and numbers only: safe to store)."""
    from core.models.registry import get_checkpoint

    docs = affected(targets)
    checkpoints = [{"checkpoint_id": c, "stage": get_checkpoint(ledger, c).stage} for c in targets.checkpoints]
    return {
        "documents_erased": len(targets.doc_ids), "documents_partially_erased": len(targets.partial_doc_ids),
        "chunks_deleted": len(targets.chunk_ids), "registry_fields_erased": sum(len(f) for f in targets.scrub.values()),
        "uploaded_files": len(upload_files(ledger, docs)), "keys_destroyed": live_key_count(ledger, docs),
        "audit_records_unreadable": targets.audit_records,
        "checkpoints": checkpoints,
        "checkpoints_to_flag": [c["checkpoint_id"] for c in checkpoints if c["stage"] != "flagged"],
    }


def performed(stats: dict[str, Any]) -> dict[str, Any]:
    """The same counts, as the purge's steps reported them (journal stats), for the certificate."""
    return {
        "documents_erased": stats["registry"]["documents_erased"],
        "documents_partially_erased": stats["registry"]["documents_partially_erased"],
        "chunks_deleted": stats["lance"]["chunks_deleted"],
        "registry_fields_erased": stats["registry"].get("registry_fields_erased", 0),
        "uploaded_files": stats["uploads"]["files_removed"], "keys_destroyed": stats["keys"]["keys_destroyed"],
        "audit_records_unreadable": stats["keys"]["audit_records_unreadable"],
        "checkpoints_to_flag": stats["models"]["checkpoints_flagged"],
    }


def describe(impact: dict[str, Any]) -> str:
    """One sentence, the same on the preview and in the certificate."""
    to_flag = impact.get("checkpoints_to_flag") or []
    already = [c["checkpoint_id"] for c in impact.get("checkpoints", []) if c["stage"] == "flagged"]
    flagged = ", ".join(to_flag) or "none"
    if already:
        flagged += f" (already flagged: {', '.join(already)})"
    return (f"{impact['documents_erased']} document(s) erased whole, {impact['documents_partially_erased']} partially; "
            f"{impact['chunks_deleted']} chunk(s) deleted; {impact['registry_fields_erased']} registry field(s) erased; "
            f"{impact['uploaded_files']} uploaded file(s) removed; {impact['keys_destroyed']} document key(s) destroyed, "
            f"making {impact['audit_records_unreadable']} audit record(s) unreadable; checkpoints flagged for retraining: {flagged}")


def audit_record_ids(ledger: Ledger, targets: Targets, limit: int = AUDIT_IDS_SHOWN) -> list[dict[str, str]]:
    """The audit records whose text the erasure makes unreadable (ids, kinds and times only)."""
    docs = affected(targets)
    if not docs:
        return []
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    like = [table.c.key_refs.contains(f'"doc:{d}"') for d in docs]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.record_id, table.c.kind, table.c.at).where(or_(*like), table.c.sealed.is_not(None))
                            .order_by(table.c.seq).limit(limit)).all()
    return [{"record_id": r[0], "kind": r[1], "at": r[2]} for r in rows]


def documents(ledger: Ledger, officer: Principal, targets: Targets, matches: list[Match]) -> list[dict[str, Any]]:
    """Each affected document as the officer may see it: title (redacted for their profile), groups,
    chunks to delete of how many, registry fields to erase, and the passages to be removed."""
    docs = affected(targets)
    if not docs:
        return []
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = {r["doc_id"]: r for r in conn.execute(select(table.c.doc_id, table.c.title, table.c.title_spans, table.c.groups,
                                                             table.c.classification, table.c.chunk_count).where(table.c.doc_id.in_(docs))).mappings()}
    redactor = redactor_for(ledger, officer)
    erased = set(targets.chunk_ids)
    chunks: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(targets.chunk_ids), 500):
        for r in ledger.store.rows_where(id_predicate("chunk_id", targets.chunk_ids[i:i + 500]), ["chunk_id", "doc_id", "ord", "text", "pii_spans"]):
            chunks.setdefault(r["doc_id"], []).append(r)
    titled = {m.doc_id for m in matches if m.field == "title"}
    out = []
    for d in docs:
        row = rows.get(d)
        if row is None:
            continue
        mine = sorted(chunks.get(d, []), key=lambda r: r["ord"])
        shown = []
        for r in mine[:PASSAGES_PER_DOCUMENT]:
            text, spans = r["text"][:PASSAGE_CHARS], [Span.from_dict(s) for s in spans_of(r) if s["end"] <= PASSAGE_CHARS]
            shown.append({"where": f"chunk {r['ord'] + 1}",
                          "passage": redactor.redact(text, spans).replace("\n", " ⏎ ") + ("…" if len(r["text"]) > PASSAGE_CHARS else "")})
        out.append({
            "doc_id": d, "title": redact_stored(redactor, row["title"], row["title_spans"]),
            "title_names_subject": d in titled,
            "groups": json.loads(row["groups"] or "[]"), "classification": row["classification"],
            "erased": "whole" if d in targets.doc_ids else "partly",
            "chunks_deleted": sum(1 for r in mine if r["chunk_id"] in erased), "chunks_total": row["chunk_count"],
            "registry_fields": targets.scrub.get(d, []), "passages": shown,
            "passages_not_shown": max(0, len(mine) - PASSAGES_PER_DOCUMENT),
        })
    return out


def for_certificate(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The document list a certificate keeps: no passages, and only titles that stay in the registry.
    The certificate is kept after the erasure, so it must not hold what was erased: a title that names
    the subject, or the title of a document erased whole (its title is erased with it), is replaced
    by a placeholder; the document id still ties each entry to the preview."""
    out = []
    for d in docs:
        kept = {k: v for k, v in d.items() if k not in ("passages", "passages_not_shown", "title_names_subject")}
        if d["title_names_subject"]:
            kept["title"] = SUBJECT_IN_TITLE
        elif d["erased"] == "whole":
            kept["title"] = TITLE_ERASED
        out.append(kept)
    return out
