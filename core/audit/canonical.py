"""The canonical bytes of an audit record: what its hash and its Merkle leaf cover.

Below both the log (core/audit/log.py) and the tree (core/audit/tree_store.py), so neither imports the other to
hash a record; a migration that backfills leaves hashes with this frozen rule, not with live log code.
"""
from __future__ import annotations

import json
from typing import Any

CORE_FIELDS = ("record_id", "kind", "actor", "actor_role", "at", "policy_version", "payload", "sealed", "key_refs", "prev_hash")
# `origin` (who ran it from where) is hashed only when present, so records from before it hash as they did.
HASHED_FIELDS = (*CORE_FIELDS, "origin")
# One encoder, reused: json.dumps with separators= builds a new encoder per call, which at a million
# records is most of the cost of verification. The output is byte-identical to json.dumps(...).
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_q = json.encoder.encode_basestring_ascii  # what that encoder writes for a str (ensure_ascii=True)


def canonical_bytes(row: dict[str, Any]) -> bytes:
    """The bytes a record's hash and Merkle leaf cover: its hashed fields as canonical JSON."""
    return canonical(row["record_id"], row["kind"], row["actor"], row["actor_role"], row["at"], row["policy_version"],
                     row["payload"], row["sealed"], row["key_refs"], row["prev_hash"], row.get("origin"))


def canonical(record_id: Any, kind: Any, actor: Any, actor_role: Any, at: Any, policy_version: Any, payload: Any,
              sealed: Any, key_refs: Any, prev_hash: Any, origin: Any = None) -> bytes:
    """Byte-identical to json.dumps(fields, sort_keys=True, separators=(",", ":")) (a test holds it to
    that), written out in sorted key order for the all-string rows every record is, because
    verification at 1,000,000 records spends most of its time here; anything else goes the slow way."""
    if (type(record_id) is type(kind) is type(actor) is type(actor_role) is type(at) is type(policy_version)
            is type(payload) is type(key_refs) is type(prev_hash) is str and (sealed is None or type(sealed) is str)
            and (origin is None or type(origin) is str)):
        return "".join((
            '{"actor":', _q(actor), ',"actor_role":', _q(actor_role), ',"at":', _q(at), ',"key_refs":', _q(key_refs),
            ',"kind":', _q(kind), ',"origin":' + _q(origin) if origin is not None else "", ',"payload":', _q(payload),
            ',"policy_version":', _q(policy_version), ',"prev_hash":', _q(prev_hash), ',"record_id":', _q(record_id),
            ',"sealed":', "null" if sealed is None else _q(sealed), "}")).encode()
    data = {"record_id": record_id, "kind": kind, "actor": actor, "actor_role": actor_role, "at": at, "policy_version": policy_version,
            "payload": payload, "sealed": sealed, "key_refs": key_refs, "prev_hash": prev_hash}
    if origin is not None:
        data["origin"] = origin
    return _CANON.encode(data).encode()
