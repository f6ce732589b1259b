"""What the audit trail shows to those allowed to read it (compliance), with every read checked."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from core.policy.actions import AUDIT_READ
from core.audit.asked_about import keys_for, records_naming, subject_ids
from core.stores.compliance_tables import ChainVerification
from core.rag.documents import titles_for
from core.errors import RagLedgerError
from core.audit.events import AuditSearched
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal


def list_trail(ledger: Ledger, principal: Principal, about: str | None = None, **filters: Any) -> list[dict[str, Any]]:
    """The trail, newest first. With `about` (a name, an e-mail or an id), only the records whose
    question named that data subject; that search is itself audited, the name sealed under the
    subject's key (core/audit/asked_about.py)."""
    require_audited(ledger, principal, AUDIT_READ.name, "audit")
    if not (about or "").strip():
        return ledger.audit.records(**filters)
    ids = subjects_searched(ledger, about)
    rows = ledger.audit.records(record_ids=records_naming(ids), **filters) if ids else []
    record_search(ledger, principal, about, filters, len(rows))
    return rows


def subjects_searched(ledger: Ledger, about: str | None) -> list[str]:
    """The subject ids a typed name stands for (none once a purge forgot that subject)."""
    about = (about or "").strip()
    keys = keys_for(about)
    if len(about) < 3 or not keys:
        raise RagLedgerError(f"{about!r} is too short to search for", hint="type a full name, an e-mail address or an id")
    with ledger.engine.connect() as conn:
        return subject_ids(conn, keys, create=False)


def record_search(ledger: Ledger, principal: Principal, about: str, filters: dict[str, Any], results: int) -> str:
    shown = {k: v for k, v in filters.items() if k in ("kinds", "actor", "since", "until") and v}
    return ledger.audit.append(AuditSearched(actor=principal.name, actor_role=principal.role, filters=shown, results=results,
                                             about=about.strip()))


def record_detail(ledger: Ledger, principal: Principal, record_id: str) -> dict[str, Any] | None:
    """One record with the titles of its cited, see-also and withheld documents, for the drill-down."""
    rows = list_trail(ledger, principal, record_id=record_id, limit=1)
    if not rows:
        return None
    row = rows[0]
    payload = row["payload"]
    doc_ids = sorted({c["doc_id"] for c in payload.get("cited", []) + payload.get("withheld", []) + payload.get("see_also", [])})
    row["titles"] = titles_for(ledger, principal, doc_ids)
    return row


def chain_status(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    require_audited(ledger, principal, AUDIT_READ.name, "audit.verify")
    return ledger.audit.verify().as_dict()


def export_trail(ledger: Ledger, principal: Principal, fmt: str) -> str:
    """The whole trail as a file (`ragledger audit export`); a filtered export with its manifest is
    core.workbench.exports.export_filtered (the page, `audit export-bundle`)."""
    require_audited(ledger, principal, AUDIT_READ.name, "audit.export")
    return ledger.audit.export(fmt)


def inclusion_proof(ledger: Ledger, principal: Principal, record_id: str, fresh: bool = False) -> dict[str, Any]:
    """The Merkle inclusion proof of one record at a signed checkpoint (JSON-ready), for download."""
    from core.audit.proofs import prove

    require_audited(ledger, principal, AUDIT_READ.name, f"audit.prove:{record_id}")
    return prove(ledger, record_id, fresh=fresh)


def record_verification(ledger: Ledger, principal: Principal, *, ok: bool, records: int, head_hash: str,
                        reason: str | None) -> str:
    """Keep a verification's outcome where the Overview's "Last verification" reads it (whichever
    page or command ran it); returns its time."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with ledger.engine.begin() as conn:
        conn.execute(ChainVerification.__table__.insert().values(  # type: ignore[attr-defined]
            at=at, ok=ok, records=records, head_hash=head_hash, verified_by=principal.name, reason=reason))
    return at


def log_status(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    """The log against every checkpoint this ledger can find (journal, witnesses, its own copies);
    the outcome is recorded as the latest verification."""
    from core.audit.verify import verify_ledger

    require_audited(ledger, principal, AUDIT_READ.name, "audit.verify")
    status = verify_ledger(ledger).as_dict()
    status["at"] = record_verification(ledger, principal, ok=status["ok"], records=status["records"],
                                       head_hash=status["head_hash"], reason=status["reason"])
    return status
