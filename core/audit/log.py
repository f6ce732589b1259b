"""The append-only, tamper-evident audit log.

Every record is chained to the previous one by SHA-256 over its canonical JSON (ciphertext
included, plaintext excluded). Appends take the database's write lock, so several processes can
append at once on SQLite and PostgreSQL without forking the chain; a UNIQUE constraint on
prev_hash is the backstop. `verify()` re-walks the chain and names the first record that disagrees.

The chain proves that what is there is unchanged, not that nothing is missing; so each record is
also a leaf of an RFC 9162 Merkle tree (its leaf is SHA-256(0x00 || the canonical bytes that its
hash covers), ciphertext included, so crypto-shredding leaves every proof valid), extended in the
same transaction, with signed checkpoints kept outside the database (core/audit/tree_store.py,
core/audit/checkpoints.py, core/audit/verify.py, docs/audit.md).
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

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select

from core.audit.canonical import CORE_FIELDS, HASHED_FIELDS, canonical, canonical_bytes  # noqa: F401  (re-exported: the log's public API)
from core.db import write_lock
from core.audit.events import AuditEvent
from core.audit.merkle import leaf_hash
from core.audit.origin import current_origin
from core.audit.sealing import ensure_keys, load_keys, seal, unseal
from core.stores.tables import AuditRecord

if TYPE_CHECKING:
    from core.audit.checkpoints import Checkpointer
    from core.audit.signed_note import Checkpoint

GENESIS = "0" * 64
# Hooks run inside each append's transaction with the stored row (seq included); the overview's
# fact table is filled this way (core/audit/facts.py), so its counts commit or roll back with the record.
FACT_HOOKS: list[Callable[[Connection, dict[str, Any]], None]] = []


def record_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(row)).hexdigest()


def conditions(*, kinds: list[str] | None = None, actor: str | None = None, since: str | None = None, until: str | None = None,
               record_ids: Any = None) -> list[Any]:
    """The trail's filters as SQL conditions, shared by the listing and the export so that an export
    holds exactly what the page listed. `record_ids` is a list or a subquery of record ids."""
    out = []
    if kinds:
        out.append(AuditRecord.kind.in_(kinds))  # type: ignore[attr-defined]
    if actor:
        out.append(AuditRecord.actor == actor)
    if since:
        out.append(AuditRecord.at >= since)
    if until:
        out.append(AuditRecord.at <= until)
    if record_ids is not None:
        out.append(AuditRecord.record_id.in_(record_ids))  # type: ignore[attr-defined]
    return out


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
    def __init__(self, engine: Engine, policy_version: str, checkpointer: "Checkpointer | None" = None) -> None:
        self.engine = engine
        self.policy_version = policy_version
        self.checkpointer = checkpointer  # None: the tree grows but no checkpoints are signed

    def append(self, event: AuditEvent) -> str:
        """Seal, chain and store one event; return its record id."""
        record_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            write_lock(conn)
            event.bind(conn)  # under the write lock: a purge cannot destroy a subject key in between
            refs = event.key_refs()
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
                "origin": current_origin(),
            }
            canonical = canonical_bytes(row)
            row["hash"] = hashlib.sha256(canonical).hexdigest()
            inserted = conn.execute(AuditRecord.__table__.insert().values(**row))  # type: ignore[attr-defined]
            cp = tree_store.extend(conn, record_id, leaf_hash(canonical), self.checkpointer)
            if FACT_HOOKS:
                stored = {**row, "seq": inserted.inserted_primary_key[0]}
                for hook in FACT_HOOKS:
                    hook(conn, stored)
        if cp is not None:
            self._publish(cp)
        return record_id

    def checkpoint(self, reason: str) -> "Checkpoint":
        """Sign a checkpoint of the tree as it is now (purges, retention runs, exports, on demand)."""
        if self.checkpointer is None:
            from core.errors import ConfigError

            raise ConfigError("this audit log has no checkpoint signer", hint="open it through Ledger.open(), which reads policies/policy.yaml audit_log")
        with self.engine.begin() as conn:
            write_lock(conn)
            cp = tree_store.checkpoint_now(conn, self.checkpointer, reason)
        self._publish(cp)
        return cp

    def _publish(self, cp: "Checkpoint") -> None:
        assert self.checkpointer is not None
        if self.checkpointer.publish(cp):
            with self.engine.begin() as conn:
                tree_store.mark_published(conn, cp.note)

    def anchor(self) -> str:
        """The hash the kept chain starts from: genesis, or the last record retention removed."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("audit_anchor"):
                return GENESIS
            from core.stores.compliance_tables import AuditAnchor

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

    def _walk(self, batch: int, below_leaf: int | None = None, where: list[Any] | None = None) -> Iterator[dict[str, Any]]:
        last_seq = 0
        cols = [AuditRecord.__table__.c[n] for n in ("seq", "hash", *HASHED_FIELDS)]  # type: ignore[attr-defined]
        cols.append(tree_store.LEAVES.c.idx.label("leaf_index"))
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(*cols).outerjoin(tree_store.LEAVES, tree_store.LEAVES.c.record_id == AuditRecord.record_id)
                    .where(AuditRecord.seq > last_seq, *([tree_store.LEAVES.c.idx < below_leaf] if below_leaf is not None else []), *(where or []))
                    .order_by(AuditRecord.seq).limit(batch)  # type: ignore[arg-type,operator]
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
        record_ids: Any = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Newest first, with the sealed text opened where its keys still exist ('[erased]' otherwise)."""
        q = select(AuditRecord.__table__).order_by(AuditRecord.seq.desc())  # type: ignore[attr-defined,union-attr]
        q = q.where(*conditions(kinds=kinds, actor=actor, since=since, until=until, record_ids=record_ids))
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
        row["origin"] = json.loads(row["origin"]) if row.get("origin") else None
        row["text"] = text or {}
        return row

    def export(self, fmt: str, below_leaf: int | None = None, where: list[Any] | None = None) -> str:
        """The whole trail as JSONL or CSV, every hashed field included so it verifies offline
        (with `below_leaf`, only the records of the tree's first `below_leaf` leaves; with `where`,
        only those matching these conditions, see `conditions`)."""
        rows = list(self._walk(2000, below_leaf, where))
        if fmt == "jsonl":
            return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=["seq", "hash", *HASHED_FIELDS, "leaf_index"])
            writer.writeheader()
            writer.writerows(rows)
            return out.getvalue()
        from core.errors import RagLedgerError

        raise RagLedgerError(f"unknown export format {fmt!r}", hint="use --format jsonl or --format csv")


from core.audit import tree_store  # noqa: E402  (imports core.audit.merkle and the tree tables only)
from core.audit.facts import append_hook as _facts_hook  # noqa: E402  (the overview's facts, see FACT_HOOKS)
from core.audit.asked_about import append_hook as _asked_hook  # noqa: E402  (who asked about whom, see FACT_HOOKS)

FACT_HOOKS.append(_facts_hook)
FACT_HOOKS.append(_asked_hook)
