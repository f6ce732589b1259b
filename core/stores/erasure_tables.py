"""The erasure request register (right to be forgotten)."""
from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class ErasureRequest(SQLModel, table=True):
    """One request and its lifecycle: received -> previewed -> confirmed -> executed -> certified;
    a certificate that does not verify clean leaves it `incomplete` (open; a re-run continues), and
    an open request can be `cancelled` (its sealed subject is destroyed).

    The subject's identifiers are personal data: they are kept only sealed (AES-GCM under a
    per-request key in the key vault) for as long as the purge and its verification need them, and
    that key is destroyed when the certificate is issued.
    """

    __tablename__ = "erasure_requests"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, unique=True)
    kind: str  # "document" or "subject"
    scope: str = "documents"  # subject requests: erase whole "documents" or only the "chunks" that mention them
    doc_id: str | None = Field(default=None, index=True)
    subject_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    subject_digest: str | None = Field(default=None, index=True)  # unused: a guessable hash of the subject is itself personal data
    requested_by: str
    recorded_by: str
    reason: str = ""
    status: str = Field(default="received", index=True)
    received_at: str = Field(index=True)
    due_at: str = Field(index=True)
    previewed_at: str | None = None
    executed_at: str | None = None
    certified_at: str | None = None
    preview_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    certificate_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    certificate_sha256: str | None = None
    # Added by migration m601_erasure_confirmation: opaque ids only (document and match ids).
    excluded_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    confirmed_at: str | None = None
    confirmed_by: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None
