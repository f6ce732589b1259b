"""Retention: remove audit records and documents whose period (policies/policy.yaml `retention`)
has passed, audit what was removed, and do nothing while a legal hold is active.

The audit chain can only lose a prefix without breaking: the job removes the longest run of oldest
records that are all expired under their kind's period, and stores the hash of the last removed
record as the chain's anchor (`audit_anchor`), from which `AuditLog.verify` starts. The newest record
is never removed, so the next append still links to a record that exists.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, not_, or_, select, true

from core.policy.actions import PURGE
from core.rag.chunk_store import id_predicate
from core.workbench.compliance_events import LegalHoldChanged, RetentionRun
from core.stores.compliance_tables import AuditAnchor, AuditFact, LegalHold
from core.db import write_lock
from core.errors import RagLedgerError
from core.audit.guard import require_audited
from core.rag.ingest import remove_uploads
from core.ledger import Ledger
from core.locks import store_lock
from core.policy.engine import Principal
from core.stores.tables import AuditRecord, DocumentRow
from core.audit.tree_store import LEAVES, TREE

A = AuditRecord.__table__  # type: ignore[attr-defined]


@dataclass
class RetentionResult:
    dry_run: bool
    suspended_by_hold: bool = False
    hold_reasons: list[str] = field(default_factory=list)
    audit_records_removed: int = 0
    removed_through_seq: int = 0
    anchor_hash: str = ""
    documents_expired: list[str] = field(default_factory=list)
    periods: dict[str, Any] = field(default_factory=dict)
    audit_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")


def active_holds(ledger: Ledger) -> list[dict[str, Any]]:
    """Runtime holds from the database, plus a standing hold declared in policy."""
    with ledger.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(LegalHold.__table__).where(LegalHold.active == True)).mappings()]  # type: ignore[attr-defined]  # noqa: E712
    if ledger.policy.files.retention.legal_hold:
        rows.append({"id": 0, "reason": ledger.policy.files.retention.legal_hold_reason or "declared in policy.yaml",
                     "set_by": "policy", "set_at": "", "active": True})
    return rows


def set_hold(ledger: Ledger, principal: Principal, active: bool, reason: str) -> dict[str, Any]:
    """Place (active=True) or release every runtime legal hold; both are audited."""
    require_audited(ledger, principal, PURGE.name, "retention.hold")
    if active and not reason.strip():
        raise RagLedgerError("a legal hold needs a reason", hint='pass --reason "litigation ..."')
    now = _iso(datetime.now(timezone.utc))
    table = LegalHold.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        if active:
            hold_id = conn.execute(table.insert().values(active=True, reason=reason.strip(), set_by=principal.name, set_at=now)).inserted_primary_key[0]
        else:
            hold_id = 0
            conn.execute(table.update().where(table.c.active == True).values(active=False, released_by=principal.name, released_at=now))  # noqa: E712
    ledger.audit.append(LegalHoldChanged(actor=principal.name, actor_role=principal.role, active=active, hold_id=int(hold_id), reason=reason.strip()))
    return {"active": active, "holds": active_holds(ledger)}


def _periods(ledger: Ledger) -> dict[str, Any]:
    r = ledger.policy.files.retention
    return {"audit_records_days": r.audit_records_days, "audit_kinds": dict(r.audit_kinds), "documents_days": r.documents_days}


def plan(ledger: Ledger, now: datetime) -> tuple[int, int, str, list[str]]:
    """(records to remove, last seq removed, its hash, expired doc ids) at time `now`."""
    r = ledger.policy.files.retention
    default_cutoff = _iso(now - timedelta(days=r.audit_records_days))
    kept = [and_(A.c.kind == kind, A.c.at >= _iso(now - timedelta(days=days))) for kind, days in r.audit_kinds.items()]
    kept.append(and_(not_(A.c.kind.in_(list(r.audit_kinds))) if r.audit_kinds else true(), A.c.at >= default_cutoff))
    with ledger.engine.connect() as conn:
        newest = conn.execute(select(func.max(A.c.seq))).scalar()
        if newest is None:
            return 0, 0, "", []
        first_kept = conn.execute(select(func.min(A.c.seq)).where(or_(*kept))).scalar()
        keep_from = min(first_kept or newest, newest)
        removed = conn.execute(select(func.count()).select_from(A).where(A.c.seq < keep_from)).scalar() or 0
        last = conn.execute(select(A.c.seq, A.c.hash).where(A.c.seq < keep_from).order_by(A.c.seq.desc()).limit(1)).first()
        docs: list[str] = []
        if r.documents_days is not None:
            cutoff = now - timedelta(days=r.documents_days)
            docs = [d for (d,) in conn.execute(select(DocumentRow.doc_id).where(DocumentRow.status == "active", DocumentRow.updated_at < cutoff))]  # type: ignore[arg-type]
    return int(removed), int(last[0]) if last else 0, last[1] if last else "", docs


def run(ledger: Ledger, principal: Principal, *, dry_run: bool = False, now: datetime | None = None) -> RetentionResult:
    """Enforce the retention periods (or, with dry_run, say what would go)."""
    require_audited(ledger, principal, PURGE.name, "retention.run")
    now = now or datetime.now(timezone.utc)
    holds = active_holds(ledger)
    result = RetentionResult(dry_run=dry_run, periods=_periods(ledger), hold_reasons=[h["reason"] for h in holds])
    removed, through, anchor, docs = plan(ledger, now)
    result.audit_records_removed, result.removed_through_seq, result.anchor_hash, result.documents_expired = removed, through, anchor, docs
    if holds and not dry_run:
        result.suspended_by_hold = True
        result.audit_records_removed, result.documents_expired = 0, []
    elif not dry_run:
        if removed:
            _remove_prefix(ledger, through, anchor, removed, now)
        for doc_id in docs:
            _expire_document(ledger, doc_id)
    result.audit_id = ledger.audit.append(RetentionRun(
        actor=principal.name, actor_role=principal.role, dry_run=dry_run, suspended_by_hold=result.suspended_by_hold,
        audit_records_removed=result.audit_records_removed, removed_through_seq=through if result.audit_records_removed else 0,
        anchor_hash=anchor if result.audit_records_removed else "", documents_expired=result.documents_expired, periods=result.periods))
    ledger.audit.checkpoint("retention")  # every run is checkpointed, removal or not (docs/audit.md)
    return result


def _remove_prefix(ledger: Ledger, through_seq: int, anchor: str, removed: int, now: datetime) -> None:
    anchors = AuditAnchor.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        write_lock(conn)
        total = conn.execute(select(anchors.c.removed_total).where(anchors.c.id == 1)).scalar()
        conn.execute(AuditFact.__table__.delete().where(AuditFact.__table__.c.seq <= through_seq))  # type: ignore[attr-defined]
        # The removed records' leaf hashes stay (audit_leaves is never pruned), so later checkpoints and
        # proofs still cover them; the tree remembers below which leaf records are gone on purpose.
        pruned = conn.execute(select(func.max(LEAVES.c.idx)).select_from(LEAVES.join(A, LEAVES.c.record_id == A.c.record_id))
                              .where(A.c.seq <= through_seq)).scalar()
        if pruned is not None:
            conn.execute(TREE.update().where(TREE.c.id == 1, TREE.c.pruned_below <= pruned).values(pruned_below=pruned + 1))
        from core.audit.asked_about import RECORDS as ASKED  # the removed records are found under no name any more

        conn.execute(ASKED.delete().where(ASKED.c.record_id.in_(select(A.c.record_id).where(A.c.seq <= through_seq))))
        conn.execute(A.delete().where(A.c.seq <= through_seq))
        values = {"seq": through_seq, "hash": anchor, "removed_total": (total or 0) + removed, "at": _iso(now)}
        if total is None:
            conn.execute(anchors.insert().values(id=1, **values))
        else:
            conn.execute(anchors.update().where(anchors.c.id == 1).values(**values))


def _expire_document(ledger: Ledger, doc_id: str) -> None:
    """Chunks leave the index, the original leaves the disk, the registry row stays as 'expired'."""
    with store_lock(ledger, exclusive=True):
        ledger.store.delete_where(id_predicate("doc_id", [doc_id]))
    remove_uploads(ledger, doc_id)
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(t.update().where(t.c.doc_id == doc_id).values(status="expired", source_file=None))
