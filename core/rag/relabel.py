"""Relabelling a document (groups, classification): a separate, audited action.

Why separate: folded into a re-ingest, a principal who could read a document could refile it into
groups it never belonged to (bob turning an [hr, finance] confidential file into [all-staff]
internal). Here the principal needs `documents.ingest` and must be able to write both the current
and the new label set; the chunks in LanceDB (whose labels are the access prefilter) and the
registry change together, and the change is an audit record.
"""
from __future__ import annotations

import json
from typing import Any

from core.policy.actions import DOCUMENTS_INGEST
from core.rag.chunk_store import id_predicate
from core.rag.documents import get_document
from core.errors import AccessDenied, IngestError, NotFound
from core.audit.events import Denied, DocumentRelabelled
from core.audit.guard import require_audited
from core.rag.ingest import may_write
from core.ledger import Ledger
from core.locks import store_lock
from core.policy.engine import Principal
from core.policy.models import CLASSIFICATION_LEVELS, class_rank
from core.stores.tables import DocumentRow, utcnow


def relabel(ledger: Ledger, principal: Principal, doc_id: str, *, groups: list[str] | None = None,
            classification: str | None = None) -> dict[str, Any]:
    """Change a document's groups and/or classification; returns the old and new labels."""
    require_audited(ledger, principal, DOCUMENTS_INGEST.name, f"relabel:{doc_id}")
    if not groups and not classification:
        raise IngestError("nothing to change", hint="pass --groups a,b and/or --classification LEVEL")
    try:
        doc = get_document(ledger, doc_id)
    except NotFound:
        doc = None
    if doc is None or doc["status"] != "active" or not principal.can_see(doc["groups"], doc["classification"]):
        # The same answer for unknown and unreadable ids: existence is not disclosed.
        raise NotFound(f"no document {doc_id!r} that you may read", hint="list documents with `ragledger documents list`")
    new_groups = list(groups) if groups else list(doc["groups"])
    new_level = classification or doc["classification"]
    unknown = [g for g in new_groups if g not in ledger.policy.groups]
    if unknown:
        raise IngestError(f"unknown group(s) {', '.join(unknown)}", hint=f"known groups: {', '.join(ledger.policy.groups)}")
    if new_level not in CLASSIFICATION_LEVELS:
        raise IngestError(f"unknown classification {new_level!r}", hint=f"one of {', '.join(CLASSIFICATION_LEVELS)}")
    for label, (g, lvl) in (("current", (doc["groups"], doc["classification"])), ("new", (new_groups, new_level))):
        if not may_write(principal, g, lvl):
            ledger.audit.append(Denied(actor=principal.name, actor_role=principal.role, action=DOCUMENTS_INGEST.name,
                                       target=doc_id, reason=f"relabel: may not write the {label} labels"))
            raise AccessDenied(f"{principal.name} may not relabel {doc_id}: the {label} labels [{', '.join(g)}] {lvl} are outside your groups or clearance",
                               hint="relabelling needs documents.ingest on both the current and the new groups and level")
    where = id_predicate("doc_id", [doc_id])
    old = {"groups": doc["groups"], "classification": doc["classification"]}
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with store_lock(ledger, exclusive=False):
        chunks = ledger.store.count(where)
        ledger.store.table.update(where=where, values={"groups": new_groups, "classification": new_level, "class_rank": class_rank(new_level)})
        try:
            with ledger.engine.begin() as conn:
                conn.execute(table.update().where(table.c.doc_id == doc_id).values(
                    groups=json.dumps(new_groups), classification=new_level, updated_at=utcnow()))
        except Exception:
            # The chunks' labels are the access prefilter: put them back before reporting the failure.
            ledger.store.table.update(where=where, values={"groups": old["groups"], "classification": old["classification"],
                                                           "class_rank": class_rank(old["classification"])})
            raise
    ledger.audit.append(DocumentRelabelled(actor=principal.name, actor_role=principal.role, doc_id=doc_id, old_groups=old["groups"],
                                           new_groups=new_groups, old_classification=old["classification"],
                                           new_classification=new_level, chunks=chunks))
    return {"doc_id": doc_id, "old": old, "new": {"groups": new_groups, "classification": new_level}, "chunks": chunks}
