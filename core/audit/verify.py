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
import logging
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.audit.log import GENESIS
from core.errors import AuditIntegrityError
from core.audit.merkle import CompactRange, Frontier
from core.audit.signed_note import Checkpoint, Verifier, parse_checkpoint
from core.audit.tree_store import CHECKPOINTS
from core.audit.verify_range import Finding, RangePass, batches, check_rows, range_sql

# Below this many leaves a second process costs more to start than it saves.
SPLIT_FROM = 200_000
log = logging.getLogger(__name__)


@dataclass
class LogVerdict:
    records: int
    tree_size: int
    root: str
    head_hash: str
    checkpoints_checked: int
    latest_checkpoint: str | None
    findings: list[Finding] = field(default_factory=list)
    processes: int = 1  # how many processes checked the records (core/audit/verify_range.py says when two)

    @property
    def ok(self) -> bool:
        return not self.findings

    def first(self) -> Finding | None:
        """The finding to lead with: a named record (exact) before a checkpoint's range, lowest index first."""
        return min(self.findings, key=lambda f: (f.checkpoint is not None, f.index is None, f.index or 0)) if self.findings else None

    def as_dict(self) -> dict[str, Any]:
        first = self.first()
        return {"ok": self.ok, "records": self.records, "tree_size": self.tree_size, "root": self.root, "head_hash": self.head_hash,
                "checkpoints_checked": self.checkpoints_checked, "latest_checkpoint": self.latest_checkpoint, "processes": self.processes,
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
    sizes = {cp.size for cp in cps}
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
        done, processes, grown = None, 1, None
        if not postgres and int(state["size"]) >= SPLIT_FROM and (os.cpu_count() or 1) > 1 and engine.url.database:
            split = _split_pass(raw, first, engine.url.database, int(state["size"]), pruned_below, anchor, sizes)
            if split is not None:
                done, grown, processes = *split, 2
        if done is None:  # the one-process pass: the authority, and the report whenever anything is wrong
            # PostgreSQL: a server-side cursor, so a million rows stream in constant memory
            cur = raw.driver_connection.cursor(name="ragledger_verify") if postgres else raw.cursor()  # type: ignore[union-attr]
            cur.execute(range_sql(bounded=False))
            done = check_rows(batches(cur), 0, pruned_below, anchor)
            cur.close()
        findings.extend(done.findings)
        if done.present < total_records:
            findings.append(_unlisted(first, total_records - done.present))
        first.close()
    finally:
        raw.rollback()  # ends the read snapshot; nothing was written
        raw.close()
    frontier, roots = grown or _grow(bytes(done.leaves), sizes)
    if frontier.size != state["size"] or frontier.to_hex() != json.loads(state["frontier"]):
        findings.append(Finding(min(frontier.size, int(state["size"])), f"the tree state says {state['size']} leaves but {frontier.size} are stored: the tree was altered"))
    findings.extend(_against_checkpoints(cps, roots, frontier.size))  # each carries `checkpoint`, so exact findings lead
    latest = cps[-1].label() if cps else None
    return LogVerdict(done.present, frontier.size, frontier.root().hex(), done.head or anchor, len(cps), latest, findings, processes)


def _grow(leaves: bytes, sizes: set[int]) -> tuple[Frontier, dict[int, bytes]]:
    """The tree regrown from the recomputed leaves, with its root at each checkpoint's size."""
    whole, at = CompactRange.grow(leaves, 0, sizes)
    return whole.frontier(), {size: r.frontier().root() for size, r in at.items()}


def _split_pass(raw: Any, cur: Any, path: str, size: int, pruned_below: int, anchor: str,
                sizes: set[int]) -> tuple[RangePass, tuple[Frontier, dict[int, bytes]]] | None:
    """Leaves [0, size/2) checked and grown here while a second process checks and grows the rest
    (core/audit/verify_range.py says why); each half grows its own compact range, and the tree at
    every checkpoint size is the lower range merged with the upper one's range at that size.
    The pass joined up from both halves with the regrown tree, or None to say: run the one-process
    pass, because a half found something, or the snapshots differ, or the second process could not
    do its part."""
    cur.execute("SELECT count(*), max(idx) FROM audit_leaves")
    count, top = cur.fetchone()
    if count != size or top != size - 1:
        return None  # leaves missing or beyond the tree state: the one-process pass names them
    mid = size // 2
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")))))
    try:
        child = subprocess.Popen([sys.executable, "-m", "core.audit.verify_range", path, str(mid), str(size)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        # The sizes now, so the child starts at once; stdin is then closed and let go, or communicate() would flush it.
        stdin, child.stdin = child.stdin, None
        stdin.write(json.dumps(sorted(s for s in sizes if mid < s <= size)).encode())  # type: ignore[union-attr]
        stdin.close()  # type: ignore[union-attr]
    except OSError as exc:
        log.warning("audit verify: no second process (%s); checking in one", exc)
        return None
    low_cur = raw.cursor()
    low_cur.execute(range_sql(bounded=True), (0, mid))
    low = check_rows(batches(low_cur), 0, pruned_below, anchor)
    low_cur.close()
    low_range, low_at = CompactRange.grow(bytes(low.leaves), 0, sizes)
    try:
        out, err = child.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        log.warning("audit verify: the second process timed out; checking in one")
        return None
    if child.returncode != 0 or not out.strip():
        log.warning("audit verify: the second process failed (%s); checking in one", err.decode(errors="replace").strip()[-500:])
        return None
    high = json.loads(out)
    high_range = CompactRange.from_json(high["range"])
    if (low.findings or high["findings"] or high["snapshot_size"] < size or high["snapshot_pruned_below"] != pruned_below
            or low_range.end != mid or (high_range.begin, high_range.end) != (mid, size)):
        return None
    if high["first_link"] is not None:
        _idx, seq, _rid, prev_hash = high["first_link"]
        if seq <= low.last_seq or prev_hash != low.expected_prev:
            return None
    roots = {s: r.frontier().root() for s, r in low_at.items()}
    roots.update({int(s): low_range.merge(CompactRange.from_json(r)).frontier().root() for s, r in high["ranges"].items()})
    low.present += high["present"]
    low.last_seq = max(low.last_seq, high["last_seq"])
    low.head = high["head"] or low.head
    return low, (low_range.merge(high_range).frontier(), roots)


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
