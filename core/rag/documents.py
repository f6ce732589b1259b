"""The document registry: what is stored, its version, groups, classification and PII summary."""
from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from core.policy.actions import DOCUMENTS_READ
from core.errors import NotFound
from core.ledger import Ledger
from core.policy.engine import Principal
from core.stores.tables import DocumentRow
from core.audit.guard import require_audited
from core.rag.pii import Span
from core.rag.redaction import Redactor, redact_stored, redactor_for


def _as_dict(row: DocumentRow) -> dict[str, Any]:
    d = row.model_dump()
    for key in ("groups", "pii_summary", "meta"):
        d[key] = json.loads(d[key])
    return d


def list_documents(ledger: Ledger, principal: Principal, *, include_erased: bool = False) -> list[dict[str, Any]]:
    """Documents the principal may see (same rule as retrieval: a shared group and enough clearance)."""
    require_audited(ledger, principal, DOCUMENTS_READ.name, "documents")
    with ledger.engine.connect() as conn:
        rows = [DocumentRow.model_validate(dict(r)) for r in conn.execute(select(DocumentRow.__table__).order_by(DocumentRow.title)).mappings()]  # type: ignore[attr-defined]
    docs = [_as_dict(r) for r in rows if include_erased or r.status == "active"]
    visible = [d for d in docs if principal.can_see(d["groups"], d["classification"])]
    redactor = redactor_for(ledger, principal)
    for d in visible:
        d["title"] = redact_stored(redactor, d["title"], d.pop("title_spans"))
        d.pop("source_key", None)  # may hold a personal file name; an internal key only
        d.pop("meta", None)  # raw front matter (e.g. an unredacted title)
        d["owner"] = owner_as_seen(redactor, d["owner"])
    return visible


_TEAM_SLUG = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")


def owner_as_seen(redactor: Redactor, owner: str) -> str:
    """Front-matter `owner` is free text: a team slug ("hr-team", a login) is shown as it is; anything
    else may be a person's name or address, so it is redacted as one for the reader's profile (no
    analysis at list time, and no name shown to a role that must not see names)."""
    if _TEAM_SLUG.match(owner or ""):
        return owner
    entity = "EMAIL_ADDRESS" if "@" in owner else "PERSON"
    return redactor.redact(owner, [Span(entity, 0, len(owner), 1.0)])


def get_document(ledger: Ledger, doc_id: str) -> dict[str, Any]:
    """Internal lookup (no permission check): callers check access on the result."""
    with ledger.engine.connect() as conn:
        r = conn.execute(select(DocumentRow.__table__).where(DocumentRow.doc_id == doc_id)).mappings().first()  # type: ignore[attr-defined]
    if r is None:
        raise NotFound(f"no document {doc_id!r}", hint="list documents with `ragledger documents list`")
    return _as_dict(DocumentRow.model_validate(dict(r)))


NOT_VISIBLE = "(not visible to you)"


def titles_for(ledger: Ledger, principal: Principal, doc_ids: list[str]) -> dict[str, str]:
    """Titles as `principal` may read them: redacted for its profile, hidden outside its access."""
    if not doc_ids:
        return {}
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.doc_id, table.c.title, table.c.title_spans, table.c.groups, table.c.classification)
                            .where(table.c.doc_id.in_(doc_ids))).all()
    redactor = redactor_for(ledger, principal)
    return {
        r[0]: redactor.redact(r[1], [Span.from_dict(s) for s in json.loads(r[2] or "[]")])
        if principal.can_see(json.loads(r[3]), r[4]) else NOT_VISIBLE
        for r in rows
    }
