"""Tables of the compliance workbench: overview facts, the audit chain anchor, chain
verifications and legal holds. Created by migration m201 in audit_db/migrations.py."""
from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from core.stores.tables import utcnow  # noqa: F401  (same clock as the other tables)


class AuditFact(SQLModel, table=True):
    """One countable fact of one audit record, written in the same transaction as the record.

    The overview aggregates these with GROUP BY instead of parsing every JSON payload, so its
    queries cost the same on SQLite and PostgreSQL and stay fast at 100,000 records. `dimension`
    names the chart ('question', 'redaction', 'withheld', 'group', ...); `key` the category."""

    __tablename__ = "audit_facts"
    # Covering indexes: the chart queries read only index pages; (dimension, key, seq, ...) serves the
    # group filter's correlated lookup and the drill-through.
    __table_args__ = (
        Index("ix_audit_facts_chart", "dimension", "day", "actor_role", "key", "n", "seq"),
        Index("ix_audit_facts_key_seq", "dimension", "key", "seq", "day", "actor_role", "n"),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True)
    kind: str
    actor_role: str
    day: str  # YYYY-MM-DD (UTC), cut from the record's ISO timestamp
    dimension: str
    key: str
    n: int = 1


class AuditAnchor(SQLModel, table=True):
    """Where the kept chain starts after retention removed its oldest records: the hash of the last
    removed record. `AuditLog.verify` starts from it instead of the genesis hash."""

    __tablename__ = "audit_anchor"

    id: int = Field(default=1, primary_key=True)
    seq: int  # seq of the last removed record
    hash: str
    removed_total: int = 0
    at: str


class ChainVerification(SQLModel, table=True):
    """The outcome of each verification run from the workbench (the overview shows the last one)."""

    __tablename__ = "chain_verifications"

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(index=True)
    ok: bool
    records: int
    head_hash: str
    verified_by: str
    reason: str | None = None


class LegalHold(SQLModel, table=True):
    """A legal hold suspends the retention job while it is active."""

    __tablename__ = "legal_holds"

    id: int | None = Field(default=None, primary_key=True)
    active: bool = Field(index=True)
    reason: str
    set_by: str
    set_at: str
    released_by: str | None = None
    released_at: str | None = None
