"""The append-only, tamper-evident audit log.

Every record is chained to the previous one by SHA-256 over its canonical JSON (ciphertext
included, plaintext excluded). Appends take the database's write lock, so several processes can
append at once on SQLite and PostgreSQL without forking the chain; a UNIQUE constraint on
prev_hash is the backstop. `verify()` re-walks the chain and names the first record that disagrees.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, func, inspect, select

from core.db import write_lock
from core.events import AuditEvent
from core.sealing import ensure_keys, load_keys, seal, unseal
from core.tables import AuditRecord

GENESIS = "0" * 64
# Hooks run inside each append's transaction with the stored row (seq included); the overview's
# fact table is filled this way (core/audit_facts.py), so its counts commit or roll back with the record.
FACT_HOOKS: list[Callable[[Connection, dict[str, Any]], None]] = []
HASHED_FIELDS = ("record_id", "kind", "actor", "actor_role", "at", "policy_version", "payload", "sealed", "key_refs", "prev_hash")


def record_hash(row: dict[str, Any]) -> str:
    canonical = json.dumps({k: row[k] for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    head_hash: str
    first_bad_seq: int | None = None
    first_bad_record: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class AuditLog:
    def __init__(self, engine: Engine, policy_version: str) -> None:
        self.engine = engine
        self.policy_version = policy_version

    def append(self, event: AuditEvent) -> str:
        """Seal, chain and store one event; return its record id."""
        refs = event.key_refs()
        record_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            write_lock(conn)
            sensitive = event.sensitive()
            sealed = seal(sensitive, refs, ensure_keys(conn, refs)) if sensitive is not None else None
            last = conn.execute(select(AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)).scalar()  # type: ignore[union-attr]
            row = {
                "record_id": record_id,
                "kind": event.kind,
                "actor": event.actor,
                "actor_role": event.actor_role,
                "at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
                "policy_version": self.policy_version,
                "payload": json.dumps(event.payload(), sort_keys=True),
                "sealed": sealed,
                "key_refs": json.dumps(refs),
                "prev_hash": last or GENESIS,
            }
            row["hash"] = record_hash(row)
            inserted = conn.execute(AuditRecord.__table__.insert().values(**row))  # type: ignore[attr-defined]
            if FACT_HOOKS:
                stored = {**row, "seq": inserted.inserted_primary_key[0]}
                for hook in FACT_HOOKS:
                    hook(conn, stored)
        return record_id

    def anchor(self) -> str:
        """The hash the kept chain starts from: genesis, or the last record retention removed."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("audit_anchor"):
                return GENESIS
            from core.compliance_tables import AuditAnchor

            return conn.execute(select(AuditAnchor.hash).where(AuditAnchor.id == 1)).scalar() or GENESIS

    def verify(self, batch: int = 2000) -> VerifyResult:
        prev, count = self.anchor(), 0
        for rec in self._walk(batch):
            count += 1
            if rec["prev_hash"] != prev:
                return VerifyResult(False, count, prev, rec["seq"], rec["record_id"], "prev_hash does not match the previous record (a record was removed or reordered)")
            if record_hash(rec) != rec["hash"]:
                return VerifyResult(False, count, prev, rec["seq"], rec["record_id"], "content does not match its hash (the record was edited)")
            prev = rec["hash"]
        return VerifyResult(True, count, prev)

    def _walk(self, batch: int) -> Iterator[dict[str, Any]]:
        last_seq = 0
        cols = [AuditRecord.__table__.c[n] for n in ("seq", "hash", *HASHED_FIELDS)]  # type: ignore[attr-defined]
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(*cols).where(AuditRecord.seq > last_seq).order_by(AuditRecord.seq).limit(batch)  # type: ignore[arg-type,operator]
                ).mappings().all()
            if not rows:
                return
            for r in rows:
                yield dict(r)
            last_seq = rows[-1]["seq"]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(AuditRecord)).scalar() or 0

    def records(
        self,
        *,
        kinds: list[str] | None = None,
        actor: str | None = None,
        since: str | None = None,
        until: str | None = None,
        record_id: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Newest first, with the sealed text opened where its keys still exist ('[erased]' otherwise)."""
        q = select(AuditRecord.__table__).order_by(AuditRecord.seq.desc())  # type: ignore[attr-defined,union-attr]
        if kinds:
            q = q.where(AuditRecord.kind.in_(kinds))  # type: ignore[attr-defined]
        if actor:
            q = q.where(AuditRecord.actor == actor)
        if since:
            q = q.where(AuditRecord.at >= since)
        if until:
            q = q.where(AuditRecord.at <= until)
        if record_id:
            q = q.where(AuditRecord.record_id == record_id)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q.limit(limit).offset(offset)).mappings()]
            refs = sorted({ref for r in rows for ref in json.loads(r["key_refs"])})
            keys = load_keys(conn, refs)
        return [self._open(r, keys) for r in rows]

    @staticmethod
    def _open(row: dict[str, Any], keys: dict[str, bytes]) -> dict[str, Any]:
        row["payload"] = json.loads(row["payload"])
        refs = json.loads(row["key_refs"])
        text = unseal(row["sealed"], refs, keys) if row["sealed"] else None
        row["erased"] = bool(row["sealed"]) and text is None
        row["text"] = text or {}
        return row

    def export(self, fmt: str) -> str:
        """The whole trail as JSONL or CSV, every hashed field included so it verifies offline."""
        rows = list(self._walk(2000))
        if fmt == "jsonl":
            return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=["seq", "hash", *HASHED_FIELDS])
            writer.writeheader()
            writer.writerows(rows)
            return out.getvalue()
        from core.errors import RagLedgerError

        raise RagLedgerError(f"unknown export format {fmt!r}", hint="use --format jsonl or --format csv")


from core.audit_facts import append_hook as _facts_hook  # noqa: E402  (the overview's facts, see FACT_HOOKS)

FACT_HOOKS.append(_facts_hook)
