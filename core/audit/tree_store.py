"""The audit log's Merkle tree in the database: extended inside each append's transaction (the
caller holds the write lock: BEGIN IMMEDIATE on SQLite, the advisory lock on PostgreSQL), so many
processes still produce one linear log, and a checkpoint is signed there when one is due.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from core.audit.merkle import Frontier
from core.stores.tree_tables import AuditCheckpoint, AuditLeaf, AuditTree

if TYPE_CHECKING:
    from core.audit.checkpoints import Checkpointer
    from core.audit.signed_note import Checkpoint

LEAVES = AuditLeaf.__table__  # type: ignore[attr-defined]
TREE = AuditTree.__table__  # type: ignore[attr-defined]
CHECKPOINTS = AuditCheckpoint.__table__  # type: ignore[attr-defined]


def load_state(conn: Connection) -> tuple[Frontier, dict]:
    row = conn.execute(select(TREE).where(TREE.c.id == 1)).mappings().first()
    if row is None:
        conn.execute(TREE.insert().values(id=1, size=0, frontier="[]", pruned_below=0, checkpoint_size=0, checkpoint_at=""))
        return Frontier(), {"size": 0, "pruned_below": 0, "checkpoint_size": 0, "checkpoint_at": ""}
    return Frontier.from_hex(row["size"], json.loads(row["frontier"])), dict(row)


def _sql(conn: Connection, statement: str) -> str:
    return statement if conn.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


def extend(conn: Connection, record_id: str, leaf: bytes, checkpointer: "Checkpointer | None") -> "Checkpoint | None":
    """Add one record's leaf; sign and store a checkpoint if the policy says one is due.

    Plain driver SQL on this path: it runs on every append, and SQLAlchemy's statement machinery
    would cost more than the hashing (bench/bench_audit_log.py measures it)."""
    row = conn.exec_driver_sql(_sql(conn, "SELECT size, frontier, checkpoint_size, checkpoint_at FROM audit_tree WHERE id = 1")).first()
    if row is None:
        load_state(conn)  # creates the row (a database from before m301 ran would have it already)
        row = (0, "[]", 0, "")
    frontier = Frontier.from_hex(row[0], json.loads(row[1]))
    conn.exec_driver_sql(_sql(conn, "INSERT INTO audit_leaves (idx, record_id, leaf_hash) VALUES (?, ?, ?)"), (frontier.size, record_id, leaf.hex()))
    frontier.append(leaf)
    values: dict = {}
    cp = None
    if checkpointer is not None and checkpointer.due(frontier.size, row[2], row[3], datetime.now(timezone.utc)):
        cp = _sign(conn, checkpointer, frontier, "every_n_or_t", values)
        conn.execute(TREE.update().where(TREE.c.id == 1).values(**values))
    conn.exec_driver_sql(_sql(conn, "UPDATE audit_tree SET size = ?, frontier = ? WHERE id = 1"), (frontier.size, json.dumps(frontier.to_hex())))
    return cp


def checkpoint_now(conn: Connection, checkpointer: "Checkpointer", reason: str) -> "Checkpoint":
    frontier, _ = load_state(conn)
    values: dict = {}
    cp = _sign(conn, checkpointer, frontier, reason, values)
    conn.execute(TREE.update().where(TREE.c.id == 1).values(**values))
    return cp


def _sign(conn: Connection, checkpointer: "Checkpointer", frontier: Frontier, reason: str, values: dict) -> "Checkpoint":
    from core.audit.checkpoints import utc_now

    at = utc_now()
    cp = checkpointer.sign(frontier.size, frontier.root(), at)
    conn.execute(CHECKPOINTS.insert().values(size=cp.size, root=cp.root.hex(), at=at, reason=reason, note=cp.note, published=False))
    values.update(checkpoint_size=cp.size, checkpoint_at=at)
    return cp


def mark_published(conn: Connection, note: str) -> None:
    conn.execute(CHECKPOINTS.update().where(CHECKPOINTS.c.note == note).values(published=True))


def backfill(conn: Connection) -> None:
    """Migration m301: the records already stored become leaves 0..n-1, in seq order."""
    from core.audit.canonical import canonical_bytes
    from core.audit.merkle import leaf_hash
    from core.stores.tables import AuditRecord

    records = AuditRecord.__table__  # type: ignore[attr-defined]
    frontier, _ = load_state(conn)
    if frontier.size:
        return
    rows = conn.execute(select(records).order_by(records.c.seq)).mappings().all()
    batch = []
    for r in rows:
        leaf = leaf_hash(canonical_bytes(dict(r)))
        batch.append({"idx": frontier.size, "record_id": r["record_id"], "leaf_hash": leaf.hex()})
        frontier.append(leaf)
    if batch:
        conn.execute(LEAVES.insert(), batch)
    conn.execute(TREE.update().where(TREE.c.id == 1).values(size=frontier.size, frontier=json.dumps(frontier.to_hex())))
