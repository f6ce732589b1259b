"""Inclusion proofs: that one audit record is in the log at a signed checkpoint.

A proof bundle (JSON) carries the record's hashed fields (the leaf's preimage: anyone re-hashes
them), its leaf index, the RFC 9162 audit path and the signed checkpoint note; `verify_bundle`
checks it with nothing but the bundle and, ideally, the log's verifier key kept apart.
The path is computed from the stored leaf hashes (one read of `audit_leaves` up to the tree size).
"""
from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from core.audit.log import HASHED_FIELDS, canonical_bytes
from core.errors import AuditIntegrityError, NotFound
from core.audit.merkle import Tree, leaf_hash, root_from_inclusion
from core.audit.signed_note import Checkpoint, Verifier, parse_checkpoint
from core.stores.tables import AuditRecord
from core.audit.tree_store import CHECKPOINTS, LEAVES

FORMAT = "ragledger-inclusion-proof/v1"


def leaf_hashes(conn: Any, size: int) -> list[bytes]:
    rows = conn.execute(select(LEAVES.c.leaf_hash).where(LEAVES.c.idx < size).order_by(LEAVES.c.idx))
    return [bytes.fromhex(h) for (h,) in rows]


def prove(ledger: Any, record_id: str, fresh: bool = False) -> dict[str, Any]:
    """The proof of `record_id` at the newest checkpoint that covers it (a new one if none does, or `fresh`)."""
    records = AuditRecord.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rec = conn.execute(select(records).where(records.c.record_id == record_id)).mappings().first()
        idx = conn.execute(select(LEAVES.c.idx).where(LEAVES.c.record_id == record_id)).scalar()
        if rec is None or idx is None:
            raise NotFound(f"no audit record {record_id!r} in the log", hint="list record ids with `ragledger audit list`")
        note = None if fresh else conn.execute(
            select(CHECKPOINTS.c.note).where(CHECKPOINTS.c.size > idx).order_by(CHECKPOINTS.c.size.desc(), CHECKPOINTS.c.id.desc()).limit(1)).scalar()
    cp = parse_checkpoint(note) if note else ledger.audit.checkpoint("proof")
    with ledger.engine.connect() as conn:
        leaves = leaf_hashes(conn, cp.size)
    if len(leaves) != cp.size:
        raise AuditIntegrityError(f"the tree has {len(leaves)} leaves below the checkpoint size {cp.size}", hint="run `ragledger audit verify`")
    path = Tree(leaves).inclusion_proof(idx)
    return {"format": FORMAT, "record": {k: rec[k] for k in ("seq", "hash", *HASHED_FIELDS)}, "leaf_index": idx,
            "tree_size": cp.size, "leaf_hash": leaves[idx].hex(), "path": [base64.b64encode(p).decode() for p in path],
            "checkpoint": cp.note, "verifier_key": ledger.audit.checkpointer.vkey()}


def verify_bundle(bundle: dict[str, Any], key: str | None = None, checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """Check a proof offline: the record re-hashes to its leaf, the path leads to the checkpoint's
    root, the checkpoint is signed by `key` (default: the key the bundle names, which only shows
    the bundle is self-consistent; an auditor passes the key they keep). With `checkpoint`, the
    proof's checkpoint must be that one."""
    if bundle.get("format") != FORMAT:
        raise AuditIntegrityError("not an inclusion proof of RAG Ledger", hint="make one with `ragledger audit prove RECORD_ID`")
    cp = parse_checkpoint(bundle["checkpoint"], source="proof")
    verifier = Verifier.parse(key or bundle["verifier_key"])
    if not cp.signed_by(verifier):
        raise AuditIntegrityError("the proof's checkpoint is not signed by the log's key", hint="the proof was forged or belongs to another log")
    rec = bundle["record"]
    leaf = leaf_hash(canonical_bytes(rec))
    if leaf.hex() != bundle["leaf_hash"]:
        raise AuditIntegrityError(f"record {rec.get('record_id')} does not hash to the proof's leaf (edited)", hint="the record was altered after the proof was made")
    path = [base64.b64decode(p) for p in bundle["path"]]
    if root_from_inclusion(int(bundle["leaf_index"]), cp.size, leaf, path) != cp.root:
        raise AuditIntegrityError(f"the audit path does not lead from record {rec.get('record_id')} to the checkpoint's root",
                                  hint="the proof was altered or the record is not in the log at that checkpoint")
    if checkpoint is not None and (checkpoint.size, checkpoint.root) != (cp.size, cp.root):
        raise AuditIntegrityError(f"the proof is at size {cp.size}, the checkpoint you keep is at size {checkpoint.size}",
                                  hint="ask for a proof at your checkpoint, or verify the log's consistency with `ragledger audit verify --checkpoint`")
    return {"ok": True, "record_id": rec["record_id"], "leaf_index": bundle["leaf_index"], "tree_size": cp.size, "checkpoint_time": cp.time,
            "signed_by": verifier.name, "key_from_bundle": key is None}
