"""One pass of `audit verify` over a range of the log's leaves, and the second process that runs one.

The per-record checks live here, once: each record's canonical bytes re-hashed (its chain hash and
its Merkle leaf), its link to the record before it, its place in seq order, missing records and
missing leaves. The tree is grown from the leaves a pass returns: by the caller (core/audit/verify.py)
in one process, or by each process over its own half as a compact range that the caller merges.

Why a second process: at a million records the pass is bound by one core (reading rows through
Python's sqlite3, building canonical bytes, two SHA-256 each); the machine has more. On SQLite a
large log is split in two and the upper half is checked by `python -m core.audit.verify_range`
reading the same file, while this process checks the lower half. A subprocess and not
multiprocessing: under Streamlit `__main__` is the app script, which multiprocessing would re-run.
The child's read snapshot is not the parent's, so the parent trusts the split only when it is
clean and consistent (same tree size and pruning point in both snapshots, the halves linking up);
otherwise it runs the one-process pass, whose findings are the report.
This module imports only the standard library, the canonical rule and the Merkle hashing, so the child starts fast.
"""
from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import asdict, dataclass, field
from hashlib import sha256
from typing import Any
from urllib.parse import quote

from core.audit.canonical import canonical
from core.audit.merkle import CompactRange

COLUMNS = ("l.idx, l.leaf_hash, l.record_id, r.seq, r.hash, r.kind, r.actor, r.actor_role, r.at, r.policy_version,"
           " r.payload, r.sealed, r.key_refs, r.prev_hash, r.origin")
JOIN = " FROM audit_leaves l LEFT JOIN audit_records r ON r.record_id = l.record_id"


class _Unknown:
    """The link a pass starts from when the record before its range is checked elsewhere (no hash equals it)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def range_sql(bounded: bool, placeholder: str = "?") -> str:
    where = f" WHERE l.idx >= {placeholder} AND l.idx < {placeholder}" if bounded else ""
    return f"SELECT {COLUMNS}{JOIN}{where} ORDER BY l.idx"


@dataclass
class Finding:
    """What verification names: a record (index, seq, id) or, set by core/audit/verify.py, a checkpoint."""
    index: int | None
    message: str
    seq: int | None = None
    record_id: str | None = None
    checkpoint: str | None = None


@dataclass
class RangePass:
    """What a pass over leaves [start, ...) found, and what its neighbours need to join it up."""
    start: int
    leaves: bytearray = field(default_factory=bytearray)  # 32 bytes a leaf, recomputed (or stored, for a pruned record)
    present: int = 0
    findings: list[Finding] = field(default_factory=list)
    first_link: tuple[int, int, str, str] | None = None  # (idx, seq, record_id, prev_hash) of the first record, when linked from UNKNOWN
    last_seq: int = 0
    expected_prev: Any = UNKNOWN  # the hash the next record must link to; None after a missing record
    head: str | None = None

    @property
    def count(self) -> int:
        return len(self.leaves) // 32


def _where(idx: int, seq: int, rid: str) -> str:
    return f"record at index {idx} (seq={seq} id={rid})"


def check_rows(rows_batches: Any, start: int, pruned_below: int, expected_prev: str | None) -> RangePass:
    """The per-record checks over rows of `range_sql`, in batches (lists of rows) as `fetchmany` gives them."""
    out = RangePass(start, expected_prev=expected_prev)
    leaves, findings = out.leaves, out.findings
    expected_idx, prev_seq, present, head = start, 0, 0, None
    for rows in rows_batches:
        for idx, stored_leaf, rid, seq, rhash, kind, actor, role, at, pv, payload, sealed, refs, prev_hash, origin in rows:
            if idx != expected_idx:
                findings.append(Finding(expected_idx, f"the Merkle tree has no leaf at index {expected_idx} (the next is {idx}): leaves were deleted"))
            expected_idx = idx + 1
            if seq is None:
                if idx >= pruned_below:
                    findings.append(Finding(idx, f"record at index {idx} (id {rid}) is missing: deleted, or the log's tail was truncated", record_id=rid))
                    expected_prev = None
                leaves += bytes.fromhex(stored_leaf)
                continue
            c = canonical(rid, kind, actor, role, at, pv, payload, sealed, refs, prev_hash, origin)
            leaf = sha256(b"\x00" + c).digest()
            if sha256(c).hexdigest() != rhash:
                findings.append(Finding(idx, f"{_where(idx, seq, rid)} does not match its hash: it was edited", seq, rid))
            elif leaf.hex() != stored_leaf:
                findings.append(Finding(idx, f"{_where(idx, seq, rid)} does not match its Merkle leaf: it was edited and re-hashed", seq, rid))
            elif seq <= prev_seq:
                findings.append(Finding(idx, f"{_where(idx, seq, rid)} comes after seq {prev_seq} in the tree: the records were reordered", seq, rid))
            elif expected_prev is UNKNOWN:
                out.first_link = (idx, seq, rid, prev_hash)
            elif expected_prev is not None and prev_hash != expected_prev:
                findings.append(Finding(idx, f"{_where(idx, seq, rid)} does not link to the record before it: a record was removed, inserted or reordered", seq, rid))
            expected_prev = head = rhash
            if seq > prev_seq:
                prev_seq = seq
            present += 1
            leaves += leaf
    out.present, out.last_seq, out.expected_prev, out.head = present, prev_seq, expected_prev, head
    return out


def batches(cur: Any, size: int = 20000) -> Any:
    while rows := cur.fetchmany(size):
        yield rows


def child_main() -> None:
    """`python -m core.audit.verify_range PATH LO HI`: checks leaves [LO, HI) of the SQLite file PATH in one read snapshot and grows
    their compact range; reads the checkpoint sizes wanted (a JSON list) on stdin, and writes one JSON object: the pass without its
    leaves, the range [LO, HI), the range [LO, s) at each size s wanted, and the snapshot's tree size and pruning point."""
    job = {"path": sys.argv[1], "lo": int(sys.argv[2]), "hi": int(sys.argv[3])}
    wanted = json.loads(sys.stdin.read() or "[]")
    db = sqlite3.connect(f"file:{quote(job['path'])}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("BEGIN")
        size, pruned_below = db.execute("SELECT size, pruned_below FROM audit_tree WHERE id = 1").fetchone()
        cur = db.execute(range_sql(True), (job["lo"], job["hi"]))
        done = check_rows(batches(cur), job["lo"], int(pruned_below), UNKNOWN)
        db.execute("ROLLBACK")
    finally:
        db.close()
    whole, at = CompactRange.grow(bytes(done.leaves), job["lo"], wanted)
    out = {"present": done.present, "findings": [asdict(f) for f in done.findings], "first_link": done.first_link,
           "last_seq": done.last_seq, "head": done.head, "snapshot_size": size, "snapshot_pruned_below": int(pruned_below),
           "range": whole.to_json(), "ranges": {str(s): r.to_json() for s, r in at.items()}}
    sys.stdout.buffer.write(json.dumps(out).encode())
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    child_main()
