"""Re-analysis: run Presidio again over the stored originals when recognizers, the analysed entity
types or the redaction policy change, so that retrieval-time redaction (which applies spans stored at
ingestion) stays correct.

Originals live under RAGLEDGER_HOME/uploads/<doc_id>/v<version>.<ext> (registry `source_file`). Each
chunk keeps its id, text and offsets; only pii_spans, pii_types and title_spans change (one
merge_insert keyed on chunk_id), then the registry's pii_summary and title_spans.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.rag import pii
from core.policy.actions import POLICY_EDIT
from core.rag.chunk_store import id_predicate
from core.workbench.compliance_events import Reanalysed
from core.rag.extract import extract
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.locks import store_lock
from core.policy.engine import Principal
from core.rag.redaction import spans_in_window
from core.stores.tables import DocumentRow

# Re-analysis rewrites what every role sees: it needs the same right as saving a policy (policy.edit).
POLICY_ADMIN = POLICY_EDIT.name
Progress = Callable[[str, int, int], None]


@dataclass
class ReanalysisResult:
    documents: int = 0
    chunks: int = 0
    changed_chunks: int = 0
    skipped: list[str] = field(default_factory=list)
    pii_before: dict[str, int] = field(default_factory=dict)
    pii_after: dict[str, int] = field(default_factory=dict)
    audit_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reanalyze(ledger: Ledger, principal: Principal, *, progress: Progress | None = None, reason: str = "manual",
              doc_ids: list[str] | None = None) -> ReanalysisResult:
    require_audited(ledger, principal, POLICY_ADMIN, "reanalyze")
    entities = ledger.policy.files.analyzed_entities
    recognizers = ledger.recognizers
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        q = select(table.c.doc_id, table.c.title, table.c.source_file, table.c.pii_summary).where(table.c.status == "active")
        if doc_ids:
            q = q.where(table.c.doc_id.in_(doc_ids))
        docs = [dict(r) for r in conn.execute(q.order_by(table.c.doc_id)).mappings()]
    result = ReanalysisResult()
    before, after = Counter(), Counter()
    updates: list[dict[str, Any]] = []
    registry: list[dict[str, Any]] = []
    store = ledger.store
    store.refresh()
    for i, doc in enumerate(docs):
        if progress:
            progress(doc["doc_id"], i, len(docs))
        before.update(json.loads(doc["pii_summary"] or "{}"))
        text = _original_text(doc["source_file"])
        chunks = store.rows_where(id_predicate("doc_id", [doc["doc_id"]]), ["chunk_id", "start", "end", "text", "pii_spans", "title_spans"])
        if text is None or not chunks or any(text[c["start"]:c["end"]] != c["text"] for c in chunks):
            # Original missing or not the text that was chunked: keep the old spans rather than guess.
            result.skipped.append(doc["doc_id"])
            after.update(json.loads(doc["pii_summary"] or "{}"))
            continue
        spans = pii.analyze(text, entities, recognizers)
        title_spans = json.dumps([s.as_dict() for s in pii.analyze(doc["title"], entities, recognizers)])
        for c in chunks:
            chunk_spans = spans_in_window(spans, c["start"], c["end"])
            new = json.dumps([s.as_dict() for s in chunk_spans])
            if new != c["pii_spans"] or title_spans != c["title_spans"]:
                result.changed_chunks += 1
            updates.append({"chunk_id": c["chunk_id"], "pii_spans": new, "pii_types": sorted({s.entity_type for s in chunk_spans}),
                            "title_spans": title_spans})
        summary = dict(Counter(s.entity_type for s in spans))
        after.update(summary)
        registry.append({"doc_id": doc["doc_id"], "pii_summary": json.dumps(summary, sort_keys=True), "title_spans": title_spans})
        result.documents += 1
        result.chunks += len(chunks)
    if updates:
        with store_lock(ledger, exclusive=False):
            store.update_fields(updates)  # an encrypted store re-seals the rows (core/rag/chunk_store.py)
    with ledger.engine.begin() as conn:
        for r in registry:
            conn.execute(table.update().where(table.c.doc_id == r["doc_id"]).values(
                pii_summary=r["pii_summary"], title_spans=r["title_spans"]))
    result.pii_before, result.pii_after = dict(before), dict(after)
    if progress:
        progress("done", len(docs), len(docs))
    result.audit_id = ledger.audit.append(Reanalysed(
        actor=principal.name, actor_role=principal.role, documents=result.documents, chunks=result.chunks,
        changed_chunks=result.changed_chunks, skipped=result.skipped, pii_before=result.pii_before,
        pii_after=result.pii_after, reason=reason[:200]))
    return result


def _original_text(source_file: str | None) -> str | None:
    if not source_file:
        return None
    path = Path(source_file)
    if not path.is_file():
        return None
    return extract(path.name, path.read_bytes()).text
