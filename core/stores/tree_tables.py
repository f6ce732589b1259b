"""Tables of the audit log's Merkle tree (created by migration m301 in audit_db/migrations.py).

`audit_leaves` keeps one leaf hash per record in log order, and is never pruned: retention removes
old records but their leaf hashes stay, so every later checkpoint and proof still covers them.
`audit_tree` is one row: the tree size, its compact frontier (the roots of its perfect subtrees)
and where the last checkpoint was taken, all updated inside each append's write lock.
`audit_checkpoints` is the database's own copy of the signed checkpoints; the copies that count
for verification are the ones outside the database (the journal, the witnesses, the auditor's).
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel


class AuditLeaf(SQLModel, table=True):
    __tablename__ = "audit_leaves"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    record_id: str = Field(index=True, unique=True)
    leaf_hash: str  # hex SHA-256(0x00 || canonical record bytes)


class AuditTree(SQLModel, table=True):
    __tablename__ = "audit_tree"

    id: int = Field(default=1, primary_key=True)
    size: int = 0
    frontier: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of hex hashes
    pruned_below: int = 0  # leaves below this index had their records removed by retention
    checkpoint_size: int = 0
    checkpoint_at: str = ""


class AuditCheckpoint(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(index=True)
    root: str  # hex
    at: str
    reason: str
    note: str = Field(sa_column=Column(Text, nullable=False))
    published: bool = False
