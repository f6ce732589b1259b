"""Countable facts of audit records, for the overview's GROUP BY queries.

Why a denormalized facts table rather than JSON SQL over `audit_records.payload`: JSON functions
differ between SQLite and PostgreSQL (json_each vs jsonb_each), cannot use an index, and would
parse 100,000 payloads on every page view. A fact row is written in the same transaction as its
record (a hook in `AuditLog.append`), so counts never drift from the chain; migration m201
backfills records appended before it; retention removes the facts of the records it removes.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

Fact = tuple[str, str, int]  # dimension, key, n


def facts_for(row: dict[str, Any], doc_groups: dict[str, list[str]]) -> list[Fact]:
    """The facts of one record. `doc_groups` maps the cited doc ids to their groups."""
    kind = row["kind"]
    payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"] or "{}")
    facts: list[Fact] = [("record", kind, 1)]
    if kind == "answer":
        if payload.get("simulated_for"):
            # A "see as" simulation is the officer's act, never the target's question.
            facts.append(("simulation", str(payload["simulated_for"]), 1))
            return facts
        facts.append(("question", row["actor_role"], 1))
        for etype, n in (payload.get("redactions") or {}).items():
            facts.append(("redaction", etype, int(n)))
        for etype, n in (payload.get("guard_redactions") or {}).items():
            facts.append(("guard_redaction", etype, int(n)))
        groups: set[str] = set()
        for w in payload.get("withheld") or []:
            for g in w.get("groups") or []:
                facts.append(("withheld", f"{g}|{w.get('classification', '')}", 1))
                groups.add(g)
        for doc_id in sorted({c["doc_id"] for c in payload.get("cited") or []}):
            facts.append(("cited_doc", doc_id, 1))
            groups.update(doc_groups.get(doc_id, []))
        facts.extend(("group", g, 1) for g in sorted(groups))
    elif kind == "denial":
        facts.append(("denial", str(payload.get("action", "")), 1))
    elif kind == "ingest":
        facts.append(("ingest", str(payload.get("classification", "")), 1))
        facts.extend(("group", g, 1) for g in sorted(set(payload.get("groups") or [])))
    return facts


def cited_doc_ids(rows: Iterable[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for row in rows:
        if row["kind"] == "answer":
            payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"] or "{}")
            out.update(c["doc_id"] for c in payload.get("cited") or [])
    return out


def doc_groups_for(conn: Connection, doc_ids: set[str]) -> dict[str, list[str]]:
    from core.stores.tables import DocumentRow

    if not doc_ids:
        return {}
    rows = conn.execute(select(DocumentRow.doc_id, DocumentRow.groups).where(DocumentRow.doc_id.in_(sorted(doc_ids))))  # type: ignore[attr-defined]
    return {r[0]: json.loads(r[1]) for r in rows}


def fact_rows(rows: list[dict[str, Any]], doc_groups: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        for dimension, key, n in facts_for(row, doc_groups):
            out.append({"seq": row["seq"], "kind": row["kind"], "actor_role": row["actor_role"], "day": row["at"][:10],
                        "dimension": dimension, "key": key[:200], "n": n})
    return out


def write_facts(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert the facts of `rows` (audit records with their seq) inside the caller's transaction."""
    from core.stores.compliance_tables import AuditFact

    facts = fact_rows(rows, doc_groups_for(conn, cited_doc_ids(rows)))
    if facts:
        conn.execute(AuditFact.__table__.insert(), facts)  # type: ignore[attr-defined]
    return len(facts)


def append_hook(conn: Connection, row: dict[str, Any]) -> None:
    """Registered in core.audit.log.FACT_HOOKS: runs inside the append's transaction."""
    write_facts(conn, [row])


def backfill(conn: Connection, batch: int = 2000) -> int:
    """Facts for every record that has none yet (records appended before migration m201)."""
    from core.stores.compliance_tables import AuditFact
    from core.stores.tables import AuditRecord

    table = AuditRecord.__table__  # type: ignore[attr-defined]
    last = conn.execute(select(AuditFact.seq).order_by(AuditFact.seq.desc()).limit(1)).scalar() or 0  # type: ignore[attr-defined]
    written = 0
    while True:
        rows = [dict(r) for r in conn.execute(
            select(table.c.seq, table.c.kind, table.c.actor_role, table.c.at, table.c.payload)
            .where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        ).mappings()]
        if not rows:
            return written
        written += write_facts(conn, rows)
        last = rows[-1]["seq"]
