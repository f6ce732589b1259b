"""`ragledger audit verify`: the audit log against every checkpoint it can find.

One pass over the leaves in tree order, joined to their records: each record's canonical bytes are
re-hashed (its chain hash and its Merkle leaf), its link to the previous record and its place in
the order are checked, and the tree is regrown from the recomputed leaves; at the size of each
checkpoint the root must equal the signed one. What each attack looks like, and how it is named:

- an edited record: its hash or its leaf no longer matches (the record's index and seq);
- a record deleted in the middle, or the tail truncated: its leaf has no record (index and id);
- reordering: seq order disagrees with tree order, or the chain links break (index);
- a record inserted behind the log's back: a record with no leaf (seq and id);
- any of these with every hash recomputed (chain, leaves, tree state), a fork, or insertion of
  forged records: the tree no longer matches a signed checkpoint kept outside the database; named
  as the range of indexes between the last checkpoint that still matches and the first that does not;
- rollback of the whole database to an older copy: "the log is shorter than the checkpoint of <time>".
Checkpoints whose signature does not verify are named and not trusted.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.audit.log import GENESIS, canonical
from core.errors import AuditIntegrityError
from core.audit.merkle import Frontier
from core.audit.signed_note import Checkpoint, Verifier, parse_checkpoint
from core.audit.tree_store import CHECKPOINTS

SQL = ("SELECT l.idx, l.leaf_hash, l.record_id, r.seq, r.hash, r.kind, r.actor, r.actor_role, r.at, r.policy_version,"
       " r.payload, r.sealed, r.key_refs, r.prev_hash, r.origin"
       " FROM audit_leaves l LEFT JOIN audit_records r ON r.record_id = l.record_id ORDER BY l.idx")


@dataclass
class Finding:
    index: int | None
    message: str
    seq: int | None = None
    record_id: str | None = None
    checkpoint: str | None = None


@dataclass
class LogVerdict:
    records: int
    tree_size: int
    root: str
    head_hash: str
    checkpoints_checked: int
    latest_checkpoint: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def first(self) -> Finding | None:
        """The finding to lead with: a named record (exact) before a checkpoint's range, lowest index first."""
        return min(self.findings, key=lambda f: (f.checkpoint is not None, f.index is None, f.index or 0)) if self.findings else None

    def as_dict(self) -> dict[str, Any]:
        first = self.first()
        return {"ok": self.ok, "records": self.records, "tree_size": self.tree_size, "root": self.root, "head_hash": self.head_hash,
                "checkpoints_checked": self.checkpoints_checked, "latest_checkpoint": self.latest_checkpoint,
                "first_bad_index": first.index if first else None, "first_bad_seq": first.seq if first else None,
                "first_bad_record": first.record_id if first else None, "reason": first.message if first else None,
                "findings": [asdict(f) for f in self.findings]}


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """A checkpoint note as `ragledger audit checkpoint` prints it, or a whole journal (JSON lines)."""
    if not path.is_file():
        raise AuditIntegrityError(f"no checkpoint file at {path}", hint="save one with `ragledger audit checkpoint > FILE`")
    data = path.read_text()
    if data.lstrip().startswith("{"):
        return [parse_checkpoint(json.loads(line)["note"], source=f"{path.name} line {n}")
                for n, line in enumerate(data.splitlines(), 1) if line.strip()]
    return [parse_checkpoint(data, source=str(path))]


def database_checkpoints(engine: Engine) -> list[Checkpoint]:
    with engine.connect() as conn:
        notes = [n for (n,) in conn.execute(select(CHECKPOINTS.c.note).order_by(CHECKPOINTS.c.id))]
    return [parse_checkpoint(n, source="database") for n in notes]


def trusted(checkpoints: list[Checkpoint], verifier: Verifier | None) -> tuple[list[Checkpoint], list[Finding]]:
    """Drop (and name) the checkpoints that are not signed by the log's key; order and number the rest."""
    good, findings, seen = [], [], set()
    for cp in checkpoints:
        if verifier is not None and not cp.signed_by(verifier):
            findings.append(Finding(None, f"{cp.label()} is not signed by this log's key {verifier.name} (forged, or another log's)", checkpoint=cp.source or "given"))
            continue
        key = (cp.size, cp.root, cp.time)
        if key not in seen:
            seen.add(key)
            good.append(cp)
    good.sort(key=lambda c: (c.size, c.time))
    return good, findings


def verify_log(engine: Engine, checkpoints: list[Checkpoint], verifier: Verifier | None, anchor: str = GENESIS) -> LogVerdict:
    cps, findings = trusted(checkpoints, verifier)
    by_size: dict[int, list[Checkpoint]] = {}
    for cp in cps:
        by_size.setdefault(cp.size, []).append(cp)
    frontier, roots = Frontier(), {}
    expected_prev: str | None = anchor
    prev_seq, present, head = 0, 0, anchor
    # One read snapshot for the tree state, the counts and the pass, so appends running meanwhile
    # cannot look like damage; the checkpoints were read before it, so none is newer than it.
    raw = engine.raw_connection()
    postgres = engine.dialect.name == "postgresql"
    try:
        first = raw.cursor()
        first.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ" if postgres else "BEGIN")
        first.execute("SELECT size, frontier, pruned_below FROM audit_tree WHERE id = 1")
        state = dict(zip(("size", "frontier", "pruned_below"), first.fetchone() or (0, "[]", 0)))
        first.execute("SELECT count(*) FROM audit_records")
        total_records = first.fetchone()[0]
        pruned_below = int(state["pruned_below"])
        # PostgreSQL: a server-side cursor, so a million rows stream in constant memory
        cur = raw.driver_connection.cursor(name="ragledger_verify") if postgres else raw.cursor()  # type: ignore[union-attr]
        cur.execute(SQL)
        expected_idx, hashes, size = 0, frontier.hashes, 0
        while rows := cur.fetchmany(20000):
            for idx, stored_leaf, rid, seq, rhash, kind, actor, role, at, pv, payload, sealed, refs, prev_hash, origin in rows:
                if idx != expected_idx:
                    findings.append(Finding(expected_idx, f"the Merkle tree has no leaf at index {expected_idx} (the next is {idx}): leaves were deleted"))
                expected_idx = idx + 1
                if seq is None:
                    if idx >= pruned_below:
                        findings.append(Finding(idx, f"record at index {idx} (id {rid}) is missing: deleted, or the log's tail was truncated", record_id=rid))
                        expected_prev = None
                    leaf = bytes.fromhex(stored_leaf)
                else:
                    c = canonical(rid, kind, actor, role, at, pv, payload, sealed, refs, prev_hash, origin)
                    leaf = sha256(b"\x00" + c).digest()
                    if sha256(c).hexdigest() != rhash:
                        findings.append(Finding(idx, f"{_where(idx, seq, rid)} does not match its hash: it was edited", seq, rid))
                    elif leaf.hex() != stored_leaf:
                        findings.append(Finding(idx, f"{_where(idx, seq, rid)} does not match its Merkle leaf: it was edited and re-hashed", seq, rid))
                    elif seq <= prev_seq:
                        findings.append(Finding(idx, f"{_where(idx, seq, rid)} comes after seq {prev_seq} in the tree: the records were reordered", seq, rid))
                    elif expected_prev is not None and prev_hash != expected_prev:
                        findings.append(Finding(idx, f"{_where(idx, seq, rid)} does not link to the record before it: a record was removed, inserted or reordered", seq, rid))
                    expected_prev, head = rhash, rhash
                    if seq > prev_seq:
                        prev_seq = seq
                    present += 1
                # Frontier.append, inlined: this loop runs once per record
                hashes.append(leaf)
                size += 1
                s = size
                while not s & 1:
                    right = hashes.pop()
                    hashes[-1] = sha256(b"\x01" + hashes[-1] + right).digest()
                    s >>= 1
                if size in by_size:
                    frontier.size = size
                    roots[size] = frontier.root()
        frontier.size = size
        cur.close()
        if present < total_records:
            findings.append(_unlisted(first, total_records - present))
        first.close()
    finally:
        raw.rollback()  # ends the read snapshot; nothing was written
        raw.close()
    if frontier.size != state["size"] or frontier.to_hex() != json.loads(state["frontier"]):
        findings.append(Finding(min(frontier.size, int(state["size"])), f"the tree state says {state['size']} leaves but {frontier.size} are stored: the tree was altered"))
    findings.extend(_against_checkpoints(cps, roots, frontier.size))  # each carries `checkpoint`, so exact findings lead
    latest = cps[-1].label() if cps else None
    return LogVerdict(present, frontier.size, frontier.root().hex(), head, len(cps), latest, findings)


def _where(idx: int, seq: int, rid: str) -> str:
    return f"record at index {idx} (seq={seq} id={rid})"


def _unlisted(cur: Any, extra: int) -> Finding:
    cur.execute("SELECT seq, record_id FROM audit_records WHERE record_id NOT IN (SELECT record_id FROM audit_leaves) ORDER BY seq LIMIT 1")
    row = cur.fetchone()
    seq, rid = (row[0], row[1]) if row else (None, None)
    return Finding(None, f"{extra} record(s) are not in the Merkle tree, the first seq={seq} id={rid}: inserted behind the log's back", seq, rid)


def _against_checkpoints(cps: list[Checkpoint], roots: dict[int, bytes], size: int) -> list[Finding]:
    findings, good = [], None
    for n, cp in enumerate(cps, 1):
        name = f"checkpoint {n} of {cp.time} (size {cp.size}, {cp.source or 'given'})"
        if cp.size > size:
            findings.append(Finding(size, f"the log is shorter than {name}: it has {size} records; it was truncated or rolled back to an older copy",
                                    checkpoint=cp.source or "given"))
        elif (roots.get(cp.size) if cp.size else Frontier().root()) != cp.root:
            lo, since = (good.size, f"; it still matches checkpoint of {good.time} at size {good.size}") if good else (0, "")
            findings.append(Finding(lo, f"the log does not match {name}: a record at index {lo} to {cp.size - 1} was changed, removed, inserted "
                                        f"or reordered after it was signed, or the log was forked{since}", checkpoint=cp.source or "given"))
        else:
            good = cp
    return findings


def verify_ledger(ledger: Any, checkpoint_files: list[Path] | tuple[Path, ...] = (), key: str | None = None) -> LogVerdict:
    """The ledger's log against its journal, its readable witnesses, its own database copies and the
    given checkpoint files; signatures are checked with `key` (a verifier key string) or the ledger's."""
    checkpointer = ledger.audit.checkpointer
    found = checkpointer.known() + database_checkpoints(ledger.engine)
    for path in checkpoint_files:
        found.extend(read_checkpoint_file(path))
    verifier = Verifier.parse(key) if key else checkpointer.verifier
    return verify_log(ledger.engine, found, verifier, ledger.audit.anchor())
