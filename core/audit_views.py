"""What the audit trail shows to those allowed to read it (compliance), with every read checked."""
from __future__ import annotations

from typing import Any

from core.actions import AUDIT_READ
from core.documents import titles_for
from core.guard import require_audited
from core.ledger import Ledger
from core.policy import Principal


def list_trail(ledger: Ledger, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
    require_audited(ledger, principal, AUDIT_READ.name, "audit")
    return ledger.audit.records(**filters)


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
    require_audited(ledger, principal, AUDIT_READ.name, "audit.export")
    return ledger.audit.export(fmt)


def inclusion_proof(ledger: Ledger, principal: Principal, record_id: str, fresh: bool = False) -> dict[str, Any]:
    """The Merkle inclusion proof of one record at a signed checkpoint (JSON-ready), for download."""
    from core.proofs import prove

    require_audited(ledger, principal, AUDIT_READ.name, f"audit.prove:{record_id}")
    return prove(ledger, record_id, fresh=fresh)


def log_status(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    """The log against every checkpoint this ledger can find (journal, witnesses, its own copies)."""
    from core.log_verify import verify_ledger

    require_audited(ledger, principal, AUDIT_READ.name, "audit.verify")
    return verify_ledger(ledger).as_dict()
