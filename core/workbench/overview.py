"""The compliance overview: every chart is one GROUP BY in the database, over `audit_facts`
(see core/audit/facts.py for why a facts table), `documents`, `erasure_requests` and `checkpoints`.

Filters: a period (inclusive days, UTC), an actor role and a document group. The group filter keeps
the records that touched the group: answers citing or withholding its documents, ingestions into it.
Every chart can drill through to the audit records behind one of its bars (`drill`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, and_, func, inspect, select, text

from core.policy.actions import AUDIT_READ, OVERVIEW_READ
from core.stores.compliance_tables import AuditFact, ChainVerification
from core.errors import RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.stores.tables import AuditRecord, DocumentRow

F = AuditFact.__table__  # type: ignore[attr-defined]
A = AuditRecord.__table__  # type: ignore[attr-defined]
# Chart name -> the fact dimension behind it (the drill-through follows the same dimension).
CHART_DIMENSIONS = {
    "questions": "question", "redactions": "redaction", "guard_redactions": "guard_redaction", "withheld": "withheld",
    "denials": "denial", "simulations": "simulation", "ingestions": "ingest", "records": "record",
}
DENSITY_BUCKETS = ((0.0, "none"), (0.5, "low (<0.5/chunk)"), (2.0, "medium (0.5-2/chunk)"), (float("inf"), "high (>2/chunk)"))
# The buckets in order with colours that darken with density (a sequential scale, not a palette's
# arbitrary hues), so the legend and the stacks read from least to most personal data.
DENSITY_ORDER = {label: colour for (_, label), colour in zip(DENSITY_BUCKETS, ("#c6dbef", "#6baed6", "#2171b5", "#08306b"))}
OPEN_ERASURE = ("received", "previewed", "confirmed", "executed", "incomplete")  # core/erasure/requests.py OPEN, and a purge under way


@dataclass(frozen=True)
class Filters:
    since: str | None = None  # YYYY-MM-DD inclusive
    until: str | None = None  # YYYY-MM-DD inclusive
    role: str | None = None
    group: str | None = None

    def where(self, dimension: str) -> list:
        conds = [F.c.dimension == dimension]
        if self.since:
            conds.append(F.c.day >= self.since)
        if self.until:
            conds.append(F.c.day <= self.until)
        if self.role:
            conds.append(F.c.actor_role == self.role)
        if self.group:
            # IN (list subquery), not a correlated EXISTS: SQLite builds the list once (3x faster at 100k).
            g = F.alias("g")
            conds.append(F.c.seq.in_(select(g.c.seq).where(g.c.dimension == "group", g.c.key == self.group)))
        return conds


def _sum_by(conn: Connection, dimension: str, filters: Filters, *extra) -> list[tuple]:  # type: ignore[no-untyped-def]
    cols = [*extra, F.c.key]
    q = select(*cols, func.sum(F.c.n)).where(and_(*filters.where(dimension))).group_by(*cols).order_by(*cols)
    return [tuple(r) for r in conn.execute(q)]


def questions_over_time(conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    return [{"day": d, "role": k, "questions": int(n)} for d, k, n in _sum_by(conn, "question", filters, F.c.day)]


def counts(conn: Connection, dimension: str, filters: Filters) -> dict[str, int]:
    return {k: int(n) for k, n in _sum_by(conn, dimension, filters)}


def withheld_matrix(conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    out = []
    for key, n in _sum_by(conn, "withheld", filters):
        group, _, level = key.partition("|")
        if filters.group and group != filters.group:
            continue
        out.append({"group": group, "classification": level, "withheld": int(n)})
    return out


def documents_by_class(conn: Connection, filters: Filters) -> list[dict[str, Any]]:
    """Active documents by classification and PII density (PII spans per chunk).

    The registry holds one row per document (thousands, not 100,000s), so the JSON PII summary is
    summed here rather than with dialect-specific JSON SQL."""
    rows = conn.execute(select(DocumentRow.classification, DocumentRow.groups, DocumentRow.chunk_count, DocumentRow.pii_summary)
                        .where(DocumentRow.status == "active"))
    agg: dict[tuple[str, str], int] = {}
    for level, groups, chunks, summary in rows:
        if filters.group and filters.group not in json.loads(groups):
            continue
        density = sum(json.loads(summary or "{}").values()) / max(int(chunks or 1), 1)
        bucket = next(label for limit, label in DENSITY_BUCKETS if density <= limit)
        agg[(level, bucket)] = agg.get((level, bucket), 0) + 1
    return [{"classification": c, "pii_density": b, "documents": n} for (c, b), n in sorted(agg.items())]


def erasure_status(conn: Connection) -> dict[str, Any]:
    """Erasure requests by status against their one-month deadline (table of the erasure work)."""
    if not inspect(conn).has_table("erasure_requests"):
        return {"available": False, "rows": [], "note": "no erasure requests table yet (erasure is not set up)"}
    now = datetime.now(timezone.utc).isoformat()
    rows = conn.execute(text("SELECT status, due_at FROM erasure_requests")).all()
    agg: dict[tuple[str, str], int] = {}
    for status, due in rows:
        due_s = due.isoformat() if hasattr(due, "isoformat") else str(due or "")
        if due_s and "+" not in due_s[10:] and not due_s.endswith("Z"):
            due_s += "+00:00"  # naive timestamps are UTC in the ledger
        late = status in OPEN_ERASURE and due_s and due_s < now
        agg[(status, "overdue" if late else "within deadline")] = agg.get((status, "overdue" if late else "within deadline"), 0) + 1
    return {"available": True, "rows": [{"status": s, "deadline": d, "requests": n} for (s, d), n in sorted(agg.items())], "note": ""}


def models_by_stage(conn: Connection) -> dict[str, Any]:
    if not inspect(conn).has_table("checkpoints"):
        return {"available": False, "rows": [], "note": "no model registry yet (no checkpoints table)"}
    q = text("SELECT stage, CASE WHEN flag_reason IS NULL OR flag_reason = '' THEN 0 ELSE 1 END AS flagged, COUNT(*) "
             "FROM checkpoints GROUP BY stage, CASE WHEN flag_reason IS NULL OR flag_reason = '' THEN 0 ELSE 1 END ORDER BY stage")
    rows = [{"stage": s, "flagged": bool(f), "models": int(n)} for s, f, n in conn.execute(q)]
    flagged = [dict(r._mapping) for r in conn.execute(text(
        "SELECT checkpoint_id, kind, stage, flag_reason FROM checkpoints WHERE flag_reason IS NOT NULL AND flag_reason <> '' ORDER BY checkpoint_id"))]
    return {"available": True, "rows": rows, "flagged": flagged, "note": ""}


def chain_summary(conn: Connection) -> dict[str, Any]:
    """Cheap chain facts for every view; a full verification runs on demand (`verify_chain`)."""
    count = conn.execute(select(func.count()).select_from(A)).scalar() or 0
    head = conn.execute(select(A.c.hash, A.c.at).order_by(A.c.seq.desc()).limit(1)).first()
    last = conn.execute(select(ChainVerification.__table__).order_by(ChainVerification.id.desc()).limit(1)).mappings().first()  # type: ignore[attr-defined,union-attr]
    return {"records": int(count), "head_hash": head[0] if head else None, "last_record_at": head[1] if head else None,
            "last_verification": dict(last) if last else None}


def evaluation(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    """The golden-set panel: the last evaluation, its failures, drift since the runs before it, and
    recall@k per run (core/evaluation/drift.py)."""
    from core.evaluation.drift import evaluation_summary

    require_audited(ledger, principal, OVERVIEW_READ.name, "overview:evaluation")
    return evaluation_summary(ledger)


def overview(ledger: Ledger, principal: Principal, filters: Filters | None = None) -> dict[str, Any]:
    """Every chart's numbers in one read transaction."""
    require_audited(ledger, principal, OVERVIEW_READ.name, "overview")
    filters = filters or Filters()
    with ledger.engine.connect() as conn:
        return {
            "filters": asdict(filters),
            "questions_over_time": questions_over_time(conn, filters),
            "redactions": counts(conn, "redaction", filters),
            "guard_redactions": counts(conn, "guard_redaction", filters),
            "withheld": withheld_matrix(conn, filters),
            "denials": counts(conn, "denial", filters),
            "simulations": counts(conn, "simulation", filters),
            "documents": documents_by_class(conn, filters),
            "erasures": erasure_status(conn),
            "models": models_by_stage(conn),
            "chain": chain_summary(conn),
        }


def drill(ledger: Ledger, principal: Principal, chart: str, key: str | None, filters: Filters | None = None, *,
          day: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The audit records behind one bar: `chart` names the dimension, `key` the category (for
    'withheld' a group, a classification or 'group|classification'), `day` a day of the time chart."""
    require_audited(ledger, principal, AUDIT_READ.name, f"overview:{chart}")
    dimension = CHART_DIMENSIONS.get(chart)
    if dimension is None:
        raise RagLedgerError(f"no chart {chart!r}", hint=f"one of {', '.join(CHART_DIMENSIONS)}")
    conds = (filters or Filters()).where(dimension)
    if key and dimension == "withheld":
        conds.append(F.c.key == key if "|" in key else (F.c.key.like(f"{key}|%") | F.c.key.like(f"%|{key}")))
    elif key:
        conds.append(F.c.key == key)
    if day:
        conds.append(F.c.day == day)
    with ledger.engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(select(F.c.seq).where(and_(*conds)).distinct().order_by(F.c.seq.desc()).limit(limit))]
        if not seqs:
            return []
        rows = conn.execute(select(A.c.seq, A.c.record_id, A.c.at, A.c.kind, A.c.actor, A.c.actor_role, A.c.payload)
                            .where(A.c.seq.in_(seqs)).order_by(A.c.seq.desc())).mappings().all()
    out = []
    for r in rows:
        p = json.loads(r["payload"])
        out.append({"seq": r["seq"], "record_id": r["record_id"], "at": r["at"], "kind": r["kind"], "actor": r["actor"],
                    "role": r["actor_role"], "cited": len(p.get("cited") or []), "withheld": len(p.get("withheld") or []),
                    "redactions": sum((p.get("redactions") or {}).values()), "simulated_for": p.get("simulated_for"),
                    "detail": p.get("action") or p.get("doc_id") or ""})
    return out


def verify_chain(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    """Run a full verification and keep its outcome as the overview's 'last verification'."""
    from core.workbench.audit_views import record_verification

    require_audited(ledger, principal, AUDIT_READ.name, "audit.verify")
    result = ledger.audit.verify()
    at = record_verification(ledger, principal, ok=result.ok, records=result.records, head_hash=result.head_hash, reason=result.reason)
    return {**result.as_dict(), "at": at}
