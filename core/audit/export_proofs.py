"""The Merkle part of an audit export: what lets an export be checked offline against a checkpoint
that an auditor kept independently.

The manifest's `merkle` section carries the signed checkpoint at the export's tree size, the leaf
hashes of records that retention removed before the export (so the tree can be regrown from leaf
0), the log's verifier key, and RFC 9162 consistency proofs from the log's earlier checkpoints to
the export's. `check` regrows the tree from the exported records alone.
"""
from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from core.audit.log import canonical_bytes
from core.errors import AuditIntegrityError
from core.audit.merkle import Frontier, Tree, leaf_hash, verify_consistency
from core.audit.signed_note import Checkpoint, Verifier, parse_checkpoint
from core.audit.tree_store import CHECKPOINTS

MAX_CONSISTENCY_PROOFS = 32  # the most recent earlier checkpoints; an auditor's older one is checked by regrowing


def section(ledger: Any, cp: Checkpoint, records: list[dict[str, Any]], every_leaf: bool = False) -> dict[str, Any]:
    """With `every_leaf` (a filtered export, whose records have gaps), the leaf hashes of the whole
    tree instead of only those below the first record: the tree is regrown from them and each
    exported record must re-hash to the leaf at its index."""
    from core.audit.proofs import leaf_hashes

    with ledger.engine.connect() as conn:
        leaves = leaf_hashes(conn, cp.size)
        earlier = conn.execute(select(CHECKPOINTS.c.size, CHECKPOINTS.c.root, CHECKPOINTS.c.at).where(CHECKPOINTS.c.size < cp.size)
                               .order_by(CHECKPOINTS.c.size.desc()).limit(MAX_CONSISTENCY_PROOFS)).all()
    first = cp.size if every_leaf else records[0]["leaf_index"] if records else cp.size
    tree = Tree(leaves)
    return {
        "tree_size": cp.size, "first_leaf_index": first, "prefix_leaf_hashes": [h.hex() for h in leaves[:first]],
        "checkpoint": cp.note, "verifier_key": ledger.audit.checkpointer.vkey(),
        "consistency": [{"size": size, "root": root, "time": at, "proof": [base64.b64encode(p).decode() for p in tree.consistency_proof(size)]}
                        for size, root, at in earlier if size > 0],
    }


def check(merkle: dict[str, Any], records: list[dict[str, Any]], kept: list[Checkpoint], key: str | None) -> dict[str, Any]:
    """Regrow the tree from the export; its root must be the export's checkpoint and every kept one's."""
    cp = parse_checkpoint(merkle["checkpoint"], source="export")
    verifier = Verifier.parse(key or merkle["verifier_key"])
    if not cp.signed_by(verifier):
        raise AuditIntegrityError("the export's checkpoint is not signed by the log's key", hint="the export was forged, or pass the key you keep with --key")
    for k in kept:
        if not k.signed_by(verifier):
            raise AuditIntegrityError(f"{k.label()} is not signed by the log's key", hint="check you kept the checkpoint of this log; pass its key with --key")
    wanted = {cp.size, *(k.size for k in kept)}
    roots: dict[int, bytes] = {0: Frontier().root()}
    frontier = Frontier()
    for h in merkle["prefix_leaf_hashes"]:
        frontier.append(bytes.fromhex(h))
        if frontier.size in wanted:
            roots[frontier.size] = frontier.root()
    for rec in records:
        if int(rec["leaf_index"]) != frontier.size:
            raise AuditIntegrityError(f"record seq={rec['seq']} sits at leaf {rec['leaf_index']}, expected {frontier.size} (a record is missing)",
                                      hint="the export was altered after it was written")
        frontier.append(leaf_hash(canonical_bytes(rec)))
        if frontier.size in wanted:
            roots[frontier.size] = frontier.root()
    if frontier.size != cp.size or roots.get(cp.size) != cp.root:
        raise AuditIntegrityError(f"the exported records do not match the export's own checkpoint of {cp.time} (size {cp.size})",
                                  hint="the export was altered after it was written")
    for k in kept:
        if k.size > frontier.size:
            raise AuditIntegrityError(f"the export is shorter than {k.label()}: it has {frontier.size} records in its tree",
                                      hint="the log was truncated or rolled back before this export; ask for the missing records")
        if roots.get(k.size) != k.root:
            raise AuditIntegrityError(f"the export does not match {k.label()}: the log was changed or forked after that checkpoint was signed",
                                      hint="keep this export and the checkpoint as evidence")
    for c in merkle.get("consistency", []):
        proof = [base64.b64decode(p) for p in c["proof"]]
        if not verify_consistency(c["size"], cp.size, bytes.fromhex(c["root"]), cp.root, proof):
            raise AuditIntegrityError(f"the consistency proof from size {c['size']} ({c['time']}) does not verify", hint="the export was altered after it was written")
    return {"tree_size": cp.size, "checkpoint_time": cp.time, "signed_by": verifier.name, "key_from_export": key is None,
            "checked_against": [k.label() for k in kept], "consistency_proofs": len(merkle.get("consistency", []))}


def check_filtered(merkle: dict[str, Any], records: list[dict[str, Any]], kept: list[Checkpoint], key: str | None) -> dict[str, Any]:
    """A filtered export: each record's leaf is the tree's leaf at its index, and the tree of all
    the leaves reaches the export's checkpoint and every kept one (shorter than it)."""
    leaves = merkle["prefix_leaf_hashes"]
    for rec in records:
        idx = int(rec["leaf_index"])
        if idx >= len(leaves) or leaf_hash(canonical_bytes(rec)).hex() != leaves[idx]:
            raise AuditIntegrityError(f"record seq={rec['seq']} is not the leaf at index {idx} of the export's tree",
                                      hint="the export was altered after it was written")
    return check({**merkle, "first_leaf_index": len(leaves)}, [], kept or [], key)
