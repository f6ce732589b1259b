"""The one error hierarchy of RAG Ledger.

Core raises these; the edges (CLI, page helper) translate them once into a message and an exit code.
Every message says what the user can do next.
"""
from __future__ import annotations


class RagLedgerError(Exception):
    """Base of every error that RAG Ledger raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(RagLedgerError):
    """A setting or environment variable is missing or wrong."""


class PolicyError(RagLedgerError):
    """A policy file failed validation; names the file, the field and what was expected."""

    def __init__(self, file: str, field: str, expected: str) -> None:
        super().__init__(
            f"{file}: field '{field}': {expected}",
            hint="fix the file and start again; nothing was loaded",
        )
        self.file = file
        self.field = field
        self.expected = expected


class AuthError(RagLedgerError):
    """Sign-in failed or the principal is unknown."""

    exit_code = 3


class AccessDenied(RagLedgerError):
    """The principal may not perform this action. Denials are audited before this is raised."""

    exit_code = 4


class IngestError(RagLedgerError):
    """A file cannot be ingested (unsupported, empty, corrupt, too large). Nothing was written."""


class InvalidInput(RagLedgerError):
    """A value the user gave is missing or wrong. `field` names it in core's terms (`requested_by`,
    `received_at`), so each edge phrases the next step in its own language: the CLI names its flag,
    a page names its widget. The hint, if any, must hold for every edge."""

    def __init__(self, message: str, *, field: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class NotFound(RagLedgerError):
    """A document, record or request that was asked for does not exist."""


class AuditIntegrityError(RagLedgerError):
    """The audit chain does not verify."""

    exit_code = 5


class StoreError(RagLedgerError):
    """A store (LanceDB, the SQL database) could not complete an operation."""


class MalformedRecord(StoreError):
    """A stored record (an erasure request, its certificate, a purge journal) does not have the shape
    RAG Ledger wrote: it was changed or damaged outside RAG Ledger. The message names the record and
    the field; the hint says how to restore it."""


class ObjectStoreError(StoreError):
    """The object store holding the chunks (RAGLEDGER_LANCE_URI) is unreachable or refused the
    credentials. The message names the URI; the operation wrote nothing."""


class WitnessUnavailable(StoreError):
    """A checkpoint witness (an S3 bucket) could not be written or read; names it and why."""


class SessionEnded(AuthError):
    """A session cookie that no longer holds (signed out, timed out, account disabled); `reason` says which."""

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class SignInThrottled(AuthError):
    """A sign-in attempt refused before its password was checked (locked account or backoff);
    `retry_at` (seconds since the epoch) says when the next attempt may come."""

    def __init__(self, message: str, *, retry_at: float, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_at = retry_at
        self.reason = reason
