"""SQLModel tables of the ledger database (audit chain, document registry, key vault).

Schema changes go through named migrations in audit_db/migrations.py, never through create_all at
random places.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AuditRecord(SQLModel, table=True):
    """One event in the append-only, hash-chained audit log.

    `payload` holds non-personal facts (ids, scores, hashes, counts, latency). `sealed` holds the
    redacted question and answer encrypted under the keys of the documents the event touched, so an
    erasure can make that text unreadable by destroying a key while the chain, computed over the
    ciphertext, still verifies.
    """

    __tablename__ = "audit_records"
    __table_args__ = (UniqueConstraint("prev_hash", name="uq_audit_prev_hash"),)

    seq: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(index=True, unique=True)
    kind: str = Field(index=True)
    actor: str = Field(index=True)
    actor_role: str = Field(index=True)
    at: str = Field(index=True)  # ISO 8601 UTC; a string so that it hashes identically on every backend
    policy_version: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    key_refs: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    prev_hash: str
    hash: str = Field(index=True)
    # Who ran it from where (JSON: channel, authentication, OS account, host, pid); hashed when present.
    # Records written before migration m301 have none and hash exactly as they did.
    origin: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DocumentRow(SQLModel, table=True):
    """The document registry: one row per document (its latest version)."""

    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    doc_id: str = Field(index=True, unique=True)
    source_key: str = Field(index=True)
    title: str
    title_spans: str = "[]"  # JSON PII spans of the title, so lists and citations can redact it
    owner: str
    ingested_by: str
    groups: str  # JSON list
    classification: str = Field(index=True)
    version: int = 1
    content_sha256: str
    chunk_count: int
    pii_summary: str = "{}"  # JSON {entity type: count}
    meta: str = "{}"  # JSON front-matter metadata
    source_file: str | None = None
    status: str = Field(default="active", index=True)
    # Detected at ingestion (or front matter `language:`); None for documents ingested before m1301.
    language: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DocKey(SQLModel, table=True):
    """Legacy (before m501): plaintext per-document keys. A fresh database still creates it in m001;
    m501 wraps its rows into `sealing_keys` and drops it."""

    __tablename__ = "doc_keys"

    ref: str = Field(primary_key=True)
    key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class SealingKey(SQLModel, table=True):
    """The key vault (core/keystore.py): one row per key generation, the key wrapped by the master key.

    `wrapped` is NULL for a tombstone: the ref's keys were destroyed (crypto-shredded), and the
    generation number is kept so a later key for the same ref never reuses it."""

    __tablename__ = "sealing_keys"

    ref: str = Field(primary_key=True)
    generation: int = Field(primary_key=True)
    wrapped: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    kms: str = "file"
    created_at: datetime = Field(default_factory=utcnow)
