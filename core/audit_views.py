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
    """One record with the titles of its cited and withheld documents, for the drill-down."""
    rows = list_trail(ledger, principal, record_id=record_id, limit=1)
    if not rows:
        return None
    row = rows[0]
    payload = row["payload"]
    doc_ids = sorted({c["doc_id"] for c in payload.get("cited", []) + payload.get("withheld", [])})
    row["titles"] = titles_for(ledger, principal, doc_ids)
    return row


def chain_status(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    require_audited(ledger, principal, AUDIT_READ.name, "audit.verify")
    return ledger.audit.verify().as_dict()


def export_trail(ledger: Ledger, principal: Principal, fmt: str) -> str:
    require_audited(ledger, principal, AUDIT_READ.name, "audit.export")
    return ledger.audit.export(fmt)
